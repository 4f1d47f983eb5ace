//! The dialer end to end against a fake provider, on SQLite and PostgreSQL:
//! calls placed with the right parameters, opt-outs skipped, provider
//! refusals retried or recorded, status callbacks turned into retries.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dialback::dialer::plan::PlanSpec;
use dialback::dialer::worker::{Outcome, Pacer, StatusEffect, Worker, on_status};
use dialback::metrics::Metrics;
use dialback::store::campaigns::{NewCampaign, NewContact};
use dialback::store::{NewOptOut, Store};
use dialback::twilio::rest::{Provider, ProviderConfig};
use dialback::twilio::{AnsweredBy, CallStatus};
use serde_json::json;

use crate::common::db::{TestDb, each_backend};
use crate::common::fake_provider::{self, FakeProvider};
use crate::common::phone::{PUBLIC_URL, Server};
use crate::common::wait::eventually;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

fn provider(fake: &FakeProvider) -> Provider {
    Provider::new(ProviderConfig {
        base_url: fake.base_url.clone(),
        account_sid: "AC123".into(),
        auth_token: "secret".into(),
        from: "+8610000000".into(),
        public_url: "https://ivr.example.com".into(),
    })
}

fn contact(phone: &str, timezone: Option<&str>) -> NewContact {
    NewContact {
        phone: phone.into(),
        vars: json!({"name": "王芳"}),
        timezone: timezone.map(str::to_owned),
        next_at: None,
    }
}

async fn campaign(
    store: &Arc<dyn Store>,
    spec: &PlanSpec,
    contacts: &[NewContact],
    now: DateTime<Utc>,
) -> i64 {
    let campaigns = store.campaigns();
    let id = campaigns
        .create_campaign(NewCampaign {
            name: "follow-up".into(),
            flow: "wallet-followup".into(),
            plan: spec.to_json(),
            created_at: now,
        })
        .await
        .expect("created");
    campaigns
        .add_contacts(id, contacts)
        .await
        .expect("contacts");
    assert!(campaigns.start_campaign(id, now).await.expect("started"));
    id
}

async fn drain(worker: &Worker, now: DateTime<Utc>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    loop {
        match worker.try_execute(now).await.expect("step") {
            Outcome::Idle => return outcomes,
            outcome => outcomes.push(outcome),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_calls_each_contact_skips_opt_outs_and_retries_the_busy() {
    for (backend, db) in each_backend().await {
        run_campaign(backend, &db).await;
        db.cleanup().await;
    }
}

async fn run_campaign(backend: &str, db: &TestDb) {
    let store = db.store().clone();
    let fake = FakeProvider::start().await;
    let worker = Worker::new(store.clone(), provider(&fake), Pacer::new(1000.0));
    let now = utc("2026-11-23T03:00:00Z"); // 11:00 in Shanghai, 22:00 in New York
    let spec = PlanSpec {
        window: "09:00-20:00".into(),
        ..PlanSpec::default()
    };
    store
        .add_opt_out(NewOptOut {
            phone: "+8613700000003".into(),
            call_sid: None,
            at: now,
        })
        .await
        .expect("opt-out");
    let id = campaign(
        &store,
        &spec,
        &[
            contact("+8613700000001", None),
            contact("+8613700000002", Some("Asia/Shanghai")),
            contact("+8613700000003", None),
            contact("+12125550123", Some("America/New_York")),
        ],
        now,
    )
    .await;

    let outcomes = drain(&worker, now).await;

    let placed: Vec<&str> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Placed { call_sid, .. } => Some(call_sid.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(placed.len(), 2, "{backend}: {outcomes:?}");
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, Outcome::OptedOut { .. })),
        "{backend}"
    );
    assert!(
        outcomes.iter().any(
            |o| matches!(o, Outcome::Rescheduled { at, .. } if *at == utc("2026-11-23T14:00:00Z"))
        ),
        "{backend}: New York is called at 09:00 its time: {outcomes:?}"
    );
    let requests = fake.requests();
    let first = &requests[0];
    assert_eq!(first.account, "AC123");
    assert!(first.authorization.starts_with("Basic "), "{backend}");
    assert_eq!(first.param("To"), Some("+8613700000001"));
    assert_eq!(first.param("From"), Some("+8610000000"));
    assert!(
        first
            .param("Url")
            .is_some_and(|u| u
                .starts_with("https://ivr.example.com/twilio/voice?flow=wallet-followup&contact=")),
        "{backend}: {:?}",
        first.param("Url")
    );
    assert!(
        first
            .param("StatusCallback")
            .is_some_and(|u| u.starts_with("https://ivr.example.com/twilio/status?contact=")),
        "{backend}: {:?}",
        first.param("StatusCallback")
    );
    assert_eq!(
        first.params("StatusCallbackEvent"),
        ["initiated", "ringing", "answered", "completed"]
    );

    // The first callee was busy, the second answered.
    let later = now + chrono::Duration::minutes(1);
    let busy = on_status(
        store.as_ref(),
        &Metrics::new(),
        placed[0],
        CallStatus::Busy,
        None,
        later,
    )
    .await
    .expect("status");
    assert_eq!(
        busy,
        StatusEffect::Retry(later + chrono::Duration::minutes(15)),
        "{backend}"
    );
    let done = on_status(
        store.as_ref(),
        &Metrics::new(),
        placed[1],
        CallStatus::Completed,
        Some(AnsweredBy::Human),
        later,
    )
    .await
    .expect("status");
    assert_eq!(done, StatusEffect::Done, "{backend}");
    // A duplicated callback changes nothing.
    let again = on_status(
        store.as_ref(),
        &Metrics::new(),
        placed[1],
        CallStatus::Completed,
        None,
        later,
    )
    .await
    .expect("status");
    assert_eq!(again, StatusEffect::None, "{backend}");

    // Nothing is due until the busy contact's back-off has passed.
    assert!(drain(&worker, later).await.is_empty(), "{backend}");
    let retry = drain(&worker, later + chrono::Duration::minutes(16)).await;
    assert!(
        matches!(retry.as_slice(), [Outcome::Placed { .. }]),
        "{backend}: {retry:?}"
    );
    assert_eq!(
        fake.requests().last().and_then(|r| r.param("To")),
        Some("+8613700000001")
    );

    let counts = store.campaigns().contact_counts(id).await.expect("counts");
    assert_eq!(counts.get("completed"), Some(&1), "{backend}: {counts:?}");
    assert_eq!(counts.get("opted_out"), Some(&1), "{backend}: {counts:?}");
    assert_eq!(counts.get("calling"), Some(&1), "{backend}: {counts:?}");
    assert_eq!(counts.get("pending"), Some(&1), "{backend}: {counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_overload_is_retried_and_a_bad_number_is_recorded_against_the_contact() {
    for (backend, db) in each_backend().await {
        let store = db.store().clone();
        let fake = FakeProvider::start().await;
        let worker = Worker::new(store.clone(), provider(&fake), Pacer::new(1000.0));
        let now = utc("2026-11-23T03:00:00Z");
        let spec = PlanSpec {
            window: "00:00-24:00".into(),
            ..PlanSpec::default()
        };
        let id = campaign(
            &store,
            &spec,
            &[
                contact("+8613700000001", None),
                contact("+8613700000002", None),
            ],
            now,
        )
        .await;
        fake.fail_next(&[429, 400]);

        let outcomes = drain(&worker, now).await;

        assert!(
            matches!(outcomes[0], Outcome::ProviderBusy { at, .. } if at == now + chrono::Duration::minutes(1)),
            "{backend}: {outcomes:?}"
        );
        assert!(
            matches!(&outcomes[1], Outcome::Refused { reason, .. } if reason.contains("400")),
            "{backend}: {outcomes:?}"
        );
        let retried = drain(&worker, now + chrono::Duration::minutes(2)).await;
        assert!(
            matches!(retried.as_slice(), [Outcome::Placed { .. }]),
            "{backend}: {retried:?}"
        );
        let counts = store.campaigns().contact_counts(id).await.expect("counts");
        assert_eq!(counts.get("error"), Some(&1), "{backend}: {counts:?}");
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_whose_worker_died_is_claimed_again_after_the_lease() {
    for (backend, db) in each_backend().await {
        let store = db.store().clone();
        let now = utc("2026-11-23T03:00:00Z");
        let spec = PlanSpec {
            window: "00:00-24:00".into(),
            ..PlanSpec::default()
        };
        campaign(&store, &spec, &[contact("+8613700000001", None)], now).await;
        let campaigns = store.campaigns();
        let lease = now + chrono::Duration::minutes(2);

        let first = campaigns.claim_due(now, lease, 10).await.expect("claim");
        let meanwhile = campaigns
            .claim_due(now + chrono::Duration::minutes(1), lease, 10)
            .await
            .expect("claim");
        let after = campaigns
            .claim_due(now + chrono::Duration::minutes(3), lease, 10)
            .await
            .expect("claim");

        assert_eq!(
            (first.len(), meanwhile.len(), after.len()),
            (1, 0, 1),
            "{backend}"
        );
        db.cleanup().await;
    }
}

/// The most requests the provider saw in any one second (a window opening
/// at each request in turn).
/// The only call placed so far: checks the machine detection it asked for
/// and the `machine=` its voice URL carries; returns that URL.
fn the_one_call_placed(
    fake: &FakeProvider,
    backend: &str,
    detection: &str,
    machine: &str,
) -> String {
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "{backend}");
    let request = &requests[0];
    assert_eq!(
        request.param("MachineDetection"),
        Some(detection),
        "{backend}"
    );
    let voice_url = request.param("Url").expect("Url").to_owned();
    assert!(
        voice_url.contains(&format!("&machine={machine}")),
        "{backend}: {voice_url}"
    );
    voice_url
}

fn busiest_second(requests: &[fake_provider::CallRequest]) -> usize {
    let mut at: Vec<_> = requests.iter().map(|r| r.at).collect();
    at.sort_unstable();
    (0..at.len())
        .map(|i| {
            at[i..]
                .iter()
                .take_while(|t| **t - at[i] < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_postgres_call_each_of_a_thousand_contacts_once_within_the_cps_limit() {
    let db = TestDb::postgres().await;
    // Two replicas: each its own store (connection pool) on the one database.
    let replicas = [
        db.store().clone(),
        dialback::store::connect(db.url())
            .await
            .expect("second replica"),
    ];
    let fake = FakeProvider::start().await;
    let now = Utc::now();
    let spec = PlanSpec {
        window: "00:00-24:00".into(),
        ..PlanSpec::default()
    };
    let contacts: Vec<_> = (0..1000)
        .map(|i| contact(&format!("+86137{i:08}"), None))
        .collect();
    campaign(&replicas[0], &spec, &contacts, now).await;
    let cps = 200.0;

    // Two workers on each replica, all taking slots from the one row.
    let tasks: Vec<_> = replicas
        .iter()
        .chain(&replicas)
        .map(|store| {
            let worker = Worker::new(store.clone(), provider(&fake), Pacer::new(cps));
            tokio::spawn(async move { drain(&worker, now).await })
        })
        .collect();
    let mut placed = Vec::new();
    for task in tasks {
        placed.push(task.await.expect("worker").len());
    }

    let requests = fake.requests();
    assert_eq!(requests.len(), 1000);
    assert!(
        placed.iter().all(|n| *n > 50),
        "every worker dialled: {placed:?}"
    );
    let mut phones: Vec<_> = requests.iter().filter_map(|r| r.param("To")).collect();
    phones.sort_unstable();
    phones.dedup();
    assert_eq!(phones.len(), 1000, "each contact exactly once");
    let busiest = busiest_second(&requests);
    let first = requests.iter().map(|r| r.at).min().expect("first");
    let last = requests.iter().map(|r| r.at).max().expect("last");
    eprintln!(
        "1000 calls by {placed:?} in {:?}; at most {busiest} in one second",
        last - first
    );
    assert!(busiest <= 200, "{busiest} calls in one second");
    // 999 slots after the first, each 1/CPS (and 2%) apart.
    assert!(
        last - first >= Duration::from_secs_f64(999.0 / cps),
        "{:?}",
        last - first
    );
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cps_slots_of_one_account_are_shared_by_replicas_and_another_account_has_its_own() {
    for (backend, db) in each_backend().await {
        // A second store on the same database: another replica on
        // PostgreSQL (on SQLite, another connection to the same file).
        let replica = dialback::store::connect(db.url()).await.expect("replica");
        let (a, b) = (db.store().campaigns(), replica.campaigns());
        let interval = Duration::from_secs(10);

        let first = a.reserve_dial_slot("AC1", interval).await.expect("slot");
        let second = b.reserve_dial_slot("AC1", interval).await.expect("slot");
        let third = a.reserve_dial_slot("AC1", interval).await.expect("slot");
        let other = b.reserve_dial_slot("AC2", interval).await.expect("slot");

        assert_eq!(first, Duration::ZERO, "{backend}");
        for (wait, slots) in [(second, 1), (third, 2)] {
            let expected = interval * slots;
            assert!(
                wait <= expected && wait > expected - Duration::from_secs(1),
                "{backend}: {wait:?} for slot {slots}"
            );
        }
        assert_eq!(other, Duration::ZERO, "{backend}");
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_call_greets_the_contact_by_name_and_a_busy_callback_schedules_a_retry() {
    for (backend, db) in each_backend().await {
        let now = utc("2026-11-23T03:00:00Z");
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(now)).await;
        let store = db.store().clone();
        let fake = FakeProvider::start().await;
        let config = ProviderConfig {
            base_url: fake.base_url.clone(),
            account_sid: "AC0".into(),
            auth_token: "secret".into(),
            from: "+861000000001".into(),
            public_url: PUBLIC_URL.into(),
        };
        let worker = Worker::new(store.clone(), Provider::new(config), Pacer::new(1000.0));
        let spec = PlanSpec {
            window: "09:00-20:00".into(),
            ..PlanSpec::default()
        };
        let id = campaign(&store, &spec, &[contact("+8613812348000", None)], now).await;

        let outcomes = drain(&worker, now).await;
        let Some(Outcome::Placed { call_sid, .. }) = outcomes.first() else {
            panic!("{backend}: {outcomes:?}");
        };
        let requests = fake.requests();
        let url = requests[0].param("Url").expect("Url");
        let (status, twiml) = server
            .post(
                url,
                &[
                    ("CallSid", call_sid),
                    ("AccountSid", "AC0"),
                    ("From", "+861000000001"),
                    ("To", "+8613812348000"),
                    ("CallStatus", "in-progress"),
                    ("Direction", "outbound-api"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{backend}: {twiml}");
        assert!(twiml.contains("王芳您好"), "{backend}: {twiml}");

        let busy = r#"dialback_dialer_attempts_total{result="busy"}"#;
        let busy_before = server.metric(busy).await;
        let (status, _) = server
            .post(
                "/twilio/status",
                &[
                    ("CallSid", call_sid),
                    ("AccountSid", "AC0"),
                    ("CallStatus", "busy"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{backend}");
        let counts = store.campaigns().contact_counts(id).await.expect("counts");
        assert_eq!(counts.get("pending"), Some(&1), "{backend}: {counts:?}");
        assert!(
            server.metric(busy).await >= busy_before + 1.0,
            "{backend}: the busy attempt is counted on /metrics"
        );
        let retry = drain(&worker, now + chrono::Duration::minutes(16)).await;
        assert!(
            matches!(retry.as_slice(), [Outcome::Placed { .. }]),
            "{backend}: {retry:?}"
        );
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_pauses_resumes_cancels_and_counts_a_campaign() {
    for (backend, db) in each_backend().await {
        let now = utc("2026-11-23T03:00:00Z");
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(now)).await;
        let store = db.store().clone();
        let spec = PlanSpec::default();
        let id = campaign(&store, &spec, &[contact("+8613812348000", None)], now).await;

        let (status, body) = server.admin_get(&format!("/api/campaigns/{id}")).await;
        assert_eq!(
            (status, &body["status"], &body["contacts"]["pending"]),
            (200, &json!("running"), &json!(1)),
            "{backend}: {body}"
        );
        for (action, code, after) in [
            ("pause", 200, "paused"),
            ("resume", 200, "running"),
            ("cancel", 200, "cancelled"),
            ("resume", 404, "cancelled"),
        ] {
            let (status, _) = server
                .post_admin(&format!("/api/campaigns/{id}/{action}"))
                .await;
            assert_eq!(status, code, "{backend}: {action}");
            let (_, body) = server.admin_get(&format!("/api/campaigns/{id}")).await;
            assert_eq!(body["status"], after, "{backend}: {action}");
        }
        let (status, _) = server.admin_get("/api/campaigns/999").await;
        assert_eq!(status, 404, "{backend}");
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reached_contact_is_called_again_with_another_flow_at_the_chosen_time() {
    for (backend, db) in each_backend().await {
        let now = utc("2026-11-23T03:00:00Z");
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(now)).await;
        let store = db.store().clone();
        let fake = FakeProvider::start().await;
        let worker = Worker::new(store.clone(), provider(&fake), Pacer::new(1000.0));
        let spec = PlanSpec {
            window: "09:00-20:00".into(),
            ..PlanSpec::default()
        };
        campaign(&store, &spec, &[contact("+8613812348000", None)], now).await;
        let placed = drain(&worker, now).await;
        let Some(Outcome::Placed {
            contact_id,
            call_sid,
        }) = placed.first()
        else {
            panic!("{backend}: {placed:?}");
        };
        on_status(
            store.as_ref(),
            &Metrics::new(),
            call_sid,
            CallStatus::Completed,
            None,
            now,
        )
        .await
        .expect("status");

        // Asked for 23:00 Shanghai time: the call waits for 09:00 the next day.
        let response = reqwest::Client::new()
            .post(format!(
                "http://{}/api/contacts/{contact_id}/recall",
                server.addr
            ))
            .bearer_auth(crate::common::phone::ADMIN_TOKEN)
            .json(&json!({"flow": "nps-survey", "at": "2026-11-23T15:00:00Z"}))
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status().as_u16(), 200, "{backend}");

        let at_night = drain(&worker, utc("2026-11-23T15:00:00Z")).await;
        assert!(
            matches!(at_night.as_slice(), [Outcome::Rescheduled { at, .. }] if *at == utc("2026-11-24T01:00:00Z")),
            "{backend}: {at_night:?}"
        );
        let morning = drain(&worker, utc("2026-11-24T01:00:00Z")).await;
        assert!(
            matches!(morning.as_slice(), [Outcome::Placed { .. }]),
            "{backend}: {morning:?}"
        );
        let url = fake
            .requests()
            .last()
            .and_then(|r| r.param("Url").map(str::to_owned));
        assert!(
            url.is_some_and(|u| u.contains("flow=nps-survey&")),
            "{backend}"
        );
        server.stop().await;
        db.cleanup().await;
    }
}

/// Runs a campaign to its end with the fake provider reporting every call
/// through signed status callbacks to a real server: created and started
/// through the admin API, dialled by `replicas` workers (each with a store
/// of its own), in rounds five minutes apart on controlled time.
async fn closed_loop(backend: &str, db: &TestDb, replicas: usize) {
    use fake_provider::CallEnd;
    let t0 = utc("2026-11-23T03:00:00Z"); // 11:00 in Shanghai
    let fake = FakeProvider::start().await;
    let phone = |n: u32| format!("+86137000000{n:02}");
    fake.script(&phone(2), &[CallEnd::Busy]);
    fake.script(&phone(3), &[CallEnd::NoAnswer; 3]);
    fake.script(&phone(5), &[CallEnd::Busy]);
    fake.script(&phone(6), &[CallEnd::Machine]);
    fake.script(&phone(7), &[CallEnd::Failed; 3]);
    let store = db.store().clone();
    store
        .add_opt_out(NewOptOut {
            phone: phone(4),
            call_sid: None,
            at: t0,
        })
        .await
        .expect("opt-out");
    let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(t0)).await;
    let csv: String = std::iter::once("phone,name\n".to_owned())
        .chain((1..=7).map(|n| format!("{},客户{n}\n", phone(n))))
        .collect();
    let created = reqwest::Client::new()
        .post(format!(
            "http://{}/api/campaigns?flow=wallet-followup&window=09:00-20:00&max_attempts=3\
             &backoff=busy%3D10m,no-answer%3D20m,failed%3D5m,machine%3D30m&machine=retry",
            server.addr
        ))
        .bearer_auth(crate::common::phone::ADMIN_TOKEN)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("answers");
    assert_eq!(created.status().as_u16(), 201, "{backend}");
    let created: serde_json::Value = created.json().await.expect("json");
    let id = created["id"].as_i64().expect("id");
    let (status, _) = server
        .post_admin(&format!("/api/campaigns/{id}/start"))
        .await;
    assert_eq!(status, 200, "{backend}");
    server.stop().await;

    let mut stores = vec![store.clone()];
    for _ in 1..replicas {
        stores.push(dialback::store::connect(db.url()).await.expect("replica"));
    }
    let config = ProviderConfig {
        base_url: fake.base_url.clone(),
        account_sid: "AC0".into(),
        auth_token: "secret".into(),
        from: "+861000000001".into(),
        public_url: PUBLIC_URL.into(),
    };
    let workers: Vec<_> = stores
        .iter()
        .map(|s| {
            Arc::new(Worker::new(
                s.clone(),
                Provider::new(config.clone()),
                Pacer::new(1000.0),
            ))
        })
        .collect();
    for round in 0..=10 {
        let now = t0 + chrono::Duration::minutes(5 * round);
        if round == 2 {
            // The fifth contact opts out between its busy call and its retry.
            store
                .add_opt_out(NewOptOut {
                    phone: phone(5),
                    call_sid: None,
                    at: now,
                })
                .await
                .expect("opt-out");
        }
        let tasks: Vec<_> = workers
            .iter()
            .map(|w| {
                let w = w.clone();
                tokio::spawn(async move { drain(&w, now).await })
            })
            .collect();
        for task in tasks {
            task.await.expect("worker");
        }
        // The provider reports the calls at this round's time.
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(now)).await;
        deliver_callbacks(&fake, &server).await;
        server.stop().await;
    }

    let requests = fake.requests();
    let calls_to = |n: u32| {
        requests
            .iter()
            .filter(|r| r.param("To") == Some(phone(n).as_str()))
            .count()
    };
    assert_eq!(
        (1..=7).map(calls_to).collect::<Vec<_>>(),
        [1, 2, 3, 0, 1, 2, 3],
        "{backend}: calls per contact"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.param("MachineDetection") == Some("Enable")),
        "{backend}"
    );
    let counts = store.campaigns().contact_counts(id).await.expect("counts");
    let expected: std::collections::BTreeMap<String, i64> = [
        ("completed", 3),
        ("no_answer", 1),
        ("opted_out", 2),
        ("failed", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(counts, expected, "{backend}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_runs_to_its_end_on_the_providers_own_callbacks_with_retries_and_opt_outs() {
    let db = TestDb::sqlite().await;
    closed_loop("sqlite", &db, 1).await;
    db.cleanup().await;
    let db = TestDb::postgres().await;
    closed_loop("postgres with two replicas", &db, 2).await;
    db.cleanup().await;
}

/// Creates and starts a campaign of one contact through the admin API,
/// with the settings in `query`; returns its id.
async fn api_campaign(server: &Server, query: &str, phone: &str) -> i64 {
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{}/api/campaigns?{query}", server.addr))
        .bearer_auth(crate::common::phone::ADMIN_TOKEN)
        .header("content-type", "text/csv")
        .body(format!("phone,name\n{phone},王芳\n"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    let id = created["id"].as_i64().expect("id");
    let (status, _) = server
        .post_admin(&format!("/api/campaigns/{id}/start"))
        .await;
    assert_eq!(status, 200);
    id
}

/// A worker dialling through `fake`, with links to the test server's URL.
fn worker_for(db: &TestDb, fake: &FakeProvider) -> Worker {
    Worker::new(
        db.store().clone(),
        Provider::new(ProviderConfig {
            base_url: fake.base_url.clone(),
            account_sid: "AC0".into(),
            auth_token: "secret".into(),
            from: "+861000000001".into(),
            public_url: PUBLIC_URL.into(),
        }),
        Pacer::new(1000.0),
    )
}

/// The fake provider sends the status callbacks it owes, signed, to `server`.
async fn deliver_callbacks(fake: &FakeProvider, server: &Server) {
    fake.send_callbacks_to(fake_provider::Callbacks {
        public_url: PUBLIC_URL.into(),
        real_url: format!("http://{}", server.addr),
        auth_token: crate::common::phone::AUTH_TOKEN.into(),
    });
    fake.deliver_callbacks().await;
}

/// Twilio answering the voice URL of a placed call, with `AnsweredBy`.
async fn answer_by(server: &Server, voice_url: &str, sid: &str, to: &str, by: &str) -> String {
    let (status, twiml) = server
        .post(
            voice_url,
            &[
                ("CallSid", sid),
                ("From", "+861000000001"),
                ("To", to),
                ("Direction", "outbound-api"),
                ("AnsweredBy", by),
            ],
        )
        .await;
    assert_eq!(status, 200, "{twiml}");
    twiml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answering_machine_gets_the_flows_message_and_the_contact_is_done() {
    use fake_provider::CallEnd;
    for (backend, db) in each_backend().await {
        let t0 = utc("2026-11-23T03:00:00Z"); // 11:00 in Shanghai
        let fake = FakeProvider::start().await;
        let phone = "+8613700000001";
        fake.script(phone, &[CallEnd::Machine]);
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(t0)).await;
        // A flow without a machine step cannot leave a message: said at once.
        let refused = reqwest::Client::new()
            .post(format!(
                "http://{}/api/campaigns?flow=nps-survey&window=09:00-20:00&machine=message",
                server.addr
            ))
            .bearer_auth(crate::common::phone::ADMIN_TOKEN)
            .header("content-type", "text/csv")
            .body(format!("phone,name\n{phone},Alex\n"))
            .send()
            .await
            .expect("answers");
        assert_eq!(refused.status().as_u16(), 400, "{backend}");
        let why = refused.text().await.expect("text");
        assert!(why.contains("machine_step"), "{backend}: {why}");

        let id = api_campaign(
            &server,
            "flow=wallet-followup&window=09:00-20:00&machine=message",
            phone,
        )
        .await;
        let worker = worker_for(&db, &fake);
        drain(&worker, t0).await;
        // The message waits for the machine's beep.
        let voice_url = the_one_call_placed(&fake, backend, "DetectMessageEnd", "message");

        // Twilio answers after the beep with AnsweredBy: the machine hears
        // the voicemail step, not the survey, and the call ends.
        let twiml = answer_by(
            &server,
            &voice_url,
            "CA0123456789abcdef0123456789abcdef",
            phone,
            "machine_end_beep",
        )
        .await;
        assert!(twiml.contains("服务回访电话"), "{backend}: {twiml}");
        assert!(!twiml.contains("<Gather"), "{backend}: {twiml}");
        assert!(twiml.contains("<Hangup"), "{backend}: {twiml}");
        let call = db
            .store()
            .load_call("CA0123456789abcdef0123456789abcdef")
            .await
            .expect("load")
            .expect("stored");
        assert_eq!(call.outcome.as_deref(), Some("no_response"), "{backend}");

        deliver_callbacks(&fake, &server).await;
        let counts = db
            .store()
            .campaigns()
            .contact_counts(id)
            .await
            .expect("counts");
        assert_eq!(counts.get("machine"), Some(&1), "{backend}: {counts:?}");
        assert!(
            drain(&worker, t0 + chrono::Duration::hours(5))
                .await
                .is_empty()
        );
        assert_eq!(fake.requests().len(), 1, "{backend}: never called again");
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_final_status_that_outruns_the_workers_record_still_schedules_the_retry() {
    for (backend, db) in each_backend().await {
        let store = db.store().clone();
        let now = utc("2026-11-23T03:00:00Z"); // 11:00 in Shanghai
        let spec = PlanSpec {
            window: "09:00-20:00".into(),
            ..PlanSpec::default()
        };
        let id = campaign(&store, &spec, &[contact("+8613700000001", None)], now).await;
        let campaigns = store.campaigns();
        let claimed = campaigns
            .claim_due(now, now + chrono::Duration::minutes(2), 1)
            .await
            .expect("claim");
        let contact_id = claimed[0].id;
        let sid = "CA00000000000000000000000000000fa5";
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(now)).await;

        // The provider reports "busy" before the worker has written the
        // CallSid down (its REST answer and the callback raced).
        let (status, _) = server
            .post(
                &format!("/twilio/status?contact={contact_id}"),
                &[("CallSid", sid), ("CallStatus", "busy")],
            )
            .await;
        assert_eq!(status, 200, "{backend}");
        campaigns
            .record_placed(contact_id, sid, now, now + chrono::Duration::hours(2))
            .await
            .expect("placed");

        let page = dialback::store::campaigns::ContactPage {
            state: None,
            after: None,
            limit: 10,
        };
        let (campaigns, page) = (&campaigns, &page);
        let row = eventually(
            Duration::from_secs(10),
            format!("{backend}: the contact is still calling"),
            || async move {
                let rows = campaigns.list_contacts(id, page).await.expect("contacts");
                (rows[0].state != "calling").then(|| rows[0].clone())
            },
        )
        .await;
        assert_eq!(
            (row.state.as_str(), row.last_result.as_deref()),
            ("pending", Some("busy")),
            "{backend}: the busy result counted, a retry is due by the back-off"
        );
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answering_machine_on_a_retrying_campaign_hears_nothing_and_is_called_again() {
    use fake_provider::CallEnd;
    for (backend, db) in each_backend().await {
        let t0 = utc("2026-11-23T03:00:00Z"); // 11:00 in Shanghai
        let fake = FakeProvider::start().await;
        let phone = "+8613700000001";
        fake.script(phone, &[CallEnd::Machine]);
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(t0)).await;
        let id = api_campaign(
            &server,
            "flow=wallet-followup&window=09:00-20:00&machine=retry",
            phone,
        )
        .await;
        let worker = worker_for(&db, &fake);
        drain(&worker, t0).await;
        let voice_url = the_one_call_placed(&fake, backend, "Enable", "retry");

        let twiml = answer_by(
            &server,
            &voice_url,
            "CA0123456789abcdef0123456789abcdee",
            phone,
            "machine_start",
        )
        .await;
        assert!(
            !twiml.contains("<Say") && !twiml.contains("王芳") && twiml.contains("<Hangup"),
            "{backend}: a machine must not record the survey or the name: {twiml}"
        );
        let call = db
            .store()
            .load_call("CA0123456789abcdef0123456789abcdee")
            .await
            .expect("load")
            .expect("stored");
        assert_eq!(call.outcome.as_deref(), Some("no_response"), "{backend}");

        deliver_callbacks(&fake, &server).await;
        let page = dialback::store::campaigns::ContactPage {
            state: None,
            after: None,
            limit: 10,
        };
        let rows = db
            .store()
            .campaigns()
            .list_contacts(id, &page)
            .await
            .expect("contacts");
        assert_eq!(
            (rows[0].state.as_str(), rows[0].last_result.as_deref()),
            ("pending", Some("machine")),
            "{backend}: called again after the machine back-off"
        );
        server.stop().await;
        db.cleanup().await;
    }
}
