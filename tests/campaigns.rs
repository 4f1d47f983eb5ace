//! Campaign storage on every backend: contacts imported from CSV, counted
//! by state, and the campaign's status moved by start / pause / resume /
//! cancel.

mod common;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use dialback::dialer::contacts::{CsvOptions, read_contacts};
use dialback::store::campaigns::NewCampaign;
use serde_json::json;

use common::db::each_backend;

fn campaign() -> NewCampaign {
    NewCampaign {
        name: "wallet follow-up".into(),
        flow: "wallet-followup".into(),
        plan: json!({"window": "09:00-20:00", "max_attempts": 3}),
        created_at: Utc
            .with_ymd_and_hms(2026, 11, 23, 3, 0, 0)
            .single()
            .expect("time"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_from_csv_are_stored_once_each_and_counted_as_pending() {
    for (backend, db) in each_backend().await {
        let store = db.store().campaigns();
        let id = store.create_campaign(campaign()).await.expect("created");
        let imported = read_contacts(
            "phone,name\n13812348000,王芳\n+86 138 1234 8000,Wang Fang\nbad,x\n13912340000,李雷\n"
                .as_bytes(),
            &CsvOptions::default(),
            |_| {},
        )
        .expect("readable");
        assert_eq!(imported.errors.len(), 1, "{backend}");
        let rows: Vec<_> = imported
            .contacts
            .iter()
            .map(|c| c.to_new_contact(None))
            .collect();

        store.add_contacts(id, &rows).await.expect("stored");
        // Importing the same file again merges rather than duplicates.
        store.add_contacts(id, &rows).await.expect("stored again");

        let counts = store.contact_counts(id).await.expect("counted");
        assert_eq!(counts.get("pending"), Some(&2), "{backend}: {counts:?}");
        let row = store.campaign(id).await.expect("read").expect("exists");
        assert_eq!(
            (row.status.as_str(), row.plan["max_attempts"].as_i64()),
            ("draft", Some(3)),
            "{backend}"
        );
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_campaign_cannot_be_resumed() {
    for (backend, db) in each_backend().await {
        let store = db.store().campaigns();
        let id = store.create_campaign(campaign()).await.expect("created");
        let moves = [
            (&["draft"][..], "running", true),
            (&["running"][..], "paused", true),
            (&["paused"][..], "running", true),
            (&["draft", "running", "paused"][..], "cancelled", true),
            (&["paused"][..], "running", false),
        ];
        for (from, to, moved) in moves {
            assert_eq!(
                store
                    .set_campaign_status(id, from, to)
                    .await
                    .expect("updated"),
                moved,
                "{backend}: {from:?} -> {to}"
            );
        }
        assert!(
            !store
                .set_campaign_status(id + 1000, &["draft"], "running")
                .await
                .expect("updated"),
            "{backend}: unknown campaign"
        );
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_contacts_import_in_seconds() {
    let mut csv = String::from("phone,name,timezone\n");
    for i in 0..100_000u64 {
        csv.push_str(&format!("139{i:08},客户{i},Asia/Shanghai\n"));
    }
    let imported = read_contacts(csv.as_bytes(), &CsvOptions::default(), |_| {}).expect("read");
    let rows: Vec<_> = imported
        .contacts
        .iter()
        .map(|c| c.to_new_contact(None))
        .collect();
    for (backend, db) in each_backend().await {
        let store = db.store().campaigns();
        let id = store.create_campaign(campaign()).await.expect("created");
        let started = Instant::now();
        let written = store.add_contacts(id, &rows).await.expect("stored");
        let took = started.elapsed();
        eprintln!("{backend}: 100,000 contacts stored in {took:?}");
        assert_eq!(written, 100_000, "{backend}");
        assert!(took < Duration::from_secs(20), "{backend}: {took:?}");
        let counts = store.contact_counts(id).await.expect("counted");
        assert_eq!(counts.get("pending"), Some(&100_000), "{backend}");
        db.cleanup().await;
    }
}
