//! Load generator for Media Streams: many concurrent calls over WebSockets
//! on loopback to an in-process server (the 2 cores are shared by the
//! server and the load), each stream sending 20 ms μ-law frames at
//! real-time pace and playing the server's audio back on its own clock,
//! returning marks as Twilio does.
//!
//! Every call runs the `feature-feedback-stream` flow: it listens to the
//! greeting and the first question, *says* its answer (speech from the
//! fixtures, transcribed by an in-process fake recogniser), keys the
//! rating as an in-band DTMF tone (generated here), and hears the goodbye.
//! Streams start calls back to back until the time is up. They arrive
//! evenly over a ramp about as long as a call (as SIPp paces a call rate),
//! so the calls are spread over every phase of the flow, as real calls
//! are, rather than all greeting, answering and hanging up in step; the
//! measured window opens when the ramp is over and every stream is in a
//! call.
//!
//! `cargo bench --bench media_streams` — environment knobs:
//! `BENCH_STREAMS` (concurrency levels, default `250,500,1000`),
//! `BENCH_SECONDS` measured per level after the ramp (default 60),
//! `BENCH_RAMP` (seconds over which the streams arrive, default 30),
//! `BENCH_TIMELINE=1` (a line per second: late frames, late generator
//! ticks, the stall probe, CPU by thread group and the machine's),
//! `BENCH_STAMP=sent` (frames stamped when sent rather than when due, so
//! the late count leaves out the generator's own delays),
//! `BENCH_GENERATOR_THREADS` (default 2: one thread carrying every stream
//! ran at ~80 % of a core, itself the bottleneck),
//! `BENCH_SERVER_WORKERS` (the server's tokio workers; default one per core,
//! as `dialback serve`), `BENCH_FLOOR` (`both`, the default: each level runs
//! first against a server that only reads and drops the streams' messages —
//! what the transport alone costs on this machine, see [`floor_server`] —
//! then against dialback, and dialback's server CPU is printed as a ratio to
//! that floor's; `1`: the floor only; `0`: dialback only).
//!
//! Reported per level, over the measured window: calls finished and answers
//! stored as expected (all calls of the level); the server's frame lateness
//! (a caller frame processed more than 20 ms after it was due, by the
//! provider timestamps); CPU time (server and load generator together) per
//! stream-second; late generator ticks; late frames during the ramp; and
//! what a stall probe saw of the machine itself (see [`start_probe`]): the
//! seconds in which it stalled, the worst stall, and the late frames in
//! the other seconds.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use dialback::app::App;
use dialback::config::{Clock, MediaSettings, Numbers, Settings, SttBackend, TtsBackend};
use dialback::media::codec::encode_all;
use dialback::metrics::Metrics;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

mod machine;
use machine::{STALL, cpu_seconds, machine_cpu, start_probe, thread_cpu};

fn env<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Base64 payloads of 20 ms frames, computed once for every stream.
struct Audio {
    silence: String,
    /// 1.5 s of Mandarin speech, then 1 s of silence.
    answer: Vec<String>,
    /// The key `5`: 100 ms of tone, 100 ms of silence.
    five: Vec<String>,
    /// What the `timestamp` of a caller frame says.
    stamp: Stamp,
}

#[derive(Clone, Copy)]
enum Stamp {
    /// When the frame was due: lateness is end to end, generator included.
    Due,
    /// When the generator actually sent it: lateness is the server's alone.
    Sent,
}

fn frames(samples: &[i16]) -> Vec<String> {
    samples
        .chunks(160)
        .map(|c| {
            let mut f = c.to_vec();
            f.resize(160, 0);
            STANDARD.encode(encode_all(&f))
        })
        .collect()
}

fn audio() -> Audio {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/speech/mandarin.wav"
    );
    let mut speech: Vec<i16> = hound::WavReader::open(path)
        .expect("the speech fixture")
        .samples::<i16>()
        .take(12_000)
        .map(|s| s.unwrap_or(0))
        .collect();
    speech.extend(vec![0; 8_000]);
    let tone: Vec<i16> = (0..800)
        .map(|i| {
            let t = i as f32 / 8_000.0;
            let x = (2.0 * std::f32::consts::PI * 770.0 * t).sin()
                + (2.0 * std::f32::consts::PI * 1336.0 * t).sin();
            (x * 7_000.0) as i16
        })
        .chain(std::iter::repeat_n(0, 800))
        .collect();
    Audio {
        silence: STANDARD.encode([0xFFu8; 160]),
        answer: frames(&speech),
        five: frames(&tone),
        stamp: match std::env::var("BENCH_STAMP").as_deref() {
            Ok("sent") => Stamp::Sent,
            Ok("due") | Err(_) => Stamp::Due,
            Ok(other) => panic!("BENCH_STAMP is `due` or `sent`, not {other:?}"),
        },
    }
}

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    client_late: AtomicU64,
    failures: AtomicU64,
}

/// What the watcher saw of the machine's stalls in the measured window.
#[derive(Default)]
struct Stalls {
    /// Stalled seconds.
    seconds: u64,
    /// The probe's longest overshoot (µs).
    worst_us: u64,
    /// Late frames in seconds that were not stalled: the server's own.
    late_outside: u64,
}

/// What the watcher reads each second (counters and CPU seconds so far).
struct Sample {
    late_frames: u64,
    late_ticks: u64,
    /// Server, generators, the rest: see [`thread_cpu`].
    threads: [f64; 3],
    /// Busy, softirq, steal: see [`machine_cpu`].
    machine: [f64; 3],
}

/// Samples once a second until `done`: sorts late frames into stalled
/// seconds and the rest (from `steady` on), and with `timeline` prints a
/// line per second (late frames, late generator ticks, the probe, CPU by
/// thread group and the machine's), to tell a burst from a steady overload
/// and the server from the load.
async fn watch(
    counters: Arc<Counters>,
    probe: Arc<AtomicU64>,
    steady: Instant,
    done: Arc<std::sync::atomic::AtomicBool>,
    timeline: bool,
    metrics: Metrics,
) -> Stalls {
    if timeline {
        eprintln!(
            "  second  unix-time   late-frames  late-ticks  stall-ms  cpu% server  generator  other  \
             machine: busy  softirq  steal"
        );
    }
    let sample = || Sample {
        late_frames: metrics.media_frames().1,
        late_ticks: counters.client_late.load(Ordering::Relaxed),
        threads: thread_cpu(),
        machine: machine_cpu(),
    };
    let mut last = sample();
    probe.store(0, Ordering::Relaxed);
    let mut stalls = Stalls::default();
    let mut stalled_before = false;
    for second in 1.. {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = sample();
        let stall_us = probe.swap(0, Ordering::Relaxed);
        let stalled = stall_us > STALL.as_micros() as u64;
        let late = now.late_frames - last.late_frames;
        if Instant::now() > steady {
            stalls.seconds += u64::from(stalled);
            stalls.worst_us = stalls.worst_us.max(stall_us);
            if !stalled && !stalled_before {
                stalls.late_outside += late;
            }
        }
        stalled_before = stalled;
        if timeline {
            // A thread that ended took its CPU time with it: no negative share.
            let cpu = |i: usize| ((now.threads[i] - last.threads[i]) * 100.0).max(0.0);
            let machine = |i: usize| (now.machine[i] - last.machine[i]) * 100.0;
            // Wall-clock time, to match a burst with `perf record -k realtime`.
            let unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            eprintln!(
                "  {second:6}  {unix}  {late:11}  {:10}  {:8.1}  {:11.0}  {:9.0}  {:5.0}  {:13.0}  {:7.0}  {:5.0}",
                now.late_ticks - last.late_ticks,
                stall_us as f64 / 1000.0,
                cpu(0),
                cpu(1),
                cpu(2),
                machine(0),
                machine(1),
                machine(2),
            );
        }
        last = now;
        if done.load(Ordering::Relaxed) {
            break;
        }
    }
    stalls
}

// This thread runs the warm-up call, the fake recogniser and the checks;
// the streams of a level run on generator threads of their own.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let levels: Vec<usize> = std::env::var("BENCH_STREAMS")
        .unwrap_or_else(|_| "250,500,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let seconds: u64 = env("BENCH_SECONDS", 60);
    let generator_threads: usize = env("BENCH_GENERATOR_THREADS", 2).max(1);
    let ramp = Duration::from_secs(env("BENCH_RAMP", 30));
    // The floor first at each level, then dialback, so that the ratio
    // between them is of one run on one machine state.
    let modes: &[bool] = match std::env::var("BENCH_FLOOR").as_deref() {
        Ok("1") => &[true],
        Ok("0") => &[false],
        _ => &[true, false],
    };

    // The fake recogniser: every utterance is "是的，用过" (yes, tried it).
    let stt = axum::Router::new().route(
        "/v1/audio/transcriptions",
        // It reads the whole upload before it answers, as a real one does:
        // an answer sent while the audio is still arriving resets the
        // connection under the sender.
        post(|_audio: axum::body::Bytes| async { Json(json!({"text": "是的，用过"})) }),
    );
    let stt_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let stt_addr = stt_listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(stt_listener, stt).await });

    let audio = Arc::new(audio());
    let probe = start_probe();
    println!(
        "streams  calls  answers-ok  frames      late>20ms  max-late   cpu/stream-s  client-late  ramp-late  \
         stalled  worst-stall  late-outside-stalls  server-cpu/stream-s  x-floor"
    );
    for &n in &levels {
        // The floor's server CPU per stream-second at this level.
        let mut floor_server_cpu: Option<f64> = None;
        for &floor in modes {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut settings = Settings::local("127.0.0.1:0".parse().expect("addr"));
            let db_url = format!("sqlite:{}", dir.path().join("bench.db").display());
            settings.database_url = db_url.clone();
            settings.numbers = Numbers {
                default: Some("feature-feedback-stream".into()),
                numbers: Default::default(),
            };
            settings.clock = Clock::Fixed("2026-11-23T03:00:00Z".parse().expect("time"));
            settings.media = MediaSettings {
                tts: TtsBackend::Espeak,
                stt: Some(SttBackend {
                    url: format!("http://{stt_addr}/v1/audio/transcriptions"),
                    model: "bench".into(),
                    timeout: Duration::from_secs(5),
                }),
                speech_api_key: None,
                recordings_dir: dir.path().join("recordings"),
                ..MediaSettings::default()
            };
            let (addr, server) = start_server(settings, floor);
            let metrics = server.metrics.clone();

            if !floor {
                warm_up(addr, &audio, &db_url).await;
            }

            let ramp_late0 = metrics.media_frames().1;
            let counters = Arc::new(Counters::default());
            let sids = Arc::new(std::sync::Mutex::new(Vec::new()));
            let started = Instant::now();
            let steady = started + ramp;
            let end = steady + Duration::from_secs(seconds);
            let generators: Vec<_> = (0..generator_threads)
                .map(|g| {
                    let (audio, counters, sids) = (audio.clone(), counters.clone(), sids.clone());
                    let thread = std::thread::Builder::new().name("generator".into());
                    thread
                        .spawn(move || {
                            let runtime = tokio::runtime::Builder::new_current_thread()
                                .enable_all()
                                .build()
                                .expect("a generator runtime");
                            runtime.block_on(async move {
                                let mut tasks = Vec::new();
                                for i in (g..n).step_by(generator_threads) {
                                    // Arrivals evenly spread over the ramp.
                                    let at = started + ramp.mul_f64(i as f64 / n as f64);
                                    let (audio, counters, sids) =
                                        (audio.clone(), counters.clone(), sids.clone());
                                    tasks.push(tokio::spawn(async move {
                                        tokio::time::sleep_until(at).await;
                                        run_stream(addr, audio, counters, sids, end, usize::MAX)
                                            .await
                                    }));
                                }
                                for t in tasks {
                                    let _ = t.await;
                                }
                            })
                        })
                        .expect("a generator thread")
                })
                .collect();
            let timeline = std::env::var("BENCH_TIMELINE").is_ok_and(|v| v == "1");
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let watcher = tokio::spawn(watch(
                counters.clone(),
                probe.clone(),
                steady,
                done.clone(),
                timeline,
                metrics.clone(),
            ));
            // The measured window opens once every stream is in a call.
            tokio::time::sleep_until(steady).await;
            metrics.take_max_lateness();
            let ((frames0, late0), ticks0) = (
                metrics.media_frames(),
                counters.client_late.load(Ordering::Relaxed),
            );
            let ramp_late = late0 - ramp_late0;
            let cpu0 = cpu_seconds();
            let (threads0, floor0) = (thread_cpu(), FLOOR_MESSAGES.load(Ordering::Relaxed));
            let measured = Instant::now();
            // Joined off this thread: it serves the fake recogniser meanwhile.
            let _ = tokio::task::spawn_blocking(move || {
                for g in generators {
                    let _ = g.join();
                }
            })
            .await;
            // Read before the watcher's last sleep ends, which is not the level's.
            let wall = measured.elapsed().as_secs_f64();
            let cpu = cpu_seconds() - cpu0;
            let threads = thread_cpu();
            let max_late = metrics.take_max_lateness();
            done.store(true, Ordering::Relaxed);
            let stalls = watcher.await.unwrap_or_default();
            let per_stream_s = |cpu: f64| cpu * 1000.0 / (n as f64 * wall);
            // The server's side: its runtime's threads and the rest of the
            // process but the generators (SQLite's workers, the main thread
            // that serves the fake recogniser), counted alike for both servers.
            let server_side = (threads[0] - threads0[0]) + (threads[2] - threads0[2]);
            if floor {
                floor_server_cpu = Some(per_stream_s(server_side));
                let server = threads[0] - threads0[0];
                // The generator threads have ended and their CPU time went
                // with them: theirs is what the others did not use.
                let generator = cpu - server - (threads[2] - threads0[2]);
                println!(
                    "{n:7}  floor: {} messages read, {:.3} ms per stream-second \
                 (server {:.3} ms, generator {:.3} ms)",
                    FLOOR_MESSAGES.load(Ordering::Relaxed) - floor0,
                    per_stream_s(cpu),
                    per_stream_s(server),
                    per_stream_s(generator),
                );
                continue;
            }
            let sids = sids.lock().map(|s| s.clone()).unwrap_or_default();
            let ok = answered_as_expected(&db_url, &sids).await;
            let (frames, late) = metrics.media_frames();
            let (frames, late) = (frames - frames0, late - late0);
            println!(
                "{n:7}  {:5}  {ok:10}  {frames:10}  {late:9}  {:6.1} ms  {:8.3} ms  {:11}  {ramp_late:9}  \
             {:4} s  {:6.1} ms  {:8}  {:10.3} ms  {}{}",
                sids.len(),
                max_late.as_secs_f64() * 1000.0,
                cpu * 1000.0 / (n as f64 * wall),
                counters.client_late.load(Ordering::Relaxed) - ticks0,
                stalls.seconds,
                stalls.worst_us as f64 / 1000.0,
                stalls.late_outside,
                per_stream_s(server_side),
                match floor_server_cpu {
                    Some(f) if f > 0.0 => format!("{:.2}x", per_stream_s(server_side) / f),
                    _ => "-".into(),
                },
                match counters.failures.load(Ordering::Relaxed) {
                    0 => String::new(),
                    f => format!("  ({f} streams failed)"),
                }
            );
        }
    }
}

/// One call before the level, to warm the prompt cache: the level then
/// measures calls, not espeak-ng rendering the same texts once.
async fn warm_up(addr: std::net::SocketAddr, audio: &Arc<Audio>, db_url: &str) {
    let counters = Arc::new(Counters::default());
    let sids = Arc::new(std::sync::Mutex::new(Vec::new()));
    run_stream(
        addr,
        audio.clone(),
        counters.clone(),
        sids.clone(),
        Instant::now() + Duration::from_secs(60),
        1,
    )
    .await;
    // A call that heard no prompts (espeak-ng missing, say) never gets
    // its answers: measuring silent calls would flatter the server.
    let warm = sids.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(
        answered_as_expected(db_url, &warm).await,
        1,
        "the warm-up call did not store its answers: is espeak-ng installed? \
         (RUST_LOG=dialback=debug shows why)"
    );
}

/// Starts the server on a tokio runtime of its own, with as many worker
/// threads as `dialback serve` would have on this machine.
///
/// Why not on the generator's runtime: a real server shares no scheduler
/// with its provider. On one runtime, a burst of generator work queues
/// server tasks behind it (and the reverse), and the frames counted late
/// would partly be the generator's; as two runtimes, the operating system
/// shares the cores between them.
fn start_server(settings: Settings, floor: bool) -> (std::net::SocketAddr, Server) {
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // The floor server reads exactly as dialback's would.
    let read_buffer = settings.media.read_buffer;
    let thread = std::thread::spawn(move || {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        let workers: usize = env("BENCH_SERVER_WORKERS", 0);
        if workers > 0 {
            builder.worker_threads(workers);
        }
        let runtime = builder
            .enable_all()
            .thread_name("server")
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            if floor {
                let listener = tokio::net::TcpListener::bind(settings.listen)
                    .await
                    .expect("bind");
                // Nothing counts on the floor: its metrics stay at zero.
                tx.send((listener.local_addr().expect("addr"), Metrics::new()))
                    .expect("the bench waits for the address");
                let _ = axum::serve(listener, floor_server(read_buffer))
                    .with_graceful_shutdown(stopped)
                    .await;
                return;
            }
            let app = App::build(settings).await.expect("server starts");
            tx.send((app.addr(), app.metrics().clone()))
                .expect("the bench waits for the address");
            let _ = app.run_until(stopped).await;
        });
    });
    let (addr, metrics) = rx.recv().expect("the server started");
    (
        addr,
        Server {
            metrics,
            stop: Some(stop),
            thread: Some(thread),
        },
    )
}

/// Messages the floor server has read (a stream's `start`, then its frames).
static FLOOR_MESSAGES: AtomicU64 = AtomicU64::new(0);

/// `BENCH_FLOOR=1`: a server that accepts the streams as dialback does
/// (axum, the same WebSocket read buffer) and reads and drops every
/// message: no JSON, no audio, no flow, no answer to send. What the level
/// then costs is the floor under any Media Streams server on this machine:
/// the generator, loopback TCP and the WebSocket framing.
fn floor_server(read_buffer: usize) -> axum::Router {
    use axum::extract::ws::WebSocketUpgrade;
    axum::Router::new().route(
        "/media",
        axum::routing::get(move |ws: WebSocketUpgrade| async move {
            ws.read_buffer_size(read_buffer)
                .on_upgrade(|mut socket| async move {
                    while let Some(Ok(_)) = socket.recv().await {
                        FLOOR_MESSAGES.fetch_add(1, Ordering::Relaxed);
                    }
                })
        }),
    )
}

/// The server of one level; stops it when dropped.
struct Server {
    /// The server's counters, as `/metrics` shows them.
    metrics: Metrics,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Let the streams the generator closed store their hang-ups first:
        // stopping the runtime under them would fail those writes.
        let patience = std::time::Instant::now() + Duration::from_secs(10);
        while self.metrics.active_media_streams() > 0 && std::time::Instant::now() < patience {
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How many of these calls stored what the caller answered: tried = yes
/// (said aloud), ease = 5 (keyed as a tone).
async fn answered_as_expected(db_url: &str, sids: &[String]) -> usize {
    let store = dialback::store::connect(db_url).await.expect("store");
    let mut ok = 0;
    for sid in sids {
        let answers = store
            .answers(&dialback::store::CallSid::parse(sid).expect("a CallSid"))
            .await
            .unwrap_or_default();
        let has =
            |q: &str, v: serde_json::Value| answers.iter().any(|a| a.question == q && a.value == v);
        if has("tried", json!(true)) && has("ease", json!(5)) {
            ok += 1;
        }
    }
    ok
}

/// Runs calls on fresh sockets until `end` (or `max_calls`); finished call
/// sids go into `sids`.
async fn run_stream(
    addr: std::net::SocketAddr,
    audio: Arc<Audio>,
    counters: Arc<Counters>,
    sids: Arc<std::sync::Mutex<Vec<String>>>,
    end: Instant,
    max_calls: usize,
) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let mut done = 0;
    while Instant::now() < end && done < max_calls {
        let sid = format!("CA{:032x}", NEXT.fetch_add(1, Ordering::Relaxed));
        match one_call(addr, &audio, &counters, &sid, end).await {
            Ok(true) => {
                counters.calls.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut s) = sids.lock() {
                    s.push(sid);
                }
            }
            Ok(false) => {}
            Err(e) => {
                counters.failures.fetch_add(1, Ordering::Relaxed);
                eprintln!("stream failed: {e}");
                return;
            }
        }
        done += 1;
    }
}

/// One call: answer by voice, then key 5 as a tone. `Ok(true)` when the
/// server ended it, `Ok(false)` when time ran out first.
async fn one_call(
    addr: std::net::SocketAddr,
    audio: &Audio,
    counters: &Counters,
    sid: &str,
    end: Instant,
) -> Result<bool, String> {
    // A small read buffer: tungstenite zero-fills it on every read.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    // One socket object, not split halves: the loop reads and writes in turn.
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(
        format!("ws://{addr}/media"),
        Some(config),
        true,
    )
    .await
    .map_err(|e| e.to_string())?;
    let stream_sid = format!("MZ{}", &sid[2..]);
    let start = json!({"event": "start", "sequenceNumber": "1", "streamSid": stream_sid, "start": {
        "accountSid": "AC0", "streamSid": stream_sid, "callSid": sid, "tracks": ["inbound"],
        "customParameters": {"flow": "feature-feedback-stream"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}});
    ws.send(Message::text(start.to_string()))
        .await
        .map_err(|e| e.to_string())?;

    // Turns: 1 = greeting + "tried?" (answered by voice), 2 = "ease" (key 5).
    let mut turn = 0;
    let mut queue: VecDeque<&str> = VecDeque::new();
    let mut play_until = Instant::now();
    let mut pending: Vec<(Instant, String)> = Vec::new();
    let mut last_media = Instant::now();
    let mut answered_turn = 0;
    let mut chunk: u64 = 0;
    let epoch = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    loop {
        tokio::select! {
            at = tick.tick() => {
                if at.elapsed() > Duration::from_millis(20) {
                    counters.client_late.fetch_add(1, Ordering::Relaxed);
                }
                if Instant::now() >= end {
                    let _ = ws.close(None).await;
                    return Ok(false);
                }
                let payload = queue.pop_front().unwrap_or(&audio.silence);
                chunk += 1;
                // The provider's timestamp is the frame's place in the
                // stream (when it was due); BENCH_STAMP=sent stamps when it
                // actually went out instead, so lateness counts only the
                // server's side (loopback, scheduling, processing).
                let ts = match audio.stamp {
                    Stamp::Due => (at - epoch).as_millis(),
                    Stamp::Sent => epoch.elapsed().as_millis(),
                };
                let msg = format!(
                    r#"{{"event":"media","streamSid":"{stream_sid}","media":{{"track":"inbound","chunk":"{chunk}","timestamp":"{ts}","payload":"{payload}"}}}}"#
                );
                ws.feed(Message::text(msg)).await.map_err(|e| e.to_string())?;
                let now = Instant::now();
                let mut i = 0;
                while i < pending.len() {
                    if pending[i].0 <= now {
                        let (_, name) = pending.swap_remove(i);
                        let m = format!(r#"{{"event":"mark","streamSid":"{stream_sid}","mark":{{"name":"{name}"}}}}"#);
                        ws.feed(Message::text(m)).await.map_err(|e| e.to_string())?;
                    } else {
                        i += 1;
                    }
                }
                ws.flush().await.map_err(|e| e.to_string())?;
                // Listening: prompts over, marks returned, nothing queued.
                let quiet = now.duration_since(last_media) > Duration::from_millis(100)
                    && pending.is_empty() && queue.is_empty();
                if quiet && turn > answered_turn {
                    answered_turn = turn;
                    match turn {
                        1 => queue.extend(audio.answer.iter().map(String::as_str)),
                        _ => queue.extend(audio.five.iter().map(String::as_str)),
                    }
                }
            }
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None => return Ok(true),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e.to_string()),
                };
                let text = text.as_str();
                let now = Instant::now();
                if text.starts_with(r#"{"event":"media""#) {
                    // A payload plays for as long as its samples last: 8 per
                    // ms, 4 base64 characters per 3 of them.
                    let chars = string_field(text, "payload").map_or(0, str::len);
                    play_until = play_until.max(now) + Duration::from_millis((chars * 3 / 4 / 8) as u64);
                    last_media = now;
                } else if let Some(name) = string_field(text, "name") {
                    let name = name.to_string();
                    // A new turn's marks: `{turn}.{prompt}`.
                    let t: u32 = name.split('.').next().and_then(|t| t.parse().ok()).unwrap_or(0);
                    turn = turn.max(t);
                    pending.push((play_until.max(now), name));
                } else if text.contains(r#""clear""#) {
                    play_until = now;
                }
            }
        }
    }
}

/// The value of the first `"key":"…"` string in a server message. The
/// generator reads 50 of them a second per stream: a look, not a JSON parse
/// (the server writes these fields without escapes).
fn string_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(&format!("\"{key}\":\""))? + key.len() + 4;
    text[start..].split('"').next()
}
