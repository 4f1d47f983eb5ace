//! A Twilio-behaving Media Streams client and fake speech services.
//!
//! [`StreamCall`] plays the provider: it posts the voice webhook, follows
//! its `<Connect><Stream>` over a real WebSocket (signed like Twilio signs
//! it), sends `connected` and `start`, then caller audio as 20 ms μ-law
//! frames at real-time pace (silence unless the test queued tones or
//! speech), `dtmf` events, and plays our audio back on its own clock,
//! returning each `mark` when the audio before it has played (at once on
//! `clear`, as Twilio does).
//!
//! [`FakeSpeech`] is an OpenAI-compatible speech service on a free port:
//! `/v1/audio/speech` answers a short WAV, `/v1/audio/transcriptions`
//! answers scripted transcripts in order.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use dialback::config::{MediaSettings, SttBackend, TtsBackend};
use dialback::media::codec::{decode_all, encode_all};
use dialback::twilio::signature;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::phone::{AUTH_TOKEN, PUBLIC_URL, Server, new_call_sid, parse_twiml};
use super::wait::eventually;

/// How long a call may take to reach what the test waits for.
const WAIT: Duration = Duration::from_secs(20);

/// The fake speech service.
#[derive(Clone)]
pub struct FakeSpeech {
    pub url: String,
    inner: Arc<Mutex<Speech>>,
}

#[derive(Default)]
struct Speech {
    transcripts: VecDeque<String>,
    spoken: Vec<String>,
    uploads: usize,
    down: bool,
}

impl FakeSpeech {
    pub async fn start() -> FakeSpeech {
        let inner = Arc::new(Mutex::new(Speech::default()));
        let app = Router::new()
            .route("/v1/audio/speech", post(speak))
            .route("/v1/audio/transcriptions", post(transcribe))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeSpeech {
            url: format!("http://{addr}"),
            inner,
        }
    }

    /// What the recogniser will hear next, in order.
    pub fn will_hear(&self, texts: &[&str]) {
        let mut s = self.inner.lock().unwrap();
        s.transcripts.extend(texts.iter().map(|t| t.to_string()));
    }

    /// Makes the recogniser answer 503 from now on.
    pub fn go_down(&self) {
        self.inner.lock().unwrap().down = true;
    }

    pub fn uploads(&self) -> usize {
        self.inner.lock().unwrap().uploads
    }

    pub fn spoken(&self) -> Vec<String> {
        self.inner.lock().unwrap().spoken.clone()
    }

    /// Media settings using this service for both directions.
    pub fn media(&self, recordings: &std::path::Path) -> MediaSettings {
        MediaSettings {
            tts: TtsBackend::Http {
                url: format!("{}/v1/audio/speech", self.url),
                model: "tts-test".into(),
                voice: "test".into(),
            },
            stt: Some(SttBackend {
                url: format!("{}/v1/audio/transcriptions", self.url),
                model: "stt-test".into(),
                timeout: Duration::from_secs(5),
            }),
            speech_api_key: None,
            recordings_dir: recordings.to_path_buf(),
            ..MediaSettings::default()
        }
    }
}

/// 160 ms of a soft 440 Hz hum as a 16 kHz WAV: every prompt is short, so
/// calls run in a second or two of real time.
async fn speak(
    State(s): State<Arc<Mutex<Speech>>>,
    body: Bytes,
) -> impl axum::response::IntoResponse {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    assert_eq!(request["response_format"], "wav", "{request}");
    s.lock()
        .unwrap()
        .spoken
        .push(request["input"].as_str().unwrap_or("").to_string());
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for i in 0..16_000 * 160 / 1000 {
        let x = (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16_000.0).sin();
        w.write_sample((x * 3_000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    ([("content-type", "audio/wav")], cursor.into_inner())
}

async fn transcribe(State(s): State<Arc<Mutex<Speech>>>, body: Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut s = s.lock().unwrap();
    if s.down {
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.contains("RIFF") && text.contains("name=\"model\""),
        "a multipart WAV upload"
    );
    s.uploads += 1;
    let transcript = s.transcripts.pop_front().unwrap_or_default();
    axum::Json(json!({ "text": transcript })).into_response()
}

/// A DTMF tone (both tones at about −7 dBm0) of `ms` milliseconds, 8 kHz.
pub fn tone(key: char, ms: u32) -> Vec<i16> {
    let (low, high) = match key {
        '1' => (697.0, 1209.0),
        '2' => (697.0, 1336.0),
        '3' => (697.0, 1477.0),
        '4' => (770.0, 1209.0),
        '5' => (770.0, 1336.0),
        '6' => (770.0, 1477.0),
        '7' => (852.0, 1209.0),
        '8' => (852.0, 1336.0),
        '9' => (852.0, 1477.0),
        '*' => (941.0, 1209.0),
        '0' => (941.0, 1336.0),
        '#' => (941.0, 1477.0),
        _ => panic!("no tone for {key}"),
    };
    let n = 8 * ms as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / 8_000.0;
            let x = (2.0 * std::f32::consts::PI * low * t).sin()
                + (2.0 * std::f32::consts::PI * high * t).sin();
            (x * 7_000.0) as i16
        })
        .collect()
}

/// `ms` of speech from a fixture (8 kHz mono).
pub fn speech(name: &str, ms: u32) -> Vec<i16> {
    let path = format!(
        "{}/tests/fixtures/speech/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut r = hound::WavReader::open(path).unwrap();
    r.samples::<i16>()
        .take(8 * ms as usize)
        .map(|s| s.unwrap())
        .collect()
}

/// What the client has seen of our side.
#[derive(Default, Debug)]
pub struct Seen {
    pub frames: usize,
    pub marks: usize,
    pub clears: usize,
    pub closed: bool,
    /// Caller audio samples handed to the client, and sent so far.
    pub audio_queued: usize,
    pub audio_sent: usize,
    /// Everything the server played to the caller, decoded.
    pub played: Vec<i16>,
    /// When our queued audio will have played, by the client's clock.
    play_until: Option<Instant>,
    pending_marks: Vec<(Instant, String)>,
    last_media: Option<Instant>,
}

enum Control {
    Dtmf(char),
    Audio(Vec<i16>),
    Raw(Message),
    Stop,
    /// Send nothing more, read nothing more; the TCP connection stays open.
    Stall,
    /// Drop the TCP connection without `stop` or a close frame.
    Vanish,
}

/// One call over a media stream, as Twilio would run it.
pub struct StreamCall {
    pub sid: String,
    pub seen: Arc<Mutex<Seen>>,
    control: tokio::sync::mpsc::UnboundedSender<Control>,
    task: tokio::task::JoinHandle<()>,
    marks_waited: usize,
}

impl StreamCall {
    /// Posts the voice webhook for an outbound call running `flow`, checks
    /// the `<Connect><Stream>` answer, connects and starts the stream.
    pub async fn dial(server: &Server, flow: &str) -> StreamCall {
        let sid = new_call_sid();
        let (status, body) = server
            .post(
                &format!("/twilio/voice?flow={flow}"),
                &[
                    ("CallSid", &sid),
                    ("AccountSid", "AC0"),
                    ("From", "+861000000001"),
                    ("To", "+8613812348000"),
                    ("CallStatus", "in-progress"),
                    ("Direction", "outbound-api"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(
            parse_twiml(&body).is_empty(),
            "no TwiML verbs but <Connect>: {body}"
        );
        let url = format!("{}/media", PUBLIC_URL.replacen("https://", "wss://", 1));
        assert!(body.contains(&format!(r#"<Stream url="{url}">"#)), "{body}");
        assert!(
            body.contains(&format!(r#"<Parameter name="call_sid" value="{sid}"/>"#)),
            "{body}"
        );
        assert!(
            body.contains(&format!(r#"<Parameter name="flow" value="{flow}"/>"#)),
            "{body}"
        );
        StreamCall::connect(server.addr, &sid, flow, Some(&url)).await
    }

    /// Connects a stream for `sid`, signing the upgrade for `signed_url`.
    pub async fn connect(
        addr: SocketAddr,
        sid: &str,
        flow: &str,
        signed_url: Option<&str>,
    ) -> StreamCall {
        let mut request = format!("ws://{addr}/media").into_client_request().unwrap();
        if let Some(url) = signed_url {
            let sig = signature::compute(AUTH_TOKEN, url, &[]);
            request
                .headers_mut()
                .insert("x-twilio-signature", sig.parse().unwrap());
        }
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the media socket opens");
        let (mut tx, mut rx) = ws.split();
        let stream_sid = format!("MZ{}", &sid[2..]);
        for m in [
            json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
            json!({"event": "start", "sequenceNumber": "1", "streamSid": stream_sid, "start": {
                "accountSid": "AC0", "streamSid": stream_sid, "callSid": sid, "tracks": ["inbound"],
                "customParameters": {"call_sid": sid, "flow": flow},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}),
        ] {
            tx.send(Message::text(m.to_string())).await.unwrap();
        }
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (control, mut commands) = tokio::sync::mpsc::unbounded_channel::<Control>();
        let seen2 = seen.clone();
        let task = tokio::spawn(async move {
            let mut audio: VecDeque<i16> = VecDeque::new();
            let mut seq = 2u64;
            let mut chunk = 0u64;
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        let real = audio.len().min(160);
                        let frame: Vec<i16> = (0..160).map(|_| audio.pop_front().unwrap_or(0)).collect();
                        seen2.lock().unwrap().audio_sent += real;
                        chunk += 1;
                        seq += 1;
                        let msg = json!({"event": "media", "sequenceNumber": seq.to_string(), "streamSid": stream_sid,
                            "media": {"track": "inbound", "chunk": chunk.to_string(), "timestamp": (chunk * 20).to_string(),
                                      "payload": STANDARD.encode(encode_all(&frame))}});
                        if tx.send(Message::text(msg.to_string())).await.is_err() { break; }
                        let due: Vec<String> = {
                            let mut s = seen2.lock().unwrap();
                            let now = Instant::now();
                            let (due, keep): (Vec<_>, Vec<_>) = s.pending_marks.drain(..).partition(|(at, _)| *at <= now);
                            s.pending_marks = keep;
                            due.into_iter().map(|(_, n)| n).collect()
                        };
                        for name in due {
                            seq += 1;
                            let m = json!({"event": "mark", "sequenceNumber": seq.to_string(), "streamSid": stream_sid, "mark": {"name": name}});
                            if tx.send(Message::text(m.to_string())).await.is_err() { break; }
                        }
                    }
                    cmd = commands.recv() => match cmd {
                        Some(Control::Dtmf(d)) => {
                            seq += 1;
                            let m = json!({"event": "dtmf", "sequenceNumber": seq.to_string(), "streamSid": stream_sid,
                                "dtmf": {"track": "inbound_track", "digit": d.to_string()}});
                            let _ = tx.send(Message::text(m.to_string())).await;
                        }
                        Some(Control::Audio(samples)) => audio.extend(samples),
                        Some(Control::Raw(m)) => { let _ = tx.send(m).await; }
                        Some(Control::Stop) | None => {
                            let m = json!({"event": "stop", "sequenceNumber": (seq + 1).to_string(), "streamSid": stream_sid,
                                "stop": {"accountSid": "AC0", "callSid": "x"}});
                            let _ = tx.send(Message::text(m.to_string())).await;
                            let _ = tx.close().await;
                            // The server closes its side once it has dealt
                            // with the end of the stream: wait for that.
                            let _ = tokio::time::timeout(Duration::from_secs(10), async {
                                while let Some(Ok(_)) = rx.next().await {}
                            })
                            .await;
                            break;
                        }
                        // Both halves stay open, unused, until the runtime ends.
                        Some(Control::Stall) => std::future::pending::<()>().await,
                        Some(Control::Vanish) => break,
                    },
                    msg = rx.next() => {
                        let Some(Ok(msg)) = msg else {
                            seen2.lock().unwrap().closed = true;
                            break;
                        };
                        let Message::Text(text) = msg else {
                            if let Message::Close(_) = msg { seen2.lock().unwrap().closed = true; break; }
                            continue;
                        };
                        let v: Value = serde_json::from_str(text.as_str()).expect("our server sends JSON");
                        assert_eq!(v["streamSid"], stream_sid.as_str(), "{v}");
                        let now = Instant::now();
                        let mut s = seen2.lock().unwrap();
                        match v["event"].as_str() {
                            Some("media") => {
                                let bytes = STANDARD.decode(v["media"]["payload"].as_str().unwrap()).unwrap();
                                assert!(!bytes.is_empty() && bytes.len().is_multiple_of(160), "whole 20 ms frames: {} bytes", bytes.len());
                                s.played.extend(decode_all(&bytes));
                                s.frames += bytes.len() / 160;
                                // A payload plays for as long as its samples last (8 per ms).
                                let start = s.play_until.filter(|p| *p > now).unwrap_or(now);
                                s.play_until = Some(start + Duration::from_millis(bytes.len() as u64 / 8));
                                s.last_media = Some(now);
                            }
                            Some("mark") => {
                                s.marks += 1;
                                let at = s.play_until.unwrap_or(now).max(now);
                                s.pending_marks.push((at, v["mark"]["name"].as_str().unwrap().to_string()));
                            }
                            Some("clear") => {
                                s.clears += 1;
                                s.play_until = None;
                                for m in &mut s.pending_marks { m.0 = now; }
                            }
                            other => panic!("unexpected message {other:?}: {v}"),
                        }
                    }
                }
            }
            seen2.lock().unwrap().closed = true;
        });
        StreamCall {
            sid: sid.to_string(),
            seen,
            control,
            task,
            marks_waited: 0,
        }
    }

    /// Waits until the server has played a new turn's prompts to the end
    /// (every mark returned) and is listening.
    pub async fn listening(&mut self) {
        let (seen, waited) = (&self.seen, self.marks_waited);
        self.marks_waited = eventually(WAIT, "no question", || async move {
            let s = seen.lock().unwrap();
            assert!(
                !s.closed,
                "the call ended while waiting for a question: {s:?}"
            );
            // The server tops up its lead every 60 ms; a longer gap means
            // the turn's audio is over (200 ms: a busy CI can stall it past
            // 60 ms mid-turn).
            let quiet = s
                .last_media
                .is_some_and(|t| t.elapsed() > Duration::from_millis(200));
            (s.marks > waited && s.pending_marks.is_empty() && quiet).then_some(s.marks)
        })
        .await;
        // The last mark has gone back: give the server a moment to read it.
        tokio::time::sleep(Duration::from_millis(30)).await;
    }

    /// Waits until the server's prompt audio is arriving, so that a key
    /// pressed next lands while a prompt is still playing (a barge-in).
    /// Waiting on a fixed sleep instead raced prompt rendering on a busy CI.
    pub async fn playing(&self) {
        let seen = &self.seen;
        eventually(WAIT, "no prompt audio", || async move {
            let s = seen.lock().unwrap();
            assert!(!s.closed, "the call ended before any prompt: {s:?}");
            (s.frames >= 5 && s.play_until.is_some_and(|p| p > Instant::now())).then_some(())
        })
        .await
    }

    /// Waits until all the caller audio given so far has gone out (on a
    /// busy machine the 20 ms ticks fall behind the wall clock).
    pub async fn sent(&self) {
        let seen = &self.seen;
        eventually(WAIT, "caller audio stuck", || async move {
            let s = seen.lock().unwrap();
            (s.audio_sent >= s.audio_queued).then_some(())
        })
        .await
    }

    /// A key as a `dtmf` event.
    pub fn press(&self, key: char) {
        self.control.send(Control::Dtmf(key)).unwrap();
    }

    /// A key as an in-band tone in the caller's audio (no `dtmf` event).
    pub fn tone(&self, key: char) {
        let mut audio = tone(key, 100);
        audio.extend(vec![0; 8 * 100]);
        self.seen.lock().unwrap().audio_queued += audio.len();
        self.control.send(Control::Audio(audio)).unwrap();
    }

    /// Caller audio, then silence.
    pub fn say(&self, audio: Vec<i16>) {
        self.seen.lock().unwrap().audio_queued += audio.len();
        self.control.send(Control::Audio(audio)).unwrap();
    }

    pub fn send_raw(&self, m: Message) {
        let _ = self.control.send(Control::Raw(m));
    }

    /// The provider stops sending (and reading) but keeps the TCP
    /// connection open, as a stalled provider or a dead network path would.
    pub fn stall(&self) {
        self.control.send(Control::Stall).unwrap();
    }

    /// The TCP connection drops with no `stop` and no close frame.
    pub async fn vanish(self) {
        let _ = self.control.send(Control::Vanish);
        let _ = self.task.await;
    }

    /// The caller hangs up (or the provider ends the stream after a
    /// redirect): `stop`, then the socket closes; returns once the server
    /// has closed its side.
    pub async fn hang_up(self) {
        let _ = self.control.send(Control::Stop);
        let _ = self.task.await;
    }

    /// Waits for the server to close the stream (the call ended).
    pub async fn ended(self) {
        let seen = &self.seen;
        eventually(WAIT, "the call did not end", || async move {
            seen.lock().unwrap().closed.then_some(())
        })
        .await;
        drop(self.control);
        let _ = self.task.await;
    }

    pub fn clears(&self) -> usize {
        self.seen.lock().unwrap().clears
    }
}
