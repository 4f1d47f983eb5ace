//! Handoffs whose caller is gone before the transfer's action: Twilio
//! requests a `<Dial>`/`<Enqueue>` action when the transferred call ends
//! (whatever TwiML it answers is not played to a caller who hung up) and
//! sends the final status callback too, in either order; a caller who hung
//! up before Twilio reached the `<Enqueue>` gets no action at all. On
//! SQLite and PostgreSQL.

use crate::common::db::each_backend;
use crate::common::phone::{AUTH_TOKEN, Options, Phone, Server, Verb};
use crate::common::wait::eventually;
use chrono::{TimeZone, Utc};
use dialback::config::Clock;
use serde_json::Value;
use std::time::Duration;

/// Monday 11:00 in Shanghai: agents are at work.
const OFFICE_HOURS: (u32, u32) = (3, 0);

fn at(hour: u32, min: u32) -> Clock {
    Clock::Fixed(Utc.with_ymd_and_hms(2026, 11, 23, hour, min, 0).unwrap())
}

const CALLER: &str = "+8613812348000";
const WALLET_LINE: &str = "+861000000001";
const TRANSFERRING: &str = "正在为您转接人工客服";

fn server_settings(db_url: &str, clock: Clock) -> dialback::config::Settings {
    Server::settings(Options {
        database_url: db_url.to_string(),
        crm_webhook: None,
        auth_token: Some(AUTH_TOKEN.into()),
        clock,
    })
}

/// An unresolved wallet caller who hung up during "transferring you": the
/// final status is stored, and no `<Enqueue>` action will ever come. Its
/// CallSid and the `<Enqueue>` action URL (for a late copy of the action).
async fn hung_up_before_the_queue(server: &Server) -> (String, String) {
    let mut p = Phone::call(server, CALLER, WALLET_LINE).await;
    p.press("1").await;
    p.press("2").await;
    assert!(
        p.heard.last().unwrap().contains(TRANSFERRING),
        "{:?}",
        p.heard
    );
    let (action, _) = p.enqueue();
    p.hang_up().await;
    let r = p.result().await;
    assert_eq!(r["status"], "completed");
    assert!(
        r["outcome"].is_null(),
        "left to the action for the grace: {r}"
    );
    (p.sid.clone(), action)
}

async fn outcome(server: &Server, sid: &str, backend: &str) -> Value {
    eventually(Duration::from_secs(30), backend, || async {
        let (_, r) = server.admin_get(&format!("/api/calls/{sid}")).await;
        (!r["outcome"].is_null()).then(|| r["outcome"].clone())
    })
    .await
}

/// The call's handoffs (any status), as the API lists them.
async fn handoffs_of(server: &Server, sid: &str) -> Vec<Value> {
    let (_, h) = server.admin_get("/api/handoffs").await;
    h["handoffs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["call_sid"] == sid)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_call_hung_up_before_its_transfer_is_finished_by_another_replica_after_the_first_stops() {
    for (backend, db) in each_backend().await {
        // Replica A gets the final status, then stops within the grace
        // (its clock never passes it).
        let (h, m) = OFFICE_HOURS;
        let a = Server::start_settings(server_settings(db.url(), at(h, m))).await;
        let (sid, action) = hung_up_before_the_queue(&a).await;
        a.stop().await;
        // Replica B starts two minutes later, past the default grace.
        let b = Server::start_settings(server_settings(db.url(), at(h, m + 2))).await;
        assert_eq!(outcome(&b, &sid, backend).await, "abandoned", "{backend}");
        let handoffs = handoffs_of(&b, &sid).await;
        assert_eq!(handoffs.len(), 1, "{backend}: {handoffs:?}");
        assert_eq!(handoffs[0]["status"], "open");
        assert_eq!(handoffs[0]["reason"], "caller_hung_up");
        // A late action changes nothing and gets a complete document.
        let form = [("CallSid", sid.as_str()), ("QueueResult", "bridged")];
        let (status, body) = b.post(&action, &form).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("<Response>"), "{backend}: {body}");
        let (_, r) = b.admin_get(&format!("/api/calls/{sid}")).await;
        assert_eq!(r["outcome"], "abandoned", "{backend}");
        assert_eq!(handoffs_of(&b, &sid).await.len(), 1, "{backend}");
        b.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_late_action_racing_the_sweep_is_applied_or_refused_never_both() {
    for (backend, db) in each_backend().await {
        let (h, m) = OFFICE_HOURS;
        let a = Server::start_settings(server_settings(db.url(), at(h, m))).await;
        let mut calls = Vec::new();
        for _ in 0..4 {
            calls.push(hung_up_before_the_queue(&a).await);
        }
        // The sweep of B and the actions (to A) run at the same time.
        let b = Server::start_settings(server_settings(db.url(), at(h, m + 2))).await;
        let actions = calls.iter().map(|(sid, action)| {
            let form = [("CallSid", sid.as_str()), ("QueueResult", "bridged")];
            let a = &a;
            async move { a.post(action, &form).await }
        });
        for (status, body) in futures_util::future::join_all(actions).await {
            assert_eq!(status, 200, "{body}");
        }
        for (sid, _) in &calls {
            let outcome = outcome(&b, sid, backend).await;
            let handoffs = handoffs_of(&b, sid).await;
            assert_eq!(handoffs.len(), 1, "{backend}: {handoffs:?}");
            let expected = match outcome.as_str() {
                Some("handoff") => "connected",
                Some("abandoned") => "open",
                other => panic!("{backend}: unexpected outcome {other:?}"),
            };
            assert_eq!(handoffs[0]["status"], expected, "{backend}: {outcome}");
        }
        a.stop().await;
        b.stop().await;
        db.cleanup().await;
    }
}

/// A transfer to a person with a question after the conversation.
const DIAL_THEN_ASK: &str = r#"
[flow]
language = "en-US"

[[step]]
id = "agent"
say = "Connecting you to an agent."
transfer = "+8610012345678"
unavailable = "ticket"
next = "rate_agent"

[[step]]
id = "ticket"
say = "Nobody could take your call. We will call you back within one working day."
end = "ticket"

[[step]]
id = "rate_agent"
ask = "rating"
scale = [1, 5]
prompt = "How helpful was the agent, from 1 to 5?"

[[step]]
id = "bye"
say = "Thank you. Goodbye."
end = "completed"
"#;

#[tokio::test]
async fn a_caller_gone_before_the_agents_action_ends_as_a_handoff_instead_of_going_on() {
    for (backend, db) in each_backend().await {
        let flows = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir("call-flows").unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, flows.path().join(path.file_name().unwrap())).unwrap();
        }
        std::fs::write(flows.path().join("dial-then-ask.toml"), DIAL_THEN_ASK).unwrap();
        let (h, m) = OFFICE_HOURS;
        let mut settings = server_settings(db.url(), at(h, m));
        settings.flows_dir = flows.path().to_path_buf();
        let server = Server::start_settings(settings).await;
        for status_first in [false, true] {
            let case = format!("{backend}: status first: {status_first}");
            let mut p = Phone::call_flow(&server, CALLER, "dial-then-ask").await;
            if status_first {
                p.hang_up().await;
            }
            p.agent("completed", "").await;
            let r = p.result().await;
            if status_first {
                assert_eq!(p.verbs, vec![Verb::Hangup], "{case}");
                assert_eq!(r["outcome"], "handoff", "{case}");
                assert_eq!(r["status"], "completed", "{case}");
            } else {
                // Still on the line: the step after the conversation runs.
                assert!(
                    p.verbs.iter().any(|v| matches!(v, Verb::Gather { .. })),
                    "{case}: {:?}",
                    p.verbs
                );
                assert!(r["outcome"].is_null(), "{case}: {r}");
                p.press("5").await;
                assert_eq!(p.result().await["outcome"], "completed", "{case}");
            }
            let handoffs = handoffs_of(&server, &p.sid).await;
            assert_eq!(handoffs.len(), 1, "{case}: {handoffs:?}");
            assert_eq!(handoffs[0]["status"], "connected", "{case}");
        }
        server.stop().await;
        db.cleanup().await;
    }
}
