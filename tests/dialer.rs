//! The dialer end to end against a fake provider, on SQLite and PostgreSQL:
//! calls placed with the right parameters, opt-outs skipped, provider
//! refusals retried or recorded, status callbacks turned into retries.

mod common;
#[path = "dialer/fake_provider.rs"]
mod fake_provider;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dialback::dialer::plan::PlanSpec;
use dialback::dialer::provider::{Provider, ProviderConfig};
use dialback::dialer::worker::{Outcome, Pacer, StatusEffect, Worker, on_status};
use dialback::store::campaigns::{NewCampaign, NewContact};
use dialback::store::{NewOptOut, Store};
use dialback::twilio::{AnsweredBy, CallStatus};
use serde_json::json;

use common::db::{TestDb, each_backend};
use common::phone::{PUBLIC_URL, Server};
use fake_provider::FakeProvider;

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
    assert_eq!(
        first.param("StatusCallback"),
        Some("https://ivr.example.com/twilio/status")
    );
    assert_eq!(
        first.params("StatusCallbackEvent"),
        ["initiated", "ringing", "answered", "completed"]
    );

    // The first callee was busy, the second answered.
    let later = now + chrono::Duration::minutes(1);
    let busy = on_status(store.as_ref(), placed[0], CallStatus::Busy, None, later)
        .await
        .expect("status");
    assert_eq!(
        busy,
        StatusEffect::Retry(later + chrono::Duration::minutes(15)),
        "{backend}"
    );
    let done = on_status(
        store.as_ref(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_postgres_call_each_of_a_thousand_contacts_once_within_the_cps_limit() {
    let db = TestDb::postgres().await;
    let store = db.store().clone();
    let fake = FakeProvider::start().await;
    let now = Utc::now();
    let spec = PlanSpec {
        window: "00:00-24:00".into(),
        ..PlanSpec::default()
    };
    let contacts: Vec<_> = (0..1000)
        .map(|i| contact(&format!("+86137{i:08}"), None))
        .collect();
    campaign(&store, &spec, &contacts, now).await;
    let cps = 200.0;
    let pacer = Pacer::new(cps);
    let workers: Vec<_> = (0..2)
        .map(|_| Arc::new(Worker::new(store.clone(), provider(&fake), pacer.clone())))
        .collect();

    let tasks: Vec<_> = workers
        .iter()
        .map(|w| {
            let w = w.clone();
            tokio::spawn(async move { drain(&w, now).await })
        })
        .collect();
    let mut placed = 0;
    for task in tasks {
        placed += task.await.expect("worker").len();
    }

    let requests = fake.requests();
    assert_eq!((placed, requests.len()), (1000, 1000));
    let mut phones: Vec<_> = requests.iter().filter_map(|r| r.param("To")).collect();
    phones.sort_unstable();
    phones.dedup();
    assert_eq!(phones.len(), 1000, "each contact exactly once");
    let span = requests.last().map(|r| r.at).expect("last") - requests[0].at;
    // 1000 calls at 200 a second cannot take less than 999 intervals.
    assert!(
        span >= Duration::from_secs_f64(999.0 / cps) - Duration::from_millis(20),
        "{span:?}"
    );
    for window in requests.windows(201) {
        assert!(
            window[200].at - window[0].at >= Duration::from_millis(980),
            "over 200 calls in a second"
        );
    }
    db.cleanup().await;
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
        on_status(store.as_ref(), call_sid, CallStatus::Completed, None, now)
            .await
            .expect("status");

        // Asked for 23:00 Shanghai time: the call waits for 09:00 the next day.
        let response = reqwest::Client::new()
            .post(format!(
                "http://{}/api/contacts/{contact_id}/recall",
                server.addr
            ))
            .bearer_auth(common::phone::ADMIN_TOKEN)
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
