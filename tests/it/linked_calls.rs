//! Linked calls end to end, on SQLite and PostgreSQL: a contact made from
//! an earlier call carries that call's answers as `previous.…` variables;
//! the dialer's call to it, answered as Twilio answers an `outbound-api`
//! call, names the call it follows; the API, the call pages (both ways) and
//! the export show the chain.

use chrono::{DateTime, TimeZone, Utc};
use dialback::config::Clock;
use dialback::dialer::plan::PlanSpec;
use dialback::dialer::previous::{previous_vars, with_previous};
use dialback::dialer::worker::{Outcome, Pacer, Worker};
use dialback::store::FollowUp;
use dialback::store::campaigns::{NewCampaign, NewContact};
use dialback::twilio::rest::{Provider, ProviderConfig};
use serde_json::json;

use crate::common::dashboard::signed_in_page;
use crate::common::db::{TestDb, each_backend};
use crate::common::fake_provider::FakeProvider;
use crate::common::phone::{ADMIN_TOKEN, PUBLIC_URL, Phone, Server};
use crate::common::sid::sid_for;

const WALLET: &str = "+861000000001";
const CUSTOMER: &str = "+8613812347001";

fn now() -> DateTime<Utc> {
    // 11:00 in Shanghai: inside the default calling window.
    Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_call_names_the_call_it_follows_and_both_calls_show_the_chain() {
    for (backend, db) in each_backend().await {
        let server = Server::start_at(db.url(), Clock::Fixed(now())).await;
        let store = db.store().clone();
        // The earlier call: consent, resolved, CSAT 2, "so so", no suggestion.
        let mut first = Phone::call(&server, CUSTOMER, WALLET).await;
        for key in ["1", "1", "2", "2", "2"] {
            first.press(key).await;
        }
        assert!(first.ended, "{backend}: {:?}", first.heard);
        let earlier = sid_for(&first.sid);
        let row = store.load_call(&earlier).await.unwrap().unwrap();
        let answers = store.answers(&earlier).await.unwrap();

        // Ops make a follow-up contact from it.
        let previous = previous_vars(&row, &answers, chrono_tz::Asia::Shanghai);
        let contact = NewContact {
            phone: CUSTOMER.into(),
            vars: with_previous(json!({"name": "王芳"}), previous),
            timezone: Some("Asia/Shanghai".into()),
            next_at: None,
            follows: Some(FollowUp {
                call: earlier.clone(),
                handoff: None,
            }),
        };
        let campaigns = store.campaigns();
        let id = campaigns
            .create_campaign(NewCampaign {
                name: "re-call".into(),
                flow: "nps-survey".into(),
                plan: PlanSpec::default().to_json(),
                created_at: now(),
            })
            .await
            .unwrap();
        campaigns.add_contacts(id, &[contact]).await.unwrap();
        assert!(campaigns.start_campaign(id, now()).await.unwrap());
        let fake = FakeProvider::start().await;
        let dialer = worker(&db, &fake);
        let placed = dialer.try_execute(now()).await.unwrap();
        let Outcome::Placed {
            call_sid,
            contact_id,
        } = placed
        else {
            panic!("{backend}: {placed:?}");
        };
        let voice_url = fake.requests()[0].param("Url").unwrap().to_owned();

        // The provider answers the placed call.
        let follow_up = Phone::answer(&server, &voice_url, &call_sid, CUSTOMER).await;
        assert!(!follow_up.heard.is_empty(), "{backend}");

        let later = sid_for(&call_sid);
        let stored = store.load_call(&later).await.unwrap().unwrap();
        assert_eq!(
            stored.follows,
            Some(FollowUp {
                call: earlier.clone(),
                handoff: None
            }),
            "{backend}"
        );
        let vars = campaigns.contact_start(contact_id).await.unwrap();
        let vars = vars.map(|c| c.vars).unwrap_or_default();
        assert_eq!(
            (
                &vars["previous.csat"],
                &vars["previous.resolved"],
                &vars["previous.feature"],
                &vars["previous.date"]
            ),
            (
                &json!("2"),
                &json!("yes"),
                &json!("so_so"),
                &json!("2026-11-23")
            ),
            "{backend}: {vars}"
        );

        let (_, api_later) = server.admin_get(&format!("/api/calls/{later}")).await;
        let (_, api_earlier) = server.admin_get(&format!("/api/calls/{earlier}")).await;
        assert_eq!(
            api_later["follows"],
            json!({"call": earlier.as_str(), "handoff": null}),
            "{backend}"
        );
        assert_eq!(
            api_earlier["followed_by"][0]["call_sid"],
            json!(later.as_str()),
            "{backend}: {api_earlier}"
        );
        assert_eq!(api_earlier["follows"], json!(null), "{backend}");

        let page_later = signed_in_page(&server, &format!("/calls/{later}")).await;
        let page_earlier = signed_in_page(&server, &format!("/calls/{earlier}")).await;
        assert!(
            page_later.contains(&format!(
                "Follows up call <a href=\"/calls/{earlier}\">{earlier}</a>."
            )),
            "{backend}: {page_later}"
        );
        assert!(
            page_earlier.contains("data-chain=\"followed-by\"")
                && page_earlier.contains(&format!("href=\"/calls/{later}\"")),
            "{backend}: {page_earlier}"
        );

        let csv = reqwest::Client::new()
            .get(format!("http://{}/api/results/nps-survey.csv", server.addr))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let row: Vec<&str> = lines.next().unwrap().split(',').collect();
        let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
        assert_eq!(
            (
                row[column("call_sid")],
                row[column("follows_call_sid")],
                row[column("follows_handoff_id")]
            ),
            (later.as_str(), earlier.as_str(), ""),
            "{backend}: {csv}"
        );
        server.stop().await;
        db.cleanup().await;
    }
}
