//! Every path of every example flow, over HTTP as the provider drives it,
//! on SQLite and PostgreSQL; the stored answers are read back through the
//! admin API and must be exactly what the caller gave.

use crate::common::db::each_backend;
use crate::common::phone::{Phone, Server};
use chrono::{TimeZone, Utc};
use dialback::config::Clock;
use serde_json::{Value, json};

const CALLER: &str = "+8613812348000";
const WALLET: &str = "+861000000001";
const NPS: &str = "+861000000002";
const FEATURE: &str = "+861000000003";

struct Path {
    name: &'static str,
    line: &'static str,
    actions: &'static [&'static str],
    outcome: &'static str,
    answers: fn() -> Value,
}

fn paths() -> Vec<Path> {
    vec![
        Path {
            name: "wallet: happy path with a recorded suggestion",
            line: WALLET,
            actions: &["1", "1", "5", "1", "1", "record:9"],
            outcome: "completed",
            answers: || json!({"consent": true, "resolved": true, "csat": 5, "feature": "useful", "has_suggestion": true, "suggestion": "<recording>"}),
        },
        Path {
            name: "wallet: no suggestion",
            line: WALLET,
            actions: &["1", "1", "3", "2", "2"],
            outcome: "completed",
            answers: || json!({"consent": true, "resolved": true, "csat": 3, "feature": "so_so", "has_suggestion": false}),
        },
        Path {
            name: "wallet: no time now",
            line: WALLET,
            actions: &["2"],
            outcome: "refused",
            answers: || json!({"consent": false}),
        },
        Path {
            name: "wallet: unresolved, agent takes the call",
            line: WALLET,
            actions: &["1", "2", "queue:bridged"],
            outcome: "handoff",
            answers: || json!({"consent": true, "resolved": false}),
        },
        Path {
            name: "wallet: unresolved, queue full",
            line: WALLET,
            actions: &["1", "2", "queue:queue-full"],
            outcome: "ticket",
            answers: || json!({"consent": true, "resolved": false}),
        },
        Path {
            name: "wallet: caller gives up in the queue",
            line: WALLET,
            actions: &["1", "2", "queue:hangup"],
            outcome: "abandoned",
            answers: || json!({"consent": true, "resolved": false}),
        },
        Path {
            name: "wallet: agent key",
            line: WALLET,
            actions: &["1", "0", "queue:bridged"],
            outcome: "handoff",
            answers: || json!({"consent": true}),
        },
        Path {
            name: "wallet: spoken request for a person",
            line: WALLET,
            actions: &["1", "say:帮我转人工@0.9", "queue:bridged"],
            outcome: "handoff",
            answers: || json!({"consent": true}),
        },
        Path {
            name: "wallet: opt-out confirmed",
            line: WALLET,
            actions: &["1", "9", "9"],
            outcome: "opted_out",
            answers: || json!({"consent": true}),
        },
        Path {
            name: "wallet: opt-out not confirmed",
            line: WALLET,
            actions: &["9", "1", "1", "1", "4", "3", "2"],
            outcome: "completed",
            answers: || json!({"consent": true, "resolved": true, "csat": 4, "feature": "not_used", "has_suggestion": false}),
        },
        Path {
            name: "wallet: spoken opt-out",
            line: WALLET,
            actions: &["say:以后不要再给我打电话了@0.9", "say:确认@0.9"],
            outcome: "opted_out",
            answers: || json!({}),
        },
        Path {
            name: "wallet: silence skips a question",
            line: WALLET,
            actions: &["1", "silence", "silence", "silence", "2", "3", "2"],
            outcome: "completed",
            answers: || json!({"consent": true, "csat": 2, "feature": "not_used", "has_suggestion": false}),
        },
        Path {
            name: "wallet: repeat and wrong keys",
            line: WALLET,
            actions: &["1", "*", "7", "1", "6", "5", "1", "2"],
            outcome: "completed",
            answers: || json!({"consent": true, "resolved": true, "csat": 5, "feature": "useful", "has_suggestion": false}),
        },
        Path {
            name: "wallet: silent recording then a real one",
            line: WALLET,
            actions: &["1", "1", "5", "1", "1", "silence", "record:4"],
            outcome: "completed",
            answers: || json!({"consent": true, "resolved": true, "csat": 5, "feature": "useful", "has_suggestion": true, "suggestion": "<recording>"}),
        },
        Path {
            name: "wallet: hang-up mid-survey",
            line: WALLET,
            actions: &["1", "1", "hangup"],
            outcome: "abandoned",
            answers: || json!({"consent": true, "resolved": true}),
        },
        Path {
            name: "wallet: all spoken",
            line: WALLET,
            actions: &[
                "say:可以@0.9",
                "say:已经解决了@0.9",
                "say:五分@0.9",
                "say:挺方便的@0.9",
                "say:没有@0.9",
            ],
            outcome: "completed",
            answers: || json!({"consent": true, "resolved": true, "csat": 5, "feature": "useful", "has_suggestion": false}),
        },
        Path {
            name: "nps: promoter",
            line: NPS,
            actions: &["10#"],
            outcome: "completed",
            answers: || json!({"nps": 10}),
        },
        Path {
            name: "nps: passive",
            line: NPS,
            actions: &["7"],
            outcome: "completed",
            answers: || json!({"nps": 7}),
        },
        Path {
            name: "nps: detractor explains",
            line: NPS,
            actions: &["2#", "say:too many fees@0.9"],
            outcome: "completed",
            answers: || json!({"nps": 2, "reason": "too many fees"}),
        },
        Path {
            name: "nps: detractor says nothing",
            line: NPS,
            actions: &["0#", "silence", "silence"],
            outcome: "completed",
            answers: || json!({"nps": 0}),
        },
        Path {
            name: "nps: never a valid score",
            line: NPS,
            actions: &["99#", "silence", "11#"],
            outcome: "no_response",
            answers: || json!({}),
        },
        Path {
            name: "nps: spoken score",
            line: NPS,
            actions: &["say:eight out of ten@0.9"],
            outcome: "completed",
            answers: || json!({"nps": 8}),
        },
        Path {
            name: "feature: easy",
            line: FEATURE,
            actions: &["1", "4"],
            outcome: "completed",
            answers: || json!({"tried": true, "ease": 4}),
        },
        Path {
            name: "feature: hard, says why",
            line: FEATURE,
            actions: &["1", "1", "say:找不到入口@0.9"],
            outcome: "completed",
            answers: || json!({"tried": true, "ease": 1, "what_was_hard": "找不到入口"}),
        },
        Path {
            name: "feature: never tried",
            line: FEATURE,
            actions: &["2"],
            outcome: "completed",
            answers: || json!({"tried": false}),
        },
        Path {
            name: "feature: opt-out",
            line: FEATURE,
            actions: &["9", "9"],
            outcome: "opted_out",
            answers: || json!({}),
        },
    ]
}

#[tokio::test]
async fn every_example_flow_path_runs_end_to_end_and_stores_exactly_its_answers() {
    let clock = Clock::Fixed(Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap());
    for (backend, db) in each_backend().await {
        let server = Server::start_at(db.url(), clock).await;
        for path in paths() {
            let mut p = Phone::call(&server, CALLER, path.line).await;
            for a in path.actions {
                assert!(
                    !p.ended,
                    "{backend}/{}: the call ended before `{a}`",
                    path.name
                );
                p.act(a).await;
            }
            assert!(
                p.ended,
                "{backend}/{}: the call did not end; last TwiML {:?}",
                path.name, p.verbs
            );
            let r = p.result().await;
            assert_eq!(r["outcome"], path.outcome, "{backend}/{}", path.name);
            let mut answers = r["answers"].clone();
            if let Some(rec) = answers.get_mut("suggestion") {
                assert!(
                    rec["url"].as_str().unwrap().contains(&p.sid[2..]),
                    "{backend}/{}",
                    path.name
                );
                *rec = json!("<recording>");
            }
            assert_eq!(answers, (path.answers)(), "{backend}/{}", path.name);
        }
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_store_failure_mid_call_gets_a_spoken_apology_and_a_clean_end() {
    let clock = Clock::Fixed(Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap());
    for (backend, db) in each_backend().await {
        let server = Server::start_at(db.url(), clock).await;
        let mut p = Phone::call(&server, CALLER, WALLET).await;
        p.press("1").await;
        // From now on, storing an answer fails (as a full disk or a lost
        // database would make it fail).
        break_answer_inserts(backend, db.url()).await;
        p.press("1").await;
        assert!(p.ended, "{backend}: {:?}", p.verbs);
        assert!(
            p.heard.last().unwrap().contains("系统暂时出现问题"),
            "{backend}: {:?}",
            p.heard
        );
        server.stop().await;
        db.cleanup().await;
    }
}

async fn break_answer_inserts(backend: &str, url: &str) {
    use sqlx::Connection;
    if backend == "sqlite" {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query("CREATE TRIGGER fail_answers BEFORE INSERT ON answers BEGIN SELECT RAISE(ABORT, 'simulated failure'); END")
            .execute(&mut c)
            .await
            .unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(
            "CREATE FUNCTION fail_answers() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'simulated failure'; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER fail_answers BEFORE INSERT ON answers FOR EACH ROW EXECUTE FUNCTION fail_answers();",
        )
        .execute(&mut c)
        .await
        .unwrap();
    }
}
