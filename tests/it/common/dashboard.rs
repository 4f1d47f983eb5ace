//! The dashboard's fixture and a small HTTP client that keeps the session
//! cookie, shared by `dashboard.rs` and `dashboard_browser.rs`.
//!
//! The fixture, with the figures worked out by hand (dates are 2026-03-01
//! unless said otherwise; "camp" = placed for campaign 1):
//!
//! | call | flow | answers | outcome | |
//! |---|---|---|---|---|
//! | W1 | wallet-followup | consent yes, resolved yes, csat 5, feature, recording | completed | camp |
//! | W2 | wallet-followup | consent yes, resolved yes, csat 4 | completed | |
//! | W3 | wallet-followup | consent yes, resolved no | ticket, open handoff | |
//! | W4 | wallet-followup | consent yes, resolved yes, csat 2 | abandoned | camp |
//! | W5 | wallet-followup | no answer (not reached) | – | |
//! | W6 | wallet-followup (03-02) | consent yes, resolved yes, csat 3 | completed | |
//! | N1–N5 | nps-survey | nps 10, 9, 8, 7, 6 | completed | |
//!
//! wallet-followup, no filter: 6 calls, 5 reached, 3 completed (60.0%);
//! CSAT over 5, 4, 2, 3 = 50.0% satisfied, mean 3.50.
//! Up to 2026-03-01: 5 calls, 4 reached, 2 completed (50.0%); CSAT over
//! 5, 4, 2 = 66.7%, mean 3.67.
//! Campaign 1: 2 calls, 2 reached, 1 completed (50.0%); CSAT over 5, 2 =
//! 50.0%, mean 3.50.
//! nps-survey: promoters 2/5, passives 2/5, detractors 1/5: NPS +20.

use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use dialback::store::campaigns::{NewCampaign, NewContact};
use dialback::store::{
    Advance, CallStatus, Direction, HandoffStatus, NewAnswer, NewCall, NewHandoff, Outcome,
};
use serde_json::{Value, json};

use super::fixtures::{Db, sid_for};
use super::phone::{ADMIN_TOKEN, Server};

pub const WALLET: &str = "wallet-followup";
pub const NPS: &str = "nps-survey";
pub const CUSTOMER: &str = "+8613800138000";
pub const CUSTOMER_MASKED: &str = "+86 138****8000";

pub fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap() + Duration::seconds(secs)
}

fn answer(question: &str, value: Value, secs: i64) -> NewAnswer {
    NewAnswer {
        question: question.to_owned(),
        value,
        raw: Some("1".to_owned()),
        confidence: None,
        attempt: 1,
        answered_at: at(secs),
    }
}

/// A call created at `start` (seconds after [`at`]'s origin), picked up,
/// one advance per answer, then ended with `outcome` (and an open handoff
/// for `ticket`).
pub async fn call(
    db: &Db,
    flow: &str,
    sid: &str,
    start: i64,
    answers: &[(&str, Value)],
    outcome: &str,
) {
    assert!(
        db.create_call(NewCall {
            call_sid: sid_for(sid),
            flow: flow.to_owned(),
            flow_hash: format!("sha256:{flow}"),
            direction: Direction::Outbound,
            from: "+861000000001".to_owned(),
            to: CUSTOMER.to_owned(),
            status: CallStatus::Ringing,
            state: "{}".to_owned(),
            seq: 0,
            response: "<Response/>".to_owned(),
            started_at: at(start),
            follows: None,
        })
        .await
        .unwrap()
    );
    let steps = answers.iter().map(Some).chain([None]);
    for (i, a) in steps.enumerate() {
        let mut adv = Advance {
            call_sid: sid_for(sid),
            from_seq: i as i64,
            to_seq: i as i64 + 1,
            state: "{}".to_owned(),
            response: "<Response/>".to_owned(),
            status: (i == 0).then_some(CallStatus::InProgress),
            answers: vec![],
            opt_out: None,
            handoff: None,
            recording: None,
            outcome: None,
            ended_at: None,
        };
        match a {
            Some((q, v)) => adv
                .answers
                .push(answer(q, v.clone(), start + 10 * (i as i64 + 1))),
            None => {
                adv.outcome = Some(Outcome::parse(outcome).unwrap());
                adv.ended_at = Some(at(start + 100));
                if outcome == "ticket" {
                    adv.handoff = Some(NewHandoff {
                        step: "handoff".to_owned(),
                        target: "queue:wallet-support".to_owned(),
                        status: HandoffStatus::Open,
                        reason: "no_agent".to_owned(),
                        summary: json!({"resolved": false}),
                        created_at: at(start + 90),
                    });
                }
            }
        }
        db.advance_call(adv).await.unwrap();
    }
}

/// Loads the fixture; `recordings` is the server's recordings folder, where
/// W1's recording is written. Returns the campaign's id.
pub async fn load(db: &Db, recordings: &Path) -> i64 {
    for flow in [WALLET, NPS] {
        db.save_flow_version(flow, &format!("sha256:{flow}"), "[flow]\n")
            .await
            .unwrap();
    }
    let wav = recordings.join("W1-suggestion-6.wav");
    write_wav(&wav);
    let yes = || json!(true);
    call(
        db,
        WALLET,
        "W1",
        0,
        &[
            ("consent", yes()),
            ("resolved", yes()),
            ("csat", json!(5)),
            ("feature", json!("useful")),
            ("has_suggestion", yes()),
            (
                "suggestion",
                json!({"url": wav.display().to_string(), "duration_secs": 1}),
            ),
        ],
        "completed",
    )
    .await;
    call(
        db,
        WALLET,
        "W2",
        1000,
        &[("consent", yes()), ("resolved", yes()), ("csat", json!(4))],
        "completed",
    )
    .await;
    call(
        db,
        WALLET,
        "W3",
        2000,
        &[("consent", yes()), ("resolved", json!(false))],
        "ticket",
    )
    .await;
    call(
        db,
        WALLET,
        "W4",
        3000,
        &[("consent", yes()), ("resolved", yes()), ("csat", json!(2))],
        "abandoned",
    )
    .await;
    unanswered(db, WALLET, "W5", 4000).await;
    call(
        db,
        WALLET,
        "W6",
        86_400,
        &[("consent", yes()), ("resolved", yes()), ("csat", json!(3))],
        "completed",
    )
    .await;
    for (i, nps) in [10, 9, 8, 7, 6].into_iter().enumerate() {
        call(
            db,
            NPS,
            &format!("N{i}"),
            5000 + i as i64,
            &[("nps", json!(nps))],
            "completed",
        )
        .await;
    }
    link_to_campaign(db, &["W1", "W4"]).await
}

/// A call of `flow` nobody picked up, placed at `start`.
pub async fn unanswered(db: &Db, flow: &str, sid: &str, start: i64) {
    assert!(
        db.create_call(NewCall {
            call_sid: sid_for(sid),
            flow: flow.into(),
            flow_hash: format!("sha256:{flow}"),
            direction: Direction::Outbound,
            from: "+861000000001".into(),
            to: CUSTOMER.into(),
            status: CallStatus::Ringing,
            state: "{}".into(),
            seq: 0,
            response: "<Response/>".into(),
            started_at: at(start),
            follows: None,
        })
        .await
        .unwrap()
    );
    assert!(
        db.update_status(&sid_for(sid), CallStatus::NoAnswer, at(start + 30))
            .await
            .unwrap()
    );
}

/// Makes the calls outbound calls of one campaign, as the dialer does:
/// one contact each, claimed and placed with the call's CallSid.
async fn link_to_campaign(db: &Db, sids: &[&str]) -> i64 {
    let campaigns = db.campaigns();
    let id = campaigns
        .create_campaign(NewCampaign {
            name: "march follow-up".into(),
            flow: WALLET.into(),
            plan: json!({}),
            created_at: at(-100),
        })
        .await
        .unwrap();
    let contacts: Vec<NewContact> = sids
        .iter()
        .enumerate()
        .map(|(i, _)| NewContact {
            phone: format!("+861380013800{i}"),
            vars: json!({"name": "测试"}),
            timezone: None,
            next_at: None,
            follows: None,
        })
        .collect();
    campaigns.add_contacts(id, &contacts).await.unwrap();
    assert!(campaigns.start_campaign(id, at(-50)).await.unwrap());
    let claimed = campaigns
        .claim_due(at(-50), at(10_000), sids.len() as i64)
        .await
        .unwrap();
    assert_eq!(claimed.len(), sids.len());
    for (contact, sid) in claimed.iter().zip(sids) {
        campaigns
            .record_placed(contact.id, sid_for(sid).as_str(), at(-40), at(10_000))
            .await
            .unwrap();
    }
    id
}

/// A one-second 8 kHz silent WAV.
fn write_wav(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for _ in 0..8000 {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
}

/// A dashboard page as a signed-in browser gets it (200 asserted), with
/// `/` unescaped as a browser shows it.
pub async fn signed_in_page(server: &Server, path: &str) -> String {
    let base = format!("http://{}", server.addr);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = http
        .post(format!("{base}/login"))
        .header("origin", &base)
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let page = http
        .get(format!("{base}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200, "{path}");
    page.text().await.unwrap().replace("&#x2f;", "/")
}
