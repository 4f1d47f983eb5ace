//! The recording pipeline's queue and audio, on every backend.

use dialback::store::recordings::{Audio, NewRecordingJob, RecordingStage, StoredTranscript};

use crate::common::fixtures::*;

fn job(call: &str, id: &str, stage: RecordingStage) -> NewRecordingJob {
    NewRecordingJob {
        recording_sid: id.to_owned(),
        call_sid: sid_for(call),
        source_url: Some(format!("https://api.example.test/Recordings/{id}")),
        stage,
        at: t(0),
    }
}

const ALL: [RecordingStage; 3] = [
    RecordingStage::Fetch,
    RecordingStage::Forget,
    RecordingStage::Transcribe,
];

pub(crate) async fn a_recording_is_enqueued_once_and_claimed_by_one_worker_until_its_lease_runs_out(
    store: &Db,
) {
    start_call(store, "CA-queue").await;
    let q = store.recordings();
    assert!(
        q.enqueue_recording(job("CA-queue", "RE1", RecordingStage::Fetch))
            .await
            .unwrap()
    );
    // The duplicated callback, or the other replica's copy.
    assert!(
        !q.enqueue_recording(job("CA-queue", "RE1", RecordingStage::Fetch))
            .await
            .unwrap()
    );

    let (a, b) = tokio::join!(
        q.claim_recordings(t(1), t(61), &ALL, 4),
        q.claim_recordings(t(1), t(61), &ALL, 4)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 1, "one claim takes it: {a:?} {b:?}");
    let claimed = a.into_iter().chain(b).next().unwrap();
    assert_eq!(claimed.recording_sid, "RE1");
    assert_eq!(claimed.flow, FLOW);
    assert_eq!(claimed.stage, RecordingStage::Fetch);
    assert_eq!(claimed.attempts, 1);

    // Held while the lease lasts; due again once it ran out (a dead worker).
    assert!(
        q.claim_recordings(t(30), t(90), &ALL, 4)
            .await
            .unwrap()
            .is_empty()
    );
    let again = q.claim_recordings(t(62), t(122), &ALL, 4).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
}

pub(crate) async fn a_worker_claims_only_the_stages_it_can_do_and_a_retry_waits_its_turn(
    store: &Db,
) {
    start_call(store, "CA-stages").await;
    let q = store.recordings();
    q.enqueue_recording(job("CA-stages", "RE-fetch", RecordingStage::Fetch))
        .await
        .unwrap();
    q.enqueue_recording(job("CA-stages", "RE-stream", RecordingStage::Transcribe))
        .await
        .unwrap();

    let transcribing = q
        .claim_recordings(t(1), t(61), &[RecordingStage::Transcribe], 4)
        .await
        .unwrap();
    assert_eq!(transcribing.len(), 1);
    assert_eq!(transcribing[0].recording_sid, "RE-stream");

    let fetching = q.claim_recordings(t(1), t(61), &ALL, 4).await.unwrap();
    assert_eq!(fetching.len(), 1);
    q.recording_retry("RE-fetch", t(10), "HTTP 404")
        .await
        .unwrap();
    assert!(
        q.claim_recordings(t(9), t(69), &ALL, 4)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        q.claim_recordings(t(10), t(70), &ALL, 4)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub(crate) async fn audio_and_transcript_are_stored_and_read_back_with_the_question(store: &Db) {
    start_call(store, "CA-audio").await;
    let q = store.recordings();
    q.enqueue_recording(job("CA-audio", "RE-a", RecordingStage::Fetch))
        .await
        .unwrap();
    let audio = Audio {
        content_type: "audio/wav".into(),
        bytes: (0..=255u8).cycle().take(70_000).collect(),
    };
    q.put_audio("RE-a", &audio, t(2)).await.unwrap();
    q.put_audio("RE-a", &audio, t(3)).await.unwrap(); // a retried put
    assert_eq!(q.get_audio("RE-a").await.unwrap(), Some(audio));
    q.recording_moved("RE-a", RecordingStage::Transcribe, t(3))
        .await
        .unwrap();
    let transcript = StoredTranscript {
        text: "手续费太高".into(),
        confidence: None,
        model: "whisper-1".into(),
    };
    q.recording_transcribed("RE-a", &transcript).await.unwrap();

    let rows = q.recordings_of(&sid_for("CA-audio")).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].stage, RecordingStage::Done);
    assert_eq!(rows[0].transcript, Some(transcript));
    // No answer row names it yet: no question.
    assert_eq!(rows[0].question, "");

    q.recording_gave_up("RE-a", RecordingStage::Untranscribed, "x")
        .await
        .unwrap();
    assert!(q.delete_audio("RE-a").await.unwrap());
    assert!(!q.delete_audio("RE-a").await.unwrap());
    assert_eq!(q.get_audio("RE-a").await.unwrap(), None);
}
