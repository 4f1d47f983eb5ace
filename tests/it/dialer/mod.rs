//! The dialer end to end against a fake provider, on SQLite and PostgreSQL:
//! calls placed with the right parameters, opt-outs skipped, provider
//! refusals retried or recorded, status callbacks turned into retries.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dialback::dialer::plan::PlanSpec;
use dialback::dialer::worker::{Outcome, Pacer, StatusEffect, Worker, on_status};
use dialback::metrics::Metrics;
use dialback::store::campaigns::{ContactState, NewCampaign, NewContact};
use dialback::store::{NewOptOut, Outcome as CallOutcome, Store};
use dialback::twilio::rest::{Provider, ProviderConfig};
use dialback::twilio::{AnsweredBy, CallStatus};

use crate::common::sid::sid_for;
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
        follows: None,
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
        &sid_for(placed[0]),
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
        &sid_for(placed[1]),
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
        &sid_for(placed[1]),
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

mod callbacks;
