//! Calls, advances and answers to build tests from, shared by the suites.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use dialback::store::{
    Advance, CallStatus, Direction, HandoffStatus, NewAnswer, NewCall, NewHandoff, Store,
};
use serde_json::json;

pub use super::sid::sid_for;

pub type Db = Arc<dyn Store>;

pub const FLOW: &str = "followup";
pub const FLOW_HASH: &str = "sha256:0f1e2d";

/// A fixed instant plus `secs`, with microseconds, as both backends keep them.
pub fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap()
        + chrono::Duration::seconds(secs)
        + chrono::Duration::microseconds(123_456)
}

pub fn new_call(call_sid: &str) -> NewCall {
    NewCall {
        call_sid: sid_for(call_sid),
        flow: FLOW.to_owned(),
        flow_hash: FLOW_HASH.to_owned(),
        direction: Direction::Outbound,
        from: "+8610000000".to_owned(),
        to: "+8613800138000".to_owned(),
        status: CallStatus::Ringing,
        state: r#"{"step":"intro","vars":{"name":"张三"}}"#.to_owned(),
        seq: 0,
        response: "<Response><Say>您好</Say></Response>".to_owned(),
        started_at: t(0),
        follows: None,
    }
}

/// Saves the flow version and creates the call, as the first webhook does.
pub async fn start_call(store: &Db, call_sid: &str) {
    store
        .save_flow_version(FLOW, FLOW_HASH, "[flow]\n")
        .await
        .unwrap();
    assert!(store.create_call(new_call(call_sid)).await.unwrap());
}

pub fn advance(call_sid: &str, from_seq: i64, to_seq: i64) -> Advance {
    Advance {
        call_sid: sid_for(call_sid),
        from_seq,
        to_seq,
        state: format!(r#"{{"seq":{to_seq}}}"#),
        response: format!("<Response><Say>step {to_seq}</Say></Response>"),
        status: None,
        answers: vec![],
        opt_out: None,
        handoff: None,
        recording: None,
        outcome: None,
        ended_at: None,
    }
}

pub fn answer(question: &str, value: serde_json::Value) -> NewAnswer {
    NewAnswer {
        question: question.to_owned(),
        value,
        raw: Some("1".to_owned()),
        confidence: Some(0.875),
        attempt: 1,
        answered_at: t(10),
    }
}

pub fn handoff(status: HandoffStatus, created_at: DateTime<Utc>) -> NewHandoff {
    NewHandoff {
        step: "handoff".to_owned(),
        target: "queue:wallet-support".to_owned(),
        status,
        reason: "not_resolved".to_owned(),
        summary: json!({"resolved": false, "csat": 2}),
        created_at,
    }
}
