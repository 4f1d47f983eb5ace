//! Recordings every replica can serve: dialback's own copy of each
//! recording's audio ([`AudioStore`]), and the pipeline that makes it —
//! fetch the provider's copy, delete it there if asked, transcribe it —
//! kept as one row per recording ([`RecordingStore`]) so that a restart, or
//! another replica, picks up whatever was left.
//!
//! Why the pending work lives in the store and not in a task's memory: the
//! provider sends one recording status callback, to whichever replica its
//! load balancer picks; the replica may stop before the fetch succeeds
//! (the media is often not there yet, and is retried with back-off). A row
//! with a lease survives both, and its primary key (the recording's id)
//! makes a duplicated callback enqueue nothing.

use chrono::{DateTime, Utc};

use super::{CallSid, StoreResult};
pub use crate::domain::RecordingStage;

/// A recording's audio, as stored and as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audio {
    /// `audio/wav`, `audio/mpeg`…: what the dashboard's player is told.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Where recordings' audio is kept, by recording id (the provider's
/// RecordingSid, or the id dialback gives a stream recording).
///
/// The database is the default implementation (SQLite BLOB, PostgreSQL
/// `bytea`): it is already shared by every replica and already backed up,
/// and a recorded suggestion is tens of kilobytes. An object store would be
/// another implementation of this trait.
#[async_trait::async_trait]
pub trait AudioStore: Send + Sync {
    /// Stores the audio; a second put of the same id replaces the first
    /// (a job retried after a crash between the put and its stage change).
    /// An error when no pipeline row has the id (never enqueued, or erased
    /// by `purge` while the audio was on its way): audio lives only under
    /// its row, so nothing can outlive a purge.
    async fn put_audio(
        &self,
        recording_sid: &str,
        audio: &Audio,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    async fn get_audio(&self, recording_sid: &str) -> StoreResult<Option<Audio>>;

    /// `false` if there was none.
    async fn delete_audio(&self, recording_sid: &str) -> StoreResult<bool>;
}

/// A recording for the pipeline to work on.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecordingJob {
    /// The recording's id: the provider's RecordingSid, or dialback's own.
    pub recording_sid: String,
    pub call_sid: CallSid,
    /// Where the provider serves the media; `None` for a recording dialback
    /// made and stored itself.
    pub source_url: Option<String>,
    /// [`RecordingStage::Fetch`] for the provider's recordings,
    /// [`RecordingStage::Transcribe`] for one already stored.
    pub stage: RecordingStage,
    pub at: DateTime<Utc>,
}

/// A job a worker claimed: it holds the lease until it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingJob {
    pub recording_sid: String,
    pub call_sid: CallSid,
    /// The call's flow (its language is the transcript's).
    pub flow: String,
    pub source_url: Option<String>,
    pub stage: RecordingStage,
    /// This claim included: how many times the stage was tried.
    pub attempts: i32,
    /// The lease this claim holds: a report on the job is written only
    /// while the job still holds it (another worker may have taken the job
    /// over from one too slow to report in time).
    pub lease_until: DateTime<Utc>,
}

/// A transcript, as stored with its recording.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTranscript {
    pub text: String,
    /// The service's confidence if it gave one; `None` if it gave none
    /// (OpenAI's `json` answer has only `text`), never a made-up 1.0.
    pub confidence: Option<f32>,
    /// The speech-to-text model that made it.
    pub model: String,
}

/// A recording's copy and transcript as the call page, exports and "what
/// callers said" read them.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingMediaRow {
    pub recording_sid: String,
    pub call_sid: CallSid,
    /// The question it answers; empty if the answer is not stored (yet).
    pub question: String,
    pub stage: RecordingStage,
    pub attempts: i32,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    pub transcript: Option<StoredTranscript>,
}

/// The recording pipeline's rows. Reached through
/// [`super::Store::recordings`].
#[async_trait::async_trait]
pub trait RecordingStore: AudioStore {
    /// Enqueues a recording; `false` (and nothing changed) if its id is
    /// already known — a duplicated callback, or the other replica's copy.
    async fn enqueue_recording(&self, job: NewRecordingJob) -> StoreResult<bool>;

    /// Claims up to `limit` due jobs until `lease_until`, only in the
    /// stages `can` names (a replica without speech to text leaves
    /// transcripts to one that has it; one without the provider's account,
    /// fetches). A job whose lease ran out is due again: its worker died.
    async fn claim_recordings(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        can: &[RecordingStage],
        limit: i64,
    ) -> StoreResult<Vec<RecordingJob>>;

    /// The claimed stage is done: the job moves to `to`, due now, with its
    /// attempts counted afresh. Each report on a claimed job is `false`,
    /// and writes nothing, if the job no longer holds its lease.
    async fn recording_moved(
        &self,
        job: &RecordingJob,
        to: RecordingStage,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// The claimed stage failed: tried again at `next_at`.
    async fn recording_retry(
        &self,
        job: &RecordingJob,
        next_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<bool>;

    /// The claimed stage failed for the last time: the job stops at `to`
    /// ([`RecordingStage::Unavailable`], [`RecordingStage::Untranscribed`]).
    async fn recording_gave_up(
        &self,
        job: &RecordingJob,
        to: RecordingStage,
        error: &str,
    ) -> StoreResult<bool>;

    /// Stores the transcript; the job is [`RecordingStage::Done`].
    async fn recording_transcribed(
        &self,
        job: &RecordingJob,
        transcript: &StoredTranscript,
    ) -> StoreResult<bool>;

    /// The call's recordings, as the call page shows them.
    async fn recordings_of(&self, call_sid: &CallSid) -> StoreResult<Vec<RecordingMediaRow>>;
}
