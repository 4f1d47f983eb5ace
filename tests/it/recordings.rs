//! Recordings every replica can serve (issue 16): a TwiML recording is
//! fetched from the provider after its `completed` callback — once, however
//! often and wherever the callback comes — stored in the database,
//! transcribed by a fake OpenAI-compatible server, played from the other
//! replica, and gone after `purge`. Two replicas on PostgreSQL, one on
//! SQLite (two servers on one SQLite file are not a supported deployment).
//!
//! The fake provider serves media as Twilio does: Basic auth checked, 404
//! for the first requests, then the WAV (see `common/fake_provider.rs`).

use std::time::Duration;

use chrono::{TimeZone, Utc};
use dialback::config::{Clock, SttBackend};
use dialback::store::recordings::RecordingStage;
use dialback::store::{CallSid, Store};

use crate::common::db::{TestDb, each_backend};
use crate::common::fake_provider::FakeProvider;
use crate::common::phone::{ADMIN_TOKEN, AUTH_TOKEN, Options, Server, new_call_sid};
use crate::common::redeliver::{Hook, complete};
use crate::common::stream::FakeSpeech;
use crate::common::wait::eventually;

const CALLER: &str = "+8613812348000";
const WALLET_LINE: &str = "+861000000001";
const SAID: &str = "转账老是失败，手续费也太高了";

/// Monday 11:00 in Shanghai.
fn office_hours() -> Clock {
    Clock::Fixed(Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap())
}

/// A second of a 440 Hz tone as an 8 kHz WAV: what the provider recorded.
fn wav() -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for i in 0..8_000 {
        let x = (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 8_000.0).sin();
        w.write_sample((x * 3_000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    cursor.into_inner()
}

/// A replica with the provider's account and, if given, speech to text;
/// retries 20 ms apart at first, so that a test waits moments, not seconds.
async fn replica(
    db: &TestDb,
    provider: &FakeProvider,
    speech: Option<&FakeSpeech>,
    delete_at_provider: bool,
) -> Server {
    let mut s = Server::settings(Options {
        database_url: db.url().to_owned(),
        crm_webhook: None,
        auth_token: Some(AUTH_TOKEN.into()),
        clock: office_hours(),
    });
    s.media.provider = Some(provider.config());
    s.media.stt = speech.map(|speech| SttBackend {
        url: format!("{}/v1/audio/transcriptions", speech.url),
        model: "stt-test".into(),
        timeout: Duration::from_secs(5),
    });
    s.recordings.first_retry = Duration::from_millis(20);
    s.recordings.delete_at_provider = delete_at_provider;
    Server::start_settings(s).await
}

/// Two replicas on PostgreSQL, one on SQLite.
async fn replicas(
    db: &TestDb,
    provider: &FakeProvider,
    speech: Option<&FakeSpeech>,
    delete_at_provider: bool,
) -> Vec<Server> {
    let n = if db.url().starts_with("postgres") {
        2
    } else {
        1
    };
    let mut servers = Vec::new();
    for _ in 0..n {
        servers.push(replica(db, provider, speech, delete_at_provider).await);
    }
    servers
}

/// Plays a wallet-followup call up to its recorded suggestion; the
/// `<Record>` action and the `completed` callback for a recording the
/// fake provider keeps (404 for its first `not_yet` requests).
async fn record_a_suggestion(
    server: &Server,
    provider: &FakeProvider,
    not_yet: u32,
) -> (String, String, Hook, Hook) {
    let sid = new_call_sid();
    let mut twiml = complete(Hook::voice(&sid, CALLER, WALLET_LINE).to(server).await);
    for key in ["1", "1", "5", "1", "1"] {
        twiml = complete(Hook::press(&twiml, &sid, key).to(server).await);
    }
    let (rec_sid, url) = provider.add_recording(&sid, wav(), not_yet);
    let (action, callback) = Hook::recorded_at(&twiml, &sid, 4, &rec_sid, &url);
    (sid, rec_sid, action, callback)
}

/// The stage of a recording in the pipeline.
async fn stage(store: &dyn Store, sid: &str, rec_sid: &str) -> Option<RecordingStage> {
    let call = CallSid::parse(sid).unwrap();
    let rows = store.recordings().recordings_of(&call).await.unwrap();
    rows.into_iter()
        .find(|r| r.recording_sid == rec_sid)
        .map(|r| r.stage)
}

/// Waits (up to `secs`) until the recording reaches `want` in the pipeline.
async fn until_stage(
    store: &dyn Store,
    sid: &str,
    rec_sid: &str,
    want: RecordingStage,
    secs: u64,
    what: String,
) {
    eventually(Duration::from_secs(secs), what, || async move {
        (stage(store, sid, rec_sid).await == Some(want)).then_some(())
    })
    .await;
}

/// A dashboard session cookie from `server` (any replica accepts it: it
/// is signed with the admin token they share).
async fn sign_in(server: &Server) -> String {
    let base = format!("http://{}", server.addr);
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}/login"))
        .header("origin", &base)
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    let set = response.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

async fn get(server: &Server, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://{}{path}", server.addr));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

async fn stop(servers: Vec<Server>) {
    for s in servers {
        s.stop().await;
    }
}

#[tokio::test]
async fn a_twilio_recording_is_fetched_once_transcribed_playable_from_the_other_replica_and_gone_after_purge()
 {
    for (backend, db) in each_backend().await {
        eprintln!("-- on {backend}");
        let provider = FakeProvider::start().await;
        let speech = FakeSpeech::start().await;
        speech.will_hear(&[SAID]);
        let servers = replicas(&db, &provider, Some(&speech), false).await;
        let (first, last) = (&servers[0], &servers[servers.len() - 1]);

        // The media 404s twice after the callback, as Twilio's may.
        let (sid, rec_sid, action, callback) = record_a_suggestion(first, &provider, 2).await;
        complete(action.to(first).await);
        // The callback, twice at once to every replica, then again late.
        let targets: Vec<&Server> = servers.iter().chain(servers.iter()).collect();
        for (status, _) in callback.at_once(&targets).await {
            assert_eq!(status, 200, "{backend}");
        }
        assert_eq!(callback.to(last).await.0, 200);

        let store = db.store().as_ref();
        until_stage(
            store,
            &sid,
            &rec_sid,
            RecordingStage::Done,
            30,
            format!("{backend}: the recording transcribed"),
        )
        .await;
        let asked = provider.recording(&rec_sid);
        assert_eq!(asked.served, 1, "{backend}: fetched once: {asked:?}");
        assert_eq!(asked.requests, 3, "{backend}: two 404s, then the media");
        assert_eq!(asked.unauthorised, 0, "{backend}: Basic auth sent");
        assert!(
            !asked.deleted,
            "{backend}: the provider's copy is kept unless asked"
        );
        assert_eq!(speech.uploads(), 1, "{backend}: transcribed once");

        // Played through dialback from the other replica, signed in only.
        let anonymous = get(last, &format!("/recordings/{rec_sid}"), None).await;
        assert_ne!(anonymous.status().as_u16(), 200, "{backend}");
        let cookie = sign_in(first).await;
        let played = get(last, &format!("/recordings/{rec_sid}"), Some(&cookie)).await;
        assert_eq!(played.status().as_u16(), 200, "{backend}");
        assert_eq!(played.headers()["content-type"], "audio/wav");
        assert!(
            played.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("no-store")
        );
        assert_eq!(played.bytes().await.unwrap().to_vec(), wav(), "{backend}");
        // The range a browser's player asks for when it seeks.
        let part = reqwest::Client::new()
            .get(format!("http://{}/recordings/{rec_sid}", last.addr))
            .header("cookie", &cookie)
            .header("range", "bytes=44-99")
            .send()
            .await
            .unwrap();
        assert_eq!(part.status().as_u16(), 206, "{backend}");
        let total = wav().len();
        assert_eq!(
            part.headers()["content-range"].to_str().unwrap(),
            format!("bytes 44-99/{total}")
        );
        assert_eq!(
            part.bytes().await.unwrap().to_vec(),
            wav()[44..100].to_vec()
        );

        // The call page shows the player and the transcript beside it.
        let page = get(last, &format!("/calls/{sid}"), Some(&cookie)).await;
        let html = page.text().await.unwrap().replace("&#x2f;", "/");
        assert!(
            html.contains(&format!(r#"src="/recordings/{rec_sid}""#)),
            "{html}"
        );
        assert!(html.contains(SAID), "{backend}: the transcript is shown");
        assert!(html.contains("model stt-test"), "{html}");

        // So does the admin API's call, from either replica.
        let (status, call) = last.admin_get(&format!("/api/calls/{sid}")).await;
        assert_eq!(status, 200);
        assert_eq!(call["recordings"][0]["recording_sid"], rec_sid.as_str());
        assert_eq!(call["recordings"][0]["question"], "suggestion");
        assert_eq!(call["recordings"][0]["stage"], "done");
        assert_eq!(call["recordings"][0]["transcript"]["text"], SAID);
        assert_eq!(
            call["recordings"][0]["transcript"]["confidence"],
            serde_json::Value::Null
        );
        assert_eq!(call["recordings"][0]["transcript"]["model"], "stt-test");

        // The export carries it.
        let (status, csv) = last
            .admin_get_text("/api/results/wallet-followup.csv")
            .await;
        assert_eq!(status, 200);
        assert!(
            csv.lines()
                .next()
                .unwrap()
                .contains("suggestion_transcript"),
            "{csv}"
        );
        assert!(
            csv.contains(SAID),
            "{backend}: the export has the transcript"
        );

        // "What callers said" groups the transcript like any free text.
        let (status, said) = last
            .admin_get("/api/said/wallet-followup?since=2026-11-01&until=2026-12-01")
            .await;
        assert_eq!(status, 200, "{said}");
        let callers = |topic: &str| {
            said["topics"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["name"] == topic)
                .map(|t| t["callers"].clone())
        };
        assert_eq!(callers("转账失败"), Some(1.into()), "{backend}: {said}");
        assert_eq!(callers("手续费"), Some(1.into()), "{backend}: {said}");

        // `purge` removes the stored audio and the transcript.
        let purged = dialback::report::privacy::purge(
            store,
            &[],
            Utc::now() + chrono::Duration::days(400),
            chrono::Duration::days(1),
        )
        .await
        .unwrap();
        assert_eq!(purged.stored_recordings, 1, "{backend}");
        assert_eq!(stage(store, &sid, &rec_sid).await, None, "{backend}");
        assert!(
            store
                .recordings()
                .get_audio(&rec_sid)
                .await
                .unwrap()
                .is_none()
        );
        let gone = get(last, &format!("/recordings/{rec_sid}"), Some(&cookie)).await;
        assert_eq!(gone.status().as_u16(), 404, "{backend}");

        stop(servers).await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_recording_the_provider_never_serves_is_marked_unavailable_on_the_call_page() {
    for (backend, db) in each_backend().await {
        eprintln!("-- on {backend}");
        let provider = FakeProvider::start().await;
        let server = replica(&db, &provider, None, false).await;
        let (sid, rec_sid, action, callback) = record_a_suggestion(&server, &provider, 1_000).await;
        complete(action.to(&server).await);
        assert_eq!(callback.to(&server).await.0, 200);

        let store = db.store().as_ref();
        until_stage(
            store,
            &sid,
            &rec_sid,
            RecordingStage::Unavailable,
            60,
            format!("{backend}: the recording marked unavailable"),
        )
        .await;
        let asked = provider.recording(&rec_sid);
        assert_eq!(
            asked.requests,
            dialback::recordings::policy::MAX_ATTEMPTS as u32,
            "{backend}"
        );
        let cookie = sign_in(&server).await;
        let page = get(&server, &format!("/calls/{sid}"), Some(&cookie)).await;
        let html = page.text().await.unwrap();
        assert!(
            html.contains("the provider never served this recording"),
            "{html}"
        );

        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn with_the_flag_the_provider_copy_is_deleted_once_stored_and_without_stt_the_page_says_untranscribed()
 {
    for (backend, db) in each_backend().await {
        eprintln!("-- on {backend}");
        let provider = FakeProvider::start().await;
        let server = replica(&db, &provider, None, true).await;
        let (sid, rec_sid, action, callback) = record_a_suggestion(&server, &provider, 0).await;
        complete(action.to(&server).await);
        assert_eq!(callback.to(&server).await.0, 200);

        let store = db.store().as_ref();
        // Without speech to text it waits at the transcript stage.
        until_stage(
            store,
            &sid,
            &rec_sid,
            RecordingStage::Transcribe,
            30,
            format!("{backend}: stored and the provider's copy deleted"),
        )
        .await;
        let asked = provider.recording(&rec_sid);
        assert!(asked.deleted, "{backend}: {asked:?}");
        assert_eq!(asked.served, 1, "{backend}");
        assert!(
            store
                .recordings()
                .get_audio(&rec_sid)
                .await
                .unwrap()
                .is_some()
        );

        let cookie = sign_in(&server).await;
        let page = get(&server, &format!("/calls/{sid}"), Some(&cookie)).await;
        let html = page.text().await.unwrap();
        assert!(
            html.contains("not transcribed: no speech-to-text backend is configured"),
            "{html}"
        );

        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_callback_taken_by_a_replica_that_cannot_fetch_is_fetched_by_the_next_one_to_start() {
    for (backend, db) in each_backend().await {
        eprintln!("-- on {backend}");
        let provider = FakeProvider::start().await;
        // This replica has no provider account: it takes the callback and
        // queues the fetch, but fetches nothing itself.
        let mut settings = Server::settings(Options {
            database_url: db.url().to_owned(),
            crm_webhook: None,
            auth_token: Some(AUTH_TOKEN.into()),
            clock: office_hours(),
        });
        settings.recordings.first_retry = Duration::from_millis(20);
        let blind = Server::start_settings(settings).await;
        let (sid, rec_sid, action, callback) = record_a_suggestion(&blind, &provider, 0).await;
        complete(action.to(&blind).await);
        assert_eq!(callback.to(&blind).await.0, 200);
        blind.stop().await;
        let store = db.store().as_ref();
        assert_eq!(
            stage(store, &sid, &rec_sid).await,
            Some(RecordingStage::Fetch)
        );
        assert_eq!(provider.recording(&rec_sid).requests, 0);

        // The queue is in the store: the next replica takes it up.
        let server = replica(&db, &provider, None, false).await;
        until_stage(
            store,
            &sid,
            &rec_sid,
            RecordingStage::Transcribe,
            30,
            format!("{backend}: fetched by the next replica"),
        )
        .await;
        assert_eq!(provider.recording(&rec_sid).served, 1, "{backend}");

        server.stop().await;
        db.cleanup().await;
    }
}
