//! Campaign storage on every backend: contacts imported from CSV, counted
//! by state, and the campaign's status moved by start / pause / resume /
//! cancel; campaigns created and their contacts listed through the admin
//! API and the CLI.

use chrono::{DateTime, TimeZone, Utc};
use dialback::dialer::contacts::{CsvOptions, read_contacts};
use dialback::store::campaigns::{CampaignStatus, ContactState, NewCampaign, NewContact};
use serde_json::json;

use crate::common::db::each_backend;
use crate::common::phone::{ADMIN_TOKEN, Server};

pub(crate) fn campaign() -> NewCampaign {
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
        use CampaignStatus::{Cancelled, Draft, Paused, Running};
        let moves = [
            (&[Draft][..], Running, true),
            (&[Running][..], Paused, true),
            (&[Paused][..], Running, true),
            (&[Draft, Running, Paused][..], Cancelled, true),
            (&[Paused][..], Running, false),
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
                .set_campaign_status(id + 1000, &[Draft], Running)
                .await
                .expect("updated"),
            "{backend}: unknown campaign"
        );
        db.cleanup().await;
    }
}

/// `n` distinct contacts as a CSV import gives them.
pub(crate) fn imported_contacts(n: u64) -> Vec<NewContact> {
    let mut csv = String::from("phone,name,timezone\n");
    for i in 0..n {
        csv.push_str(&format!("139{i:08},客户{i},Asia/Shanghai\n"));
    }
    let imported = read_contacts(csv.as_bytes(), &CsvOptions::default(), |_| {}).expect("read");
    imported
        .contacts
        .iter()
        .map(|c| c.to_new_contact(None))
        .collect()
}

/// How long the import takes is measured by
/// `store_throughput::a_hundred_thousand_contacts_import`, not asserted here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_contacts_import_whole() {
    let rows = imported_contacts(100_000);
    for (backend, db) in each_backend().await {
        let store = db.store().campaigns();
        let id = store.create_campaign(campaign()).await.expect("created");
        let written = store.add_contacts(id, &rows).await.expect("stored");
        assert_eq!(written, 100_000, "{backend}");
        let counts = store.contact_counts(id).await.expect("counted");
        assert_eq!(counts.get("pending"), Some(&100_000), "{backend}");
        db.cleanup().await;
    }
}

fn fixed_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0)
        .single()
        .expect("time")
}

async fn post_csv(server: &Server, query: &str, csv: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}/api/campaigns?{query}", server.addr))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "text/csv; charset=utf-8")
        .body(csv.to_owned())
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_creates_a_campaign_from_a_csv_body_and_reports_the_refused_rows() {
    for (backend, db) in each_backend().await {
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(fixed_now())).await;
        let csv = "phone,name,timezone\n\
                   13812348000,王芳,\n\
                   12,李雷,\n\
                   +1 212 555 0123,Ann,America/New_York\n\
                   13900000000,,\n\
                   13700000000,Zhang,Mars/Base\n";
        let query = "flow=wallet-followup&name=November&window=Mon-Fri%2009:00-18:00\
                     &max_attempts=4&start=2026-11-24&end=2026-11-30\
                     &backoff=busy%3D10m,no-answer%3D2h&ring_timeout=25s&machine=retry";

        let (status, body) = post_csv(&server, query, csv).await;

        assert_eq!(status, 201, "{backend}: {body}");
        assert_eq!(
            (&body["imported"], &body["status"]),
            (&json!(2), &json!("draft")),
            "{backend}: {body}"
        );
        let refused: Vec<i64> = body["refused"]
            .as_array()
            .expect("refused rows")
            .iter()
            .filter_map(|r| r["line"].as_i64())
            .collect();
        assert_eq!(refused, [3, 5, 6], "{backend}: {body}");
        assert!(
            body["refused"][2]["reason"]
                .as_str()
                .is_some_and(|r| r.contains("Mars/Base")),
            "{backend}: {body}"
        );
        let id = body["id"].as_i64().expect("id");
        let row = db
            .store()
            .campaigns()
            .campaign(id)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(
            (
                row.name.as_str(),
                &row.plan["window"],
                &row.plan["max_attempts"],
                &row.plan["backoff_busy_secs"],
                &row.plan["ring_timeout_secs"],
                &row.plan["machine_detection"],
                &row.plan["starts_at"],
            ),
            (
                "November",
                &json!("Mon-Fri 09:00-18:00"),
                &json!(4),
                &json!(600),
                &json!(25),
                &json!(true),
                &json!("2026-11-23T16:00:00Z"),
            ),
            "{backend}"
        );
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_request_with_a_wrong_setting_or_file_creates_nothing_and_says_why() {
    let db = crate::common::db::TestDb::sqlite().await;
    let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(fixed_now())).await;
    let good = "phone,name\n13812348000,王芳\n";
    for (query, csv, code, message) in [
        (
            "flow=wallet-followup&backoff=busy%3Dsoon",
            good,
            400,
            "backoff: `soon` is not a duration such as 30s, 10m, 2h or 1d",
        ),
        (
            "flow=wallet-followup&max_attemps=3",
            good,
            400,
            "the query string: unknown field `max_attemps`",
        ),
        (
            "flow=wallet-followup",
            "mobile,name\n13812348000,王芳\n",
            400,
            "the header has no `phone` column (the phone number)",
        ),
        (
            "flow=wallet-followup",
            "phone\n13812348000\n",
            400,
            "the header has no `name` column, which the flow needs as a variable",
        ),
        ("flow=no-such-flow", good, 404, "no such flow"),
    ] {
        let (status, body) = post_csv(&server, query, csv).await;

        assert_eq!(status, code, "{query}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.starts_with(message), "{query}: {error}");
    }
    let response = reqwest::Client::new()
        .post(format!(
            "http://{}/api/campaigns?flow=wallet-followup",
            server.addr
        ))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/xml")
        .body("<phone>13812348000</phone>")
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 415);
    // JSON is a cohort of earlier calls (`from_calls`), not contacts.
    let response = reqwest::Client::new()
        .post(format!("http://{}/api/campaigns", server.addr))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"phone": "13812348000"}))
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.expect("json");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("the JSON body: unknown field `phone`")),
        "{body}"
    );
    let unauthorized = reqwest::Client::new()
        .post(format!(
            "http://{}/api/campaigns?flow=wallet-followup",
            server.addr
        ))
        .header("content-type", "text/csv")
        .body(good)
        .send()
        .await
        .expect("answers");
    assert_eq!(unauthorized.status().as_u16(), 401);
    assert!(
        db.store()
            .campaigns()
            .campaign(1)
            .await
            .expect("read")
            .is_none(),
        "nothing was created"
    );
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_are_listed_page_by_page_with_their_last_result_and_masked_phones() {
    for (backend, db) in each_backend().await {
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(fixed_now())).await;
        let mut csv = String::from("phone,name\n");
        for i in 0..5 {
            csv.push_str(&format!("1381234800{i},客户{i}\n"));
        }
        let (_, body) = post_csv(&server, "flow=wallet-followup", &csv).await;
        let id = body["id"].as_i64().expect("id");
        let campaigns = db.store().campaigns();
        let first = campaigns
            .list_contacts(
                id,
                &dialback::store::campaigns::ContactPage::new(None, Some(1), None).expect("page"),
            )
            .await
            .expect("listed")[0]
            .id;
        campaigns
            .finish_contact(first, ContactState::Busy, "busy")
            .await
            .expect("finished");

        let (status, page1) = server
            .admin_get(&format!("/api/campaigns/{id}/contacts?limit=2"))
            .await;
        let after = page1["next_after"].as_i64().expect("more pages");
        let (_, page2) = server
            .admin_get(&format!(
                "/api/campaigns/{id}/contacts?limit=2&after={after}"
            ))
            .await;
        let (_, page3) = server
            .admin_get(&format!(
                "/api/campaigns/{id}/contacts?limit=2&after={}",
                page2["next_after"]
            ))
            .await;
        let (_, busy) = server
            .admin_get(&format!(
                "/api/campaigns/{id}/contacts?status=busy&unmasked=true"
            ))
            .await;
        let (bad, _) = server
            .admin_get(&format!("/api/campaigns/{id}/contacts?status=asleep"))
            .await;

        assert_eq!(status, 200, "{backend}: {page1}");
        let phones: Vec<&str> = [&page1, &page2, &page3]
            .iter()
            .flat_map(|p| p["contacts"].as_array().into_iter().flatten())
            .filter_map(|c| c["phone"].as_str())
            .collect();
        assert_eq!(
            phones,
            [
                "+86 138****8000",
                "+86 138****8001",
                "+86 138****8002",
                "+86 138****8003",
                "+86 138****8004"
            ],
            "{backend}"
        );
        assert_eq!(page3["next_after"], json!(null), "{backend}: {page3}");
        assert_eq!(
            busy["contacts"],
            json!([{
                "id": first, "phone": "+8613812348000", "status": "busy", "attempts": 0,
                "last_result": "busy", "last_call_at": null, "next_at": null,
            }]),
            "{backend}"
        );
        assert_eq!(bad, 400, "{backend}");
        let (_, status) = server.admin_get(&format!("/api/campaigns/{id}")).await;
        assert_eq!(
            (
                &status["contacts"]["pending"],
                &status["contacts"]["busy"],
                &status["contacts"]["no_answer"],
                &status["contacts"]["handed_off"],
                &status["total"]
            ),
            (&json!(4), &json!(1), &json!(0), &json!(0), &json!(5)),
            "{backend}: {status}"
        );
        server.stop().await;
        db.cleanup().await;
    }
}

fn dialback(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dialback"))
        .args(args)
        .output()
        .expect("the dialback binary runs")
}

#[test]
fn the_cli_creates_a_campaign_with_every_plan_flag_and_shows_its_counts_and_contacts() {
    let dir = tempfile::tempdir().expect("folder");
    let url = format!("sqlite:{}", dir.path().join("db.sqlite").display());
    let contacts = dir.path().join("contacts.csv");
    std::fs::write(
        &contacts,
        "phone,name\n13812348000,王芳\n13912340000,李雷\nbad,x\n",
    )
    .expect("written");
    let contacts = contacts.to_str().expect("utf-8");

    let created = dialback(&[
        "campaign",
        "create",
        "--database-url",
        &url,
        "--flow",
        "call-flows/wallet-followup.toml",
        "--contacts",
        contacts,
        "--start",
        "2026-11-24 09:00",
        "--end",
        "2026-11-30",
        "--backoff",
        "busy=10m,no-answer=2h,failed=1h,machine=4h",
        "--ring-timeout",
        "30s",
        "--machine",
        "retry",
    ]);
    let bad_flag = dialback(&[
        "campaign",
        "create",
        "--database-url",
        &url,
        "--flow",
        "call-flows/wallet-followup.toml",
        "--contacts",
        contacts,
        "--ring-timeout",
        "half a minute",
    ]);
    let status = dialback(&["campaign", "status", "1", "--database-url", &url]);
    let listed = dialback(&["campaign", "contacts", "1", "--database-url", &url]);
    let pending = dialback(&[
        "campaign",
        "contacts",
        "1",
        "--status",
        "busy",
        "--database-url",
        &url,
    ]);

    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&created.stdout),
        "campaign 1: 2 contacts imported, 0 duplicates merged, 1 rows refused\n"
    );
    assert_eq!(bad_flag.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&bad_flag.stderr),
        "error: ring timeout: `half a minute` is not a duration such as 30s, 10m, 2h or 1d\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        "campaign 1 (wallet-followup, flow wallet-followup): draft\n\
         \x20 pending      2\n\
         \x20 calling      0\n\
         \x20 completed    0\n\
         \x20 no answer    0\n\
         \x20 busy         0\n\
         \x20 failed       0\n\
         \x20 opted out    0\n\
         \x20 handed off   0\n\
         \x20 machine      0\n\
         \x20 error        0\n\
         \x20 expired      0\n\
         \x20 total        2\n"
    );
    let listed = String::from_utf8_lossy(&listed.stdout);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(
        lines[1].contains("+86 138****8000") && lines[1].contains("pending"),
        "{listed}"
    );
    assert!(!listed.contains("13812348000"), "masked: {listed}");
    assert_eq!(String::from_utf8_lossy(&pending.stdout).lines().count(), 1);
}

#[tokio::test]
async fn a_status_callback_finds_its_attempt_through_an_index_not_a_scan() {
    use sqlx::Connection;
    for (backend, db) in each_backend().await {
        let query = "SELECT contact_id FROM attempts WHERE call_sid = 'CA1'";
        let plan = if backend == "sqlite" {
            let mut c = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
            let rows: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {query}")))
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
            rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
        } else {
            let mut c = sqlx::PgConnection::connect(db.url()).await.unwrap();
            // An empty table is cheaper to scan: ask whether an index exists
            // at all by ruling the scan out.
            sqlx::query("SET enable_seqscan = off")
                .execute(&mut c)
                .await
                .unwrap();
            let rows: Vec<(String,)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN {query}")))
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
            rows.into_iter().map(|r| r.0).collect::<Vec<_>>().join("\n")
        };
        assert!(plan.contains("attempts_call"), "on {backend}: {plan}");
        db.cleanup().await;
    }
}
