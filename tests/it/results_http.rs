//! `/api/results` over HTTP, on calls made through the real webhooks.

use chrono::{TimeZone, Utc};
use dialback::config::Clock;

use crate::common::db::TestDb;
use crate::common::phone::{ADMIN_TOKEN, Phone, Server};

const CALLER: &str = "+8613812348000";
const WALLET: &str = "+861000000001";

async fn get(server: &Server, path: &str, token: Option<&str>) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(format!("http://{}{path}", server.addr));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.expect("the server answers");
    let status = resp.status().as_u16();
    let kind = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, kind, resp.text().await.unwrap_or_default())
}

#[tokio::test]
async fn results_of_real_calls_come_as_a_report_and_a_masked_csv_to_the_admin_only() {
    let clock = Clock::Fixed(Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap());
    let db = TestDb::sqlite().await;
    let server = Server::start_at(db.url(), clock).await;
    for actions in [&["1", "1", "3", "2", "2"][..], &["2"][..]] {
        let mut p = Phone::call(&server, CALLER, WALLET).await;
        for a in actions {
            p.act(a).await;
        }
    }

    let (status, kind, csv) = get(
        &server,
        "/api/results/wallet-followup.csv",
        Some(ADMIN_TOKEN),
    )
    .await;
    let (denied, _, _) = get(&server, "/api/results/wallet-followup.csv", None).await;
    let (_, _, full) = get(
        &server,
        "/api/results/wallet-followup.csv?unmasked=true",
        Some(ADMIN_TOKEN),
    )
    .await;
    let (_, _, report) = get(
        &server,
        "/api/results/wallet-followup?since=2026-11-23&until=2026-11-23",
        Some(ADMIN_TOKEN),
    )
    .await;
    let (bad, _, _) = get(
        &server,
        "/api/results/wallet-followup?since=yesterday",
        Some(ADMIN_TOKEN),
    )
    .await;
    let (missing, _, _) = get(&server, "/api/results/no-such-flow.csv", Some(ADMIN_TOKEN)).await;
    let (opt_status, _, opt_outs) = get(&server, "/api/opt-outs.csv", Some(ADMIN_TOKEN)).await;
    let (opt_denied, _, _) = get(&server, "/api/opt-outs.csv", None).await;

    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    assert_eq!((denied, bad, missing), (401, 400, 404));
    assert_eq!(
        (opt_status, opt_denied, opt_outs.as_str()),
        (200, 401, "phone,call_sid,opted_out_at\r\n")
    );
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows[1..].iter().all(|r| r.contains(",+86 138****8000,")),
        "{csv}"
    );
    assert!(!csv.contains(CALLER), "{csv}");
    assert!(full.contains(CALLER), "{full}");
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(
        (report["calls"].as_i64(), report["completed"].as_i64()),
        (Some(2), Some(1)),
        "{report}"
    );
    let csat = report["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == "csat")
        .unwrap();
    assert_eq!(csat["distribution"][2]["count"].as_i64(), Some(1), "{csat}");
    assert_eq!(csat["score"]["mean"].as_f64(), Some(3.0), "{csat}");
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn every_admin_route_is_described_in_the_served_openapi_document() {
    let clock = Clock::Fixed(Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap());
    let db = TestDb::sqlite().await;
    let server = Server::start_at(db.url(), clock).await;
    let router = include_str!("../../src/http/mod.rs");
    let routes: Vec<&str> = router
        .split(".route(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|path| path.starts_with("/api/"))
        .collect();

    let (status, kind, body) = get(&server, "/api/openapi.json", None).await;

    assert_eq!((status, kind.as_str()), (200, "application/json"));
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(routes.len() >= 6, "{routes:?}");
    for route in routes {
        assert!(
            doc["paths"].get(route).is_some(),
            "{route} is not in openapi.json"
        );
    }
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn every_admin_route_but_the_api_description_refuses_a_request_without_the_token() {
    let clock = Clock::Fixed(Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap());
    let db = TestDb::sqlite().await;
    let server = Server::start_at(db.url(), clock).await;
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../src/http/openapi.json")).unwrap();
    let client = reqwest::Client::new();
    let mut checked = 0;

    for (path, methods) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/") || path == "/api/openapi.json" {
            continue;
        }
        let concrete = path
            .replace("{id}", "1")
            .replace("{call_sid}", "CA00000000000000000000000000000000")
            .replace("{file}", "wallet-followup.csv")
            .replace("{action}", "start");
        for method in methods.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let status = client
                .request(method.clone(), format!("http://{}{concrete}", server.addr))
                .bearer_auth("wrong")
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 401, "{method} {path}");
            checked += 1;
        }
    }

    assert!(checked >= 10, "{checked}");
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn metrics_scrape_as_prometheus_text_with_webhook_latency_and_outcomes() {
    let clock = Clock::Fixed(Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap());
    let db = TestDb::sqlite().await;
    let server = Server::start_at(db.url(), clock).await;
    let mut p = Phone::call(&server, CALLER, WALLET).await;
    p.act("2").await;

    let (status, kind, text) = get(&server, "/metrics", None).await;

    assert_eq!(status, 200);
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    // Every sample line is `name{labels} value` with a numeric value.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap_or("");
        assert!(
            name.starts_with("dialback_")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
    }
    assert!(
        text.contains(
            "dialback_webhook_duration_seconds_bucket{route=\"/twilio/voice\",le=\"0.005\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("dialback_webhook_duration_seconds_count{route=\"/twilio/gather\"}"),
        "{text}"
    );
    assert!(
        text.contains("dialback_calls_ended_total{outcome=\"refused\"}"),
        "{text}"
    );
    // Metrics are process-wide and this binary's media-stream tests may
    // hold streams open right now: the gauge's presence is what holds here.
    assert!(
        text.contains("# TYPE dialback_active_media_streams gauge"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE dialback_store_errors_total counter"),
        "{text}"
    );
    server.stop().await;
    db.cleanup().await;
}
