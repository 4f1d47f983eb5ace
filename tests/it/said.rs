//! "What callers said" on the fixture of `common/said.rs`, on SQLite and
//! PostgreSQL: the store's paged read of answered calls, the admin API's
//! JSON and CSV, the answer-condition filter and its diagnostic, and the
//! dashboard's click-through to the calls behind a topic.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::sid::sid_for;
use dialback::config::Clock;
use dialback::store::reports::AnsweredCall;
use serde_json::{Value, json};

use crate::common::db::{TestDb, each_backend};
use crate::common::phone::{ADMIN_TOKEN, AUTH_TOKEN, Options, Server};
use crate::common::said::{self as fixture, FLOW, PREVIOUS};

async fn start(db: &TestDb, flows: &std::path::Path) -> Server {
    let mut settings = Server::settings(Options {
        database_url: db.url().to_owned(),
        crm_webhook: None,
        auth_token: Some(AUTH_TOKEN.into()),
        clock: Clock::Fixed(fixture::now()),
    });
    settings.flows_dir = flows.to_owned();
    Server::start_settings(settings).await
}

struct Got {
    status: u16,
    cache: String,
    kind: String,
    body: String,
}

async fn get(server: &Server, path_and_query: &str, token: Option<&str>) -> Got {
    let mut request = reqwest::Client::new().get(format!("http://{}{path_and_query}", server.addr));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    Got {
        status: response.status().as_u16(),
        cache: header("cache-control"),
        kind: header("content-type"),
        body: response.text().await.unwrap(),
    }
}

fn topic_counts(report: &Value) -> BTreeMap<String, i64> {
    report["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["callers"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn topic<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["topics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no topic {name} in {report}"))
}

#[tokio::test]
async fn answered_calls_are_read_in_pages_with_their_customer_and_answers_in_order() {
    for (backend, db) in each_backend().await {
        let store = db.store().clone();
        fixture::load(&store).await;
        let filter = dialback::store::ReportFilter::flow(FLOW);

        let mut calls: Vec<AnsweredCall> = Vec::new();
        let mut pages = 0;
        loop {
            let after = calls.last().map(AnsweredCall::cursor);
            let page = store
                .reports()
                .answered_page(&filter, after.as_ref(), 50)
                .await
                .unwrap();
            pages += 1;
            let full = page.len() == 50;
            calls.extend(page);
            if !full {
                break;
            }
        }

        let lines = fixture::lines();
        assert_eq!(calls.len(), lines.len() + PREVIOUS, "{backend}");
        assert_eq!(pages, (lines.len() + PREVIOUS) / 50 + 1, "{backend}");
        let sids: BTreeSet<&str> = calls.iter().map(|c| c.call_sid.as_str()).collect();
        assert_eq!(sids.len(), calls.len(), "{backend}: each call once");
        // Oldest first: the previous period's calls, then this period's.
        assert_eq!(calls[0].call_sid, sid_for("PS000"), "{backend}");
        let first = calls
            .iter()
            .find(|c| c.call_sid.as_str() == fixture::sid(0))
            .unwrap();
        assert_eq!(first.customer, "+8613800000001", "{backend}");
        let questions: Vec<&str> = first.answers.iter().map(|(q, _)| q.as_str()).collect();
        assert_eq!(
            questions,
            [
                "consent",
                "resolved",
                "csat",
                "has_suggestion",
                "suggestion"
            ],
            "{backend}"
        );
        assert_eq!(first.answers[4].1, json!(lines[0].text), "{backend}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_api_counts_the_fixture_topics_against_the_previous_period() {
    let flows = fixture::flows_dir();
    for (backend, db) in each_backend().await {
        fixture::load(db.store()).await;
        let server = start(&db, flows.path()).await;

        let got = get(&server, &format!("/api/said/{FLOW}"), Some(ADMIN_TOKEN)).await;

        assert_eq!(got.status, 200, "{backend}: {}", got.body);
        assert_eq!(got.cache, "no-store", "{backend}");
        let report: Value = serde_json::from_str(&got.body).unwrap();
        assert_eq!(report["callers"], 208, "{backend}");
        assert_eq!(report["previous_callers"], PREVIOUS, "{backend}");
        assert_eq!(report["questions"], json!(["suggestion"]), "{backend}");
        assert_eq!(
            topic_counts(&report),
            BTreeMap::from(
                [
                    ("转账失败", 35),
                    ("手续费", 25),
                    ("客服等待", 21),
                    ("退款", 16),
                    ("充值", 13),
                    ("闪退卡顿", 17),
                    ("表扬", 18),
                ]
                .map(|(n, c)| (n.to_owned(), c))
            ),
            "{backend}"
        );
        let failed = topic(&report, "转账失败");
        assert_eq!(report["topics"][0]["name"], "转账失败", "{backend}");
        assert_eq!(failed["previous"], 25, "{backend}");
        assert!(
            (failed["change"].as_f64().unwrap() - 0.4).abs() < 1e-9,
            "{backend}"
        );
        assert_eq!(topic(&report, "手续费")["change"], Value::Null, "{backend}");
        // Click-through: every call whose answer a reader files under the topic.
        let labelled: BTreeSet<String> = fixture::lines()
            .iter()
            .enumerate()
            .filter(|(_, l)| l.topics.contains("转账失败"))
            .map(|(i, _)| fixture::sid(i))
            .collect();
        let calls: BTreeSet<String> = failed["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(calls, labelled, "{backend}");
        // (Masking of quotes is proven where quotes are made:
        // insight::tests::quotes_are_masked_and_come_from_distinct_callers.
        // No fixture text holds a number, so a check here could not fail.)
        let unnamed = &report["unnamed"][0];
        assert_eq!(
            (unnamed["phrase"].as_str(), unnamed["callers"].as_i64()),
            (Some("指纹支付"), Some(12)),
            "{backend}"
        );
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_answer_condition_keeps_only_the_callers_whose_answers_meet_it() {
    let flows = fixture::flows_dir();
    let db = TestDb::sqlite().await;
    fixture::load(db.store()).await;
    let server = start(&db, flows.path()).await;
    let unhappy: BTreeSet<String> = fixture::lines()
        .iter()
        .filter(|l| fixture::csat(l) <= 2)
        .map(|l| l.caller.clone())
        .collect();

    let got = get(
        &server,
        &format!("/api/said/{FLOW}?when=csat%20%3C%3D%202"),
        Some(ADMIN_TOKEN),
    )
    .await;
    let resolved_no = get(
        &server,
        &format!("/api/said/{FLOW}?when=resolved%20%3D%3D%20no"),
        Some(ADMIN_TOKEN),
    )
    .await;

    assert_eq!(got.status, 200, "{}", got.body);
    let report: Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(report["condition"], "csat <= 2");
    assert_eq!(report["callers"], unhappy.len());
    assert_eq!(unhappy.len(), 35);
    let failed = topic(&report, "转账失败");
    assert_eq!(
        (failed["callers"].as_i64(), failed["share"].as_f64()),
        (Some(35), Some(1.0))
    );
    // Of the unhappy callers, those a reader also files under fees.
    let fees = fixture::lines()
        .iter()
        .filter(|l| fixture::csat(l) <= 2 && l.topics.contains("手续费"))
        .map(|l| l.caller.clone())
        .collect::<BTreeSet<_>>()
        .len();
    assert_eq!(topic(&report, "手续费")["callers"], fees);
    // The previous period's callers all rated 1: all still there.
    assert_eq!(report["previous_callers"], PREVIOUS);
    // Everyone in the fixture said the issue was resolved.
    let none: Value = serde_json::from_str(&resolved_no.body).unwrap();
    assert_eq!(
        (resolved_no.status, none["callers"].as_i64()),
        (200, Some(0))
    );
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_bad_condition_is_refused_with_the_flow_languages_diagnostic() {
    let flows = fixture::flows_dir();
    let db = TestDb::sqlite().await;
    let server = start(&db, flows.path()).await;

    let single = get(
        &server,
        &format!("/api/said/{FLOW}?when=csat%20%3D%202"),
        Some(ADMIN_TOKEN),
    )
    .await;
    let unknown = get(
        &server,
        &format!("/api/said/{FLOW}?when=mood%20%3C%202"),
        Some(ADMIN_TOKEN),
    )
    .await;
    let page = get(
        &server,
        "/said?flow=wallet-followup&when=csat%20%3D%202",
        None,
    )
    .await;

    assert_eq!(single.status, 400);
    let error: Value = serde_json::from_str(&single.body).unwrap();
    assert_eq!(
        error["error"],
        "the condition cannot be read: a single `=` is not a comparison\n  csat = 2\n       ^\n  hint: compare with `==`"
    );
    assert_eq!(unknown.status, 400);
    let unknown: Value = serde_json::from_str(&unknown.body).unwrap();
    assert!(
        unknown["error"].as_str().unwrap().contains("mood"),
        "{unknown}"
    );
    // The page is for signed-in people only.
    assert_eq!(page.status, 200, "the sign-in form, after the redirect");
    assert!(page.body.contains("id=\"token\""), "{}", page.body);
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn the_csv_has_a_line_per_topic_and_per_unnamed_phrase() {
    let flows = fixture::flows_dir();
    let db = TestDb::sqlite().await;
    fixture::load(db.store()).await;
    let server = start(&db, flows.path()).await;

    let got = get(&server, &format!("/api/said/{FLOW}.csv"), Some(ADMIN_TOKEN)).await;
    let refused = get(&server, &format!("/api/said/{FLOW}.csv"), Some("wrong")).await;

    assert_eq!(
        (got.status, got.kind.as_str()),
        (200, "text/csv; charset=utf-8")
    );
    let mut reader = csv::Reader::from_reader(got.body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "kind",
            "name",
            "callers",
            "share",
            "previous_callers",
            "change",
            "calls",
            "quotes"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let topics: Vec<&csv::StringRecord> = rows.iter().filter(|r| &r[0] == "topic").collect();
    assert_eq!(topics.len(), 7);
    assert_eq!(
        (&topics[0][1], &topics[0][2], &topics[0][4], &topics[0][5]),
        ("转账失败", "35", "25", "0.4000")
    );
    let unnamed: Vec<&csv::StringRecord> = rows.iter().filter(|r| &r[0] == "unnamed").collect();
    assert_eq!((&unnamed[0][1], &unnamed[0][2]), ("指纹支付", "12"));
    assert_eq!(refused.status, 401);
    server.stop().await;
    db.cleanup().await;
}

/// Signs in through the form, as a browser does; the session cookie.
async fn sign_in(server: &Server, http: &reqwest::Client) -> String {
    let base = format!("http://{}", server.addr);
    let response = http
        .post(format!("{base}/login"))
        .header("origin", &base)
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_signed_in_page_shows_the_counts_and_lists_the_calls_behind_a_topic() {
    let flows = fixture::flows_dir();
    for (backend, db) in each_backend().await {
        fixture::load(db.store()).await;
        let server = start(&db, flows.path()).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let base = format!("http://{}", server.addr);
        let anonymous = http.get(format!("{base}/said")).send().await.unwrap();
        let cookie = sign_in(&server, &http).await;
        let fetch = |path: String| {
            let request = http.get(format!("{base}{path}")).header("cookie", &cookie);
            async move {
                let response = request.send().await.unwrap();
                let cache = response.headers()["cache-control"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                (
                    response.status().as_u16(),
                    cache,
                    response.text().await.unwrap(),
                )
            }
        };

        let (status, cache, page) = fetch("/said".to_owned()).await;
        let (calls_status, _, calls) =
            fetch(format!("/said/calls?flow={FLOW}&topic=%E9%80%80%E6%AC%BE")).await;
        let (bad_status, _, bad) = fetch("/said?when=csat%20%3D%3D".to_owned()).await;

        assert_eq!(anonymous.status(), 303, "{backend}");
        assert_eq!((status, cache.as_str()), (200, "no-store"), "{backend}");
        // The first flow with topics, by name, is shown when none is chosen.
        assert!(page.contains("data-flow=\"nps-survey\""), "{backend}");
        let (_, _, wallet) = fetch(format!("/said?flow={FLOW}")).await;
        assert!(
            wallet.contains("data-topic=\"转账失败\" data-callers=\"35\""),
            "{backend}: {wallet}"
        );
        assert!(
            wallet.contains("data-phrase=\"指纹支付\" data-callers=\"12\""),
            "{backend}"
        );
        // 退款: the calls of every answer a reader files under refunds.
        let refunds = fixture::lines()
            .iter()
            .filter(|l| l.topics.contains("退款"))
            .count();
        assert_eq!(calls_status, 200, "{backend}");
        assert_eq!(
            calls.matches("<tr data-call=").count(),
            refunds,
            "{backend}"
        );
        assert!(calls.contains("+86 138****"), "{backend}: numbers masked");
        assert_eq!(bad_status, 400, "{backend}");
        assert!(bad.contains("id=\"filter-error\""), "{backend}: {bad}");
        server.stop().await;
        db.cleanup().await;
    }
}
