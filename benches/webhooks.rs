//! Load generator: many concurrent simulated calls through the whole
//! wallet follow-up flow over HTTP on loopback, with signed requests, the
//! server in this same process (so the 2 cores are shared with the load).
//!
//! `cargo bench --bench webhooks` — environment knobs:
//! `BENCH_BACKEND=sqlite|postgres|both` (both), `BENCH_CONCURRENCY` (1000),
//! `BENCH_SECONDS` (10), `DIALBACK_TEST_POSTGRES_URL`.
//!
//! Reports webhooks per second, and p50/p99 of the server's own time (the
//! `Server-Timing` header) and of the latency the client saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dialback::config::{Clock, Numbers, Settings};
use dialback::http::Application;
use dialback::twilio::signature;

const PUBLIC_URL: &str = "https://ivr.bench.test";
const TOKEN: &str = "bench-token-0123456789abcdef0123";

fn env<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let backend = std::env::var("BENCH_BACKEND").unwrap_or_else(|_| "both".into());
    let concurrency: usize = env("BENCH_CONCURRENCY", 1000);
    let seconds: u64 = env("BENCH_SECONDS", 10);
    let pg_admin = std::env::var("DIALBACK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if backend == "sqlite" || backend == "both" {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite:{}", dir.path().join("bench.db").display());
        run("sqlite", &url, concurrency, seconds).await;
    }
    if backend == "postgres" || backend == "both" {
        let db = format!("dialback_bench_{}", std::process::id());
        admin(&pg_admin, &format!("CREATE DATABASE {db}")).await;
        let url = match pg_admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{db}"),
            None => panic!("DIALBACK_TEST_POSTGRES_URL needs a database name"),
        };
        run("postgres", &url, concurrency, seconds).await;
        admin(
            &pg_admin,
            &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        )
        .await;
    }
}

async fn admin(url: &str, sql: &str) {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url)
        .await
        .expect("PostgreSQL is reachable");
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await
        .expect("admin statement");
}

struct Stats {
    webhooks: AtomicU64,
    calls: AtomicU64,
    errors: AtomicU64,
    server_us: std::sync::Mutex<Vec<u32>>,
    client_us: std::sync::Mutex<Vec<u32>>,
}

async fn run(name: &str, database_url: &str, concurrency: usize, seconds: u64) {
    let mut settings = Settings::local("127.0.0.1:0".parse().expect("addr"));
    settings.database_url = database_url.into();
    settings.public_url = PUBLIC_URL.into();
    settings.auth_token = Some(TOKEN.into());
    settings.numbers = Numbers {
        default: Some("wallet-followup".into()),
        numbers: Default::default(),
    };
    // Monday, office hours in Shanghai.
    settings.clock = Clock::Fixed("2026-11-23T03:00:00Z".parse().expect("time"));
    let app = Application::build(settings).await.expect("server starts");
    let base = format!("http://{}", app.addr());
    tokio::spawn(app.run_until(std::future::pending()));

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let stats = Arc::new(Stats {
        webhooks: AtomicU64::new(0),
        calls: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        server_us: Default::default(),
        client_us: Default::default(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (client, base, stats, stop) =
            (client.clone(), base.clone(), stats.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let sid = format!("CA{:016x}{:016x}", worker as u64 + 1, n);
                if one_call(&client, &base, &sid, &stats).await {
                    stats.calls.fetch_add(1, Ordering::Relaxed);
                } else {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let webhooks = stats.webhooks.load(Ordering::Relaxed);
    let mut server = std::mem::take(&mut *stats.server_us.lock().expect("lock"));
    let mut client_lat = std::mem::take(&mut *stats.client_us.lock().expect("lock"));
    server.sort_unstable();
    client_lat.sort_unstable();
    let pct = |v: &[u32], p: f64| {
        v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    println!(
        "{name:8} concurrency {concurrency:5}: {:8.0} webhooks/s, {:6.0} calls/s, errors {} | server p50 {:.2} ms p99 {:.2} ms | client p50 {:.2} ms p99 {:.2} ms",
        webhooks as f64 / elapsed,
        stats.calls.load(Ordering::Relaxed) as f64 / elapsed,
        stats.errors.load(Ordering::Relaxed),
        pct(&server, 0.50),
        pct(&server, 0.99),
        pct(&client_lat, 0.50),
        pct(&client_lat, 0.99),
    );
}

/// One caller through the happy path: voice, five answers, the status callback.
async fn one_call(client: &reqwest::Client, base: &str, sid: &str, stats: &Stats) -> bool {
    let mut steps: Vec<(String, Vec<(String, String)>)> = vec![(
        "/twilio/voice".into(),
        vec![
            ("CallSid".into(), sid.into()),
            ("From".into(), "+8613812348000".into()),
            ("To".into(), "+861000000001".into()),
        ],
    )];
    for (seq, key) in ["1", "1", "5", "1", "2"].iter().enumerate() {
        steps.push((
            format!("/twilio/gather?seq={}", seq + 1),
            vec![
                ("CallSid".into(), sid.into()),
                ("Digits".into(), key.to_string()),
            ],
        ));
    }
    steps.push((
        "/twilio/status".into(),
        vec![
            ("CallSid".into(), sid.into()),
            ("CallStatus".into(), "completed".into()),
        ],
    ));
    let mut server_times = Vec::with_capacity(steps.len());
    let mut client_times = Vec::with_capacity(steps.len());
    for (path, form) in steps {
        let signature = signature::compute(TOKEN, &format!("{PUBLIC_URL}{path}"), &form);
        let t = Instant::now();
        let resp = client
            .post(format!("{base}{path}"))
            .header("X-Twilio-Signature", signature)
            .form(&form)
            .send()
            .await;
        let Ok(resp) = resp else { return false };
        let server_ms = resp
            .headers()
            .get("server-timing")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("app;dur="))
            .and_then(|v| v.parse::<f64>().ok());
        let ok = resp.status().is_success();
        let body = resp.text().await.unwrap_or_default();
        client_times.push(t.elapsed().as_micros() as u32);
        stats.webhooks.fetch_add(1, Ordering::Relaxed);
        if let Some(ms) = server_ms {
            server_times.push((ms * 1000.0) as u32);
        }
        if !ok || body.contains("技术") {
            return false;
        }
    }
    stats.server_us.lock().expect("lock").extend(server_times);
    stats.client_us.lock().expect("lock").extend(client_times);
    true
}
