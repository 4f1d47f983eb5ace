//! What one input did to a call, as the one store write that records it:
//! the new state, the answers, an opt-out, a handoff, a recording and the
//! outcome, in ONE [`Advance`] (a compare-and-swap on the call's `seq`).
//! Pure: the service does the writing (see [`super::Calls::commit`]).

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::flow::event::Output;
use crate::flow::{Call, Value};
use crate::store::{
    Advance, CallRow, Direction, HandoffStatus, NewAnswer, NewHandoff, NewOptOut, NewRecording,
};

/// The store write for one step, and what to do once it is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Effects {
    pub advance: Advance,
    /// The summary of a handoff still open (no agent reached), for the CRM.
    pub open_handoff: Option<serde_json::Value>,
}

/// A call whose state cannot be stored; the step is not applied.
#[derive(Debug, thiserror::Error)]
#[error("the call's state cannot be serialised: {0}")]
pub struct Unserialisable(#[from] serde_json::Error);

/// The store write for `outputs`, just produced by `call.handle` on the call
/// stored as `row`; `response` is what a replayed webhook gets back.
pub fn effects(
    row: &CallRow,
    call: &Call,
    outputs: &[Output],
    response: String,
    now: DateTime<Utc>,
) -> Result<Effects, Unserialisable> {
    let customer = match row.direction {
        Direction::Outbound => &row.to,
        Direction::Inbound => &row.from,
    };
    let mut advance = Advance {
        call_sid: row.call_sid.clone(),
        from_seq: row.seq,
        to_seq: i64::from(call.seq),
        state: serde_json::to_string(call)?,
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
                if let Value::Recording {
                    url,
                    duration_secs,
                    sid,
                } = &a.value
                {
                    advance.recording = Some(NewRecording {
                        call_sid: row.call_sid.clone(),
                        question: a.question.clone(),
                        url: url.clone(),
                        duration_secs: Some(*duration_secs as i32),
                        recording_sid: sid.clone(),
                        at: now,
                    });
                }
                advance.answers.push(NewAnswer {
                    question: a.question.clone(),
                    value: serde_json::to_value(&a.value)?,
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
                let answers = call
                    .answers
                    .iter()
                    .map(|(k, a)| Ok((k.clone(), serde_json::to_value(&a.value)?)))
                    .collect::<Result<serde_json::Map<_, _>, serde_json::Error>>()?;
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
                    status: if h.connected() {
                        HandoffStatus::Connected
                    } else {
                        HandoffStatus::Open
                    },
                    reason: h.reason.as_str().into(),
                    summary,
                    created_at: now,
                });
            }
            Output::End { outcome } => {
                advance.outcome = Some(*outcome);
                advance.ended_at = Some(now);
            }
            _ => {}
        }
    }
    Ok(Effects {
        advance,
        open_handoff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Outcome;
    use crate::flow::event::{Answer, Handoff, HandoffReason};
    use crate::flow::model::Target;
    use crate::store::CallStatus;

    fn now() -> DateTime<Utc> {
        "2026-11-23T03:00:00Z".parse().unwrap()
    }

    fn row(direction: Direction) -> CallRow {
        CallRow {
            call_sid: crate::store::CallSid::parse("CA0123456789abcdef0123456789abcdef").unwrap(),
            flow: "wallet-followup".into(),
            flow_hash: "h".into(),
            direction,
            from: "+8613800000000".into(),
            to: "+861000000001".into(),
            status: CallStatus::InProgress,
            outcome: None,
            state: "{}".into(),
            seq: 2,
            response: String::new(),
            started_at: now(),
            ended_at: None,
            follows: None,
        }
    }

    fn call_at(seq: u32) -> Call {
        let mut call = Call::new(Default::default());
        call.seq = seq;
        call
    }

    fn answer(question: &str, value: Value) -> Answer {
        Answer {
            question: question.into(),
            value,
            raw: Some("4".into()),
            confidence: None,
            attempt: 1,
        }
    }

    #[test]
    fn a_step_moves_the_call_from_its_stored_seq_to_the_machines_and_keeps_its_state() {
        let call = call_at(3);

        let e = effects(
            &row(Direction::Inbound),
            &call,
            &[],
            "<Response/>".into(),
            now(),
        )
        .unwrap();

        assert_eq!((e.advance.from_seq, e.advance.to_seq), (2, 3));
        assert_eq!(e.advance.response, "<Response/>");
        let stored: Call = serde_json::from_str(&e.advance.state).unwrap();
        assert_eq!(stored.seq, 3);
        assert!(e.advance.answers.is_empty() && e.advance.outcome.is_none());
        assert!(e.open_handoff.is_none());
    }

    #[test]
    fn answers_are_stored_and_a_recording_also_as_a_recording() {
        let outputs = [
            Output::Answer(answer("csat", Value::Number(4))),
            Output::Answer(answer(
                "suggestion",
                Value::Recording {
                    url: "https://rec/1".into(),
                    duration_secs: 7,
                    sid: Some("RE1".into()),
                },
            )),
        ];

        let e = effects(
            &row(Direction::Inbound),
            &call_at(3),
            &outputs,
            String::new(),
            now(),
        )
        .unwrap();

        let questions: Vec<_> = e.advance.answers.iter().map(|a| &a.question).collect();
        assert_eq!(questions, ["csat", "suggestion"]);
        assert_eq!(e.advance.answers[0].value, json!(4));
        assert_eq!(e.advance.answers[0].answered_at, now());
        let rec = e.advance.recording.expect("a recording");
        assert_eq!(
            (rec.question.as_str(), rec.url.as_str()),
            ("suggestion", "https://rec/1")
        );
        assert_eq!(rec.duration_secs, Some(7));
        assert_eq!(rec.recording_sid.as_deref(), Some("RE1"));
    }

    #[test]
    fn an_opt_out_names_the_customer_the_caller_inbound_and_the_called_outbound() {
        for (direction, phone) in [
            (Direction::Inbound, "+8613800000000"),
            (Direction::Outbound, "+861000000001"),
        ] {
            let e = effects(
                &row(direction),
                &call_at(3),
                &[Output::OptOut],
                String::new(),
                now(),
            )
            .unwrap();
            assert_eq!(
                e.advance.opt_out.expect("an opt-out").phone,
                phone,
                "{direction}"
            );
        }
    }

    #[test]
    fn a_handoff_no_agent_took_is_open_and_goes_to_the_crm_with_the_answers_so_far() {
        let mut call = call_at(3);
        call.answers
            .insert("resolved".into(), answer("resolved", Value::Bool(false)));
        let handoff = |reason| {
            Output::Handoff(Handoff {
                step: "handoff".into(),
                target: Target::Queue("wallet-support".into()),
                reason,
            })
        };

        let open = effects(
            &row(Direction::Inbound),
            &call,
            &[handoff(HandoffReason::Busy)],
            String::new(),
            now(),
        )
        .unwrap();
        let connected = effects(
            &row(Direction::Inbound),
            &call,
            &[handoff(HandoffReason::Connected)],
            String::new(),
            now(),
        )
        .unwrap();

        let stored = open.advance.handoff.expect("a handoff");
        assert_eq!(
            (stored.status, stored.reason.as_str()),
            (HandoffStatus::Open, "busy")
        );
        let summary = open.open_handoff.expect("the CRM hears of it");
        assert_eq!(summary["answers"]["resolved"], json!(false));
        assert_eq!(summary["customer"], json!("+8613800000000"));
        assert_eq!(
            connected.advance.handoff.expect("a handoff").status,
            HandoffStatus::Connected
        );
        assert!(
            connected.open_handoff.is_none(),
            "a connected handoff needs no CRM"
        );
    }

    #[test]
    fn the_end_of_the_call_stores_its_outcome_and_when() {
        let e = effects(
            &row(Direction::Inbound),
            &call_at(3),
            &[Output::End {
                outcome: Outcome::Completed,
            }],
            String::new(),
            now(),
        )
        .unwrap();

        assert_eq!(e.advance.outcome, Some(Outcome::Completed));
        assert_eq!(e.advance.ended_at, Some(now()));
    }
}
