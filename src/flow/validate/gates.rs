//! Gates: questions whose answer can stop the survey (consent: "not now"
//! ends the call as `refused`). A gate that gets no usable answer must not
//! be passed as if the caller had said yes, so its `on_fail` defaults to
//! `end`, and a flow that writes `on_fail = "skip"` on one is warned about.

use super::super::diagnostic::{Code, Diagnostic};
use super::super::model::{OnFail, Outcome, Step, StepIdx, StepKind};
use super::super::syntax::FlowSyntax;
use super::Context;

/// Gives every gate without an explicit `on_fail` the `end` default, and
/// warns about gates that say `skip`.
pub(super) fn check(cx: &mut Context<'_>, flow: &FlowSyntax, built: &mut [Option<Step>]) {
    let gates: Vec<(StepIdx, String)> = (0..built.len())
        .filter_map(|i| stopping_answer(built, i).map(|answer| (i, answer)))
        .collect();
    for (i, answer) in gates {
        let Some(Some(step)) = built.get_mut(i) else {
            continue;
        };
        let StepKind::Question(q) = &mut step.kind else {
            continue;
        };
        match &flow.steps[i].on_fail {
            None => q.on_fail = OnFail::End,
            Some(written) if written.value == "skip" => cx.push(
                Diagnostic::warning(
                    Code::SkippableGate,
                    written.span.clone(),
                    format!("gate `{}` can be skipped: a caller who gives no answer goes on into the call", step.id),
                )
                .label(format!("`{answer}` ends the call here, yet silence goes on"))
                .hint("remove `on_fail` (a gate ends the call when it gets no answer), or write `on_fail = \"end\"`"),
            ),
            Some(_) => {}
        }
    }
}

/// The answer of question `i` that stops the call early — leads, through
/// messages only, to an ending other than `completed` — if it has one.
pub(crate) fn stopping_answer(steps: &[Option<Step>], i: StepIdx) -> Option<String> {
    let step = steps.get(i)?.as_ref()?;
    let StepKind::Question(_) = step.kind else {
        return None;
    };
    step.on
        .iter()
        .find(|(_, to)| ending_of(steps, *to).is_some_and(|o| o != Outcome::Completed))
        .map(|(answer, _)| answer.clone())
}

/// The outcome the call ends with from step `start` on when nothing more
/// is asked or decided on the way (no question, transfer or branch).
fn ending_of(steps: &[Option<Step>], start: StepIdx) -> Option<Outcome> {
    let mut at = start;
    // Each step at most once: an input-less loop is reported elsewhere.
    for _ in 0..steps.len() {
        let step = steps.get(at)?.as_ref()?;
        match step.kind {
            StepKind::Message { end: Some(outcome) } => return Some(outcome),
            StepKind::Message { end: None } if step.branches.is_empty() => match step.next {
                Some(next) => at = next,
                None => return Some(Outcome::Completed),
            },
            _ => return None,
        }
    }
    None
}
