//! Load generator: many concurrent simulated calls through the whole
//! wallet follow-up flow over HTTP on loopback, with signed requests, the
//! server in this same process (so the 2 cores are shared with the load).
//!
//! `cargo bench --bench webhooks` — environment knobs:
//! - `BENCH_BACKEND=sqlite|postgres|both` (both)
//! - `BENCH_CONCURRENCY` (1000): calls in progress at any moment
//! - `BENCH_THINK_MS` (0): time a caller spends between two webhooks, i.e.
//!   listening to the next prompt. 0 is a closed loop (each caller posts its
//!   next webhook as soon as the last is answered: the throughput ceiling);
//!   a real caller leaves seconds, which is how the p99 at 1,000 concurrent
//!   calls is measured. Each pause is drawn uniformly from ½× to 1½×.
//! - `BENCH_SECONDS` (10), `DIALBACK_TEST_POSTGRES_URL`, and
//!   `BENCH_DATABASE_URL_OPTIONS` (appended to the database URL, e.g.
//!   `?synchronous=normal` for SQLite or `?options[synchronous_commit]=off`
//!   for PostgreSQL).
//!
//! Reports webhooks per second, the CPU time per webhook of the whole
//! process (server and generator), and p50/p99/p99.9 of the server's own
//! time (its `Server-Timing` header) and of the latency the client saw.
//!
//! The client is hyper's bare HTTP/1.1 connection, one keep-alive socket per
//! simulated caller: a load generator heavier than the server it measures
//! would hide the server's ceiling on a 2-core machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dialback::app::App;
use dialback::config::{Clock, Numbers, Settings};
use dialback::flow::phrases::{Lang, technical_problem};
use dialback::twilio::signature;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;

const PUBLIC_URL: &str = "https://ivr.bench.test";
const TOKEN: &str = "bench-token-0123456789abcdef0123";

fn env<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Knobs {
    concurrency: usize,
    think: Duration,
    seconds: u64,
}

#[tokio::main]
async fn main() {
    let backend = std::env::var("BENCH_BACKEND").unwrap_or_else(|_| "both".into());
    let knobs = Knobs {
        concurrency: env("BENCH_CONCURRENCY", 1000),
        think: Duration::from_millis(env("BENCH_THINK_MS", 0)),
        seconds: env("BENCH_SECONDS", 10),
    };
    // The failure check must recognise the apology exactly as the server
    // renders it, or a failed call would count as a completed one.
    for (lang, tag) in [(Lang::Zh, "zh-CN"), (Lang::En, "en-US")] {
        let rendered = dialback::twiml::apology(technical_problem(lang), tag);
        assert!(
            !reply_carries_on(rendered.as_bytes(), false),
            "the bench does not recognise the {tag} apology: {rendered}"
        );
    }
    let pg_admin = std::env::var("DIALBACK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    if backend == "sqlite" || backend == "both" {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = std::env::var("BENCH_DATABASE_URL_OPTIONS").unwrap_or_default();
        let url = format!("sqlite:{}{options}", dir.path().join("bench.db").display());
        run("sqlite", &url, &knobs).await;
    }
    if backend == "postgres" || backend == "both" {
        let db = format!("dialback_bench_{}", std::process::id());
        admin(&pg_admin, &format!("CREATE DATABASE {db}")).await;
        let url = match pg_admin.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{db}"),
            None => panic!("DIALBACK_TEST_POSTGRES_URL needs a database name"),
        };
        let options = std::env::var("BENCH_DATABASE_URL_OPTIONS").unwrap_or_default();
        run("postgres", &format!("{url}{options}"), &knobs).await;
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

#[derive(Default)]
struct Stats {
    webhooks: AtomicU64,
    calls: AtomicU64,
    errors: AtomicU64,
    server_us: std::sync::Mutex<Vec<u32>>,
    client_us: std::sync::Mutex<Vec<u32>>,
    /// Server time per kind of webhook ([`KINDS`]), to tell which one a
    /// slow tail comes from.
    by_kind: [std::sync::Mutex<Vec<u32>>; 3],
}

/// The kinds of webhook a call makes: its first, its answers, its end.
const KINDS: [&str; 3] = ["voice", "gather", "status"];

async fn run(name: &str, database_url: &str, knobs: &Knobs) {
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
    let app = App::build(settings).await.expect("server starts");
    let addr = app.addr();
    tokio::spawn(app.run_until(std::future::pending()));

    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..knobs.concurrency {
        let (stats, stop, think) = (stats.clone(), stop.clone(), knobs.think);
        tasks.push(tokio::spawn(async move {
            let mut caller = Caller::new(addr, worker as u64, think);
            // Paced callers start spread over one pause, as real calls do.
            if !think.is_zero() {
                tokio::time::sleep(caller.pause()).await;
            }
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let sid = format!("CA{:016x}{:016x}", worker as u64 + 1, n);
                if caller.one_call(&sid, &stats).await {
                    stats.calls.fetch_add(1, Ordering::Relaxed);
                } else {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(knobs.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let webhooks = stats.webhooks.load(Ordering::Relaxed);
    let cpu = cpu_seconds() - cpu_before;
    for t in tasks {
        t.abort();
    }
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
    let kinds: Vec<String> = KINDS
        .iter()
        .zip(&stats.by_kind)
        .map(|(kind, times)| {
            let mut v = std::mem::take(&mut *times.lock().expect("lock"));
            v.sort_unstable();
            format!("{kind} p50 {:.2} p99 {:.2}", pct(&v, 0.50), pct(&v, 0.99))
        })
        .collect();
    println!(
        "{name:8} concurrency {:5} think {:5} ms: {:8.0} webhooks/s, {:6.0} calls/s, errors {}, {:.0} µs CPU/webhook | server p50 {:.2} p99 {:.2} p99.9 {:.2} ms | client p50 {:.2} p99 {:.2} p99.9 {:.2} ms",
        knobs.concurrency,
        knobs.think.as_millis(),
        webhooks as f64 / elapsed,
        stats.calls.load(Ordering::Relaxed) as f64 / elapsed,
        stats.errors.load(Ordering::Relaxed),
        cpu * 1e6 / webhooks.max(1) as f64,
        pct(&server, 0.50),
        pct(&server, 0.99),
        pct(&server, 0.999),
        pct(&client_lat, 0.50),
        pct(&client_lat, 0.99),
        pct(&client_lat, 0.999),
    );
    println!("{:8} server ms by webhook: {}", "", kinds.join(" | "));
}

/// User plus system CPU time of this process so far, from `/proc`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 12th and 13th of those, in clock ticks (100 a second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => 0.0,
    }
}

/// One simulated caller: a keep-alive connection, and a pause between
/// webhooks.
struct Caller {
    addr: std::net::SocketAddr,
    sender: Option<http1::SendRequest<Full<Bytes>>>,
    think: Duration,
    rng: u64,
}

impl Caller {
    fn new(addr: std::net::SocketAddr, seed: u64, think: Duration) -> Caller {
        Caller {
            addr,
            sender: None,
            think,
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    /// ½× to 1½× the think time (xorshift; the spread only needs to keep
    /// callers from marching in step).
    fn pause(&mut self) -> Duration {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let unit = (self.rng % 1_000) as f64 / 1_000.0;
        self.think.mul_f64(0.5 + unit)
    }

    async fn connect(&mut self) -> Option<&mut http1::SendRequest<Full<Bytes>>> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = tokio::net::TcpStream::connect(self.addr).await.ok()?;
            stream.set_nodelay(true).ok()?;
            let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.ok()?;
            tokio::spawn(conn);
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut()?;
        sender.ready().await.ok()?;
        Some(sender)
    }

    /// One caller through the happy path: voice, five answers, the status
    /// callback. False when any webhook failed, a question did not come, or
    /// the call ended in an apology.
    async fn one_call(&mut self, sid: &str, stats: &Stats) -> bool {
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
        let last = steps.len() - 1;
        for (i, (path, form)) in steps.into_iter().enumerate() {
            let signature = signature::compute(TOKEN, &format!("{PUBLIC_URL}{path}"), &form);
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&form)
                .finish();
            let request = hyper::Request::post(path)
                .header("host", "ivr.bench.test")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-twilio-signature", signature)
                .body(Full::new(Bytes::from(body)))
                .expect("a well-formed request");
            let t = Instant::now();
            let Some(sender) = self.connect().await else {
                return false;
            };
            let Ok(resp) = sender.send_request(request).await else {
                self.sender = None;
                return false;
            };
            let server_ms = resp
                .headers()
                .get("server-timing")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("app;dur="))
                .and_then(|v| v.parse::<f64>().ok());
            let ok = resp.status().is_success();
            let Ok(body) = resp.into_body().collect().await else {
                self.sender = None;
                return false;
            };
            // Recorded per webhook, not per finished call: a paced call
            // outlives a short run, and its webhooks must count too.
            let client_us = t.elapsed().as_micros() as u32;
            stats.client_us.lock().expect("lock").push(client_us);
            stats.webhooks.fetch_add(1, Ordering::Relaxed);
            if let Some(ms) = server_ms {
                let us = (ms * 1000.0) as u32;
                stats.server_us.lock().expect("lock").push(us);
                let kind = if i == 0 {
                    0
                } else if i == last {
                    2
                } else {
                    1
                };
                stats.by_kind[kind].lock().expect("lock").push(us);
            }
            let body = body.to_bytes();
            // Every reply before the last answer must ask the next question.
            let wants_question = i + 1 < last;
            if !ok || !reply_carries_on(&body, wants_question) {
                return false;
            }
            if i < last && !self.think.is_zero() {
                tokio::time::sleep(self.pause()).await;
            }
        }
        true
    }
}

/// Whether a reply keeps the happy path going. It must not hold dialback's
/// apology, compared against the very phrases the server speaks (so the
/// check cannot drift from them), and where the flow asks a next question
/// it must hold a `<Gather>`: an empty or truncated answer fails too.
fn reply_carries_on(body: &[u8], wants_question: bool) -> bool {
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let apologised = [Lang::Zh, Lang::En]
        .into_iter()
        .any(|lang| text.contains(technical_problem(lang)));
    !apologised && (!wants_question || text.contains("<Gather"))
}
