//! Storing what one input did to a call, shared by the TwiML webhooks and
//! the media-stream loop: the new state, the answers, an opt-out, a handoff,
//! a recording and the outcome, in ONE `advance_call` (a compare-and-swap
//! on the call's `seq`), then the CRM notice for an open handoff.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::AppState;
use crate::flow::event::Output;
use crate::flow::{Call, Value};
use crate::store::{
    Advance, Advanced, CallRow, NewAnswer, NewHandoff, NewOptOut, NewRecording, StoreResult,
};

/// Stores the effect of `outputs` (just produced by `call.handle`) on the
/// call stored as `row`; `response` is what a replayed webhook gets back.
pub(super) async fn commit(
    state: &AppState,
    row: &CallRow,
    call: &Call,
    outputs: &[Output],
    response: String,
    now: DateTime<Utc>,
) -> StoreResult<Advanced> {
    let customer = if row.direction == "outbound" {
        &row.to
    } else {
        &row.from
    };
    let mut advance = Advance {
        call_sid: row.call_sid.clone(),
        from_seq: row.seq,
        to_seq: i64::from(call.seq),
        state: serde_json::to_string(call).unwrap_or_default(),
        response,
        status: None,
        answers: Vec::new(),
        opt_out: None,
        handoff: None,
        recording: None,
        outcome: None,
        ended_at: None,
    };
    let mut open_handoff = None;
    for o in outputs {
        match o {
            Output::Answer(a) => {
                if let Value::Recording { url, duration_secs } = &a.value {
                    advance.recording = Some(NewRecording {
                        call_sid: row.call_sid.clone(),
                        question: a.question.clone(),
                        url: url.clone(),
                        duration_secs: Some(*duration_secs as i32),
                        at: now,
                    });
                }
                advance.answers.push(NewAnswer {
                    question: a.question.clone(),
                    value: serde_json::to_value(&a.value).unwrap_or_default(),
                    raw: a.raw.clone(),
                    confidence: a.confidence,
                    attempt: i32::from(a.attempt),
                    answered_at: now,
                });
            }
            Output::OptOut => {
                advance.opt_out = Some(NewOptOut {
                    phone: customer.clone(),
                    call_sid: Some(row.call_sid.clone()),
                    at: now,
                })
            }
            Output::Handoff(h) => {
                let answers: serde_json::Map<String, serde_json::Value> = call
                    .answers
                    .iter()
                    .map(|(k, a)| {
                        (
                            k.clone(),
                            serde_json::to_value(&a.value).unwrap_or_default(),
                        )
                    })
                    .collect();
                let summary = json!({
                    "call_sid": row.call_sid, "flow": row.flow, "step": h.step,
                    "target": h.target.to_string(), "reason": h.reason.as_str(),
                    "customer": customer, "answers": answers, "at": now,
                });
                if !h.connected() {
                    open_handoff = Some(summary.clone());
                }
                advance.handoff = Some(NewHandoff {
                    step: h.step.clone(),
                    target: h.target.to_string(),
                    status: if h.connected() { "connected" } else { "open" }.into(),
                    reason: h.reason.as_str().into(),
                    summary,
                    created_at: now,
                });
            }
            Output::End { outcome } => {
                advance.outcome = Some(outcome.as_str().into());
                advance.ended_at = Some(now);
            }
            _ => {}
        }
    }
    let ended = advance.outcome.clone();
    let (new_state, new_response) = (advance.state.clone(), advance.response.clone());
    let result = state.store().advance_call(advance).await?;
    // Keep this replica's cache in step (see `cache`): the next webhook of
    // a live call then needs no read.
    match (&result, &ended) {
        (Advanced::Applied, None) => state.inner.calls.put(CallRow {
            seq: i64::from(call.seq),
            state: new_state,
            response: new_response,
            ..row.clone()
        }),
        _ => state.inner.calls.remove(&row.call_sid),
    }
    if result == Advanced::Applied {
        if let (Some(summary), Some(crm)) = (open_handoff, &state.inner.crm) {
            crm.notify(summary);
        }
        if let Some(outcome) = ended {
            tracing::info!(call_sid = %row.call_sid, outcome = %outcome, "call ended");
            super::metrics::call_ended(&outcome.to_string());
        }
    }
    Ok(result)
}
