//! A flow's report: the database counts (see `store/reports.rs`) shaped by
//! the flow's questions into rates, funnels, distributions and scores.
//!
//! Rates are over *reached* calls (someone picked up): a busy line says
//! nothing about the survey, and dividing by every dial would make the
//! survey look worse whenever the dialler had a bad day.

use std::collections::HashMap;

use serde::Serialize;

use crate::flow::Flow;
use crate::flow::model::QuestionKind;
use crate::flow::value::Value;
use crate::store::reports::{AnswerCount, LastAnswered, OutcomeCount, ReportFilter};
use crate::store::{Outcome, Store, StoreResult};

/// One question as a report needs it: its step id and kind, in flow order.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionSpec {
    pub id: String,
    pub kind: QuestionKind,
}

impl QuestionSpec {
    /// The flow's questions in the order the flow lists them, which is the
    /// order of the drop-off funnel and of the export's columns.
    pub fn of(flow: &Flow) -> Vec<QuestionSpec> {
        flow.questions()
            .map(|(step, q)| QuestionSpec {
                id: step.id.clone(),
                kind: q.kind.clone(),
            })
            .collect()
    }
}

/// Everything the dashboard and `/api/results` show for one flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowReport {
    pub flow: String,
    /// Calls started (dialled or received).
    pub calls: i64,
    /// Calls someone picked up.
    pub reached: i64,
    pub completed: i64,
    /// `completed / reached`; `None` with nothing reached.
    pub completion_rate: Option<f64>,
    /// Calls per outcome, by name (`"unfinished"`: no outcome yet).
    pub outcomes: Vec<Share>,
    /// The funnel, one entry per question in flow order.
    pub steps: Vec<Step>,
    /// Abandoned calls that had answered every question.
    pub dropped_after_last: i64,
    pub questions: Vec<QuestionReport>,
    pub handoffs: i64,
    pub handoff_rate: Option<f64>,
    pub opt_outs: i64,
    pub opt_out_rate: Option<f64>,
}

/// A count and its share of some whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Share {
    pub label: String,
    pub count: i64,
    pub share: Option<f64>,
}

/// One step of the funnel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub question: String,
    /// Calls that answered it.
    pub answered: i64,
    /// Calls that hung up while it was being asked: abandoned calls whose
    /// last answer was the question before it (or none, for the first).
    pub dropped: i64,
}

/// One question's answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionReport {
    pub id: String,
    pub answered: i64,
    /// Answer values and their shares of `answered`, in scale or menu
    /// order (every value of a scale, even unanswered ones, so bar charts
    /// keep their axis).
    pub distribution: Vec<Share>,
    pub score: Option<Score>,
}

/// A question's headline number.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Score {
    /// A 1–5 rating: the share of 4s and 5s, and the mean.
    Csat { satisfied: f64, mean: f64 },
    /// Net Promoter Score: promoters (9–10) minus detractors (0–6), in
    /// points from −100 to 100, with the three shares.
    Nps {
        score: f64,
        promoters: f64,
        passives: f64,
        detractors: f64,
    },
    /// Any other rating or number: the mean.
    Mean { mean: f64 },
}

impl FlowReport {
    /// Runs the report queries for `filter` and shapes them by `questions`.
    pub async fn load(
        store: &dyn Store,
        questions: &[QuestionSpec],
        filter: &ReportFilter,
    ) -> StoreResult<FlowReport> {
        let reports = store.reports();
        let outcomes = reports.outcome_counts(filter).await?;
        let answers = reports.answer_counts(filter).await?;
        let abandoned = reports.abandoned_after(filter).await?;
        let handoffs = reports.handoff_calls(filter).await?;
        let opt_outs = reports.opt_out_calls(filter).await?;
        Ok(FlowReport::from_counts(
            &filter.flow,
            questions,
            &outcomes,
            &answers,
            &abandoned,
            handoffs,
            opt_outs,
        ))
    }

    /// The pure part of [`FlowReport::load`].
    pub fn from_counts(
        flow: &str,
        questions: &[QuestionSpec],
        outcomes: &[OutcomeCount],
        answers: &[AnswerCount],
        abandoned: &[LastAnswered],
        handoffs: i64,
        opt_outs: i64,
    ) -> FlowReport {
        let calls = outcomes.iter().map(|o| o.calls).sum();
        let reached = outcomes.iter().map(|o| o.reached).sum();
        let completed = outcomes
            .iter()
            .filter(|o| o.outcome == Some(Outcome::Completed))
            .map(|o| o.calls)
            .sum();
        let mut by_outcome: Vec<Share> = outcomes
            .iter()
            .map(|o| Share {
                label: o
                    .outcome
                    .map_or_else(|| "unfinished".into(), |o| o.as_str().into()),
                count: o.calls,
                share: ratio(o.calls, calls),
            })
            .collect();
        by_outcome.sort_by(|a, b| a.label.cmp(&b.label));

        let mut values: HashMap<&str, Vec<(Value, i64)>> = HashMap::new();
        for a in answers {
            // A value this build cannot read (a newer kind) is left out
            // rather than failing the whole report.
            if let Ok(v) = serde_json::from_value::<Value>(a.value.clone()) {
                values.entry(&a.question).or_default().push((v, a.calls));
            }
        }
        let empty = Vec::new();
        let question_reports: Vec<QuestionReport> = questions
            .iter()
            .map(|q| question_report(q, values.get(q.id.as_str()).unwrap_or(&empty)))
            .collect();

        let dropped_after = |last: Option<&str>| -> i64 {
            abandoned
                .iter()
                .filter(|l| l.question.as_deref() == last)
                .map(|l| l.calls)
                .sum()
        };
        let steps = questions
            .iter()
            .zip(&question_reports)
            .enumerate()
            .map(|(i, (q, r))| Step {
                question: q.id.clone(),
                answered: r.answered,
                dropped: dropped_after(i.checked_sub(1).map(|p| questions[p].id.as_str())),
            })
            .collect();
        let dropped_after_last = questions
            .last()
            .map_or(0, |q| dropped_after(Some(q.id.as_str())));

        FlowReport {
            flow: flow.to_owned(),
            calls,
            reached,
            completed,
            completion_rate: ratio(completed, reached),
            outcomes: by_outcome,
            steps,
            dropped_after_last,
            questions: question_reports,
            handoffs,
            handoff_rate: ratio(handoffs, reached),
            opt_outs,
            opt_out_rate: ratio(opt_outs, reached),
        }
    }
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn question_report(q: &QuestionSpec, values: &[(Value, i64)]) -> QuestionReport {
    let answered: i64 = values.iter().map(|(_, n)| n).sum();
    let count_of = |key: &str| -> i64 {
        values
            .iter()
            .filter(|(v, _)| v.route_key() == key)
            .map(|(_, n)| n)
            .sum()
    };
    let labels: Vec<String> = match &q.kind {
        QuestionKind::YesNo => vec!["yes".into(), "no".into()],
        QuestionKind::Rating { min, max } if max - min <= 20 => {
            (*min..=*max).map(|n| n.to_string()).collect()
        }
        QuestionKind::Nps => (0..=10).map(|n| n.to_string()).collect(),
        QuestionKind::Menu(choices) => choices.iter().map(|c| c.value.clone()).collect(),
        _ => {
            let mut keys: Vec<String> = values.iter().map(|(v, _)| v.route_key()).collect();
            keys.sort();
            keys.dedup();
            keys
        }
    };
    let distribution = labels
        .into_iter()
        .map(|label| {
            let count = count_of(&label);
            Share {
                label,
                count,
                share: ratio(count, answered),
            }
        })
        .collect();

    let numbers: Vec<(i64, i64)> = values
        .iter()
        .filter_map(|(v, n)| match v {
            Value::Number(x) => Some((*x, *n)),
            _ => None,
        })
        .collect();
    let total: i64 = numbers.iter().map(|(_, n)| n).sum();
    let share_where = |pred: &dyn Fn(i64) -> bool| -> f64 {
        let part: i64 = numbers
            .iter()
            .filter(|(x, _)| pred(*x))
            .map(|(_, n)| n)
            .sum();
        ratio(part, total).unwrap_or(0.0)
    };
    let mean = ratio(numbers.iter().map(|(x, n)| x * n).sum(), total);
    let score = match (&q.kind, mean) {
        (_, None) => None,
        (QuestionKind::Rating { min: 1, max: 5 }, Some(mean)) => Some(Score::Csat {
            satisfied: share_where(&|x| x >= 4),
            mean,
        }),
        (QuestionKind::Nps, Some(_)) => {
            let promoters = share_where(&|x| x >= 9);
            let detractors = share_where(&|x| x <= 6);
            Some(Score::Nps {
                score: (promoters - detractors) * 100.0,
                promoters,
                passives: share_where(&|x| (7..=8).contains(&x)),
                detractors,
            })
        }
        (QuestionKind::Rating { .. } | QuestionKind::Number { .. }, Some(mean)) => {
            Some(Score::Mean { mean })
        }
        _ => None,
    };
    QuestionReport {
        id: q.id.clone(),
        answered,
        distribution,
        score,
    }
}
