//! Calls over Media Streams, end to end: a Twilio-behaving client on a real
//! WebSocket sends μ-law audio (tones for keys, fixture speech for spoken
//! answers, heard by a fake recogniser), and the answers, recordings,
//! handoffs and outcomes are read back through the admin API and the
//! store, on SQLite and PostgreSQL. Then the handler alone, over in-memory
//! channels, against everything a broken peer can send.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::common::db::{TestDb, each_backend};
use crate::common::fake_provider::{ACCOUNT_SID, FakeProvider};
use crate::common::phone::{
    ADMIN_TOKEN, AUTH_TOKEN, Options, PUBLIC_URL, Server, Verb, new_call_sid, parse_twiml,
};
use crate::common::stream::{FakeSpeech, StreamCall, speech};
use crate::common::wait::eventually;
use axum::extract::ws::Message as AxumMessage;
use chrono::{TimeZone, Utc};
use dialback::app::App;
use dialback::config::{Clock, Settings};
use futures_util::{Sink, Stream};
use serde_json::{Value, json};

/// Monday 11:00 in Shanghai: agents are at work.
fn office_hours() -> Clock {
    Clock::Fixed(Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap())
}

fn settings(db: &TestDb, speech: &FakeSpeech, recordings: &std::path::Path) -> Settings {
    let mut s = Server::settings(Options {
        database_url: db.url().to_string(),
        crm_webhook: None,
        auth_token: Some(AUTH_TOKEN.into()),
        clock: office_hours(),
    });
    s.media = speech.media(recordings);
    s
}

/// A server for stream tests on `db`: a fake speech service for both
/// directions and a recordings folder (both returned, to be kept alive),
/// with `adjust` applied to the settings first.
async fn stream_server(
    db: &TestDb,
    adjust: impl FnOnce(&mut Settings),
) -> (Server, FakeSpeech, tempfile::TempDir) {
    let speech_service = FakeSpeech::start().await;
    let recordings = tempfile::tempdir().unwrap();
    let mut s = settings(db, &speech_service, recordings.path());
    adjust(&mut s);
    (Server::start_settings(s).await, speech_service, recordings)
}

async fn call_result(server: &Server, sid: &str) -> Value {
    let (status, v) = server.admin_get(&format!("/api/calls/{sid}")).await;
    assert_eq!(status, 200, "{v}");
    v
}

#[tokio::test]
async fn the_feature_call_runs_over_a_stream_with_tones_events_and_speech_on_both_backends() {
    for (backend, db) in each_backend().await {
        eprintln!("-- on {backend}");
        let (server, speech_service, _recordings) = stream_server(&db, |_| {}).await;
        speech_service.will_hear(&["按钮太小了"]);

        let mut call = StreamCall::dial(&server, "feature-feedback-stream").await;
        let sid = call.sid.clone();
        call.listening().await;
        call.tone('1'); // "tried": an in-band tone, no dtmf event
        call.listening().await;
        call.press('2'); // "ease": a dtmf event
        call.listening().await;
        let mut answer = speech("mandarin.wav", 1_500);
        answer.extend(vec![0; 8 * 1_200]);
        call.say(answer); // "what_was_hard": spoken, then silence
        call.ended().await;

        let r = call_result(&server, &sid).await;
        assert_eq!(r["flow"], "feature-feedback-stream");
        assert_eq!(r["outcome"], "completed");
        assert_eq!(
            r["answers"],
            json!({"tried": true, "ease": 2, "what_was_hard": "按钮太小了"})
        );
        assert_eq!(speech_service.uploads(), 1, "one utterance was recognised");
        let spoken = speech_service.spoken();
        assert!(
            spoken.iter().any(|t| t.starts_with("您好，这里是示例钱包")),
            "{spoken:?}"
        );
        let answers = db.store().answers(&sid).await.unwrap();
        assert_eq!(answers[2].raw.as_deref(), Some("按钮太小了"));
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_wallet_call_over_a_stream_stores_spoken_answers_and_the_recorded_suggestion() {
    for (backend, db) in each_backend().await {
        eprintln!("-- on {backend}");
        let (server, speech_service, recordings) = stream_server(&db, |_| {}).await;
        speech_service.will_hear(&["嗯，已经解决了", "没用过"]);
        let spoken = || {
            let mut a = speech("mandarin.wav", 1_200);
            a.extend(vec![0; 8 * 1_200]);
            a
        };

        let mut call = StreamCall::dial(&server, "wallet-followup-stream").await;
        let sid = call.sid.clone();
        call.listening().await;
        call.tone('1'); // consent, in-band (before any dtmf event turns that off)
        call.listening().await;
        call.say(spoken()); // resolved: "嗯，已经解决了"
        call.listening().await;
        call.press('5'); // csat
        call.listening().await;
        call.say(spoken()); // feature: "没用过"
        call.listening().await;
        call.press('1'); // has_suggestion
        call.listening().await;
        call.say(speech("english.wav", 2_500)); // the suggestion…
        call.sent().await;
        call.press('#'); // …ended with the finish key
        let seen = call.seen.clone();
        call.ended().await;
        // "After the tone": the call played a 1 kHz beep (100 zero crossings
        // per 50 ms; the test prompts hum at 440 Hz, 44) of about 400 ms.
        let beep_windows = seen
            .lock()
            .unwrap()
            .played
            .chunks(400)
            .filter(|w| {
                let crossings = w.windows(2).filter(|p| (p[0] < 0) != (p[1] < 0)).count();
                (95..=105).contains(&crossings)
            })
            .count();
        assert!(
            (7..=8).contains(&beep_windows),
            "{beep_windows} windows of beep"
        );

        let r = call_result(&server, &sid).await;
        assert_eq!(r["outcome"], "completed", "{r}");
        let answers = &r["answers"];
        assert_eq!(
            (
                &answers["consent"],
                &answers["resolved"],
                &answers["csat"],
                &answers["feature"],
                &answers["has_suggestion"]
            ),
            (
                &json!(true),
                &json!(true),
                &json!(5),
                &json!("not_used"),
                &json!(true)
            ),
            "{r}"
        );
        let path = answers["suggestion"]["url"]
            .as_str()
            .expect("a recording path");
        assert!(
            path.starts_with(recordings.path().to_str().unwrap()),
            "{path}"
        );
        let secs = answers["suggestion"]["duration_secs"].as_u64().unwrap();
        assert!((2..=4).contains(&secs), "{secs} s recorded");
        let wav = hound::WavReader::open(path).expect("the recording is a WAV file");
        assert_eq!(wav.spec().sample_rate, 8_000);
        assert!(wav.duration() >= 8_000 * 2, "silence trimmed, voice kept");
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn without_a_provider_account_an_unresolved_caller_on_a_stream_gets_an_open_handoff_and_the_ticket_path()
 {
    for (backend, db) in each_backend().await {
        eprintln!("-- on {backend}");
        let (server, _speech_service, _recordings) = stream_server(&db, |_| {}).await;
        let mut call = StreamCall::dial(&server, "wallet-followup-stream").await;
        let sid = call.sid.clone();
        call.listening().await;
        call.press('1');
        call.listening().await;
        call.press('2'); // not resolved: handoff, which a stream cannot bridge
        call.ended().await;
        let r = call_result(&server, &sid).await;
        assert_eq!(r["outcome"], "ticket");
        let (_, h) = server.admin_get("/api/handoffs?status=open").await;
        assert_eq!(h["handoffs"][0]["call_sid"], sid.as_str(), "{h}");
        assert_eq!(h["handoffs"][0]["reason"], "failed");
        server.stop().await;
        db.cleanup().await;
    }
}

/// Answers consent (yes) and resolved (no): the wallet flow goes to its
/// handoff step, whose prompts play on the stream before the transfer.
async fn unresolved_caller(server: &Server) -> StreamCall {
    let mut call = StreamCall::dial(server, "wallet-followup-stream").await;
    call.listening().await;
    call.press('1');
    call.listening().await;
    call.press('2');
    call
}

fn basic_auth() -> String {
    use base64::Engine;
    let token =
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"));
    format!("Basic {token}")
}

#[tokio::test]
async fn a_transfer_on_a_stream_redirects_the_live_call_and_the_dial_result_ends_it_as_a_handoff() {
    for (backend, db) in each_backend().await {
        eprintln!("-- on {backend}");
        let api = FakeProvider::start().await;
        let (server, _speech_service, _recordings) =
            stream_server(&db, |s| s.media.provider = Some(api.config())).await;

        let call = unresolved_caller(&server).await;
        let sid = call.sid.clone();
        let update = api.nth_update(1).await;

        let row = db.store().load_call(&sid).await.unwrap().unwrap();
        assert_eq!(update.account, ACCOUNT_SID);
        assert_eq!(update.call_sid.as_deref(), Some(sid.as_str()));
        assert_eq!(update.authorization, basic_auth());
        let transfer_url = format!("{PUBLIC_URL}/twilio/transfer?seq={}", row.seq);
        assert_eq!(update.param("Url"), Some(transfer_url.as_str()));
        assert_eq!(update.param("Method"), Some("POST"));
        // The provider ends the stream: not a hang-up, the call goes on.
        call.hang_up().await;
        let row = db.store().load_call(&sid).await.unwrap().unwrap();
        assert_eq!(row.outcome, None, "the end of the stream is no hang-up");

        let form = [
            ("CallSid", sid.as_str()),
            ("AccountSid", ACCOUNT_SID),
            ("CallStatus", "in-progress"),
        ];
        let (status, body) = server.post(&transfer_url, &form).await;
        assert_eq!(status, 200, "{body}");
        let dial_url = format!("{PUBLIC_URL}/twilio/dial?seq={}", row.seq);
        assert_eq!(
            parse_twiml(&body),
            vec![Verb::Enqueue {
                action: dial_url.clone(),
                queue: "wallet-support".into()
            }],
            "the transfer alone: its prompts were played on the stream"
        );
        let mut bridged = form.to_vec();
        bridged.extend([("QueueResult", "bridged"), ("QueueTime", "12")]);
        let (status, body) = server.post(&dial_url, &bridged).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(parse_twiml(&body), vec![Verb::Hangup]);

        let r = call_result(&server, &sid).await;
        assert_eq!(r["outcome"], "handoff", "{r}");
        assert_eq!(r["answers"], json!({"consent": true, "resolved": false}));
        let (_, h) = server.admin_get("/api/handoffs?status=open").await;
        assert!(
            !h.to_string().contains(&sid),
            "a connected handoff is not open: {h}"
        );
        assert_eq!(api.updates().len(), 1);
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_provider_that_refuses_or_does_not_answer_the_redirect_sends_the_stream_caller_down_the_ticket_path()
 {
    let db = TestDb::sqlite().await;
    let api = FakeProvider::start().await;
    let (server, _speech_service, _recordings) =
        stream_server(&db, |s| s.media.provider = Some(api.config())).await;
    // None: no answer within the 5 s the caller is kept waiting.
    for (i, status) in [Some(500u16), Some(404), None].into_iter().enumerate() {
        match status {
            Some(status) => api.fail_next(&[status]),
            None => api.delay_next(std::time::Duration::from_secs(30)),
        }
        let call = unresolved_caller(&server).await;
        let sid = call.sid.clone();
        api.nth_update(i + 1).await;
        // The ticket message plays on the stream, then the call ends.
        call.ended().await;
        let r = call_result(&server, &sid).await;
        assert_eq!(r["outcome"], "ticket", "HTTP {status:?}: {r}");
        let (_, h) = server.admin_get("/api/handoffs?status=open").await;
        let open = h["handoffs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["call_sid"] == sid.as_str())
            .unwrap_or_else(|| panic!("HTTP {status:?}: an open handoff for {sid}: {h}"))
            .clone();
        assert_eq!(open["reason"], "failed");
    }
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_stop_that_comes_before_the_providers_answer_to_the_redirect_is_no_hang_up() {
    let db = TestDb::sqlite().await;
    let api = FakeProvider::start().await;
    let (server, _speech_service, _recordings) =
        stream_server(&db, |s| s.media.provider = Some(api.config())).await;
    api.delay_next(std::time::Duration::from_millis(500));

    let call = unresolved_caller(&server).await;
    let sid = call.sid.clone();
    let update = api.nth_update(1).await;
    // The stream ends while the update is still unanswered.
    call.hang_up().await;
    let row = db.store().load_call(&sid).await.unwrap().unwrap();
    assert_eq!(row.outcome, None, "the end of the stream is no hang-up");

    let transfer_url = update.param("Url").unwrap().to_string();
    let form = [("CallSid", sid.as_str()), ("AccountSid", ACCOUNT_SID)];
    let (_, body) = server.post(&transfer_url, &form).await;
    let Some(Verb::Enqueue { action, .. }) = parse_twiml(&body).into_iter().next() else {
        panic!("an <Enqueue>: {body}");
    };
    let mut result = form.to_vec();
    result.push(("QueueResult", "bridged"));
    server.post(&action, &result).await;
    let r = call_result(&server, &sid).await;
    assert_eq!(r["outcome"], "handoff", "{r}");
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn outside_business_hours_a_stream_transfer_asks_nothing_of_the_provider() {
    let db = TestDb::sqlite().await;
    let speech_service = FakeSpeech::start().await;
    let recordings = tempfile::tempdir().unwrap();
    let api = FakeProvider::start().await;
    let mut s = settings(&db, &speech_service, recordings.path());
    s.media.provider = Some(api.config());
    // Saturday 11:00 in Shanghai.
    s.clock = Clock::Fixed(Utc.with_ymd_and_hms(2026, 11, 28, 3, 0, 0).unwrap());
    let server = Server::start_settings(s).await;
    let call = unresolved_caller(&server).await;
    let sid = call.sid.clone();
    call.ended().await;
    let r = call_result(&server, &sid).await;
    assert_eq!(r["outcome"], "ticket", "{r}");
    let (_, h) = server.admin_get("/api/handoffs?status=open").await;
    assert_eq!(h["handoffs"][0]["reason"], "outside_hours", "{h}");
    assert!(api.updates().is_empty(), "no call update out of hours");
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_key_during_a_prompt_clears_it_and_a_caller_who_hangs_up_keeps_the_answers() {
    for (backend, db) in each_backend().await {
        eprintln!("-- on {backend}");
        let (server, _speech_service, _recordings) = stream_server(&db, |_| {}).await;
        let mut call = StreamCall::dial(&server, "wallet-followup-stream").await;
        let sid = call.sid.clone();
        // Barge in while the greeting and first question are still playing.
        call.playing().await;
        call.press('1');
        call.listening().await;
        assert_eq!(call.clears(), 1, "the prompt was cleared");
        call.press('1'); // resolved
        call.listening().await;
        call.hang_up().await;
        let (server_ref, sid) = (&server, &sid);
        let r = eventually(
            std::time::Duration::from_secs(10),
            format!("{backend}: the call has no outcome"),
            || async move {
                let r = call_result(server_ref, sid).await;
                (!r["outcome"].is_null()).then_some(r)
            },
        )
        .await;
        assert_eq!(r["outcome"], "abandoned");
        assert_eq!(r["answers"], json!({"consent": true, "resolved": true}));
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_recogniser_that_is_down_makes_a_spoken_answer_a_no_match_not_a_failure() {
    let db = TestDb::sqlite().await;
    let (server, speech_service, _recordings) = stream_server(&db, |_| {}).await;
    speech_service.go_down();
    let mut call = StreamCall::dial(&server, "feature-feedback-stream").await;
    let sid = call.sid.clone();
    call.listening().await;
    let mut answer = speech("mandarin.wav", 1_200);
    answer.extend(vec![0; 8 * 1_200]);
    call.say(answer);
    call.listening().await; // asked again
    call.press('2');
    call.ended().await;
    let r = call_result(&server, &sid).await;
    assert_eq!(r["outcome"], "completed");
    assert_eq!(r["answers"], json!({"tried": false}));
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn metrics_show_the_open_stream_and_count_the_caller_frames_it_processed() {
    let db = TestDb::sqlite().await;
    let (server, _speech, _recordings) = stream_server(&db, |_| {}).await;
    let frames = "dialback_media_frames_total";
    let before = server.metric(frames).await;

    let mut call = StreamCall::dial(&server, "feature-feedback-stream").await;
    call.listening().await;
    call.say(vec![0; 8 * 1_000]); // 50 frames of silence
    call.sent().await;
    assert!(server.metric("dialback_active_media_streams").await >= 1.0);
    // Frames are counted as the server processes them, a moment after
    // they were sent.
    let server_ref = &server;
    eventually(
        std::time::Duration::from_secs(5),
        "the stream's frames are not counted on /metrics",
        || async move { (server_ref.metric(frames).await >= before + 50.0).then_some(()) },
    )
    .await;
    let text = server.metrics_text().await;
    assert!(
        text.contains("# TYPE dialback_media_frames_late_total counter"),
        "{text}"
    );
    call.hang_up().await;
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_stream_upgrade_without_a_valid_signature_is_refused() {
    let db = TestDb::sqlite().await;
    let (server, _speech_service, _recordings) = stream_server(&db, |_| {}).await;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let wss = format!("{}/media", PUBLIC_URL.replacen("https://", "wss://", 1));
    for signature in [
        None,
        Some("bm9wZQ==".to_string()),
        Some(dialback::twilio::signature::compute(
            AUTH_TOKEN,
            "wss://elsewhere.test/media",
            &[],
        )),
    ] {
        let mut request = format!("ws://{}/media", server.addr)
            .into_client_request()
            .unwrap();
        if let Some(sig) = &signature {
            request
                .headers_mut()
                .insert("x-twilio-signature", sig.parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "{signature:?}")
            }
            other => panic!(
                "expected 403 for {signature:?}, got {:?}",
                other.map(|_| ())
            ),
        }
    }
    let _ = wss;
    let _ = ADMIN_TOKEN;
    server.stop().await;
    db.cleanup().await;
}

/// The stream handler of a server on `db`, driven without a socket; the
/// fake recogniser and the recordings folder live as long as the guard.
async fn in_memory_streams(
    db: &TestDb,
) -> (
    dialback::http::media_ws::MediaStreams,
    (FakeSpeech, tempfile::TempDir),
) {
    let speech_service = FakeSpeech::start().await;
    let recordings = tempfile::tempdir().unwrap();
    let app = App::build(settings(db, &speech_service, recordings.path()))
        .await
        .unwrap();
    (app.media_streams(), (speech_service, recordings))
}

type ToHandler = tokio::sync::mpsc::UnboundedSender<Result<AxumMessage, Infallible>>;
type FromHandler = tokio::sync::mpsc::UnboundedReceiver<AxumMessage>;

/// An in-memory socket for the handler, with the provider's two ends.
fn duplex() -> (ToHandler, Duplex, FromHandler) {
    let (to_handler, incoming) = tokio::sync::mpsc::unbounded_channel();
    let (sent, from_handler) = tokio::sync::mpsc::unbounded_channel();
    (to_handler, Duplex { incoming, sent }, from_handler)
}

/// One end of an in-memory socket: what the handler sends arrives on
/// `sent`; what the test pushes into `incoming` is what the handler reads.
struct Duplex {
    incoming: tokio::sync::mpsc::UnboundedReceiver<Result<AxumMessage, Infallible>>,
    sent: tokio::sync::mpsc::UnboundedSender<AxumMessage>,
}

impl Stream for Duplex {
    type Item = Result<AxumMessage, Infallible>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.incoming.poll_recv(cx)
    }
}

impl Sink<AxumMessage> for Duplex {
    type Error = String;
    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), String>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(self: Pin<&mut Self>, item: AxumMessage) -> Result<(), String> {
        // A peer that has gone away is an error, as on a real socket.
        self.sent
            .send(item)
            .map_err(|_| "the peer is gone".to_string())
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), String>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), String>> {
        Poll::Ready(Ok(()))
    }
}

fn text(v: Value) -> AxumMessage {
    AxumMessage::Text(v.to_string().into())
}

fn start(sid: &str) -> AxumMessage {
    text(
        json!({"event": "start", "sequenceNumber": "1", "streamSid": "MZ1", "start": {
        "accountSid": "AC0", "streamSid": "MZ1", "callSid": sid, "tracks": ["inbound"],
        "customParameters": {"flow": "feature-feedback-stream"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}),
    )
}

fn dtmf(d: &str) -> AxumMessage {
    text(
        json!({"event": "dtmf", "streamSid": "MZ1", "dtmf": {"track": "inbound_track", "digit": d}}),
    )
}

/// What a broken peer sends after a first answer (`tried` = yes).
enum Trouble {
    Message(AxumMessage),
    /// The socket vanishes (no `stop`, no close frame).
    Vanish,
}

#[tokio::test]
async fn a_broken_peer_ends_its_own_call_cleanly_and_the_answers_given_stay_stored() {
    let db = TestDb::sqlite().await;
    let (streams, _speech) = in_memory_streams(&db).await;
    let cases: Vec<(&str, Trouble)> = vec![
        (
            "malformed JSON",
            Trouble::Message(AxumMessage::Text("{not json".into())),
        ),
        (
            "bad base64",
            Trouble::Message(text(json!({"event": "media", "media": {"payload": "%%%"}}))),
        ),
        (
            "a binary frame",
            Trouble::Message(AxumMessage::Binary(vec![1u8, 2, 3].into())),
        ),
        (
            "an oversized message",
            Trouble::Message(AxumMessage::Text("x".repeat(70_000).into())),
        ),
        (
            "a second start",
            Trouble::Message(start("CA00000000000000000000000000000000")),
        ),
        ("a dtmf digit that is no key", Trouble::Message(dtmf("12"))),
        ("a vanished socket", Trouble::Vanish),
    ];
    for (what, trouble) in cases {
        let sid = new_call_sid();
        let (to_handler, socket, mut from_handler) = duplex();
        let handler = tokio::spawn({
            let streams = streams.clone();
            async move { streams.serve(socket).await }
        });
        to_handler.send(Ok(start(&sid))).unwrap();
        // Skip the prompts: the first question listens after its marks.
        let mut marks = Vec::new();
        while marks.len() < 2 {
            match from_handler.recv().await.expect("the handler speaks") {
                AxumMessage::Text(t) if t.as_str().contains("\"mark\"") => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    marks.push(v["mark"]["name"].as_str().unwrap().to_string());
                }
                _ => {}
            }
        }
        for m in &marks {
            to_handler
                .send(Ok(text(json!({"event": "mark", "mark": {"name": m}}))))
                .unwrap();
        }
        to_handler.send(Ok(dtmf("1"))).unwrap();
        // Wait for the next question's prompt: the answer is stored.
        loop {
            match from_handler.recv().await {
                Some(AxumMessage::Text(t)) if t.as_str().contains("\"mark\"") => break,
                Some(_) => {}
                None => panic!("{what}: the handler stopped early"),
            }
        }
        match trouble {
            Trouble::Message(m) => to_handler.send(Ok(m)).unwrap(),
            Trouble::Vanish => drop(to_handler),
        }
        tokio::time::timeout(std::time::Duration::from_secs(10), handler)
            .await
            .unwrap_or_else(|_| panic!("{what}: the handler did not end"))
            .unwrap_or_else(|e| panic!("{what}: the handler panicked: {e}"));
        let row = db
            .store()
            .load_call(&sid)
            .await
            .unwrap()
            .expect("the call is stored");
        assert_eq!(row.outcome.as_deref(), Some("abandoned"), "{what}");
        let answers = db.store().answers(&sid).await.unwrap();
        assert_eq!(answers.len(), 1, "{what}: the answer given stays stored");
        assert_eq!(answers[0].question, "tried");
    }
    db.cleanup().await;
}

#[tokio::test]
async fn events_before_start_end_the_stream_without_creating_a_call() {
    let db = TestDb::sqlite().await;
    let (streams, _speech) = in_memory_streams(&db).await;
    let early: Vec<(&str, AxumMessage)> = vec![
        (
            "media",
            text(json!({"event": "media", "media": {"payload": "//8="}})),
        ),
        ("dtmf", dtmf("1")),
        (
            "mark",
            text(json!({"event": "mark", "mark": {"name": "1.0"}})),
        ),
        ("garbage", AxumMessage::Text("][".into())),
        ("a start with a bad CallSid", start("not-a-sid")),
    ];
    for (what, message) in early {
        let (to_handler, socket, mut from_handler) = duplex();
        to_handler
            .send(Ok(text(
                json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
            )))
            .unwrap();
        to_handler.send(Ok(message)).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), streams.serve(socket))
            .await
            .unwrap_or_else(|_| panic!("{what}: the handler did not end"));
        assert!(
            from_handler.try_recv().is_err(),
            "{what}: nothing is played"
        );
    }
    db.cleanup().await;
}

#[tokio::test]
async fn the_stream_ends_with_a_close_handshake_not_a_dropped_socket() {
    let db = TestDb::sqlite().await;
    let (streams, _speech) = in_memory_streams(&db).await;
    // Paused time: the waits below are exact, not a race with the machine.
    tokio::time::pause();
    let (to_handler, socket, _from_handler) = duplex();
    // A media frame before `start` ends the stream at once.
    to_handler
        .send(Ok(text(
            json!({"event": "media", "media": {"payload": "//8="}}),
        )))
        .unwrap();
    let handler = tokio::spawn(async move { streams.serve(socket).await });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !handler.is_finished(),
        "the socket is held until the provider answers the Close"
    );
    // Frames still on their way are read and dropped; the provider's Close
    // lets the socket go.
    to_handler
        .send(Ok(text(
            json!({"event": "media", "media": {"payload": "//8="}}),
        )))
        .unwrap();
    to_handler.send(Ok(AxumMessage::Close(None))).unwrap();
    tokio::time::timeout(std::time::Duration::from_millis(100), handler)
        .await
        .expect("the handler ends on the provider's Close")
        .unwrap();
    db.cleanup().await;
}

#[tokio::test]
async fn a_provider_that_never_answers_the_close_is_let_go_after_a_second() {
    let db = TestDb::sqlite().await;
    let (streams, _speech) = in_memory_streams(&db).await;
    tokio::time::pause();
    let (to_handler, socket, _from_handler) = duplex();
    to_handler.send(Ok(dtmf("1"))).unwrap();
    let started = tokio::time::Instant::now();
    streams.serve(socket).await;
    // A second, to the timer's millisecond.
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_secs(1)
            && waited < std::time::Duration::from_millis(1_010),
        "waited {waited:?}"
    );
    drop(to_handler);
    db.cleanup().await;
}

async fn wait_for_outcome(db: &TestDb, sid: &str) -> dialback::store::CallRow {
    wait_for_outcome_within(db, sid, std::time::Duration::from_secs(15)).await
}

async fn wait_for_outcome_within(
    db: &TestDb,
    sid: &str,
    bound: std::time::Duration,
) -> dialback::store::CallRow {
    eventually(bound, "the call did not end", || async move {
        let row = db.store().load_call(sid).await.unwrap().expect("stored");
        row.outcome.is_some().then_some(row)
    })
    .await
}

#[tokio::test]
async fn a_stream_that_stalls_vanishes_or_sends_too_much_ends_its_call_and_keeps_the_answers() {
    let db = TestDb::sqlite().await;
    let speech_service = FakeSpeech::start().await;
    let recordings = tempfile::tempdir().unwrap();
    let mut s = settings(&db, &speech_service, recordings.path());
    let idle = std::time::Duration::from_millis(500);
    s.media.idle_timeout = idle;
    let server = Server::start_settings(s).await;
    for what in ["stalls", "vanishes", "sends an oversized message"] {
        let mut call = StreamCall::dial(&server, "feature-feedback-stream").await;
        let sid = call.sid.clone();
        call.listening().await;
        call.press('1'); // tried: yes
        call.listening().await;
        let trouble_at = std::time::Instant::now();
        let stalled = match what {
            "stalls" => {
                call.stall();
                Some(call)
            }
            "vanishes" => {
                call.vanish().await;
                None
            }
            _ => {
                call.send_raw(tokio_tungstenite::tungstenite::Message::text(
                    "x".repeat(70_000),
                ));
                Some(call)
            }
        };
        // Waiting less than the 10 s default idle timeout: a stalled call
        // ends on the setting, or this fails.
        let row = wait_for_outcome_within(&db, &sid, std::time::Duration::from_secs(9)).await;
        let took = trouble_at.elapsed();
        assert_eq!(row.outcome.as_deref(), Some("abandoned"), "{what}");
        let answers = db.store().answers(&sid).await.unwrap();
        assert_eq!(answers.len(), 1, "{what}: the answer given stays stored");
        assert_eq!(answers[0].question, "tried", "{what}");
        if what == "stalls" {
            // Not before the idle timeout (a lower bound: a slow machine
            // cannot break it). The server's clock starts at the last frame
            // it got, which the client sent up to a frame (20 ms) before it
            // stalled.
            let slack = std::time::Duration::from_millis(40);
            assert!(
                took + slack >= idle,
                "{what}: ended after {took:?} with an idle timeout of {idle:?}"
            );
        }
        drop(stalled);
    }
    server.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_stalled_stream_does_not_delay_another_calls_prompts() {
    let db = TestDb::sqlite().await;
    let speech_service = FakeSpeech::start().await;
    let recordings = tempfile::tempdir().unwrap();
    let mut s = settings(&db, &speech_service, recordings.path());
    s.media.idle_timeout = std::time::Duration::from_secs(6);
    let server = Server::start_settings(s).await;

    let mut stalled = StreamCall::dial(&server, "feature-feedback-stream").await;
    let stalled_sid = stalled.sid.clone();
    stalled.listening().await;
    stalled.stall();

    // Another call runs from greeting to goodbye while the first is stuck.
    let mut other = StreamCall::dial(&server, "feature-feedback-stream").await;
    let other_sid = other.sid.clone();
    other.listening().await;
    other.press('2'); // tried: no, which ends the call
    other.ended().await;
    let r = call_result(&server, &other_sid).await;
    assert_eq!(r["outcome"], "completed", "{r}");
    let row = db.store().load_call(&stalled_sid).await.unwrap().unwrap();
    assert_eq!(
        row.outcome, None,
        "the other call finished while this one was still stalled"
    );

    let row = wait_for_outcome(&db, &stalled_sid).await;
    assert_eq!(row.outcome.as_deref(), Some("abandoned"));
    drop(stalled);
    server.stop().await;
    db.cleanup().await;
}

/// A stream flow that goes on with a question after its transfer.
const TRANSFER_THEN_ASK: &str = r#"
[flow]
name = "转接后继续（媒体流）"
language = "zh-CN"
mode = "stream"

[[step]]
id = "help"
ask = "yes_no"
prompt = "需要人工客服吗？需要请按1，不需要请按2。"
on.no = "csat"

[[step]]
id = "agent"
say = "正在为您转接人工客服。"
transfer = "queue:support"
unavailable = "csat"
next = "after_agent"

[[step]]
id = "after_agent"
say = "感谢您与客服沟通。"
next = "csat"

[[step]]
id = "csat"
ask = "rating"
scale = [1, 5]
prompt = "请为本次服务打分，请按1到5。"

[[step]]
id = "bye"
say = "再见。"
end = "completed"
"#;

#[tokio::test]
async fn after_a_transfer_a_stream_flow_with_more_questions_reconnects_its_stream() {
    let db = TestDb::sqlite().await;
    let speech_service = FakeSpeech::start().await;
    let recordings = tempfile::tempdir().unwrap();
    let flows = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir("call-flows").unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, flows.path().join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        flows.path().join("transfer-then-ask-stream.toml"),
        TRANSFER_THEN_ASK,
    )
    .unwrap();
    let api = FakeProvider::start().await;
    let mut s = settings(&db, &speech_service, recordings.path());
    s.flows_dir = flows.path().to_path_buf();
    s.media.provider = Some(api.config());
    let server = Server::start_settings(s).await;

    let mut call = StreamCall::dial(&server, "transfer-then-ask-stream").await;
    let sid = call.sid.clone();
    call.listening().await;
    call.press('1'); // help: yes
    let update = api.nth_update(1).await;
    call.hang_up().await; // the provider ends the stream
    let transfer_url = update.param("Url").unwrap().to_string();
    let form = [
        ("CallSid", sid.as_str()),
        ("AccountSid", ACCOUNT_SID),
        ("CallStatus", "in-progress"),
    ];
    let (_, body) = server.post(&transfer_url, &form).await;
    let Some(Verb::Enqueue { action, .. }) = parse_twiml(&body).into_iter().next() else {
        panic!("an <Enqueue>: {body}");
    };
    let mut bridged = form.to_vec();
    bridged.push(("QueueResult", "bridged"));
    let (status, body) = server.post(&action, &bridged).await;
    assert_eq!(status, 200, "{body}");

    // The message after the transfer in TwiML, then a new stream.
    assert_eq!(
        parse_twiml(&body),
        vec![Verb::Say {
            text: "感谢您与客服沟通。".into(),
            language: "zh-CN".into()
        }],
        "{body}"
    );
    let wss = format!("{}/media", PUBLIC_URL.replacen("https://", "wss://", 1));
    assert!(
        body.contains(&format!(r#"<Connect><Stream url="{wss}">"#)),
        "{body}"
    );
    assert!(
        body.contains(&format!(r#"<Parameter name="call_sid" value="{sid}"/>"#)),
        "{body}"
    );
    let mut call =
        StreamCall::connect(server.addr, &sid, "transfer-then-ask-stream", Some(&wss)).await;
    call.listening().await; // csat, asked on the new stream
    call.press('4');
    call.ended().await;

    let r = call_result(&server, &sid).await;
    assert_eq!(r["outcome"], "completed", "{r}");
    assert_eq!(r["answers"], json!({"help": true, "csat": 4}));
    server.stop().await;
    db.cleanup().await;
}
