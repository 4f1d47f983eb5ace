//! The external load generator: dialback measured from outside, as the
//! provider drives it, against a static-TwiML ceiling in the same run.
//!
//! `scripts/bench-external` runs the matrix and writes its table into
//! `docs/benchmarks.md`; `scripts/bench-external --quick` is the short
//! version for development. By hand:
//! `cargo bench --bench loadgen -- [--quick] [--rounds N]
//! [--shapes closed10,closed50,closed200,paced1,paced3]
//! [--servers static,floor-sqlite,floor-sqlite-thread,floor-postgres,sqlite,postgres] [--write docs/benchmarks.md]`.
//!
//! This process is the provider: N callers, each on its own keep-alive
//! connection, place whole `wallet-followup` calls — signed webhooks with
//! Twilio's full parameter set, following the TwiML they get (`<Gather>`
//! actions, the silence `<Redirect>`, `<Record>`, `<Dial>`/`<Enqueue>`
//! actions) and ending each call with the status callback. Closed loop:
//! each caller posts as soon as it has its answer. Paced: it waits ½–1½×
//! a think time between webhooks, as a caller listening to a prompt.
//!
//! Each server is a process of its own (`dialback serve` on a fresh
//! SQLite file or PostgreSQL database, or this binary as the static
//! server), started fresh for every run; the rounds interleave the servers
//! so that a change in the machine's load falls on all of them. Measured
//! in a window after a warm-up: webhooks per second, the server's CPU per
//! webhook (utime + stime of its pid), this generator's own, the
//! PostgreSQL backends' (by their process titles), and the server's own
//! time per webhook from its `Server-Timing` header. After each dialback
//! run a sample of finished calls is read back through the admin API and
//! compared with what was sent.

mod caller;
mod check;
mod durable_floor;
mod report;
mod servers;
mod static_server;
mod twilio;
mod twiml;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use report::Measure;
use servers::{Kind, Server};

pub(crate) const PUBLIC_HOST: &str = "ivr.bench.test";
pub(crate) const PUBLIC_URL: &str = "https://ivr.bench.test";
pub(crate) const TOKEN: &str = "loadgen-token-0123456789abcdef01";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Phase {
    WarmUp = 0,
    Measuring = 1,
    Done = 2,
}

/// What every caller of a run shares.
pub(crate) struct Shared {
    phase: AtomicU8,
    pub(crate) stop: CancellationToken,
    pub(crate) think: Duration,
    pub(crate) run_id: u32,
    /// Whether the server keeps calls (dialback) or only answers (static).
    pub(crate) verify: bool,
    /// About one finished call in this many is checked through the admin API.
    pub(crate) sample_every: u64,
    /// dialback's spoken apology, in each language it speaks: a reply that
    /// holds it is a failed call, whatever else it holds.
    pub(crate) apologies: Vec<String>,
}

impl Shared {
    pub(crate) fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::WarmUp,
            1 => Phase::Measuring,
            _ => Phase::Done,
        }
    }

    fn set(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }
}

/// One load shape of the matrix.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub(crate) name: &'static str,
    pub(crate) callers: usize,
    pub(crate) think: Duration,
    warm_up: Duration,
    window: Duration,
}

impl Shape {
    pub(crate) fn label(&self) -> String {
        if self.think.is_zero() {
            format!("closed loop, {} callers", self.callers)
        } else {
            format!(
                "paced, {} calls, a webhook every ~{} s",
                self.callers,
                self.think.as_secs()
            )
        }
    }
}

fn shapes(quick: bool) -> Vec<Shape> {
    let s = Duration::from_secs;
    // Paced runs warm up for two think times: every caller is in a call.
    let (closed_warm, closed, p1_warm, p1, p3_warm, p3) = if quick {
        (s(1), s(4), s(2), s(6), s(4), s(8))
    } else {
        (s(2), s(10), s(3), s(15), s(6), s(24))
    };
    let closed_shape = |name, callers| Shape {
        name,
        callers,
        think: Duration::ZERO,
        warm_up: closed_warm,
        window: closed,
    };
    vec![
        closed_shape("closed10", 10),
        closed_shape("closed50", 50),
        closed_shape("closed200", 200),
        Shape {
            name: "paced1",
            callers: 1000,
            think: s(1),
            warm_up: p1_warm,
            window: p1,
        },
        Shape {
            name: "paced3",
            callers: 1000,
            think: s(3),
            warm_up: p3_warm,
            window: p3,
        },
    ]
}

struct Options {
    quick: bool,
    rounds: usize,
    shapes: Option<Vec<String>>,
    servers: Option<Vec<String>>,
    write: Option<std::path::PathBuf>,
    /// Appended to dialback's database URL (isolating experiments).
    db_options: String,
    /// `name=value` set on each PostgreSQL database made for a run.
    pg_settings: Vec<String>,
}

fn options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        quick: false,
        rounds: 3,
        shapes: None,
        servers: None,
        write: None,
        db_options: String::new(),
        pg_settings: Vec::new(),
    };
    let mut it = args.iter();
    let list = |v: Option<&String>| -> Result<Vec<String>, String> {
        Ok(v.ok_or("a list is missing")?
            .split(',')
            .map(str::to_string)
            .collect())
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            // cargo bench passes --bench to every bench binary.
            "--bench" => {}
            "--quick" => o.quick = true,
            "--rounds" => {
                o.rounds = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--rounds takes a number")?
            }
            "--shapes" => o.shapes = Some(list(it.next())?),
            "--servers" => o.servers = Some(list(it.next())?),
            "--write" => o.write = Some(it.next().ok_or("--write takes a file")?.into()),
            "--db-options" => o.db_options = it.next().ok_or("--db-options takes text")?.clone(),
            "--pg-setting" => o
                .pg_settings
                .push(it.next().ok_or("--pg-setting takes name=value")?.clone()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.quick && !args.iter().any(|a| a == "--rounds") {
        o.rounds = 1;
    }
    Ok(o)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The static server's role: this same binary, as its own process.
    if args.first().map(String::as_str) == Some("static") {
        let addr = args
            .iter()
            .skip_while(|a| *a != "--listen")
            .nth(1)
            .and_then(|a| a.parse().ok())
            .expect("static --listen ADDR [--durable STORE]");
        let durable = args.iter().skip_while(|a| *a != "--durable").nth(1);
        static_server::serve(addr, durable.cloned());
        return;
    }
    let o = match options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    // The generator's own runtime: two workers, one per core, as the
    // provider's side of the loopback.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(e) = runtime.block_on(matrix(o)) {
        eprintln!("loadgen: {e}");
        std::process::exit(1);
    }
}

async fn matrix(o: Options) -> Result<(), String> {
    let shapes: Vec<Shape> = shapes(o.quick)
        .into_iter()
        .filter(|s| {
            o.shapes
                .as_ref()
                .is_none_or(|l| l.iter().any(|n| n == s.name))
        })
        .collect();
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| {
            o.servers
                .as_ref()
                .is_none_or(|l| l.iter().any(|n| n == k.name()))
        })
        .collect();
    if shapes.is_empty() || kinds.is_empty() {
        return Err("no shape or no server left to run".into());
    }
    let started = chrono::Utc::now();
    let load_before = report::load_average();
    let mut results: Vec<Measure> = Vec::new();
    let mut run_id = 0u32;
    // Interleaved: each round runs every shape on every server.
    for round in 1..=o.rounds {
        for shape in &shapes {
            for &kind in &kinds {
                run_id += 1;
                let m = one_run(kind, shape, round, run_id, &o).await?;
                eprintln!("{}", m.line());
                results.push(m);
            }
        }
    }
    let load_after = report::load_average();
    let table = report::table(&shapes, &kinds, &results);
    println!("{table}");
    let failed: Vec<&Measure> = results.iter().filter(|m| !m.clean()).collect();
    if let Some(path) = &o.write {
        let section = report::section(&table, &o, started, &load_before, &load_after);
        report::write_section(path, &section)?;
        eprintln!("loadgen: wrote the table into {}", path.display());
    }
    if !failed.is_empty() {
        return Err(format!(
            "{} runs had failed calls or answers not stored as sent",
            failed.len()
        ));
    }
    Ok(())
}

async fn one_run(
    kind: Kind,
    shape: &Shape,
    round: usize,
    run_id: u32,
    o: &Options,
) -> Result<Measure, String> {
    let server = Server::start(kind, run_id, &o.db_options, &o.pg_settings).await?;
    let apologies = [
        dialback::flow::phrases::Lang::Zh,
        dialback::flow::phrases::Lang::En,
    ]
    .into_iter()
    .map(|l| dialback::flow::phrases::technical_problem(l).to_string())
    .collect();
    let shared = Arc::new(Shared {
        phase: AtomicU8::new(Phase::WarmUp as u8),
        stop: CancellationToken::new(),
        think: shape.think,
        run_id,
        verify: kind.is_dialback(),
        sample_every: 10,
        apologies,
    });
    let mut tasks = Vec::with_capacity(shape.callers);
    for id in 0..shape.callers {
        let caller = caller::Caller::new(id as u64, server.addr, shared.clone());
        tasks.push(tokio::spawn(caller.run()));
    }
    tokio::time::sleep(shape.warm_up).await;
    let pid = server.pid().to_string();
    let db = server.pg_database.clone();
    let cpu = |pid: &str| servers::cpu_of(pid).unwrap_or(f64::NAN);
    let (server0, self0) = (cpu(&pid), cpu("self"));
    let pg0 = db.as_deref().map(servers::pg_backends);
    let t0 = Instant::now();
    shared.set(Phase::Measuring);
    tokio::time::sleep(shape.window).await;
    shared.set(Phase::Done);
    let elapsed = t0.elapsed().as_secs_f64();
    let (server1, self1) = (cpu(&pid), cpu("self"));
    let pg1 = db.as_deref().map(servers::pg_backends);
    shared.stop.cancel();
    let mut tally = caller::Tally::default();
    for t in tasks {
        let Ok(t) = t.await else { continue };
        tally.webhooks += t.webhooks;
        tally.errors += t.errors;
        tally.calls += t.calls;
        tally.server_us.extend(t.server_us);
        for (all, one) in tally.by_kind.iter_mut().zip(t.by_kind) {
            all.extend(one);
        }
        tally.samples.extend(t.samples);
        if tally.failures.len() < 5 {
            tally.failures.extend(t.failures);
        }
    }
    // At most 100 calls a run are read back, spread over the whole run.
    let step = (tally.samples.len() / 100).max(1);
    let samples: Vec<_> = tally.samples.iter().step_by(step).cloned().collect();
    let checked = if !kind.is_dialback() {
        check::Checked::default()
    } else {
        check::answers(server.addr, &samples).await
    };
    let pg_cpu = match (&pg0, &pg1) {
        (Some(a), Some(b)) => Some(servers::pg_spent(a, b)),
        _ => None,
    };
    for f in tally.failures.iter().chain(&checked.wrong).take(5) {
        eprintln!("loadgen: {} {}: {f}", kind.name(), shape.name);
    }
    if !tally.failures.is_empty() || !checked.wrong.is_empty() {
        // The server's folder goes with it: keep its log for reading.
        let kept = std::env::temp_dir().join(format!("loadgen-{}-{run_id}.log", kind.name()));
        if std::fs::copy(server.log_path(), &kept).is_ok() {
            eprintln!("loadgen: server log kept at {}", kept.display());
        }
    }
    server.stop().await;
    Ok(Measure::new(
        kind,
        shape,
        round,
        elapsed,
        &mut tally,
        server1 - server0,
        self1 - self0,
        pg_cpu,
        checked,
    ))
}
