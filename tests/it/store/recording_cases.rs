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

    // The first worker, too slow, reports after the second took over: not
    // written; the second's report is.
    assert!(!q.recording_retry(&claimed, t(70), "late").await.unwrap());
    assert!(
        q.recording_moved(&again[0], RecordingStage::Transcribe, t(70))
            .await
            .unwrap()
    );
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
    assert!(
        q.recording_retry(&fetching[0], t(10), "HTTP 404")
            .await
            .unwrap()
    );
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
    let fetch = q.claim_recordings(t(1), t(61), &ALL, 1).await.unwrap();
    q.put_audio("RE-a", &audio, t(2)).await.unwrap();
    q.put_audio("RE-a", &audio, t(3)).await.unwrap(); // a retried put
    assert_eq!(q.get_audio("RE-a").await.unwrap(), Some(audio));
    assert!(
        q.recording_moved(&fetch[0], RecordingStage::Transcribe, t(3))
            .await
            .unwrap()
    );
    let transcribe = q.claim_recordings(t(3), t(63), &ALL, 1).await.unwrap();
    assert_eq!(transcribe[0].stage, RecordingStage::Transcribe);
    assert_eq!(transcribe[0].attempts, 1, "counted afresh per stage");
    let transcript = StoredTranscript {
        text: "手续费太高".into(),
        confidence: None,
        model: "whisper-1".into(),
    };
    assert!(
        q.recording_transcribed(&transcribe[0], &transcript)
            .await
            .unwrap()
    );

    let rows = q.recordings_of(&sid_for("CA-audio")).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].stage, RecordingStage::Done);
    assert_eq!(rows[0].transcript, Some(transcript));
    // No answer row names it yet: no question.
    assert_eq!(rows[0].question, "");

    // A report on a job no longer held writes nothing.
    assert!(
        !q.recording_gave_up(&transcribe[0], RecordingStage::Untranscribed, "x")
            .await
            .unwrap()
    );
    assert_eq!(
        q.recordings_of(&sid_for("CA-audio")).await.unwrap()[0].stage,
        RecordingStage::Done
    );
    assert!(q.delete_audio("RE-a").await.unwrap());
    assert!(!q.delete_audio("RE-a").await.unwrap());
    assert_eq!(q.get_audio("RE-a").await.unwrap(), None);
}

pub(crate) async fn audio_exists_only_under_its_pipeline_row_and_a_purge_leaves_none_for_good(
    store: &Db,
) {
    let audio = Audio {
        content_type: "audio/wav".into(),
        bytes: vec![1, 2, 3],
    };
    let q = store.recordings();
    assert!(
        q.put_audio("RE-nobody", &audio, t(1)).await.is_err(),
        "audio no job names is refused"
    );

    start_call(store, "CA-purged").await;
    q.enqueue_recording(job("CA-purged", "RE-kept", RecordingStage::Fetch))
        .await
        .unwrap();
    q.enqueue_recording(job("CA-purged", "RE-late", RecordingStage::Fetch))
        .await
        .unwrap();
    q.put_audio("RE-kept", &audio, t(2)).await.unwrap();
    store.reports().purge(t(3_600), &[]).await.unwrap();
    assert_eq!(
        q.get_audio("RE-kept").await.unwrap(),
        None,
        "erased with the call"
    );

    // A fetch that was under way when the purge ran finishes now: refused,
    // so no audio is left behind that neither the page nor a purge reaches.
    assert!(q.put_audio("RE-late", &audio, t(3_601)).await.is_err());
    assert_eq!(q.get_audio("RE-late").await.unwrap(), None);

    // The callback again, late or replayed: the purged call's recording is
    // not queued (and so not fetched) a second time.
    assert!(
        !q.enqueue_recording(job("CA-purged", "RE-kept", RecordingStage::Fetch))
            .await
            .unwrap()
    );
    assert!(
        q.recordings_of(&sid_for("CA-purged"))
            .await
            .unwrap()
            .is_empty()
    );
}
