//! [`AudioStore`] and [`RecordingStore`] for every [`Backend`]. Only the
//! claim differs between the databases (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, the one writer on SQLite), as for the dialer's contacts.

use chrono::{DateTime, Utc};

use super::super::recordings::{
    Audio, AudioStore, NewRecordingJob, RecordingJob, RecordingMediaRow, RecordingStage,
    RecordingStore, StoredTranscript,
};
use super::super::rows::{all, recording_job, recording_media};
use super::super::{CallSid, StoreResult};
use super::{Backend, ColExt, On, StmtExt, execute, fetch_all, fetch_optional, query};

/// `$5` is both when it is due and when it was made: now.
const INSERT_JOB: &str = "INSERT INTO recording_media \
    (recording_sid, call_sid, source_url, stage, next_at, created_at) \
    VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (recording_sid) DO NOTHING";

const MOVED: &str = "UPDATE recording_media SET stage = $2, attempts = 0, next_at = $3, \
    lease_until = NULL, last_error = NULL WHERE recording_sid = $1";

const RETRY: &str = "UPDATE recording_media SET next_at = $2, lease_until = NULL, \
    last_error = $3 WHERE recording_sid = $1";

const GAVE_UP: &str = "UPDATE recording_media SET stage = $2, lease_until = NULL, \
    last_error = $3 WHERE recording_sid = $1";

const TRANSCRIBED: &str = "UPDATE recording_media SET stage = 'done', lease_until = NULL, \
    last_error = NULL, transcript = $2, confidence = $3, model = $4 WHERE recording_sid = $1";

/// A recording's copy, with the question its answer row names.
macro_rules! media_columns {
    () => {
        "SELECT m.recording_sid, m.call_sid, COALESCE(r.question, '') AS question, m.stage, \
         m.attempts, m.last_error, m.transcript, m.confidence, m.model \
         FROM recording_media m LEFT JOIN recordings r ON r.recording_sid = m.recording_sid "
    };
}
pub(super) use media_columns;

const MEDIA_OF_CALL: &str = concat!(
    media_columns!(),
    "WHERE m.call_sid = $1 ORDER BY m.created_at, m.recording_sid"
);

const PUT_AUDIO: &str = "INSERT INTO recording_audio (recording_sid, content_type, audio, \
    stored_at) VALUES ($1, $2, $3, $4) ON CONFLICT (recording_sid) DO UPDATE SET \
    content_type = excluded.content_type, audio = excluded.audio, stored_at = excluded.stored_at";

const GET_AUDIO: &str = "SELECT content_type, audio FROM recording_audio WHERE recording_sid = $1";

const DELETE_AUDIO: &str = "DELETE FROM recording_audio WHERE recording_sid = $1";

#[async_trait::async_trait]
impl<B: Backend> AudioStore for B {
    async fn put_audio(
        &self,
        recording_sid: &str,
        audio: &Audio,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let stmt = query::<B>(PUT_AUDIO)
            .arg(recording_sid)
            .arg(audio.content_type.as_str())
            .arg(audio.bytes.as_slice())
            .at(at);
        execute(self, stmt).await.map(drop)
    }

    async fn get_audio(&self, recording_sid: &str) -> StoreResult<Option<Audio>> {
        let stmt = query::<B>(GET_AUDIO).arg(recording_sid);
        let row = fetch_optional(self, On::Read, stmt).await?;
        let audio = row
            .map(|r| {
                Ok::<_, sqlx::Error>(Audio {
                    content_type: r.col("content_type")?,
                    bytes: r.col("audio")?,
                })
            })
            .transpose()?;
        Ok(audio)
    }

    async fn delete_audio(&self, recording_sid: &str) -> StoreResult<bool> {
        let stmt = query::<B>(DELETE_AUDIO).arg(recording_sid);
        Ok(execute(self, stmt).await? == 1)
    }
}

#[async_trait::async_trait]
impl<B: Backend> RecordingStore for B {
    async fn enqueue_recording(&self, job: NewRecordingJob) -> StoreResult<bool> {
        let stmt = query::<B>(INSERT_JOB)
            .arg(job.recording_sid.as_str())
            .arg(job.call_sid.as_str())
            .arg(job.source_url.as_deref())
            .arg(job.stage.as_str())
            .at(job.at);
        Ok(execute(self, stmt).await? == 1)
    }

    async fn claim_recordings(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        can: &[RecordingStage],
        limit: i64,
    ) -> StoreResult<Vec<RecordingJob>> {
        let stage = |i: usize| can.get(i).map_or("", |s| s.as_str());
        let stmt = query::<B>(B::CLAIM_RECORDINGS)
            .at(now)
            .at(lease_until)
            .arg(limit)
            .arg(stage(0))
            .arg(stage(1))
            .arg(stage(2));
        let rows = fetch_all(self, On::Write, stmt).await?;
        Ok(all(&rows, recording_job)?)
    }

    async fn recording_moved(
        &self,
        recording_sid: &str,
        to: RecordingStage,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let stmt = query::<B>(MOVED)
            .arg(recording_sid)
            .arg(to.as_str())
            .at(now);
        execute(self, stmt).await.map(drop)
    }

    async fn recording_retry(
        &self,
        recording_sid: &str,
        next_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()> {
        let stmt = query::<B>(RETRY).arg(recording_sid).at(next_at).arg(error);
        execute(self, stmt).await.map(drop)
    }

    async fn recording_gave_up(
        &self,
        recording_sid: &str,
        to: RecordingStage,
        error: &str,
    ) -> StoreResult<()> {
        let stmt = query::<B>(GAVE_UP)
            .arg(recording_sid)
            .arg(to.as_str())
            .arg(error);
        execute(self, stmt).await.map(drop)
    }

    async fn recording_transcribed(
        &self,
        recording_sid: &str,
        t: &StoredTranscript,
    ) -> StoreResult<()> {
        let stmt = query::<B>(TRANSCRIBED)
            .arg(recording_sid)
            .arg(t.text.as_str())
            .arg(t.confidence)
            .arg(t.model.as_str());
        execute(self, stmt).await.map(drop)
    }

    async fn recordings_of(&self, call_sid: &CallSid) -> StoreResult<Vec<RecordingMediaRow>> {
        let stmt = query::<B>(MEDIA_OF_CALL).arg(call_sid.as_str());
        let rows = fetch_all(self, On::Read, stmt).await?;
        Ok(all(&rows, recording_media)?)
    }
}
