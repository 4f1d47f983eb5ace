//! Group commit: writes that arrive together are applied together.
//!
//! Why: on both backends most of a write's cost is per statement and per
//! commit, not per row: trips to SQLite's worker thread (each a thread
//! wake-up), round trips and plan-cache work in PostgreSQL, one WAL write and
//! one flush to disk per commit. So a webhook queues its write (an advance;
//! on SQLite also a new call or a status) and a dispatcher task applies every
//! write waiting (up to [`MAX_BATCH`]) in ONE statement batch and ONE
//! transaction. An idle server still applies each write at once, as a batch
//! of one: nothing ever waits for a batch to fill. Under load, batches grow
//! by themselves while earlier ones run.
//!
//! Each write keeps its own outcome: a batch holds at most one write per
//! call, so each compare-and-swap is decided alone, and if a batch fails (one
//! write breaks a constraint) it is rolled back and each write is applied
//! alone, so each caller gets its own result and none is lost or
//! half-applied because of another.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{Advance, Advanced, StoreError, StoreResult};

/// A write that belongs to one call: a batch holds at most one per call.
pub(super) trait CallWrite: Send + Sync + 'static {
    fn call_sid(&self) -> &str;
}

impl CallWrite for Advance {
    fn call_sid(&self) -> &str {
        self.call_sid.as_str()
    }
}

/// The most advances in one batch: enough to amortise the per-batch cost,
/// few enough that a batch stays a few milliseconds at most.
pub(super) const MAX_BATCH: usize = 64;

/// Advances waiting to be batched; past this, `advance_call` waits to queue.
const QUEUE: usize = 4096;

/// How a backend applies a batch in one transaction.
#[async_trait::async_trait]
pub(super) trait ApplyBatch<W>: Send + Sync + 'static {
    /// Applies the writes (at most one per call) atomically: all of them
    /// or, on error, none. Returns the CallSids whose write took effect (an
    /// advance that moved its call, a call created, a status stored); the
    /// others found their call elsewhere (Stale, already there, unknown).
    async fn apply(&self, writes: &[&W]) -> StoreResult<HashSet<String>>;
}

struct Job<W> {
    write: W,
    reply: oneshot::Sender<StoreResult<bool>>,
}

/// Where writes queue; the dispatcher ends when this is dropped.
pub(super) struct GroupCommit<W> {
    jobs: mpsc::Sender<Job<W>>,
}

impl<W: CallWrite> GroupCommit<W> {
    /// Starts the dispatcher on the current tokio runtime, with at most
    /// `in_flight` batches running at once (1 for SQLite's single writer).
    pub(super) fn spawn(applier: Arc<dyn ApplyBatch<W>>, in_flight: usize) -> Self {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(dispatch(applier, rx, in_flight.max(1)));
        Self { jobs }
    }

    /// Queues the write and waits for its batch: true if it took effect.
    /// Batches run in the dispatcher or in tasks of their own, never in the
    /// caller's, so a caller that gives up (a dropped webhook) never leaves
    /// one half done.
    pub(super) async fn write(&self, write: W) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { write, reply })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// What an advance's write did to its call.
pub(super) fn advanced(moved: bool) -> Advanced {
    if moved {
        Advanced::Applied
    } else {
        Advanced::Stale
    }
}

fn gone() -> StoreError {
    // The dispatcher only stops with its runtime.
    StoreError::Database(sqlx::Error::WorkerCrashed)
}

async fn dispatch<W: CallWrite>(
    applier: Arc<dyn ApplyBatch<W>>,
    mut jobs: mpsc::Receiver<Job<W>>,
    in_flight: usize,
) {
    let slots = Arc::new(Semaphore::new(in_flight));
    let mut held_back = None;
    loop {
        // Wait for a free slot first: while every slot is busy, advances
        // pile up in the channel and the next batch grows.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let first = match held_back.take() {
            Some(job) => job,
            None => match jobs.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        // One write per call in a batch: two webhooks for one call racing
        // from the same seq are decided one after the other (the second then
        // sees Stale), never inside one statement.
        let mut calls = HashSet::from([first.write.call_sid().to_owned()]);
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            let Ok(job) = jobs.try_recv() else { break };
            if calls.insert(job.write.call_sid().to_owned()) {
                batch.push(job);
            } else {
                held_back = Some(job);
                break;
            }
        }
        if in_flight == 1 {
            // One batch at a time (SQLite's single writer): the dispatcher
            // would only wait for it, so it runs it itself. A task spawned
            // for it would make tokio wake an idle worker to run it, one
            // more thread wake-up per batch, per webhook when they arrive
            // one at a time.
            apply(applier.as_ref(), batch).await;
            drop(slot);
            continue;
        }
        let applier = Arc::clone(&applier);
        tokio::spawn(async move {
            apply(applier.as_ref(), batch).await;
            drop(slot);
        });
    }
}

async fn apply<W: CallWrite>(applier: &dyn ApplyBatch<W>, batch: Vec<Job<W>>) {
    if batch.len() > 1 {
        let writes: Vec<&W> = batch.iter().map(|j| &j.write).collect();
        match applier.apply(&writes).await {
            Ok(done) => {
                for job in batch {
                    let _ = job.reply.send(Ok(done.contains(job.write.call_sid())));
                }
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, size = batch.len(), "batch failed; applying one by one");
            }
        }
    }
    for job in batch {
        let result = applier
            .apply(&[&job.write])
            .await
            .map(|done| !done.is_empty());
        let _ = job.reply.send(result);
    }
}
