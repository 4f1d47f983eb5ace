//! The per-ticket loop end to end, on SQLite and PostgreSQL (two replicas
//! behind one URL there), driven as Twilio drives calls: a wallet caller
//! whose issue is open gets a ticket; support resolves it through the API
//! (twice, and on both replicas at once); exactly one confirmation call
//! (flow `fix-confirmation`) is placed by the dialer `confirm_after` later,
//! inside the customer's calling window; their *yes* confirms the ticket,
//! their *no* reopens it and hands them to a person; a customer never
//! reached after every attempt leaves it resolved. The history is in the
//! API, the dashboard and the CRM's notices.

use chrono::{DateTime, Duration, TimeZone, Utc};
use dialback::config::Clock;
use dialback::dialer::worker::{Outcome, Pacer, StatusEffect, Worker, on_status};
use dialback::metrics::Metrics;
use dialback::twilio::CallStatus;
use dialback::twilio::rest::{Provider, ProviderConfig};
use serde_json::{Value, json};

use crate::common::crm::FakeCrm;
use crate::common::dashboard::signed_in_page;
use crate::common::db::{TestDb, each_backend};
use crate::common::fake_provider::FakeProvider;
use crate::common::phone::{AUTH_TOKEN, Options, PUBLIC_URL, Phone, Server};
use crate::common::sid::sid_for;

const WALLET: &str = "+861000000001";
const CUSTOMER: &str = "+8613812346001";

/// Saturday 11:00 in Shanghai: nobody at the support desk, so an open
/// issue becomes a ticket (the wallet flow's hours are Mon-Fri).
fn saturday_11() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap()
}

async fn server(db: &TestDb, crm: Option<&FakeCrm>, now: DateTime<Utc>) -> Server {
    Server::start_with(Options {
        database_url: db.url().to_string(),
        crm_webhook: crm.map(|c| c.url.clone()),
        auth_token: Some(AUTH_TOKEN.into()),
        clock: Clock::Fixed(now),
    })
    .await
}

fn worker(db: &TestDb, fake: &FakeProvider) -> Worker {
    Worker::new(
        db.store().clone(),
        Provider::new(ProviderConfig {
            base_url: fake.base_url.clone(),
            account_sid: "AC0".into(),
            auth_token: "secret".into(),
            from: WALLET.into(),
            public_url: PUBLIC_URL.into(),
        }),
        Pacer::new(1000.0),
    )
}

async fn drain(worker: &Worker, now: DateTime<Utc>) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    loop {
        match worker.try_execute(now).await.expect("a dialer step") {
            Outcome::Idle => return outcomes,
            outcome => outcomes.push(outcome),
        }
    }
}

fn placed(outcomes: &[Outcome]) -> Vec<String> {
    outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Placed { call_sid, .. } => Some(call_sid.clone()),
            _ => None,
        })
        .collect()
}

/// A wallet caller says their problem is not solved; nobody is at the
/// desk, so they get a ticket. Returns the handoff's id and the call's sid.
async fn ticket(server: &Server) -> (i64, String) {
    let mut p = Phone::call(server, CUSTOMER, WALLET).await;
    p.press("1").await;
    p.press("2").await;
    assert!(p.ended, "{:?}", p.heard);
    let (_, open) = server.admin_get("/api/handoffs?status=open").await;
    let h = &open["handoffs"][0];
    assert_eq!(h["call_sid"], p.sid.as_str(), "{open}");
    (h["id"].as_i64().unwrap(), p.sid.clone())
}

fn history(handoff: &Value) -> Vec<(String, String)> {
    handoff["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["status"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_ticket_gets_one_confirmation_call_two_hours_later_and_yes_confirms_it() {
    let crm = FakeCrm::start().await;
    for (backend, db) in each_backend().await {
        let t0 = saturday_11();
        let server = server(&db, Some(&crm), t0).await;
        let (id, first_call) = ticket(&server).await;

        let (status, resolved) = server
            .post_admin(&format!("/api/handoffs/{id}/resolve"))
            .await;
        let (again, _) = server
            .post_admin(&format!("/api/handoffs/{id}/resolve"))
            .await;

        assert_eq!(status, 200, "{backend}: {resolved}");
        assert!(
            resolved["confirmation_contact_id"].is_i64(),
            "{backend}: {resolved}"
        );
        assert_eq!(again, 404, "{backend}: a second resolve changes nothing");
        crm.wait_for_status(id, "resolved").await;

        // `confirm_after = "2h"`: nothing is due a minute before.
        let fake = FakeProvider::start().await;
        let dialer = worker(&db, &fake);
        let early = drain(&dialer, t0 + Duration::minutes(119)).await;
        assert!(placed(&early).is_empty(), "{backend}: {early:?}");
        let due = drain(&dialer, t0 + Duration::minutes(120)).await;
        let calls = placed(&due);
        assert_eq!(calls.len(), 1, "{backend}: {due:?}");
        let requests = fake.requests();
        assert_eq!(requests.len(), 1, "{backend}");
        assert_eq!(requests[0].param("To"), Some(CUSTOMER), "{backend}");
        let voice_url = requests[0].param("Url").unwrap().to_owned();
        assert!(
            voice_url.contains("flow=fix-confirmation"),
            "{backend}: {voice_url}"
        );

        // The customer picks up and says it works now.
        let mut confirmation = Phone::answer(&server, &voice_url, &calls[0], CUSTOMER).await;
        assert!(
            confirmation
                .heard
                .iter()
                .any(|t| t.contains("上次您反馈的问题，我们已经处理了")),
            "{backend}: {:?}",
            confirmation.heard
        );
        assert!(
            confirmation
                .heard
                .iter()
                .any(|t| t.contains("现在可以正常使用了吗")),
            "{backend}: {:?}",
            confirmation.heard
        );
        confirmation.press("1").await;
        assert!(confirmation.ended, "{backend}: {:?}", confirmation.heard);
        // (The driver sent the provider's final status callback on the
        // hang-up: the dialer counts the contact done.)
        let (_, handoff) = server.admin_get(&format!("/api/handoffs/{id}")).await;
        assert_eq!(handoff["status"], "confirmed", "{backend}: {handoff}");
        assert_eq!(
            history(&handoff),
            [
                ("open".to_owned(), "caller".to_owned()),
                ("resolved".to_owned(), "support".to_owned()),
                ("confirmed".to_owned(), "customer".to_owned()),
            ],
            "{backend}: {handoff}"
        );
        assert_eq!(handoff["history"][0]["call_sid"], first_call.as_str());
        assert_eq!(handoff["history"][2]["call_sid"], calls[0].as_str());
        assert_eq!(
            handoff["confirmation_calls"][0]["call_sid"],
            calls[0].as_str(),
            "{backend}: {handoff}"
        );
        let (_, confirmed) = server.admin_get("/api/handoffs?status=confirmed").await;
        assert_eq!(confirmed["handoffs"][0]["id"], id, "{backend}");
        let (_, call) = server.admin_get(&format!("/api/calls/{}", calls[0])).await;
        assert_eq!(
            call["follows"],
            json!({"call": first_call, "handoff": id}),
            "{backend}"
        );
        let notice = crm.wait_for_status(id, "confirmed").await;
        assert_eq!(notice["actor"], "customer", "{backend}");
        assert_eq!(
            notice["confirmation_call_sid"],
            calls[0].as_str(),
            "{backend}"
        );
        // Trends reads the confirmation's `resolved` like the wallet flow's:
        // the resolution rate of confirmation calls, and before/after beside
        // the ticket's call (no) for the confirmations campaign (the first
        // campaign of this fresh database).
        let (_, campaign) = server.admin_get("/api/campaigns/1").await;
        assert_eq!(
            (&campaign["name"], &campaign["flow"], &campaign["status"]),
            (
                &json!("confirm: fix-confirmation"),
                &json!("fix-confirmation"),
                &json!("running")
            ),
            "{backend}: {campaign}"
        );
        let range = "since=2026-11-27&until=2026-11-29";
        let (_, trends) = server
            .admin_get(&format!("/api/trends/fix-confirmation?campaign=1&{range}"))
            .await;
        let total = &trends["total"]["resolution"];
        assert_eq!(
            (&total["count"], &total["of"]),
            (&json!(1), &json!(1)),
            "{backend}: {trends}"
        );
        let pairs = &trends["before_after"]["resolution"];
        assert_eq!(
            (
                &pairs["pairs"],
                &pairs["before"]["count"],
                &pairs["after"]["count"]
            ),
            (&json!(1), &json!(0), &json!(1)),
            "{backend}: {trends}"
        );
        // Done: nobody is called again, however long the dialer runs.
        let later = drain(&dialer, t0 + Duration::days(3)).await;
        assert!(placed(&later).is_empty(), "{backend}: {later:?}");

        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_reopens_the_ticket_and_hands_the_customer_to_a_person_and_a_late_resolve_waits_for_the_window()
 {
    for (backend, db) in each_backend().await {
        // Saturday 19:00 in Shanghai: two hours later is past the 20:00
        // end of the calling window.
        let t0 = saturday_11() + Duration::hours(8);
        let server = server(&db, None, t0).await;
        let (id, first_call) = ticket(&server).await;
        let (status, _) = server
            .post_admin(&format!("/api/handoffs/{id}/resolve"))
            .await;
        assert_eq!(status, 200, "{backend}");

        let fake = FakeProvider::start().await;
        let dialer = worker(&db, &fake);
        let at_due = drain(&dialer, t0 + Duration::hours(2)).await;
        let next_morning = Utc.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap();
        assert!(
            at_due
                .iter()
                .any(|o| matches!(o, Outcome::Rescheduled { at, .. } if *at == next_morning)),
            "{backend}: called at 09:00 Shanghai time the next day: {at_due:?}"
        );
        assert!(placed(&at_due).is_empty(), "{backend}");
        let calls = placed(&drain(&dialer, next_morning).await);
        assert_eq!(calls.len(), 1, "{backend}");
        let voice_url = fake.requests()[0].param("Url").unwrap().to_owned();

        let mut confirmation = Phone::answer(&server, &voice_url, &calls[0], CUSTOMER).await;
        confirmation.press("2").await;

        // Sunday: nobody at the desk either, so a new ticket for the
        // confirmation call; the reopened one is back in the queue.
        assert!(
            confirmation
                .heard
                .iter()
                .any(|t| t.contains("重新为您打开工单")),
            "{backend}: {:?}",
            confirmation.heard
        );
        assert!(
            confirmation.ended
                && confirmation
                    .heard
                    .last()
                    .unwrap()
                    .contains("一个工作日内给您回电"),
            "{backend}: {:?}",
            confirmation.heard
        );
        let (_, handoff) = server.admin_get(&format!("/api/handoffs/{id}")).await;
        assert_eq!(handoff["status"], "reopened", "{backend}: {handoff}");
        assert_eq!(
            history(&handoff).last(),
            Some(&("reopened".to_owned(), "customer".to_owned())),
            "{backend}: {handoff}"
        );
        let (_, reopened) = server.admin_get("/api/handoffs?status=reopened").await;
        assert_eq!(reopened["handoffs"][0]["id"], id, "{backend}");
        // Back in the dashboard's queue, its history saying who did what;
        // the ticket's call page shows the same history and the call that
        // followed it up.
        let queue = signed_in_page(&server, "/handoffs").await;
        let card = &queue[queue
            .find(&format!("data-handoff=\"{id}\" data-status=\"reopened\""))
            .unwrap_or_else(|| panic!("{backend}: {queue}"))..];
        let card = &card[..card.find("</section>").unwrap()];
        assert!(
            card.contains("reopened by the customer"),
            "{backend}: {card}"
        );
        assert!(
            card.contains("open · by caller")
                && card.contains("resolved · by support")
                && card.contains(&format!(
                    "reopened · by customer · <a href=\"/calls/{}\">",
                    calls[0]
                )),
            "{backend}: {card}"
        );
        let page = signed_in_page(&server, &format!("/calls/{first_call}")).await;
        assert!(
            page.contains(&format!("Handoff #{id} · reopened")),
            "{backend}: {page}"
        );
        assert!(
            page.contains("data-chain=\"followed-by\"")
                && page.contains(&format!("confirming handoff #{id}")),
            "{backend}: {page}"
        );
        // Support can resolve it again.
        let (status, _) = server
            .post_admin(&format!("/api/handoffs/{id}/resolve"))
            .await;
        assert_eq!(status, 200, "{backend}");

        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_resolving_one_ticket_at_once_schedule_one_confirmation_call() {
    let db = TestDb::postgres().await;
    let t0 = saturday_11();
    let one = server(&db, None, t0).await;
    let two = server(&db, None, t0).await;
    let (id, _) = ticket(&one).await;

    // The CRM's retry and the dashboard's button, on both replicas at once.
    let path = format!("/api/handoffs/{id}/resolve");
    let (a, b, c, d) = tokio::join!(
        one.post_admin(&path),
        two.post_admin(&path),
        one.post_admin(&path),
        two.post_admin(&path),
    );
    let mut statuses = [a.0, b.0, c.0, d.0];
    statuses.sort();
    assert_eq!(statuses, [200, 404, 404, 404]);

    // Each replica runs its dialer; the one contact is called once.
    let fake = FakeProvider::start().await;
    let (w1, w2) = (worker(&db, &fake), worker(&db, &fake));
    let due = t0 + Duration::hours(2);
    let (o1, o2) = tokio::join!(drain(&w1, due), drain(&w2, due));
    assert_eq!(placed(&o1).len() + placed(&o2).len(), 1, "{o1:?} {o2:?}");
    assert_eq!(fake.requests().len(), 1);
    let (_, handoff) = two.admin_get(&format!("/api/handoffs/{id}")).await;
    assert_eq!(
        history(&handoff),
        [
            ("open".to_owned(), "caller".to_owned()),
            ("resolved".to_owned(), "support".to_owned()),
        ],
        "{handoff}"
    );
    one.stop().await;
    two.stop().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_never_reached_after_every_attempt_leaves_the_ticket_resolved() {
    for (backend, db) in each_backend().await {
        let t0 = saturday_11();
        let server = server(&db, None, t0).await;
        let (id, _) = ticket(&server).await;
        let (status, _) = server
            .post_admin(&format!("/api/handoffs/{id}/resolve"))
            .await;
        assert_eq!(status, 200, "{backend}");
        let fake = FakeProvider::start().await;
        let dialer = worker(&db, &fake);

        // The default plan: 3 attempts, 2 h apart after no answer, all
        // inside Saturday's window (13:00, 15:00, 17:00 in Shanghai).
        let mut at = t0 + Duration::hours(2);
        let mut effects = Vec::new();
        for _ in 0..3 {
            let calls = placed(&drain(&dialer, at).await);
            assert_eq!(calls.len(), 1, "{backend}: at {at}");
            let effect = on_status(
                db.store().as_ref(),
                &Metrics::new(),
                &sid_for(&calls[0]),
                CallStatus::NoAnswer,
                None,
                at + Duration::seconds(30),
            )
            .await
            .unwrap();
            if let StatusEffect::Retry(next) = effect {
                at = next;
            }
            effects.push(effect);
        }
        let after = drain(&dialer, t0 + Duration::days(3)).await;

        assert!(
            matches!(
                effects[..],
                [
                    StatusEffect::Retry(_),
                    StatusEffect::Retry(_),
                    StatusEffect::GaveUp(_)
                ]
            ),
            "{backend}: {effects:?}"
        );
        assert!(placed(&after).is_empty(), "{backend}: {after:?}");
        assert_eq!(fake.requests().len(), 3, "{backend}");
        let (_, handoff) = server.admin_get(&format!("/api/handoffs/{id}")).await;
        assert_eq!(handoff["status"], "resolved", "{backend}: {handoff}");
        assert_eq!(
            history(&handoff).last(),
            Some(&("resolved".to_owned(), "support".to_owned())),
            "{backend}: {handoff}"
        );
        server.stop().await;
        db.cleanup().await;
    }
}
