//! Trends: a flow's completion, CSAT, NPS and resolution period by period,
//! each with its 95 % interval ([`super::interval`]), from the counts the
//! database groups by period (`store::trends`).
//!
//! Which questions are followed ([`trend_questions`]): CSAT is the flow's
//! first 1–5 rating (as the flow report scores it), NPS its first NPS
//! question, resolution its yes/no question with the id `resolved` (the
//! id the example flows and `dialback campaign create --where` use for
//! "was the problem solved?"). A flow without one shows no such series.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::interval::{Nps, Rate};
use crate::flow::Flow;
use crate::flow::model::QuestionKind;
use crate::flow::value::Value;
use crate::store::reports::ReportFilter;
use crate::store::trends::{AnswerPairs, Period, PeriodAnswers, PeriodOutcomes, TrendQuestions};
use crate::store::{Outcome, Store, StoreResult};

/// The id of the yes/no question Trends reads as "resolved".
pub const RESOLVED: &str = "resolved";

/// Ranges up to this long are shown day by day unless `by` says otherwise.
pub const DAILY_UP_TO_DAYS: i64 = 21;

/// The most periods one trend may span (two years of weeks, a year of
/// days): a wider range is refused at the edge rather than drawn as a
/// thousand empty columns.
pub const MAX_PERIODS: i64 = 400;

/// The questions of `flow` a trend follows.
pub fn trend_questions(flow: &Flow) -> TrendQuestions {
    let first = |want: &dyn Fn(&QuestionKind, &str) -> bool| {
        flow.questions()
            .find(|(step, q)| want(&q.kind, &step.id))
            .map(|(step, _)| step.id.clone())
    };
    TrendQuestions {
        csat: first(&|k, _| matches!(k, QuestionKind::Rating { min: 1, max: 5 })),
        nps: first(&|k, _| matches!(k, QuestionKind::Nps)),
        resolved: first(&|k, id| matches!(k, QuestionKind::YesNo) && id == RESOLVED),
    }
}

/// Day by day for a range of at most [`DAILY_UP_TO_DAYS`], else weekly;
/// weekly when a bound is open.
pub fn default_period(since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> Period {
    match (since, until) {
        (Some(s), Some(u)) if u - s <= chrono::Duration::days(DAILY_UP_TO_DAYS) => Period::Day,
        _ => Period::Week,
    }
}

/// How many periods `by` cuts `since..until` into (`None`: a bound is open).
pub fn periods_in(
    by: Period,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Option<i64> {
    let (first, last) = bounds(by, since, until)?;
    let days = (last - first).num_days();
    Some(match by {
        Period::Day => days + 1,
        Period::Week => days / 7 + 1,
    })
}

/// The first days of the first and last periods `since..until` touches.
fn bounds(
    by: Period,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Option<(NaiveDate, NaiveDate)> {
    let first = by.start_of(since?.date_naive());
    // `until` is exclusive: its last included instant decides the last day.
    let last = by.start_of((until? - chrono::Duration::microseconds(1)).date_naive());
    Some((first, last.max(first)))
}

/// Everything the Trends page, `/api/trends/{flow}` and its CSV show.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trends {
    pub flow: String,
    pub campaign: Option<i64>,
    pub by: Period,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// The questions behind the CSAT, NPS and resolution series.
    pub questions: TrendQuestions,
    /// One entry per period, oldest first, with no gaps (a period without
    /// calls has zero calls and no rates).
    pub periods: Vec<PeriodFigures>,
    /// The whole range at once.
    pub total: Figures,
    /// For a campaign whose calls follow earlier ones (a cohort re-call):
    /// the same people's answers on the earlier call and on the re-call.
    pub before_after: Option<BeforeAfter>,
}

/// Before and after, same people: each re-call of the campaign that
/// answered the question, paired with the call it follows up, which
/// answered the same question (id). Not limited to the range: a re-call
/// is compared with its earlier call whenever each was made.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BeforeAfter {
    /// *Yes* to `resolved`.
    pub resolution: Option<Paired>,
    /// 4 or 5 on the re-call flow's CSAT question (same id on the earlier call).
    pub csat: Option<Paired>,
}

/// One share on the earlier calls and on the re-calls, over the same pairs.
///
/// The two intervals are each a Wilson interval over `pairs` people; they
/// are not an interval of the change, which for paired answers would also
/// need who changed (`changed_up`, `changed_down`: McNemar's discordant
/// pairs, given so an analyst can test the change).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Paired {
    pub pairs: i64,
    pub before: Rate,
    pub after: Rate,
    /// Pairs that were not a success before and are after.
    pub changed_up: i64,
    /// Pairs that were a success before and are not after.
    pub changed_down: i64,
}

impl BeforeAfter {
    /// Shapes the pair counts of [`crate::store::ReportStore::answer_pairs`].
    pub fn from_pairs(questions: &TrendQuestions, pairs: &[AnswerPairs]) -> BeforeAfter {
        let paired = |id: &Option<String>, success: &dyn Fn(&Value) -> bool| -> Option<Paired> {
            let id = id.as_deref()?;
            let (mut n, mut before, mut after, mut up, mut down) = (0, 0, 0, 0, 0);
            for p in pairs.iter().filter(|p| p.question == id) {
                let read = |v: &serde_json::Value| serde_json::from_value::<Value>(v.clone()).ok();
                let (Some(b), Some(a)) = (read(&p.before), read(&p.after)) else {
                    continue;
                };
                let (b, a) = (success(&b), success(&a));
                n += p.pairs;
                before += i64::from(b) * p.pairs;
                after += i64::from(a) * p.pairs;
                up += i64::from(!b && a) * p.pairs;
                down += i64::from(b && !a) * p.pairs;
            }
            Some(Paired {
                pairs: n,
                before: Rate::wilson(before, n)?,
                after: Rate::wilson(after, n)?,
                changed_up: up,
                changed_down: down,
            })
        };
        BeforeAfter {
            resolution: paired(&questions.resolved, &|v| matches!(v, Value::Bool(true))),
            csat: paired(
                &questions.csat,
                &|v| matches!(v, Value::Number(x) if *x >= 4),
            ),
        }
    }
}

/// One period's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodFigures {
    /// The period's first day.
    pub start: NaiveDate,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The figures of a period or of a whole range; a rate is `None` when
/// there was nothing to divide by.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    pub calls: i64,
    pub reached: i64,
    /// Completed calls of reached ones.
    pub completion: Option<Rate>,
    /// Answers of 4 or 5 of the CSAT question's answers.
    pub csat: Option<Rate>,
    pub nps: Option<Nps>,
    /// *Yes* of the resolution question's answers.
    pub resolution: Option<Rate>,
}

/// The raw counts behind [`Figures`], summed across periods for the total.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    calls: i64,
    reached: i64,
    completed: i64,
    csat_answered: i64,
    satisfied: i64,
    promoters: i64,
    passives: i64,
    detractors: i64,
    resolved_answered: i64,
    resolved_yes: i64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.calls += o.calls;
        self.reached += o.reached;
        self.completed += o.completed;
        self.csat_answered += o.csat_answered;
        self.satisfied += o.satisfied;
        self.promoters += o.promoters;
        self.passives += o.passives;
        self.detractors += o.detractors;
        self.resolved_answered += o.resolved_answered;
        self.resolved_yes += o.resolved_yes;
    }

    fn figures(&self) -> Figures {
        Figures {
            calls: self.calls,
            reached: self.reached,
            completion: Rate::wilson(self.completed, self.reached),
            csat: Rate::wilson(self.satisfied, self.csat_answered),
            nps: Nps::adjusted_wald(self.promoters, self.passives, self.detractors),
            resolution: Rate::wilson(self.resolved_yes, self.resolved_answered),
        }
    }
}

impl Trends {
    /// Runs the two period queries for `filter` and shapes them.
    pub async fn load(
        store: &dyn Store,
        questions: TrendQuestions,
        filter: &ReportFilter,
        by: Period,
    ) -> StoreResult<Trends> {
        let reports = store.reports();
        let outcomes = reports.outcomes_by_period(filter, by).await?;
        let answers = reports.answers_by_period(filter, by, &questions).await?;
        let before_after = match filter.campaign {
            Some(campaign) => {
                let binds = [questions.resolved.as_deref(), questions.csat.as_deref()];
                let pairs = reports.answer_pairs(campaign, binds).await?;
                // A campaign of fresh contacts has no pairs: nothing to show.
                (!pairs.is_empty()).then(|| BeforeAfter::from_pairs(&questions, &pairs))
            }
            None => None,
        };
        let mut trends = Trends::from_counts(filter, questions, by, &outcomes, &answers);
        trends.before_after = before_after;
        Ok(trends)
    }

    /// The pure part of [`Trends::load`].
    pub fn from_counts(
        filter: &ReportFilter,
        questions: TrendQuestions,
        by: Period,
        outcomes: &[PeriodOutcomes],
        answers: &[PeriodAnswers],
    ) -> Trends {
        let mut counts: BTreeMap<NaiveDate, Counts> = BTreeMap::new();
        if let Some((first, last)) = bounds(by, filter.since, filter.until) {
            let mut day = first;
            while day <= last {
                counts.entry(day).or_default();
                day = by.next(day);
            }
        }
        for o in outcomes {
            let c = counts.entry(o.period).or_default();
            c.calls += o.calls;
            c.reached += o.reached;
            if o.outcome == Some(Outcome::Completed) {
                c.completed += o.calls;
            }
        }
        for a in answers {
            // A value this build cannot read is left out, as in the report.
            let Ok(value) = serde_json::from_value::<Value>(a.value.clone()) else {
                continue;
            };
            let c = counts.entry(a.period).or_default();
            let is = |q: &Option<String>| q.as_deref() == Some(a.question.as_str());
            match value {
                Value::Number(x) if is(&questions.csat) => {
                    c.csat_answered += a.calls;
                    if x >= 4 {
                        c.satisfied += a.calls;
                    }
                }
                Value::Number(x) if is(&questions.nps) => match x {
                    9.. => c.promoters += a.calls,
                    7..=8 => c.passives += a.calls,
                    _ => c.detractors += a.calls,
                },
                Value::Bool(yes) if is(&questions.resolved) => {
                    c.resolved_answered += a.calls;
                    if yes {
                        c.resolved_yes += a.calls;
                    }
                }
                _ => {}
            }
        }
        // Gaps between periods with calls are shown as empty periods.
        if let (Some(&first), Some(&last)) = (counts.keys().next(), counts.keys().last()) {
            let mut day = first;
            while day < last {
                counts.entry(day).or_default();
                day = by.next(day);
            }
        }
        let mut total = Counts::default();
        let periods = counts
            .iter()
            .map(|(start, c)| {
                total.add(c);
                PeriodFigures {
                    start: *start,
                    figures: c.figures(),
                }
            })
            .collect();
        Trends {
            flow: filter.flow.clone(),
            campaign: filter.campaign,
            by,
            since: filter.since,
            until: filter.until,
            questions,
            periods,
            total: total.figures(),
            before_after: None,
        }
    }

    /// One CSV row per period (and none for the total, which analysts sum
    /// themselves): counts, rates and interval bounds, rates as fractions
    /// (0–1) and NPS in points, empty where there is no rate.
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        // Writing to memory fails only on I/O, which memory has none of.
        let written = self.csv_lines(&mut w);
        debug_assert!(written.is_ok(), "{written:?}");
        String::from_utf8_lossy(&w.into_inner().unwrap_or_default()).into_owned()
    }

    fn csv_lines(&self, w: &mut csv::Writer<Vec<u8>>) -> Result<(), csv::Error> {
        w.write_record([
            "period_start",
            "calls",
            "reached",
            "completed",
            "completion",
            "completion_low",
            "completion_high",
            "csat_answered",
            "csat_satisfied",
            "csat",
            "csat_low",
            "csat_high",
            "nps_answered",
            "promoters",
            "passives",
            "detractors",
            "nps",
            "nps_low",
            "nps_high",
            "resolution_answered",
            "resolved_yes",
            "resolution",
            "resolution_low",
            "resolution_high",
        ])?;
        let num = |x: f64| format!("{x:.6}");
        let rate = |r: &Option<Rate>| -> [String; 5] {
            match r {
                Some(r) => [
                    r.of.to_string(),
                    r.count.to_string(),
                    num(r.value),
                    num(r.low),
                    num(r.high),
                ],
                None => Default::default(),
            }
        };
        for p in &self.periods {
            let f = &p.figures;
            let completion = rate(&f.completion);
            let csat = rate(&f.csat);
            let resolution = rate(&f.resolution);
            let nps: [String; 7] = match &f.nps {
                Some(n) => [
                    n.answered.to_string(),
                    n.promoters.to_string(),
                    n.passives.to_string(),
                    n.detractors.to_string(),
                    num(n.score),
                    num(n.low),
                    num(n.high),
                ],
                None => Default::default(),
            };
            let mut row = vec![
                p.start.to_string(),
                f.calls.to_string(),
                f.reached.to_string(),
            ];
            // Completion's count is "completed"; its `of` is `reached`, already there.
            row.extend(completion.into_iter().skip(1));
            row.extend(csat);
            row.extend(nps);
            row.extend(resolution);
            w.write_record(&row)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    fn questions() -> TrendQuestions {
        TrendQuestions {
            csat: Some("csat".into()),
            nps: None,
            resolved: Some("resolved".into()),
        }
    }

    fn outcome(d: u32, outcome: Option<Outcome>, calls: i64, reached: i64) -> PeriodOutcomes {
        PeriodOutcomes {
            period: day(d),
            outcome,
            calls,
            reached,
        }
    }

    fn answer(d: u32, question: &str, value: serde_json::Value, calls: i64) -> PeriodAnswers {
        PeriodAnswers {
            period: day(d),
            question: question.into(),
            value,
            calls,
        }
    }

    #[test]
    fn periods_are_filled_between_the_bounds_and_totals_sum_them() {
        // Days 2–4 asked for; calls on the 2nd and 4th only.
        let filter = ReportFilter {
            since: Some(day(2).and_hms_opt(0, 0, 0).unwrap().and_utc()),
            until: Some(day(5).and_hms_opt(0, 0, 0).unwrap().and_utc()),
            ..ReportFilter::flow("wallet-followup")
        };
        let t = Trends::from_counts(
            &filter,
            questions(),
            Period::Day,
            &[
                outcome(2, Some(Outcome::Completed), 3, 3),
                outcome(2, None, 2, 0),
                outcome(4, Some(Outcome::Abandoned), 1, 1),
                outcome(4, Some(Outcome::Completed), 1, 1),
            ],
            &[
                answer(2, "csat", json!(5), 2),
                answer(2, "csat", json!(3), 1),
                answer(4, "resolved", json!(false), 1),
                answer(4, "resolved", json!(true), 1),
                answer(4, "feature", json!("useful"), 1),
            ],
        );
        let starts: Vec<_> = t.periods.iter().map(|p| p.start).collect();
        assert_eq!(starts, [day(2), day(3), day(4)]);
        let first = &t.periods[0].figures;
        assert_eq!((first.calls, first.reached), (5, 3));
        assert_eq!(first.completion.map(|r| (r.count, r.of)), Some((3, 3)));
        assert_eq!(first.csat.map(|r| (r.count, r.of)), Some((2, 3)));
        assert_eq!(first.resolution, None);
        assert_eq!(t.periods[1].figures, Figures::default());
        assert_eq!(t.total.calls, 7);
        assert_eq!(t.total.completion.map(|r| (r.count, r.of)), Some((4, 5)));
        assert_eq!(t.total.resolution.map(|r| (r.count, r.of)), Some((1, 2)));
    }

    #[test]
    fn nps_answers_are_split_into_promoters_passives_and_detractors() {
        let q = TrendQuestions {
            nps: Some("nps".into()),
            ..TrendQuestions::default()
        };
        let t = Trends::from_counts(
            &ReportFilter::flow("nps-survey"),
            q,
            Period::Week,
            &[],
            &[
                answer(2, "nps", json!(10), 1),
                answer(2, "nps", json!(9), 1),
                answer(2, "nps", json!(8), 1),
                answer(2, "nps", json!(7), 1),
                answer(2, "nps", json!(6), 1),
            ],
        );
        let nps = t.total.nps.unwrap();
        assert_eq!((nps.promoters, nps.passives, nps.detractors), (2, 2, 1));
        assert!((nps.score - 20.0).abs() < 1e-9);
    }

    #[test]
    fn before_and_after_counts_each_pair_once_with_who_changed() {
        // 5 pairs answered `resolved`: no→yes ×3, no→no ×1, yes→yes ×1.
        // Before: 1 of 5 = 20 %; after: 4 of 5 = 80 %; 3 up, 0 down.
        // CSAT pairs: 2→4 ×2: before 0 of 2, after 2 of 2.
        let q = questions();
        let pair = |question: &str, before, after, pairs| AnswerPairs {
            question: question.into(),
            before,
            after,
            pairs,
        };
        let ba = BeforeAfter::from_pairs(
            &q,
            &[
                pair("resolved", json!(false), json!(true), 3),
                pair("resolved", json!(false), json!(false), 1),
                pair("resolved", json!(true), json!(true), 1),
                pair("csat", json!(2), json!(4), 2),
            ],
        );
        let r = ba.resolution.unwrap();
        assert_eq!(
            (
                r.pairs,
                r.before.count,
                r.after.count,
                r.changed_up,
                r.changed_down
            ),
            (5, 1, 4, 3, 0)
        );
        let c = ba.csat.unwrap();
        assert_eq!((c.pairs, c.before.count, c.after.count), (2, 0, 2));
        // Wilson 0 of 2: centre = (z²/4)/(1 + z²/2) = 0.960365/2.920730 =
        // 0.328810 = half: [0, 0.657620].
        assert!((c.before.high - 0.657620).abs() < 1e-4, "{c:?}");
    }

    #[test]
    fn a_short_range_is_daily_and_a_long_or_open_one_weekly() {
        let at = |d: u32| Some(day(d).and_hms_opt(0, 0, 0).unwrap().and_utc());
        assert_eq!(default_period(at(1), at(22)), Period::Day);
        assert_eq!(default_period(at(1), at(23)), Period::Week);
        assert_eq!(default_period(None, at(5)), Period::Week);
        // 2026-03-02 (Mon) to 03-16 exclusive: the weeks of the 2nd and 9th.
        assert_eq!(periods_in(Period::Week, at(2), at(16)), Some(2));
        assert_eq!(periods_in(Period::Day, at(2), at(16)), Some(14));
    }

    #[test]
    fn the_csv_has_one_row_per_period_with_rates_and_bounds() {
        let t = Trends::from_counts(
            &ReportFilter::flow("wallet-followup"),
            questions(),
            Period::Day,
            &[outcome(2, Some(Outcome::Completed), 3, 5)],
            &[],
        );
        let csv = t.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2, "{csv}");
        assert!(lines[0].starts_with("period_start,calls,reached,completed,completion,"));
        // 3 of 5: Wilson [0.230724, 0.882379] (see interval.rs).
        assert!(
            lines[1].starts_with("2026-03-02,3,5,3,0.600000,0.230724,0.882379,,,,,,"),
            "{}",
            lines[1]
        );
    }
}
