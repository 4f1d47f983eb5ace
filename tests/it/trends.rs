//! `/api/trends/{flow}` and its CSV on the Trends fixture
//! (`common/trends.rs`, figures worked out by hand there), on SQLite and
//! PostgreSQL: the periods are grouped by the database and the intervals
//! are the hand-computed ones.

use chrono::{TimeZone, Utc};
use dialback::config::Clock;
use serde_json::Value;

use crate::common::db::each_backend;
use crate::common::phone::{ADMIN_TOKEN, Options, Server};
use crate::common::trends::{self as fixture, FROM, TO};

async fn get(server: &Server, path: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .get(format!("http://{}{path}", server.addr))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("the server answers");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// A share and its interval in percent, one decimal, as the page shows.
fn rate(v: &Value) -> (i64, i64, String, String, String) {
    let pct = |key: &str| format!("{:.1}", v[key].as_f64().unwrap_or(f64::NAN) * 100.0);
    (
        v["count"].as_i64().unwrap_or(-1),
        v["of"].as_i64().unwrap_or(-1),
        pct("value"),
        pct("low"),
        pct("high"),
    )
}

fn nps(v: &Value) -> (i64, String, String, String) {
    let pts = |key: &str| format!("{:.1}", v[key].as_f64().unwrap_or(f64::NAN));
    (
        v["answered"].as_i64().unwrap_or(-1),
        pts("score"),
        pts("low"),
        pts("high"),
    )
}

fn owned(t: (i64, i64, &str, &str, &str)) -> (i64, i64, String, String, String) {
    (t.0, t.1, t.2.into(), t.3.into(), t.4.into())
}

#[tokio::test]
async fn weekly_trends_show_the_hand_computed_rates_and_intervals_on_both_backends() {
    for (backend, db) in each_backend().await {
        fixture::load(db.store()).await;
        let server = Server::start_settings(Server::settings(Options {
            database_url: db.url().to_owned(),
            crm_webhook: None,
            auth_token: None,
            clock: Clock::Fixed(Utc.with_ymd_and_hms(2026, 4, 30, 12, 0, 0).unwrap()),
        }))
        .await;
        let query = format!("since={FROM}&until={TO}&by=week");
        let (status, body) = get(&server, &format!("/api/trends/wallet-followup?{query}")).await;
        let (_, nps_body) = get(&server, &format!("/api/trends/nps-survey?{query}")).await;
        let (_, daily) = get(
            &server,
            &format!("/api/trends/wallet-followup?since={FROM}&until={TO}"),
        )
        .await;
        let (csv_status, csv) =
            get(&server, &format!("/api/trends/wallet-followup.csv?{query}")).await;
        let (bad, why) = get(&server, "/api/trends/wallet-followup?by=month").await;
        let (missing, _) = get(&server, "/api/trends/no-such-flow").await;
        server.stop().await;
        db.cleanup().await;

        assert_eq!(status, 200, "{backend}: {body}");
        let t: Value = serde_json::from_str(&body).unwrap();
        let weeks: Vec<&str> = t["periods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["start"].as_str().unwrap())
            .collect();
        assert_eq!(weeks, ["2026-04-06", "2026-04-13"], "{backend}");
        let week = |i: usize, key: &str| rate(&t["periods"][i][key]);
        assert_eq!(
            (
                t["periods"][0]["calls"].clone(),
                t["periods"][1]["calls"].clone()
            ),
            (5.into(), 5.into()),
            "{backend}"
        );
        assert_eq!(
            week(0, "completion"),
            owned((3, 5, "60.0", "23.1", "88.2")),
            "{backend}"
        );
        assert_eq!(
            week(0, "csat"),
            owned((2, 3, "66.7", "20.8", "93.9")),
            "{backend}"
        );
        assert_eq!(
            week(0, "resolution"),
            owned((3, 5, "60.0", "23.1", "88.2")),
            "{backend}"
        );
        assert_eq!(
            week(1, "completion"),
            owned((4, 4, "100.0", "51.0", "100.0")),
            "{backend}"
        );
        assert_eq!(
            week(1, "csat"),
            owned((3, 4, "75.0", "30.1", "95.4")),
            "{backend}"
        );
        assert_eq!(
            week(1, "resolution"),
            owned((4, 4, "100.0", "51.0", "100.0")),
            "{backend}"
        );
        assert_eq!(
            rate(&t["total"]["completion"]),
            owned((7, 9, "77.8", "45.3", "93.7"))
        );
        assert_eq!(
            rate(&t["total"]["csat"]),
            owned((5, 7, "71.4", "35.9", "91.8"))
        );
        assert_eq!(
            t["periods"][0]["nps"],
            Value::Null,
            "wallet-followup has no NPS question"
        );

        let n: Value = serde_json::from_str(&nps_body).unwrap();
        assert_eq!(
            nps(&n["periods"][0]["nps"]),
            (5, "20.0".into(), "-38.7".into(), "63.7".into())
        );
        assert_eq!(
            nps(&n["periods"][1]["nps"]),
            (3, "100.0".into(), "-6.6".into(), "100.0".into())
        );
        assert_eq!(
            nps(&n["total"]["nps"]),
            (8, "50.0".into(), "-7.4".into(), "80.2".into())
        );

        // Two weeks are shown day by day unless asked otherwise.
        let d: Value = serde_json::from_str(&daily).unwrap();
        assert_eq!(d["by"], "day");
        assert_eq!(d["periods"].as_array().map(Vec::len), Some(14), "{backend}");
        assert_eq!(d["periods"][0]["start"], "2026-04-06");
        assert_eq!(rate(&d["periods"][0]["csat"]).0, 1, "T1 on the 6th");

        assert_eq!(csv_status, 200);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3, "{csv}");
        assert!(
            lines[1].starts_with("2026-04-06,5,5,3,0.600000,0.230724,0.882379,3,2,0.666667,"),
            "{backend}: {}",
            lines[1]
        );
        assert_eq!((bad, missing), (400, 404), "{why}");
        assert!(why.contains("use `day` or `week`"), "{why}");
    }
}
