//! A [`FlowReport`] shaped for the templates: every number the page shows
//! is formatted here, and every bar's width is computed here, so the
//! templates only place things.

use serde::Serialize;

use crate::flow::model::QuestionKind;
use crate::report::FlowReport;
use crate::report::aggregate::{Score, Share};

/// The width, in SVG units, of a bar standing for 100 %.
const FULL: f64 = 240.0;

/// One flow's section of the overview.
#[derive(Debug, Serialize)]
pub(super) struct FlowView {
    pub name: String,
    pub calls: i64,
    pub reached: i64,
    pub completed: i64,
    pub completion: String,
    pub handoffs: i64,
    pub handoff_rate: String,
    pub opt_outs: i64,
    pub opt_out_rate: String,
    pub outcomes: Vec<Bar>,
    pub funnel: Vec<FunnelStep>,
    pub dropped_after_last: i64,
    pub questions: Vec<QuestionView>,
    /// The CSV export of exactly what is shown (same filters).
    pub csv_url: String,
}

/// One bar of a chart.
#[derive(Debug, Serialize)]
pub(super) struct Bar {
    pub label: String,
    pub count: i64,
    /// `"66.7%"`, or `"–"` when there is nothing to divide by.
    pub pct: String,
    pub width: f64,
}

/// One step of the drop-off funnel; widths are shares of reached calls.
#[derive(Debug, Serialize)]
pub(super) struct FunnelStep {
    pub question: String,
    pub answered: i64,
    pub dropped: i64,
    pub answered_width: f64,
    pub dropped_width: f64,
}

#[derive(Debug, Serialize)]
pub(super) struct QuestionView {
    pub id: String,
    /// What kind of question, in words (`"rating 1–5"`).
    pub kind: String,
    pub answered: i64,
    pub bars: Vec<Bar>,
    pub score: Option<ScoreView>,
}

/// A question's headline number and its parts.
#[derive(Debug, Serialize)]
pub(super) struct ScoreView {
    /// `"csat"`, `"nps"` or `"mean"`, for styling and for tests reading the page.
    pub kind: &'static str,
    pub headline: String,
    /// The headline's number alone, as shown (`"66.7"`, `"+20"`).
    pub value: String,
    pub parts: Vec<(String, String)>,
}

pub(super) fn flow_view(report: &FlowReport, kinds: &[QuestionKind], csv_url: String) -> FlowView {
    let steps_width = |n: i64| width(ratio(n, report.reached));
    FlowView {
        name: report.flow.clone(),
        calls: report.calls,
        reached: report.reached,
        completed: report.completed,
        completion: pct(report.completion_rate),
        handoffs: report.handoffs,
        handoff_rate: pct(report.handoff_rate),
        opt_outs: report.opt_outs,
        opt_out_rate: pct(report.opt_out_rate),
        outcomes: report.outcomes.iter().map(bar).collect(),
        funnel: report
            .steps
            .iter()
            .map(|s| FunnelStep {
                question: s.question.clone(),
                answered: s.answered,
                dropped: s.dropped,
                answered_width: steps_width(s.answered),
                dropped_width: steps_width(s.dropped),
            })
            .collect(),
        dropped_after_last: report.dropped_after_last,
        questions: report
            .questions
            .iter()
            .zip(kinds)
            .map(|(q, kind)| QuestionView {
                id: q.id.clone(),
                kind: kind_name(kind),
                answered: q.answered,
                bars: q.distribution.iter().map(bar).collect(),
                score: q.score.as_ref().map(score_view),
            })
            .collect(),
        csv_url,
    }
}

fn bar(s: &Share) -> Bar {
    Bar {
        label: s.label.clone(),
        count: s.count,
        pct: pct(s.share),
        width: width(s.share),
    }
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn width(share: Option<f64>) -> f64 {
    (share.unwrap_or(0.0) * FULL * 10.0).round() / 10.0
}

/// A share as a percentage with one decimal (`0.6667` → `"66.7%"`).
pub(super) fn pct(share: Option<f64>) -> String {
    match share {
        Some(s) => format!("{:.1}%", s * 100.0),
        None => "–".to_owned(),
    }
}

fn kind_name(kind: &QuestionKind) -> String {
    match kind {
        QuestionKind::YesNo => "yes / no".into(),
        QuestionKind::Rating { min, max } => format!("rating {min}–{max}"),
        QuestionKind::Nps => "NPS 0–10".into(),
        QuestionKind::Number { min, max } => format!("number {min}–{max}"),
        QuestionKind::Menu(_) => "menu".into(),
        QuestionKind::Speech => "free speech".into(),
        QuestionKind::Record { .. } => "recording".into(),
    }
}

fn score_view(score: &Score) -> ScoreView {
    let p = |x: f64| pct(Some(x));
    match *score {
        Score::Csat { satisfied, mean } => ScoreView {
            kind: "csat",
            headline: format!("CSAT {}", p(satisfied)),
            value: format!("{:.1}", satisfied * 100.0),
            parts: vec![
                ("satisfied (4–5)".into(), p(satisfied)),
                ("mean".into(), format!("{mean:.2}")),
            ],
        },
        Score::Nps {
            score,
            promoters,
            passives,
            detractors,
        } => ScoreView {
            kind: "nps",
            headline: format!("NPS {score:+.0}"),
            value: format!("{score:+.0}"),
            parts: vec![
                ("promoters (9–10)".into(), p(promoters)),
                ("passives (7–8)".into(), p(passives)),
                ("detractors (0–6)".into(), p(detractors)),
            ],
        },
        Score::Mean { mean } => ScoreView {
            kind: "mean",
            headline: format!("mean {mean:.2}"),
            value: format!("{mean:.2}"),
            parts: vec![],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_shown_as_percentages_and_bar_widths() {
        assert_eq!(pct(Some(2.0 / 3.0)), "66.7%");
        assert_eq!(pct(None), "–");
        assert_eq!(width(Some(0.5)), 120.0);
        assert_eq!(width(None), 0.0);
    }

    #[test]
    fn an_nps_score_is_signed_and_whole() {
        let v = score_view(&Score::Nps {
            score: 20.0,
            promoters: 0.4,
            passives: 0.4,
            detractors: 0.2,
        });
        assert_eq!((v.headline.as_str(), v.value.as_str()), ("NPS +20", "+20"));
    }
}
