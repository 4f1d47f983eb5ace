//! The stream handler alone, over in-memory channels, against everything a
//! broken peer can send.

use super::*;

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
            .load_call(&sid_for(&sid))
            .await
            .unwrap()
            .expect("the call is stored");
        assert_eq!(row.outcome, Some(Outcome::Abandoned), "{what}");
        let answers = db.store().answers(&sid_for(&sid)).await.unwrap();
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
        let row = db
            .store()
            .load_call(&sid_for(sid))
            .await
            .unwrap()
            .expect("stored");
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
        assert_eq!(row.outcome, Some(Outcome::Abandoned), "{what}");
        let answers = db.store().answers(&sid_for(&sid)).await.unwrap();
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
    let row = db
        .store()
        .load_call(&sid_for(&stalled_sid))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.outcome, None,
        "the other call finished while this one was still stalled"
    );

    let row = wait_for_outcome(&db, &stalled_sid).await;
    assert_eq!(row.outcome, Some(Outcome::Abandoned));
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

    // The message after the transfer in TwiML (in the provider's tag for
    // Mandarin speech), then a new stream.
    assert_eq!(
        parse_twiml(&body),
        vec![Verb::Say {
            text: "感谢您与客服沟通。".into(),
            language: "cmn-CN".into()
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
