//! The recording pipeline: every recording kept where every replica can
//! serve it, and transcribed.
//!
//! A recording enters as a row of the store's queue
//! ([`crate::store::RecordingStore`]): the provider's, when its recording
//! status callback says `completed` ([`enqueue_provider_recording`]); one
//! made on a media stream, once its WAV is in the store
//! ([`store_stream_recording`]). A [`worker::Pipeline`] on each replica
//! claims due rows with a lease and moves each through its stages:
//!
//! 1. **fetch** the provider's media (`RecordingUrl.wav`, Basic auth) into
//!    the store; a 404 or a failure is retried with back-off, and after
//!    [`policy::MAX_ATTEMPTS`] the recording is marked unavailable;
//! 2. **forget** — only with `--delete-provider-recordings` — delete the
//!    provider's copy, so that retention and `purge` govern every copy;
//! 3. **transcribe** the stored audio through the speech-to-text backend,
//!    in the flow's language; a replica without one leaves this stage to
//!    one that has it, and the call page says the recording is
//!    untranscribed.
//!
//! `policy` decides what comes next (pure: attempts and time in, a
//! decision out); `worker` does the I/O around it.

pub mod policy;
pub mod worker;

use chrono::{DateTime, Utc};

use crate::store::recordings::{Audio, NewRecordingJob, RecordingStage};
use crate::store::{CallSid, Store, StoreResult};

pub use worker::Pipeline;

/// Enqueues the fetch of a provider's recording; `false` if its
/// RecordingSid was enqueued before (a duplicated callback, or the copy
/// another replica received), in which case nothing changes.
pub async fn enqueue_provider_recording(
    store: &dyn Store,
    call_sid: &CallSid,
    recording_sid: &str,
    recording_url: &str,
    at: DateTime<Utc>,
) -> StoreResult<bool> {
    store
        .recordings()
        .enqueue_recording(NewRecordingJob {
            recording_sid: recording_sid.to_owned(),
            call_sid: call_sid.clone(),
            source_url: Some(recording_url.to_owned()),
            stage: RecordingStage::Fetch,
            at,
        })
        .await
}

/// The id dialback gives a recording it made on a stream: unique per call,
/// question and step sequence number, as the file names were.
pub fn stream_recording_id(call_sid: &CallSid, step: &str, seq: u32) -> String {
    format!("{call_sid}-{step}-{seq}")
}

/// Stores a stream recording's WAV under `recording_sid` and enqueues its
/// transcription. Enqueue first: the audio may only exist under its
/// pipeline row (a reference in the store, so that `purge` can never miss
/// it). A worker that claims the job in the moment between finds no audio
/// yet and tries again after its first back-off.
pub async fn store_stream_recording(
    store: &dyn Store,
    call_sid: &CallSid,
    recording_sid: &str,
    wav: Vec<u8>,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    store
        .recordings()
        .enqueue_recording(NewRecordingJob {
            recording_sid: recording_sid.to_owned(),
            call_sid: call_sid.clone(),
            source_url: None,
            stage: RecordingStage::Transcribe,
            at,
        })
        .await?;
    let audio = Audio {
        content_type: "audio/wav".into(),
        bytes: wav,
    };
    store
        .recordings()
        .put_audio(recording_sid, &audio, at)
        .await
}
