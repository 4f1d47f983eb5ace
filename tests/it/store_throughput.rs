//! How many webhooks a second the store takes, and at what latency.
//!
//! The webhook path is one `load_call` + one `advance_call` with one answer,
//! a 1 kB state and a 400 B TwiML. Each test measures, for several pool
//! sizes, the throughput of 200 concurrent tasks, then the latency at
//! steady offered rates; with the CPU each webhook cost here and in
//! PostgreSQL and the busiest thread's share (the bound on a serial path
//! such as SQLite's writer), since wall-clock rates on a shared machine move
//! with whatever else it runs.
//!
//! The last test times a 100,000-contact campaign import on each backend
//! (`campaigns.rs` checks that such an import is whole).
//!
//! Ignored: run by hand, one at a time, with
//! `cargo test --release --test it store_throughput:: -- --ignored --nocapture --test-threads=1`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dialback::store::{self, Advanced};
use serde_json::json;

use crate::common::db::TestDb;
use crate::common::fixtures::*;

const TASKS: usize = 200;
const RUN_FOR: Duration = Duration::from_secs(5);

async fn measure(label: &str, store: Db) {
    store.save_flow_version(FLOW, FLOW_HASH, "").await.unwrap();
    // A machine state and a TwiML answer of realistic size.
    let state = format!(r#"{{"step":"csat","pad":"{}"}}"#, "x".repeat(1000));
    let response = format!("<Response><Say>{}</Say></Response>", "y".repeat(400));
    for i in 0..TASKS {
        assert!(
            store
                .create_call(new_call(&format!("CA-bench-{i}")))
                .await
                .unwrap()
        );
    }

    let cpu_before = cpu_micros();
    let threads_before = thread_micros();
    let start = Instant::now();
    let deadline = start + RUN_FOR;
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let store = Arc::clone(&store);
            let (state, response) = (state.clone(), response.clone());
            tokio::spawn(async move {
                let sid = format!("CA-bench-{i}");
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    let call = store.load_call(&sid_for(&sid)).await.unwrap().unwrap();
                    let mut a = advance(&sid, call.seq, call.seq + 1);
                    a.state = state.clone();
                    a.response = response.clone();
                    a.answers = vec![answer("csat", json!(4))];
                    let result = store.advance_call(a).await.unwrap();
                    assert_eq!(result, Advanced::Applied);
                    latencies.push(t0.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = start.elapsed();
    let cpu_after = cpu_micros();
    let threads_after = thread_micros();
    let busiest = threads_after
        .iter()
        .map(|(tid, (name, t))| {
            let before = threads_before.get(tid).map(|(_, b)| *b).unwrap_or(0);
            (t - before, name.clone())
        })
        .max()
        .unwrap_or_default();
    let n = latencies.len() as f64;
    let (cpu_mine, cpu_server) = (
        (cpu_after.0 - cpu_before.0) as f64 / n,
        (cpu_after.1 - cpu_before.1) as f64 / n,
    );
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "{label}: {:.0} webhooks/s (load + advance), {} in {:.1} s; \
         CPU each: {:.0} µs here + {:.0} µs in PostgreSQL, \
         busiest thread {:.0} µs ({}); \
         latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        latencies.len(),
        elapsed.as_secs_f64(),
        cpu_mine,
        cpu_server,
        busiest.0 as f64 / n,
        busiest.1,
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3,
    );
}

/// Latency at a steady offered rate (open loop: webhooks are sent on
/// schedule whether or not earlier ones have finished, and each is timed
/// from when it was due), across 2,000 calls.
async fn paced(label: &str, store: Db, rate: u32) {
    const CALLS: u32 = 2000;
    const RUN: Duration = Duration::from_secs(3);
    for i in 0..CALLS {
        let mut call = new_call(&format!("CA-paced-{rate}-{i}"));
        call.flow_hash = FLOW_HASH.to_owned();
        assert!(store.create_call(call).await.unwrap());
    }
    let state = format!(r#"{{"step":"csat","pad":"{}"}}"#, "x".repeat(1000));
    let response = format!("<Response><Say>{}</Say></Response>", "y".repeat(400));
    let per_ms = rate / 1000;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let start = Instant::now();
    let mut tasks = Vec::new();
    let mut n = 0u32;
    while start.elapsed() < RUN {
        let due = tick.tick().await.into_std();
        for _ in 0..per_ms {
            let sid = format!("CA-paced-{rate}-{}", n % CALLS);
            n += 1;
            let store = Arc::clone(&store);
            let (state, response) = (state.clone(), response.clone());
            tasks.push(tokio::spawn(async move {
                let call = store.load_call(&sid_for(&sid)).await.unwrap().unwrap();
                let mut a = advance(&sid, call.seq, call.seq + 1);
                a.state = state;
                a.response = response;
                a.answers = vec![answer("csat", json!(4))];
                let applied = store.advance_call(a).await.unwrap() == Advanced::Applied;
                (due.elapsed(), applied)
            }));
        }
    }
    let mut latencies = Vec::new();
    let mut stale = 0;
    for task in tasks {
        let (latency, applied) = task.await.unwrap();
        latencies.push(latency);
        stale += usize::from(!applied);
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1e3
    };
    println!(
        "{label}, paced at {rate}/s: {} webhooks ({stale} stale); latency p50 {:.2} ms, \
         p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0),
    );
}

/// CPU time used so far by this process and by every PostgreSQL server
/// process, in µs: unlike wall-clock rates, it holds up when other work
/// shares the machine. Linux only (reads /proc); 0 elsewhere.
fn cpu_micros() -> (i64, i64) {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return (0, 0);
    };
    let me = std::process::id().to_string();
    let (mut mine, mut server) = (0, 0);
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid … utime stime: fields 14 and 15.
        let Some((comm, rest)) = stat.split_once(") ") else {
            continue;
        };
        if name != me && !comm.ends_with("(postgres") {
            continue;
        }
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks = fields[11].parse::<i64>().unwrap_or(0) + fields[12].parse::<i64>().unwrap_or(0);
        if name == me {
            mine += ticks;
        } else {
            server += ticks;
        }
    }
    // USER_HZ is 100 on Linux.
    (mine * 10_000, server * 10_000)
}

/// CPU time used so far by each thread of this process, in µs, with its
/// name: the busiest thread's time per webhook bounds the throughput of
/// a serial path (SQLite's writer) whatever else runs on the machine.
fn thread_micros() -> std::collections::HashMap<String, (String, i64)> {
    let mut threads = std::collections::HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return threads;
    };
    for entry in dir.flatten() {
        let tid = entry.file_name().to_string_lossy().into_owned();
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.split_once(") ") else {
            continue;
        };
        let name = head
            .split_once(" (")
            .map(|(_, n)| n)
            .unwrap_or("")
            .to_owned();
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks = fields[11].parse::<i64>().unwrap_or(0) + fields[12].parse::<i64>().unwrap_or(0);
        threads.insert(tid, (name, ticks * 10_000));
    }
    threads
}

#[ignore]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advance_throughput_with_200_tasks_on_sqlite() {
    for readers in [0, 2, 4] {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite:{}?readers={readers}",
            dir.path().join("bench.db").display()
        );
        let store = store::connect(&url).await.unwrap();
        measure(&format!("sqlite, readers={readers}"), Arc::clone(&store)).await;
        for rate in [2_000, 5_000] {
            paced(
                &format!("sqlite, readers={readers}"),
                Arc::clone(&store),
                rate,
            )
            .await;
        }
    }
}

#[ignore]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn advance_throughput_with_200_tasks_on_postgres() {
    for max in [4, 10, 20] {
        let db = TestDb::empty_postgres().await;
        let sep = if db.url().contains('?') { '&' } else { '?' };
        let store = store::connect(&format!("{}{sep}max_connections={max}", db.url()))
            .await
            .unwrap();
        measure(
            &format!("postgres, max_connections={max}"),
            Arc::clone(&store),
        )
        .await;
        for rate in [2_000, 5_000] {
            paced(
                &format!("postgres, max_connections={max}"),
                Arc::clone(&store),
                rate,
            )
            .await;
        }
        drop(store);
        db.cleanup().await;
    }
}

#[ignore]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_contacts_import() {
    let rows = crate::campaigns::imported_contacts(100_000);
    for (backend, db) in crate::common::db::each_backend().await {
        let campaigns = db.store().campaigns();
        let id = campaigns
            .create_campaign(crate::campaigns::campaign())
            .await
            .unwrap();
        let started = Instant::now();
        let written = campaigns.add_contacts(id, &rows).await.unwrap();
        println!(
            "{backend}: {written} contacts stored in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        db.cleanup().await;
    }
}
