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
use super::{Backend, ColExt, On, Stmt, StmtExt, execute, fetch_all, fetch_optional, query};

/// `$5` is both when it is due and when it was made: now. Only for a call
/// `purge` has not erased (its state is emptied): purge deletes the job row
/// that made a RecordingSid a duplicate, and a late or replayed callback
/// must not bring the audio back.
const INSERT_JOB: &str = "INSERT INTO recording_media \
    (recording_sid, call_sid, source_url, stage, next_at, created_at) \
    SELECT $1, $2, $3, $4, $5, $5 \
    WHERE EXISTS (SELECT 1 FROM calls WHERE call_sid = $2 AND state <> '') \
    ON CONFLICT (recording_sid) DO NOTHING";

/// The reports on a claimed job: `$1` its id, `$2` the lease it holds.
const MOVED: &str = "UPDATE recording_media SET stage = $3, attempts = 0, next_at = $4, \
    lease_until = NULL, last_error = NULL WHERE recording_sid = $1 AND lease_until = $2";

const RETRY: &str = "UPDATE recording_media SET next_at = $3, lease_until = NULL, \
    last_error = $4 WHERE recording_sid = $1 AND lease_until = $2";

const GAVE_UP: &str = "UPDATE recording_media SET stage = $3, lease_until = NULL, \
    last_error = $4 WHERE recording_sid = $1 AND lease_until = $2";

const TRANSCRIBED: &str = "UPDATE recording_media SET stage = 'done', lease_until = NULL, \
    last_error = NULL, transcript = $3, confidence = $4, model = $5 \
    WHERE recording_sid = $1 AND lease_until = $2";

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

/// A report on `job`: its id and the lease it holds as `$1` and `$2`.
fn held<'q, B: Backend>(sql: &'static str, job: &'q RecordingJob) -> Stmt<'q, B::Db> {
    query::<B>(sql)
        .arg(job.recording_sid.as_str())
        .at(job.lease_until)
}

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
        let mut jobs = all(&rows, recording_job)?;
        for job in &mut jobs {
            job.lease_until = lease_until;
        }
        Ok(jobs)
    }

    async fn recording_moved(
        &self,
        job: &RecordingJob,
        to: RecordingStage,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let stmt = held::<B>(MOVED, job).arg(to.as_str()).at(now);
        Ok(execute(self, stmt).await? == 1)
    }

    async fn recording_retry(
        &self,
        job: &RecordingJob,
        next_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<bool> {
        let stmt = held::<B>(RETRY, job).at(next_at).arg(error);
        Ok(execute(self, stmt).await? == 1)
    }

    async fn recording_gave_up(
        &self,
        job: &RecordingJob,
        to: RecordingStage,
        error: &str,
    ) -> StoreResult<bool> {
        let stmt = held::<B>(GAVE_UP, job).arg(to.as_str()).arg(error);
        Ok(execute(self, stmt).await? == 1)
    }

    async fn recording_transcribed(
        &self,
        job: &RecordingJob,
        t: &StoredTranscript,
    ) -> StoreResult<bool> {
        let stmt = held::<B>(TRANSCRIBED, job)
            .arg(t.text.as_str())
            .arg(t.confidence)
            .arg(t.model.as_str());
        Ok(execute(self, stmt).await? == 1)
    }

    async fn recordings_of(&self, call_sid: &CallSid) -> StoreResult<Vec<RecordingMediaRow>> {
        let stmt = query::<B>(MEDIA_OF_CALL).arg(call_sid.as_str());
        let rows = fetch_all(self, On::Read, stmt).await?;
        Ok(all(&rows, recording_media)?)
    }
}
