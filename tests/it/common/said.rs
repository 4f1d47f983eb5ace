//! The "what callers said" fixture: the 212 free-text answers of
//! `tests/fixtures/insight/answers.txt` (each labelled with the topics a
//! reader files it under) stored as wallet-followup calls, one call per
//! answer; a caller who answered twice called twice from the same number.
//!
//! The shipped wallet flow records its suggestion; the flow these tests
//! serve asks the same question as free speech (`ask = "speech"`), which is
//! how text reaches the store today (a TwiML `<Gather input="speech">` or a
//! stream's free-speech answer). Its topics are the shipped file's.
//!
//! Figures, worked out from the labels:
//! - this period (the 30 days before [`NOW`]): 212 answers of 208 callers;
//!   callers per topic 转账失败 35, 手续费 25, 客服等待 21, 退款 16, 充值 13,
//!   闪退卡顿 17, 表扬 18; unnamed, first, 指纹支付 (12 callers);
//! - every answer labelled 转账失败 comes with `csat` 1, every other with 4,
//!   so `csat <= 2` selects exactly the 35 转账失败 callers;
//! - the previous 30 days: [`PREVIOUS`] calls, each a different caller
//!   saying a transfer failed (csat 1): 转账失败 +40 %, every other topic new.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use dialback::store::{Advance, CallStatus, Direction, NewAnswer, NewCall, Outcome};
use serde_json::{Value, json};

use super::fixtures::{Db, sid_for};

pub const FLOW: &str = "wallet-followup";

/// Calls in the previous period.
pub const PREVIOUS: usize = 25;

/// The server's clock in these tests.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap()
}

/// One labelled answer of the fixture file.
pub struct Line {
    pub caller: String,
    pub topics: BTreeSet<String>,
    pub text: String,
}

pub fn lines() -> Vec<Line> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/insight/answers.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let parts: Vec<&str> = l.splitn(3, '\t').collect();
            Line {
                caller: parts[0].to_owned(),
                topics: parts[1]
                    .split(',')
                    .filter(|t| *t != "-")
                    .map(str::to_owned)
                    .collect(),
                text: parts[2].to_owned(),
            }
        })
        .collect()
}

/// The caller's satisfaction in the fixture: 1 for a failed transfer.
pub fn csat(line: &Line) -> i64 {
    if line.topics.contains("转账失败") {
        1
    } else {
        4
    }
}

/// A flows folder: the shipped flows, with wallet-followup's suggestion
/// asked as free speech.
pub fn flows_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("call-flows");
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let wallet = std::fs::read_to_string(shipped.join("wallet-followup.toml")).unwrap();
    let recorded = "ask = \"record\"\nmax_length = 60\n";
    assert!(
        wallet.contains(recorded),
        "the wallet flow records its suggestion"
    );
    std::fs::write(
        dir.path().join("wallet-followup.toml"),
        wallet.replace(recorded, "ask = \"speech\"\n"),
    )
    .unwrap();
    dir
}

fn answer(question: &str, value: Value, at: DateTime<Utc>) -> NewAnswer {
    NewAnswer {
        question: question.to_owned(),
        value,
        raw: None,
        confidence: Some(0.9),
        attempt: 1,
        answered_at: at,
    }
}

/// One completed call from `phone` at `at` with these answers.
async fn call(db: &Db, sid: &str, phone: &str, at: DateTime<Utc>, answers: Vec<NewAnswer>) {
    assert!(
        db.create_call(NewCall {
            call_sid: sid_for(sid),
            flow: FLOW.to_owned(),
            flow_hash: format!("sha256:{FLOW}"),
            direction: Direction::Outbound,
            from: "+861000000001".to_owned(),
            to: phone.to_owned(),
            status: CallStatus::InProgress,
            state: "{}".to_owned(),
            seq: 0,
            response: "<Response/>".to_owned(),
            started_at: at,
            follows: None,
        })
        .await
        .unwrap()
    );
    db.advance_call(Advance {
        call_sid: sid_for(sid),
        from_seq: 0,
        to_seq: 1,
        state: "{}".to_owned(),
        response: "<Response/>".to_owned(),
        status: None,
        answers,
        opt_out: None,
        handoff: None,
        recording: None,
        outcome: Some(Outcome::Completed),
        ended_at: Some(at + Duration::seconds(90)),
    })
    .await
    .unwrap();
}

/// The CallSid of the fixture's `i`-th answer.
pub fn sid(i: usize) -> String {
    sid_for(&format!("CS{i:03}")).to_string()
}

/// Stores the fixture; the calls of this period start on 2026-03-10.
pub async fn load(db: &Db) {
    db.save_flow_version(FLOW, &format!("sha256:{FLOW}"), "[flow]\n")
        .await
        .unwrap();
    let start = Utc.with_ymd_and_hms(2026, 3, 10, 8, 0, 0).unwrap();
    for (i, line) in lines().iter().enumerate() {
        let at = start + Duration::minutes(i as i64);
        let number: u32 = line.caller.trim_start_matches('c').parse().unwrap();
        let answers = vec![
            answer("consent", json!(true), at),
            answer("resolved", json!(true), at),
            answer("csat", json!(csat(line)), at),
            answer("has_suggestion", json!(true), at),
            answer("suggestion", json!(line.text), at),
        ];
        call(db, &sid(i), &format!("+86138{number:08}"), at, answers).await;
    }
    let before = Utc.with_ymd_and_hms(2026, 2, 10, 8, 0, 0).unwrap();
    for i in 0..PREVIOUS {
        let at = before + Duration::minutes(i as i64);
        let answers = vec![
            answer("csat", json!(1), at),
            answer("suggestion", json!("转账失败了，钱还是转不出去"), at),
        ];
        call(
            db,
            &format!("PS{i:03}"),
            &format!("+86139{i:08}"),
            at,
            answers,
        )
        .await;
    }
}
