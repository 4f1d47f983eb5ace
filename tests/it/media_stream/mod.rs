//! Calls over Media Streams, end to end: a Twilio-behaving client on a real
//! WebSocket sends μ-law audio (tones for keys, fixture speech for spoken
//! answers, heard by a fake recogniser), and the answers, recordings,
//! handoffs and outcomes are read back through the admin API and the
//! store, on SQLite and PostgreSQL. Then the handler alone, over in-memory
//! channels, against everything a broken peer can send.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::common::db::{TestDb, each_backend};
use crate::common::fake_provider::{ACCOUNT_SID, FakeProvider};
use crate::common::phone::{
    ADMIN_TOKEN, AUTH_TOKEN, Options, PUBLIC_URL, Server, Verb, new_call_sid, parse_twiml,
};
use crate::common::sid::sid_for;
use crate::common::stream::{FakeSpeech, StreamCall, speech};
use crate::common::wait::eventually;
use axum::extract::ws::Message as AxumMessage;
use chrono::{TimeZone, Utc};
use dialback::app::App;
use dialback::config::{Clock, Settings};
use dialback::store::Outcome;
use futures_util::{Sink, Stream};
use serde_json::{Value, json};

/// Bounds a wait on the server; only a hang reaches it.
const WAIT: Duration = Duration::from_secs(30);

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
        let answers = db.store().answers(&sid_for(&sid)).await.unwrap();
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
        // The two spoken answers, then the recorded suggestion's transcript.
        speech_service.will_hear(&["嗯，已经解决了", "没用过", "希望转账快一点"]);
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
        // Kept in the store, where every replica can serve it, not in
        // this replica's folder.
        let id = answers["suggestion"]["recording_sid"]
            .as_str()
            .expect("a recording id");
        assert_eq!(
            answers["suggestion"]["url"].as_str(),
            Some(format!("/recordings/{id}").as_str())
        );
        assert_eq!(std::fs::read_dir(recordings.path()).unwrap().count(), 0);
        let secs = answers["suggestion"]["duration_secs"].as_u64().unwrap();
        assert!((2..=4).contains(&secs), "{secs} s recorded");
        let audio = db
            .store()
            .recordings()
            .get_audio(id)
            .await
            .unwrap()
            .expect("the recording is stored");
        assert_eq!(audio.content_type, "audio/wav");
        let wav = hound::WavReader::new(std::io::Cursor::new(audio.bytes))
            .expect("the recording is a WAV file");
        assert_eq!(wav.spec().sample_rate, 8_000);
        assert!(wav.duration() >= 8_000 * 2, "silence trimmed, voice kept");
        // Transcribed in the background, as a TwiML recording is.
        let store = db.store().as_ref();
        let call_sid = &sid_for(&sid);
        let transcript = eventually(
            Duration::from_secs(20),
            "the stream recording transcribed",
            || async move {
                let rows = store.recordings().recordings_of(call_sid).await.unwrap();
                rows.into_iter().find_map(|r| r.transcript)
            },
        )
        .await;
        assert_eq!(transcript.text, "希望转账快一点", "{backend}");
        assert_eq!(transcript.model, "stt-test");
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

#[tokio::test]
async fn a_stream_call_in_progress_at_shutdown_finishes_before_the_server_stops() {
    let db = TestDb::sqlite().await;
    let (mut server, speech_service, _recordings) = stream_server(&db, |_| {}).await;
    speech_service.will_hear(&["按钮太小了"]);
    let mut call = StreamCall::dial(&server, "feature-feedback-stream").await;
    let sid = call.sid.clone();
    call.listening().await;
    call.tone('1');
    call.listening().await;

    server.begin_stop();
    let addr = server.addr;
    eventually(
        WAIT,
        "the server stopped accepting connections",
        || async move {
            tokio::net::TcpStream::connect(addr)
                .await
                .is_err()
                .then_some(())
        },
    )
    .await;
    // Without the drain the server would be gone within a moment of
    // closing its listener; with it, it waits for this call.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !server.has_stopped(),
        "the server waits for the stream call"
    );

    call.press('2');
    call.listening().await;
    let mut answer = speech("mandarin.wav", 1_500);
    answer.extend(vec![0; 8 * 1_200]);
    call.say(answer);
    call.ended().await;
    server.stop().await;

    let stored = db.store().load_call(&sid_for(&sid)).await.unwrap().unwrap();
    assert_eq!(stored.outcome, Some(Outcome::Completed));
    assert_eq!(db.store().answers(&sid_for(&sid)).await.unwrap().len(), 3);
    db.cleanup().await;
}

#[tokio::test]
async fn a_stream_call_still_open_after_the_drain_does_not_hold_the_server() {
    let db = TestDb::sqlite().await;
    let (mut server, _speech_service, _recordings) = stream_server(&db, |s| {
        s.stream_drain = Duration::from_millis(200);
    })
    .await;
    let mut call = StreamCall::dial(&server, "feature-feedback-stream").await;
    call.listening().await;

    server.begin_stop();
    eventually(WAIT, "the server stopped after its drain", || async {
        server.has_stopped().then_some(())
    })
    .await;
    drop(call);
    db.cleanup().await;
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

        let row = db.store().load_call(&sid_for(&sid)).await.unwrap().unwrap();
        assert_eq!(update.account, ACCOUNT_SID);
        assert_eq!(update.call_sid.as_deref(), Some(sid.as_str()));
        assert_eq!(update.authorization, basic_auth());
        let transfer_url = format!("{PUBLIC_URL}/twilio/transfer?seq={}", row.seq);
        assert_eq!(update.param("Url"), Some(transfer_url.as_str()));
        assert_eq!(update.param("Method"), Some("POST"));
        // The provider ends the stream: not a hang-up, the call goes on.
        call.hang_up().await;
        let row = db.store().load_call(&sid_for(&sid)).await.unwrap().unwrap();
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
                queue: "wallet-support".into(),
                wait_url: Some(format!("{PUBLIC_URL}/twilio/wait?seq={}", row.seq)),
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
    let row = db.store().load_call(&sid_for(&sid)).await.unwrap().unwrap();
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

mod broken_peer;
