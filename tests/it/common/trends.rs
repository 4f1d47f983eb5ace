//! The Trends fixture: two weeks of April 2026 (Mondays 04-06 and 04-13),
//! with every figure and interval worked out by hand. Shared by
//! `trends.rs` (API, CSV, both backends) and `dashboard_browser.rs`.
//!
//! wallet-followup:
//!
//! | week | call | answers | outcome |
//! |---|---|---|---|
//! | 04-06 | T1 | resolved yes, csat 5 | completed |
//! | 04-06 | T2 | resolved yes, csat 4 | completed |
//! | 04-06 | T3 | resolved no | ticket |
//! | 04-06 | T4 | resolved yes, csat 2 | completed |
//! | 04-06 | T5 | resolved no | abandoned |
//! | 04-13 | T6, T7 | resolved yes, csat 5 | completed |
//! | 04-13 | T8 | resolved yes, csat 4 | completed |
//! | 04-13 | T9 | resolved yes, csat 3 | completed |
//! | 04-13 | T10 | not reached (no answer) | – |
//!
//! Wilson 95 % intervals, z = 1.959964, z² = 3.841459:
//! centre = (p + z²/2n)/(1 + z²/n), half = z/(1 + z²/n)·√(p(1−p)/n + z²/4n²).
//!
//! - Week 04-06: completion 3/5 = 60.0 %: centre 0.556552, half 0.325827 →
//!   23.1–88.2 %. CSAT 2/3 = 66.7 %: centre 0.573084, half 0.365424 →
//!   20.8–93.9 %. Resolution 3/5 = 60.0 % (23.1–88.2 %).
//! - Week 04-13: 5 calls, 4 reached. Completion 4/4 = 100.0 %: centre
//!   0.755055, half 0.244945 → 51.0–100.0 %. CSAT 3/4 = 75.0 %: centre
//!   0.627527, half 0.326885 → 30.1–95.4 %. Resolution 4/4 (51.0–100.0 %).
//! - Both: completion 7/9 = 77.8 %: centre 0.694682, half 0.242093 →
//!   45.3–93.7 %. CSAT 5/7 = 71.4 %: centre 0.638358, half 0.279423 →
//!   35.9–91.8 %. Resolution 7/9 = 77.8 % (45.3–93.7 %).
//!
//! nps-survey, adjusted Wald (n' = n + 3, ¾ added to promoters and to
//! detractors, var = (p_P + p_D − (p_P − p_D)²)/n'):
//!
//! - Week 04-06: 10, 9, 8, 7, 6 → 2 promoters, 2 passives, 1 detractor,
//!   NPS +20; p_P = 2.75/8, p_D = 1.75/8, centre 0.125, var 0.068359, half
//!   0.512445 → −38.7 to +63.7.
//! - Week 04-13: 10, 10, 9 → NPS +100; p_P = 3.75/6, p_D = 0.75/6, centre
//!   0.5, var 0.083333, half 0.565793 → −6.6 to +100.0 (clamped).
//! - Both: 5, 2, 1 → NPS +50; p_P = 5.75/11, p_D = 1.75/11, centre
//!   0.363636, var 0.049962, half 0.438097 → −7.4 to +80.2.

use serde_json::{Value, json};

use super::dashboard::{NPS, WALLET, call, unanswered};
use super::fixtures::Db;

/// Seconds from the dashboard fixture's origin (2026-03-01 09:30 UTC) to
/// 09:30 UTC on April `day`.
fn april(day: i64) -> i64 {
    (31 + day - 1) * 86_400
}

/// The first and the last day (inclusive) the fixture covers.
pub const FROM: &str = "2026-04-06";
pub const TO: &str = "2026-04-19";

pub async fn load(db: &Db) {
    for flow in [WALLET, NPS] {
        db.save_flow_version(flow, &format!("sha256:{flow}"), "[flow]\n")
            .await
            .unwrap();
    }
    let yes = json!(true);
    let no = json!(false);
    let wallet: [(&str, i64, Value, Option<i64>, &str); 9] = [
        ("T1", 6, yes.clone(), Some(5), "completed"),
        ("T2", 7, yes.clone(), Some(4), "completed"),
        ("T3", 8, no.clone(), None, "ticket"),
        ("T4", 9, yes.clone(), Some(2), "completed"),
        ("T5", 10, no.clone(), None, "abandoned"),
        ("T6", 13, yes.clone(), Some(5), "completed"),
        ("T7", 14, yes.clone(), Some(5), "completed"),
        ("T8", 15, yes.clone(), Some(4), "completed"),
        ("T9", 19, yes.clone(), Some(3), "completed"),
    ];
    for (sid, day, resolved, csat, outcome) in wallet {
        let mut answers = vec![("consent", json!(true)), ("resolved", resolved)];
        if let Some(csat) = csat {
            answers.push(("csat", json!(csat)));
        }
        call(db, WALLET, sid, april(day), &answers, outcome).await;
    }
    unanswered(db, WALLET, "T10", april(16)).await;
    for (i, (day, nps)) in [
        (6, 10),
        (6, 9),
        (7, 8),
        (8, 7),
        (12, 6),
        (13, 10),
        (17, 10),
        (19, 9),
    ]
    .into_iter()
    .enumerate()
    {
        call(
            db,
            NPS,
            &format!("P{i}"),
            april(day),
            &[("nps", json!(nps))],
            "completed",
        )
        .await;
    }
}
