//! Honest outcomes and inbound contacts, over HTTP as Twilio drives a call,
//! on SQLite and PostgreSQL: a silent caller is `no_response` and is never
//! taken past consent; an inbound caller who is a campaign contact is
//! greeted with their own row, anyone else without a hole in the text.

use chrono::{TimeZone, Utc};
use dialback::config::Clock;
use dialback::store::campaigns::{NewCampaign, NewContact};
use serde_json::json;

use crate::common::db::each_backend;
use crate::common::phone::{Phone, Server};

const WALLET: &str = "+861000000001";
const FEATURE: &str = "+861000000003";

fn clock() -> Clock {
    Clock::Fixed(Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap())
}

fn campaign(name: &str, flow: &str, day: u32) -> NewCampaign {
    NewCampaign {
        name: name.into(),
        flow: flow.into(),
        plan: json!({"window": "09:00-20:00", "max_attempts": 3}),
        created_at: Utc.with_ymd_and_hms(2026, 11, day, 3, 0, 0).unwrap(),
    }
}

fn contact(phone: &str, vars: serde_json::Value) -> NewContact {
    NewContact {
        phone: phone.into(),
        vars,
        timezone: None,
        next_at: None,
        follows: None,
    }
}

#[tokio::test]
async fn a_caller_silent_on_the_wallet_line_is_let_go_after_consent_as_no_response() {
    for (backend, db) in each_backend().await {
        let server = Server::start_at(db.url(), clock()).await;
        let mut p = Phone::call(&server, "+8613812348001", WALLET).await;
        let mut silences = 0;
        while !p.ended {
            p.silence().await;
            silences += 1;
            assert!(silences <= 40, "{backend}: the call never ended");
        }
        assert_eq!(
            silences, 3,
            "{backend}: consent's three attempts, then goodbye"
        );
        assert!(
            !p.heard
                .iter()
                .any(|t| t.contains("打分") || t.contains("解决")),
            "{backend}: a caller who never consented heard the survey: {:?}",
            p.heard
        );
        assert!(
            p.heard.last().is_some_and(|t| t.contains("再见")),
            "{backend}: {:?}",
            p.heard
        );
        let r = p.result().await;
        assert_eq!(r["outcome"], "no_response", "{backend}");
        assert_eq!(r["answers"], json!({}), "{backend}");
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_inbound_lookup_takes_the_callers_row_from_the_flows_most_recent_campaign() {
    for (backend, db) in each_backend().await {
        let store = db.store().campaigns();
        let older = store
            .create_campaign(campaign("older", "feature-feedback", 20))
            .await
            .unwrap();
        let newer = store
            .create_campaign(campaign("newer", "feature-feedback", 22))
            .await
            .unwrap();
        let other_flow = store
            .create_campaign(campaign("other", "wallet-followup", 23))
            .await
            .unwrap();
        let caller = "+8613812348002";
        for (id, name) in [(older, "旧"), (newer, "新"), (other_flow, "别的")] {
            store
                .add_contacts(id, &[contact(caller, json!({"name": name}))])
                .await
                .unwrap();
        }

        let found = store
            .inbound_contact_vars("feature-feedback", caller)
            .await
            .unwrap();
        let stranger = store
            .inbound_contact_vars("feature-feedback", "+8613812348999")
            .await
            .unwrap();
        let unused_flow = store
            .inbound_contact_vars("nps-survey", caller)
            .await
            .unwrap();

        assert_eq!(found, Some(json!({"name": "新"})), "{backend}");
        assert_eq!(stranger, None, "{backend}");
        assert_eq!(unused_flow, None, "{backend}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_inbound_caller_who_is_a_contact_hears_their_own_name_and_feature() {
    for (backend, db) in each_backend().await {
        let store = db.store().campaigns();
        let id = store
            .create_campaign(campaign("feature", "feature-feedback", 22))
            .await
            .unwrap();
        let caller = "+8613812348003";
        store
            .add_contacts(
                id,
                &[contact(
                    caller,
                    json!({"name": "王女士", "feature": "花呗"}),
                )],
            )
            .await
            .unwrap();
        let server = Server::start_at(db.url(), clock()).await;

        let p = Phone::call(&server, caller, FEATURE).await;

        assert!(
            p.heard[0].starts_with("王女士您好") && p.heard[0].contains("花呗功能"),
            "{backend}: {:?}",
            p.heard
        );
        assert!(
            p.heard[1].contains("您用过花呗功能吗"),
            "{backend}: {:?}",
            p.heard
        );
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_inbound_caller_who_is_no_contact_hears_no_hole_in_any_example_flow() {
    for (backend, db) in each_backend().await {
        let server = Server::start_at(db.url(), clock()).await;
        let stranger = "+8613812348004";

        let wallet = Phone::call(&server, stranger, WALLET).await;
        let feature = Phone::call(&server, stranger, FEATURE).await;
        let nps = Phone::call(&server, stranger, "+861000000002").await;

        assert!(
            wallet.heard[0].starts_with("您好，这里是示例钱包"),
            "{backend}: {:?}",
            wallet.heard
        );
        assert!(
            feature.heard[0].starts_with("您好，这里是示例钱包")
                && feature.heard[1].contains("您用过账单分期功能吗"),
            "{backend}: {:?}",
            feature.heard
        );
        assert!(
            nps.heard[0].starts_with("Hello, this is Example Wallet"),
            "{backend}: {:?}",
            nps.heard
        );
        for text in wallet.heard.iter().chain(&feature.heard).chain(&nps.heard) {
            assert!(
                !text.contains(" ,") && !text.contains("您用过功能") && !text.contains("对功能"),
                "{backend}: a hole in {text:?}"
            );
        }
        server.stop().await;
        db.cleanup().await;
    }
}
