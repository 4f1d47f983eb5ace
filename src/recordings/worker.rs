//! The pipeline's worker: a long-lived task on every replica that claims
//! due recordings from the store and runs one stage of each (see the
//! module's overview). One recording at a time: the work in flight on a
//! replica is one stage, however long the queue in the store grows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::policy::{self, AfterFailure};
use crate::speech::Transcriber;
use crate::store::recordings::{Audio, RecordingJob, RecordingStage, StoredTranscript};
use crate::store::{Store, StoreError};
use crate::twilio::rest::{Provider, RecordingError};

/// Recordings claimed at once: one, so that a claim's lease covers the one
/// stage worked under it (recordings claimed together but worked one after
/// another could outwait their lease behind slow transcriptions and be
/// taken, and paid for, twice) and a stop waits for one stage at most. A
/// claim is one short statement; per recording it costs nothing that counts.
pub const BATCH: i64 = 1;

/// How long a claim is held: longer than any one stage takes (a fetch is
/// bounded by the REST client's 15 s, a transcript by the STT timeout), so
/// a live worker never loses its job to another; a dead one's job is
/// taken up this long after it died.
pub const LEASE: Duration = Duration::from_secs(5 * 60);

/// How often an idle worker looks for due work.
pub const POLL: Duration = Duration::from_millis(500);

/// What one stage of one recording came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Worked {
    /// The stage is done; the recording moved to this stage.
    Moved(RecordingStage),
    /// The stage failed and is tried again later.
    Retried(String),
    /// The stage failed for the last time; the recording stopped here.
    GaveUp(RecordingStage, String),
    /// The job's lease ran out before the report: another worker took it
    /// over, and this report was not written.
    LeaseLost,
}

/// What a stage that succeeded did.
enum Did {
    /// Its work is done; the job moves on to this stage.
    MoveTo(RecordingStage),
    /// It wrote its own report (a transcript); `held`: the lease was
    /// still the job's, so the report was written.
    Reported { held: bool },
}

/// The recording pipeline of one replica.
#[derive(Clone)]
pub struct Pipeline {
    store: Arc<dyn Store>,
    provider: Option<Provider>,
    transcriber: Option<Arc<dyn Transcriber>>,
    /// Each flow's language (`zh-CN`): the transcript's.
    languages: Arc<BTreeMap<String, String>>,
    delete_at_provider: bool,
    first_retry: Duration,
}

impl Pipeline {
    /// `provider` fetches and deletes the provider's recordings; without
    /// it this replica only transcribes. `transcriber` makes transcripts;
    /// without it this replica only fetches.
    pub fn new(
        store: Arc<dyn Store>,
        provider: Option<Provider>,
        transcriber: Option<Arc<dyn Transcriber>>,
        languages: BTreeMap<String, String>,
    ) -> Self {
        Self {
            store,
            provider,
            transcriber,
            languages: Arc::new(languages),
            delete_at_provider: false,
            first_retry: Duration::from_secs(2),
        }
    }

    /// Deletes the provider's copy once the audio is stored
    /// (`--delete-provider-recordings`).
    pub fn deleting_at_provider(mut self, on: bool) -> Self {
        self.delete_at_provider = on;
        self
    }

    /// The first wait after a failure (then doubled each time).
    pub fn first_retry(mut self, wait: Duration) -> Self {
        self.first_retry = wait;
        self
    }

    /// The stages this replica can work on.
    fn stages(&self) -> Vec<RecordingStage> {
        let mut can = Vec::new();
        if self.provider.is_some() {
            can.extend([RecordingStage::Fetch, RecordingStage::Forget]);
        }
        if self.transcriber.is_some() {
            can.push(RecordingStage::Transcribe);
        }
        can
    }

    /// Does this replica do anything at all?
    pub fn has_work(&self) -> bool {
        !self.stages().is_empty()
    }

    /// Runs until `stop` is cancelled: claims a batch, works it, and
    /// sleeps [`POLL`] when nothing is due. A stage being worked is
    /// finished before it stops (its lease would otherwise hold the job
    /// for [`LEASE`]).
    pub async fn run(self, stop: CancellationToken) {
        loop {
            let worked = match self.run_once(Utc::now()).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "recording pipeline: the store failed; trying again");
                    0
                }
            };
            if stop.is_cancelled() {
                return;
            }
            if worked == 0 {
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    () = stop.cancelled() => return,
                }
            }
        }
    }

    /// Claims what is due at `now` and works it: how many stages it ran.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let can = self.stages();
        if can.is_empty() {
            return Ok(0);
        }
        let lease = chrono::Duration::from_std(LEASE).unwrap_or(chrono::Duration::minutes(5));
        let jobs = self
            .store
            .recordings()
            .claim_recordings(now, now + lease, &can, BATCH)
            .await?;
        for job in &jobs {
            self.work(job).await?;
        }
        Ok(jobs.len())
    }

    /// Runs one stage of a claimed job and records what came of it.
    #[tracing::instrument(skip_all, fields(call_sid = %job.call_sid, recording_sid = %job.recording_sid, stage = %job.stage.as_str()))]
    pub async fn work(&self, job: &RecordingJob) -> Result<Worked, StoreError> {
        let recordings = self.store.recordings();
        let done = match job.stage {
            RecordingStage::Fetch => self.fetch(job).await,
            RecordingStage::Forget => self.forget(job).await,
            RecordingStage::Transcribe => self.transcribe(job).await,
            other => Err(format!("nothing to do at stage {}", other.as_str())),
        };
        let now = Utc::now();
        let (held, worked) = match done {
            Ok(Did::MoveTo(to)) => (
                recordings.recording_moved(job, to, now).await?,
                Worked::Moved(to),
            ),
            // Transcribed: the transcript's write moved it to done.
            Ok(Did::Reported { held }) => (held, Worked::Moved(RecordingStage::Done)),
            Err(error) => {
                match policy::after_failure(job.stage, job.attempts, self.first_retry, now) {
                    AfterFailure::Retry(at) => {
                        tracing::info!(%error, attempt = job.attempts, "recording pipeline: will try again");
                        (
                            recordings.recording_retry(job, at, &error).await?,
                            Worked::Retried(error),
                        )
                    }
                    AfterFailure::GiveUp(to) => {
                        tracing::warn!(%error, attempts = job.attempts, "recording pipeline: gave up; the recording is marked {}", to.as_str());
                        (
                            recordings.recording_gave_up(job, to, &error).await?,
                            Worked::GaveUp(to, error),
                        )
                    }
                    AfterFailure::MoveOn(to) => {
                        tracing::error!(%error, "recording pipeline: the provider's copy could not be deleted; it stays there");
                        (
                            recordings.recording_moved(job, to, now).await?,
                            Worked::Moved(to),
                        )
                    }
                }
            }
        };
        if !held {
            // Too slow: the lease ran out and another worker has the job;
            // what it does counts, this report was not written.
            tracing::warn!("recording pipeline: the job's lease ran out before its report");
            return Ok(Worked::LeaseLost);
        }
        Ok(worked)
    }

    /// The provider's media into the store; the next stage.
    async fn fetch(&self, job: &RecordingJob) -> Result<Did, String> {
        let (Some(provider), Some(url)) = (&self.provider, &job.source_url) else {
            return Err("no provider account, or no recording URL".into());
        };
        let media = provider
            .fetch_recording(url)
            .await
            .map_err(|e: RecordingError| e.to_string())?;
        let audio = Audio {
            // Twilio says `audio/x-wav`; browsers and STT services know `audio/wav`.
            content_type: match media.content_type.as_str() {
                "audio/x-wav" | "audio/wave" => "audio/wav".into(),
                other => other.to_owned(),
            },
            bytes: media.bytes,
        };
        self.store
            .recordings()
            .put_audio(&job.recording_sid, &audio, Utc::now())
            .await
            .map_err(|e| e.to_string())?;
        Ok(Did::MoveTo(policy::after_fetch(self.delete_at_provider)))
    }

    /// The provider's copy deleted; the next stage.
    async fn forget(&self, job: &RecordingJob) -> Result<Did, String> {
        let Some(provider) = &self.provider else {
            return Err("no provider account".into());
        };
        provider
            .delete_recording(&job.recording_sid)
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!("recording pipeline: the provider's copy is deleted");
        Ok(Did::MoveTo(RecordingStage::Transcribe))
    }

    /// The stored audio transcribed, in the flow's language.
    async fn transcribe(&self, job: &RecordingJob) -> Result<Did, String> {
        let Some(transcriber) = &self.transcriber else {
            return Err("no speech-to-text backend".into());
        };
        let recordings = self.store.recordings();
        let audio = recordings
            .get_audio(&job.recording_sid)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the audio is not in the store (purged?)".to_owned())?;
        let language = self
            .languages
            .get(&job.flow)
            .map_or("zh-CN", String::as_str);
        let t = transcriber
            .transcribe(audio.bytes, &audio.content_type, language)
            .await
            .map_err(|e| e.to_string())?;
        let stored = StoredTranscript {
            text: t.text,
            confidence: t.confidence,
            model: t.model,
        };
        let held = recordings
            .recording_transcribed(job, &stored)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Did::Reported { held })
    }
}
