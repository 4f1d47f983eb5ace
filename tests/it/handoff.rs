//! Handoffs to a person, driven the way Twilio runs them, on SQLite and
//! PostgreSQL: a queued caller follows the `<Enqueue>` waitUrl (requested
//! again and again with `QueueTime`/`QueuePosition`) until an agent takes
//! them or the wait document says `<Leave/>`; the queue's action and the
//! final status callback arrive in either order. A person dialled directly
//! rings for the step's `max_wait` (`<Dial timeout>`), and the `<Dial>`
//! action and the final status arrive in either order too.

use crate::common::db::each_backend;
use crate::common::phone::{AUTH_TOKEN, Options, Phone, Server, Verb};
use crate::common::queue::Waited;
use crate::common::wait::eventually;
use chrono::{TimeZone, Utc};
use dialback::config::Clock;
use futures_util::future::BoxFuture;
use serde_json::json;
use std::time::Duration;

/// Monday 11:00 in Shanghai: agents are at work.
fn office_hours() -> Clock {
    Clock::Fixed(Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap())
}

/// Saturday.
fn weekend() -> Clock {
    Clock::Fixed(Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap())
}

const CALLER: &str = "+8613812348000";
const WALLET_LINE: &str = "+861000000001";
const TRANSFERRING: &str = "正在为您转接人工客服";
const CALL_BACK: &str = "一个工作日内给您回电";

async fn on_each_backend(clock: Clock, scenario: impl for<'a> Fn(&'a Server) -> BoxFuture<'a, ()>) {
    for (backend, db) in each_backend().await {
        let server = Server::start_at(db.url(), clock).await;
        eprintln!("-- on {backend}");
        scenario(&server).await;
        server.stop().await;
        db.cleanup().await;
    }
}

/// An unresolved wallet caller, queued for an agent.
async fn queued(server: &Server) -> Phone<'_> {
    let mut p = Phone::call(server, CALLER, WALLET_LINE).await;
    p.press("1").await;
    p.press("2").await;
    assert!(
        p.heard.last().unwrap().contains(TRANSFERRING),
        "{:?}",
        p.heard
    );
    p
}

#[tokio::test]
async fn nobody_free_the_caller_leaves_the_queue_after_the_maximum_wait_with_a_ticket() {
    on_each_backend(office_hours(), |server| {
        Box::pin(async move {
            let mut p = queued(server).await;
            let waited = p.wait_in_queue(None).await;
            assert_eq!(waited, Waited::Left { after_secs: 90 });
            assert!(
                p.heard.iter().any(|h| h.contains("请您稍候")),
                "{:?}",
                p.heard
            );
            assert!(
                p.heard.iter().any(|h| h == "您前面还有2位。"),
                "{:?}",
                p.heard
            );
            assert!(p.heard.iter().any(|h| h == "您是下一位。"), "{:?}", p.heard);
            assert!(p.ended);
            assert!(p.heard.last().unwrap().contains(CALL_BACK), "{:?}", p.heard);
            let r = p.result().await;
            assert_eq!(r["outcome"], "ticket");
            assert_eq!(r["status"], "completed");
            let (_, h) = server.admin_get("/api/handoffs?status=open").await;
            assert_eq!(h["handoffs"].as_array().map(Vec::len), Some(1), "{h}");
            assert_eq!(h["handoffs"][0]["call_sid"], p.sid.as_str());
            assert_eq!(h["handoffs"][0]["reason"], "no_answer");
        })
    })
    .await;
}

#[tokio::test]
async fn a_caller_who_talked_to_an_agent_is_a_handoff_whichever_callback_comes_first() {
    for status_first in [false, true] {
        on_each_backend(office_hours(), |server| {
            Box::pin(async move {
                let mut p = queued(server).await;
                let waited = p.wait_in_queue(Some(30)).await;
                assert!(matches!(waited, Waited::StillQueued { .. }), "{waited:?}");
                let body = p.queue_ends("bridged", status_first).await;
                assert!(
                    p.verbs.contains(&Verb::Hangup),
                    "status first: {status_first}: {body}"
                );
                let r = p.result().await;
                assert_eq!(r["outcome"], "handoff", "status first: {status_first}");
                assert_eq!(r["status"], "completed");
                let (_, open) = server.admin_get("/api/handoffs?status=open").await;
                assert_eq!(open["handoffs"], json!([]), "status first: {status_first}");
                let (_, done) = server.admin_get("/api/handoffs?status=connected").await;
                assert_eq!(done["handoffs"][0]["call_sid"], p.sid.as_str());
            })
        })
        .await;
    }
}

#[tokio::test]
async fn a_caller_who_hangs_up_in_the_queue_is_abandoned_with_an_open_handoff_whichever_callback_comes_first()
 {
    for status_first in [false, true] {
        on_each_backend(office_hours(), |server| {
            Box::pin(async move {
                let mut p = queued(server).await;
                let waited = p.wait_in_queue(Some(20)).await;
                assert!(matches!(waited, Waited::StillQueued { .. }), "{waited:?}");
                let body = p.queue_ends("hangup", status_first).await;
                assert!(
                    p.verbs.contains(&Verb::Hangup),
                    "status first: {status_first}: {body}"
                );
                let r = p.result().await;
                assert_eq!(r["outcome"], "abandoned", "status first: {status_first}");
                let (_, h) = server.admin_get("/api/handoffs?status=open").await;
                assert_eq!(h["handoffs"].as_array().map(Vec::len), Some(1), "{h}");
                assert_eq!(h["handoffs"][0]["reason"], "caller_hung_up");
            })
        })
        .await;
    }
}

#[tokio::test]
async fn outside_hours_the_caller_hears_the_unavailable_words_and_no_transfer() {
    on_each_backend(weekend(), |server| {
        Box::pin(async move {
            let mut p = Phone::call(server, CALLER, WALLET_LINE).await;
            p.press("1").await;
            p.press("2").await;
            assert!(p.ended);
            assert!(
                !p.heard.iter().any(|h| h.contains(TRANSFERRING)),
                "{:?}",
                p.heard
            );
            assert!(p.heard.last().unwrap().contains(CALL_BACK), "{:?}", p.heard);
            assert_eq!(p.result().await["outcome"], "ticket");
        })
    })
    .await;
}

/// A flow that hands the caller straight to a person's number.
const DIAL_FLOW: &str = r#"
[flow]
language = "en-US"

[[step]]
id = "agent"
say = "Connecting you to an agent."
transfer = "+8610012345678"
max_wait = "25s"
unavailable = "ticket"

[[step]]
id = "ticket"
say = "Nobody could take your call. We will call you back within one working day."
end = "ticket"
"#;

/// A server with the example flows and `dial-agent` ([`DIAL_FLOW`]); the
/// folder lives as long as the server.
async fn with_dial_flow(db_url: &str) -> (Server, tempfile::TempDir) {
    let flows = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir("call-flows").unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, flows.path().join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(flows.path().join("dial-agent.toml"), DIAL_FLOW).unwrap();
    let mut settings = Server::settings(Options {
        database_url: db_url.to_string(),
        crm_webhook: None,
        auth_token: Some(AUTH_TOKEN.into()),
        clock: office_hours(),
    });
    settings.flows_dir = flows.path().to_path_buf();
    (Server::start_settings(settings).await, flows)
}

#[tokio::test]
async fn a_dialled_agent_rings_for_the_maximum_wait_and_the_outcome_holds_whichever_callback_comes_first()
 {
    for (backend, db) in each_backend().await {
        let (server, _flows) = with_dial_flow(db.url()).await;
        for (dial_status, status_first, outcome, handoffs) in [
            ("completed", false, "handoff", "connected"),
            ("completed", true, "handoff", "connected"),
            ("no-answer", false, "ticket", "open"),
        ] {
            let case = format!("{backend}: {dial_status}, status first: {status_first}");
            let mut p = Phone::call_flow(&server, CALLER, "dial-agent").await;
            let dial = p.verbs.iter().find_map(|v| match v {
                Verb::Dial { to, timeout, .. } => Some((to.clone(), *timeout)),
                _ => None,
            });
            assert_eq!(dial, Some(("+8610012345678".into(), Some(25))), "{case}");
            if status_first {
                p.hang_up().await;
            }
            p.agent(dial_status, "").await;
            assert!(p.verbs.contains(&Verb::Hangup), "{case}: {:?}", p.verbs);
            assert!(p.ended, "{case}");
            let r = p.result().await;
            assert_eq!(r["outcome"], outcome, "{case}");
            assert_eq!(r["status"], "completed", "{case}");
            for status in ["open", "connected"] {
                let (_, h) = server
                    .admin_get(&format!("/api/handoffs?status={status}"))
                    .await;
                let mine = h["handoffs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|x| x["call_sid"] == p.sid.as_str())
                    .count();
                assert_eq!(
                    mine,
                    usize::from(status == handoffs),
                    "{case}: {status}: {h}"
                );
            }
        }
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_caller_who_hangs_up_before_the_transfer_is_reached_is_abandoned_with_an_open_handoff() {
    for (backend, db) in each_backend().await {
        let mut settings = Server::settings(Options {
            database_url: db.url().to_string(),
            crm_webhook: None,
            auth_token: Some(AUTH_TOKEN.into()),
            clock: office_hours(),
        });
        // No action will come: the caller hung up during "transferring
        // you", before the provider reached the <Enqueue>.
        settings.transfer_action_grace = Duration::ZERO;
        let server = Server::start_settings(settings).await;
        let mut p = queued(&server).await;
        p.hang_up().await;
        let outcome = eventually(Duration::from_secs(30), backend, || async {
            let r = p.result().await;
            (!r["outcome"].is_null()).then(|| r["outcome"].clone())
        })
        .await;
        assert_eq!(outcome, "abandoned", "{backend}");
        let (_, h) = server.admin_get("/api/handoffs?status=open").await;
        assert_eq!(
            h["handoffs"][0]["call_sid"],
            p.sid.as_str(),
            "{backend}: {h}"
        );
        assert_eq!(h["handoffs"][0]["reason"], "caller_hung_up");
        server.stop().await;
        db.cleanup().await;
    }
}
