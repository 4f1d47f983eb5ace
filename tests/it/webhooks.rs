//! dialback driven end to end over HTTP by a Twilio-behaving driver, on
//! SQLite and on PostgreSQL: every example flow path, answers read back
//! through the admin API, replays, forged and malformed requests.

use crate::common::crm::FakeCrm;
use crate::common::db::each_backend;
use crate::common::phone::{AUTH_TOKEN, Options, PUBLIC_URL, Phone, Server, Verb, new_call_sid};
use chrono::{TimeZone, Utc};
use dialback::config::Clock;
use futures_util::future::BoxFuture;
use serde_json::json;

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
const NPS_LINE: &str = "+861000000002";

/// Runs a scenario against a fresh server on each backend.
async fn on_each_backend(
    clock: Clock,
    scenario: impl for<'a> Fn(&'a Server, &'a crate::common::db::TestDb) -> BoxFuture<'a, ()>,
) {
    for (backend, db) in each_backend().await {
        let server = Server::start_at(db.url(), clock).await;
        eprintln!("-- on {backend}");
        scenario(&server, &db).await;
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_keypad_caller_completes_the_wallet_survey_and_every_answer_is_stored() {
    on_each_backend(office_hours(), |server, _| {
        Box::pin(async move {
            let mut p = Phone::call(server, CALLER, WALLET_LINE).await;
            assert!(p.heard[0].contains("示例钱包客服中心"), "{:?}", p.heard);
            for key in ["1", "1", "5", "1", "1"] {
                p.press(key).await;
            }
            p.record(12).await;
            assert!(p.ended);
            let r = p.result().await;
            assert_eq!(r["flow"], "wallet-followup");
            assert_eq!(r["outcome"], "completed");
            assert_eq!(r["status"], "completed");
            let rec_sid = format!("RE{}", &p.sid[2..]);
            let url = format!("https://api.example.test/Recordings/{rec_sid}");
            assert_eq!(
                r["answers"],
                json!({"consent": true, "resolved": true, "csat": 5, "feature": "useful", "has_suggestion": true,
                       "suggestion": {"url": url, "duration_secs": 12, "recording_sid": rec_sid}})
            );
        })
    })
    .await;
}

#[tokio::test]
async fn spoken_answers_and_silence_are_handled_like_twilio_does() {
    on_each_backend(office_hours(), |server, _| {
        Box::pin(async move {
            let mut p = Phone::call(server, CALLER, WALLET_LINE).await;
            p.say("好的，方便", 0.91).await;
            p.silence().await;
            assert!(p.heard.iter().any(|h| h == "抱歉，没有听到您的回答。"), "{:?}", p.heard);
            p.say("嗯，已经解决了", 0.88).await;
            p.say("打四分吧", 0.9).await;
            p.say("没用过", 0.86).await;
            p.press("2").await;
            assert!(p.ended);
            let r = p.result().await;
            assert_eq!(
                r["answers"],
                json!({"consent": true, "resolved": true, "csat": 4, "feature": "not_used", "has_suggestion": false})
            );
        })
    })
    .await;
}

#[tokio::test]
async fn an_unresolved_caller_is_queued_for_an_agent_and_the_handoff_recorded() {
    on_each_backend(office_hours(), |server, _| {
        Box::pin(async move {
            let mut p = Phone::call(server, CALLER, WALLET_LINE).await;
            p.press("1").await;
            p.press("2").await;
            assert!(
                p.verbs
                    .iter()
                    .any(|v| matches!(v, Verb::Enqueue { queue, .. } if queue == "wallet-support")),
                "{:?}",
                p.verbs
            );
            p.agent("", "bridged").await;
            assert!(p.ended);
            assert_eq!(p.result().await["outcome"], "handoff");
            let (_, h) = server.admin_get("/api/handoffs?status=connected").await;
            assert_eq!(h["handoffs"][0]["call_sid"], p.sid.as_str());
        })
    })
    .await;
}

#[tokio::test]
async fn a_full_queue_gives_a_ticket_an_open_handoff_and_a_crm_notification() {
    let crm = FakeCrm::start().await;
    for (_, db) in each_backend().await {
        let server = Server::start_with(Options {
            database_url: db.url().to_string(),
            crm_webhook: Some(crm.url.clone()),
            auth_token: Some(AUTH_TOKEN.into()),
            clock: office_hours(),
        })
        .await;
        let mut p = Phone::call(&server, CALLER, WALLET_LINE).await;
        p.press("1").await;
        p.press("2").await;
        p.agent("", "queue-full").await;
        assert!(p.ended);
        assert!(p.heard.last().unwrap().contains("一个工作日内给您回电"));
        assert_eq!(p.result().await["outcome"], "ticket");
        let (_, h) = server.admin_get("/api/handoffs?status=open").await;
        let open = &h["handoffs"][0];
        assert_eq!(open["call_sid"], p.sid.as_str());
        assert_eq!(open["reason"], "busy");
        assert_eq!(
            open["summary"]["answers"],
            json!({"consent": true, "resolved": false})
        );
        // The API masks the caller's number unless asked; the CRM gets it whole.
        assert_eq!(open["summary"]["customer"], "+86 138****8000");
        let (_, h) = server
            .admin_get("/api/handoffs?status=open&unmasked=true")
            .await;
        assert_eq!(h["handoffs"][0]["summary"]["customer"], CALLER);
        let posted = crm.wait_for(&p.sid).await;
        assert_eq!(posted["customer"], CALLER);
        assert_eq!(posted["reason"], "busy");
        let (status, resolved) = server
            .post_admin(&format!("/api/handoffs/{}/resolve", open["id"]))
            .await;
        assert_eq!(status, 200, "{resolved}");
        let (_, h) = server.admin_get("/api/handoffs?status=open").await;
        assert_eq!(h["handoffs"], json!([]));
        let (status, bad) = server.admin_get("/api/handoffs?status=asleep").await;
        assert_eq!(
            status, 400,
            "an unknown status is refused, not matched: {bad}"
        );
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn outside_business_hours_nobody_is_rung_and_a_ticket_is_opened() {
    on_each_backend(weekend(), |server, _| {
        Box::pin(async move {
            let mut p = Phone::call(server, CALLER, WALLET_LINE).await;
            p.press("1").await;
            p.press("2").await;
            assert!(p.ended);
            assert!(!p.verbs.iter().any(|v| matches!(v, Verb::Enqueue { .. })));
            assert_eq!(p.result().await["outcome"], "ticket");
            let (_, h) = server.admin_get("/api/handoffs?status=open").await;
            assert_eq!(h["handoffs"][0]["reason"], "outside_hours");
        })
    })
    .await;
}

#[tokio::test]
async fn an_opt_out_is_stored_against_the_callers_number() {
    on_each_backend(office_hours(), |server, db| {
        Box::pin(async move {
            let mut p = Phone::call(server, CALLER, WALLET_LINE).await;
            p.press("9").await;
            p.press("9").await;
            assert!(p.ended);
            assert_eq!(p.result().await["outcome"], "opted_out");
            assert!(db.store().is_opted_out(CALLER).await.unwrap());
        })
    })
    .await;
}

#[tokio::test]
async fn a_caller_who_hangs_up_keeps_the_answers_given() {
    on_each_backend(office_hours(), |server, _| {
        Box::pin(async move {
            let mut p = Phone::call(server, CALLER, WALLET_LINE).await;
            p.press("1").await;
            p.press("1").await;
            p.hang_up().await;
            let r = p.result().await;
            assert_eq!(r["outcome"], "abandoned");
            assert_eq!(r["answers"], json!({"consent": true, "resolved": true}));
        })
    })
    .await;
}

#[tokio::test]
async fn the_called_number_chooses_the_flow() {
    on_each_backend(office_hours(), |server, _| {
        Box::pin(async move {
            let mut p = Phone::call(server, CALLER, NPS_LINE).await;
            assert!(p.heard[0].starts_with("Hello"), "{:?}", p.heard);
            p.press("10#").await;
            assert!(p.ended);
            let r = p.result().await;
            assert_eq!(r["flow"], "nps-survey");
            assert_eq!(r["answers"], json!({"nps": 10}));
        })
    })
    .await;
}

#[tokio::test]
async fn a_replayed_webhook_gets_the_same_twiml_and_stores_nothing_twice() {
    on_each_backend(office_hours(), |server, _| {
        Box::pin(async move {
            let mut p = Phone::call(server, CALLER, WALLET_LINE).await;
            let sid = p.sid.clone();
            let first = server
                .post(
                    &format!("{PUBLIC_URL}/twilio/gather?seq=1"),
                    &[("CallSid", &sid), ("Digits", "1")],
                )
                .await;
            let again = server
                .post(
                    &format!("{PUBLIC_URL}/twilio/gather?seq=1"),
                    &[("CallSid", &sid), ("Digits", "1")],
                )
                .await;
            assert_eq!(first, again);
            // A stale webhook with another answer does not rewind the call.
            let stale = server
                .post(
                    &format!("{PUBLIC_URL}/twilio/gather?seq=1"),
                    &[("CallSid", &sid), ("Digits", "2")],
                )
                .await;
            assert_eq!(stale, first);
            p.verbs = crate::common::phone::parse_twiml(&first.1);
            p.press("1").await;
            let r = p.result().await;
            assert_eq!(r["answers"], json!({"consent": true, "resolved": true}));
            let (_, calls) = server.admin_get(&format!("/api/calls/{sid}")).await;
            assert_eq!(calls["answers"].as_object().unwrap().len(), 2);
        })
    })
    .await;
}

#[tokio::test]
async fn two_replicas_on_one_database_share_a_call() {
    for (backend, db) in each_backend().await {
        let a = Server::start_at(db.url(), office_hours()).await;
        let b = Server::start_at(db.url(), office_hours()).await;
        let mut p = Phone::call(&a, CALLER, WALLET_LINE).await;
        for (i, key) in ["1", "1", "3", "2", "2"].iter().enumerate() {
            // Each webhook lands on another replica.
            p.server = if i % 2 == 0 { &b } else { &a };
            p.press(key).await;
        }
        assert!(p.ended, "{backend}");
        let r = p.result().await;
        assert_eq!(r["answers"]["csat"], 3, "{backend}");
        assert_eq!(r["outcome"], "completed");
        a.stop().await;
        b.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn forged_unsigned_and_malformed_requests_are_refused_or_answered_safely() {
    on_each_backend(office_hours(), |server, _| {
        Box::pin(async move {
            let p = Phone::call(server, CALLER, WALLET_LINE).await;
            let sid = p.sid.clone();
            let voice = format!("{PUBLIC_URL}/twilio/voice");
            let gather = format!("{PUBLIC_URL}/twilio/gather?seq=1");
            let new_sid = new_call_sid();
            // Forged, missing and wrong-token signatures: 403.
            let form = [
                ("CallSid", new_sid.as_str()),
                ("From", CALLER),
                ("To", WALLET_LINE),
            ];
            assert_eq!(
                server
                    .post_raw(&voice, &form, Some("bm90IGEgc2lnbmF0dXJl"))
                    .await
                    .0,
                403
            );
            assert_eq!(server.post_raw(&voice, &form, None).await.0, 403);
            let pairs: Vec<(String, String)> = form
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let wrong = dialback::twilio::signature::compute("another-token", &voice, &pairs);
            assert_eq!(server.post_raw(&voice, &form, Some(&wrong)).await.0, 403);
            // A signature for other parameters: 403 (tampered Digits).
            let signed = dialback::twilio::signature::compute(
                AUTH_TOKEN,
                &gather,
                &[
                    ("CallSid".into(), sid.clone()),
                    ("Digits".into(), "1".into()),
                ],
            );
            assert_eq!(
                server
                    .post_raw(
                        &gather,
                        &[("CallSid", &sid), ("Digits", "2")],
                        Some(&signed)
                    )
                    .await
                    .0,
                403
            );
            // Signed but unusable: safe TwiML (an apology and a hang-up), never a 500.
            let huge = "9".repeat(10_000);
            let other_sid = new_call_sid();
            let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
                ("/twilio/voice", vec![("From", CALLER), ("To", WALLET_LINE)]),
                (
                    "/twilio/voice",
                    vec![
                        ("CallSid", "not-a-sid"),
                        ("From", CALLER),
                        ("To", WALLET_LINE),
                    ],
                ),
                (
                    "/twilio/gather?seq=1",
                    vec![("CallSid", &sid), ("Digits", &huge)],
                ),
                (
                    "/twilio/gather?seq=1",
                    vec![("CallSid", &other_sid), ("Digits", "1")],
                ),
                (
                    "/twilio/gather?seq=1",
                    vec![
                        ("CallSid", &sid),
                        ("Confidence", "high"),
                        ("SpeechResult", "是"),
                    ],
                ),
            ];
            for (path, form) in cases {
                let (status, body) = server.post(path, &form).await;
                assert_eq!(status, 200, "{path} {form:?}");
                assert!(body.contains("<Hangup/>"), "{path}: {body}");
            }
            // A mangled seq is answered with the call's current TwiML.
            let (status, body) = server
                .post(
                    "/twilio/gather?seq=abc",
                    &[("CallSid", &sid), ("Digits", "1")],
                )
                .await;
            assert_eq!(status, 200);
            assert!(body.contains("<Gather"), "{body}");
            // The call itself is untouched by all of that.
            assert_eq!(p.result().await["answers"], json!({}));
        })
    })
    .await;
}

#[tokio::test]
async fn a_webhook_that_repeats_an_identical_pair_is_answered_like_any_other() {
    // twilio-python's validator signs a repeated `name=value` once and
    // accepts the request; the parameters past the signature must too.
    on_each_backend(office_hours(), |server, _| {
        Box::pin(async move {
            let sid = new_call_sid();
            let (status, body) = server
                .post(
                    "/twilio/voice",
                    &[
                        ("CallSid", &sid),
                        ("From", CALLER),
                        ("To", WALLET_LINE),
                        ("CallSid", &sid),
                    ],
                )
                .await;
            assert_eq!(status, 200, "{body}");
            assert!(body.contains("示例钱包客服中心"), "{body}");
            assert!(!body.contains("<Hangup/>"), "{body}");
        })
    })
    .await;
}

#[tokio::test]
async fn the_admin_api_needs_the_admin_token() {
    on_each_backend(office_hours(), |server, _| {
        Box::pin(async move {
            let client = reqwest::Client::new();
            let url = format!("http://{}/api/handoffs", server.addr);
            assert_eq!(client.get(&url).send().await.unwrap().status(), 401);
            assert_eq!(
                client
                    .get(&url)
                    .bearer_auth("wrong")
                    .send()
                    .await
                    .unwrap()
                    .status(),
                401
            );
            assert_eq!(
                server
                    .admin_get("/api/calls/CA00000000000000000000000000000000")
                    .await
                    .0,
                404
            );
            let health = client
                .get(format!("http://{}/healthz", server.addr))
                .send()
                .await
                .unwrap();
            assert_eq!(health.status(), 200);
        })
    })
    .await;
}

#[tokio::test]
async fn in_local_mode_unsigned_requests_from_loopback_are_accepted() {
    let (_, db) = each_backend().await.into_iter().next().unwrap();
    let server = Server::start_with(Options {
        database_url: db.url().to_string(),
        crm_webhook: None,
        auth_token: None,
        clock: office_hours(),
    })
    .await;
    let sid = new_call_sid();
    let (status, body) = server
        .post_raw(
            &format!("{PUBLIC_URL}/twilio/voice"),
            &[("CallSid", &sid), ("From", CALLER), ("To", WALLET_LINE)],
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(body.contains("<Gather"));
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn in_local_mode_another_sites_page_cannot_drive_the_server() {
    let (_, db) = each_backend().await.into_iter().next().unwrap();
    let server = Server::start_with(Options {
        database_url: db.url().to_string(),
        crm_webhook: None,
        auth_token: None,
        clock: office_hours(),
    })
    .await;
    let client = reqwest::Client::new();
    let voice = format!("http://{}/twilio/voice", server.addr);
    let sid = new_call_sid();
    let form = [
        ("CallSid", sid.as_str()),
        ("From", CALLER),
        ("To", WALLET_LINE),
    ];
    let refused = [
        ("origin", "https://attacker.example"),
        ("sec-fetch-site", "cross-site"),
        ("host", "rebound.attacker.example"),
    ];
    for (name, value) in refused {
        let resp = client
            .post(&voice)
            .header(name, value)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{name}: {value}");
        let resp = client
            .get(format!("http://{}/api/handoffs", server.addr))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{name}: {value}");
    }
    // Nothing was started by the refused requests.
    assert_eq!(server.admin_get(&format!("/api/calls/{sid}")).await.0, 404);
    // The same page's own requests pass, and personal data is not cached.
    let resp = client
        .get(format!("http://{}/api/handoffs", server.addr))
        .header("sec-fetch-site", "same-origin")
        .bearer_auth(crate::common::phone::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    server.stop().await;
    db.cleanup().await;
}

/// A CRM that records every handoff POSTed to it.
/// Runs `sql` on the test's PostgreSQL database from a connection of its
/// own, as another client of the database would.
async fn other_client(db: &crate::common::db::TestDb) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(db.url()).await.unwrap()
}

#[tokio::test]
async fn after_the_databases_connections_are_cut_the_next_webhook_succeeds() {
    let db = crate::common::db::TestDb::postgres().await;
    let server = Server::start_at(db.url(), office_hours()).await;
    let mut p = Phone::call(&server, CALLER, WALLET_LINE).await;
    let mut admin = other_client(&db).await;

    // What a database restart does to every connection the pool holds.
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    p.press("1").await;

    assert!(!p.ended, "the caller heard the apology: {:?}", p.heard);
    assert!(
        p.verbs.iter().any(|v| matches!(v, Verb::Gather { .. })),
        "{:?}",
        p.verbs
    );
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_webhook_stuck_on_a_locked_table_is_answered_with_the_apology_within_its_budget() {
    let db = crate::common::db::TestDb::postgres().await;
    let mut settings = Server::settings(Options {
        database_url: db.url().to_string(),
        crm_webhook: None,
        auth_token: Some(AUTH_TOKEN.into()),
        clock: office_hours(),
    });
    // Shorter than the store's lock timeout, so the budget is what answers.
    settings.webhook_budget = std::time::Duration::from_millis(500);
    let server = Server::start_settings(settings).await;
    let mut admin = other_client(&db).await;
    sqlx::query("BEGIN").execute(&mut admin).await.unwrap();
    sqlx::query("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE")
        .execute(&mut admin)
        .await
        .unwrap();

    let sid = new_call_sid();
    let (status, body) = server
        .post(
            "/twilio/voice",
            &[("CallSid", &sid), ("From", CALLER), ("To", WALLET_LINE)],
        )
        .await;

    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<Say"), "{body}");
    assert!(body.contains("<Hangup/>"), "{body}");
    sqlx::query("ROLLBACK").execute(&mut admin).await.unwrap();
    server.stop().await;
    db.cleanup().await;
}
