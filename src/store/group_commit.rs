//! Group commit: advances that arrive together are applied together.
//!
//! Why: on both backends most of an advance's cost is per statement and per
//! commit, not per row: trips to SQLite's worker thread (each a thread
//! wake-up), round trips and plan-cache work in PostgreSQL, one WAL write or
//! flush per commit. So `advance_call` queues its advance and a dispatcher
//! task applies every advance waiting (up to [`MAX_BATCH`]) in ONE statement
//! batch and ONE transaction. An idle server still applies each advance at
//! once, as a batch of one: nothing ever waits for a batch to fill. Under
//! load, batches grow by themselves while earlier ones run.
//!
//! Each advance keeps its own outcome: a batch holds at most one advance per
//! call, so each compare-and-swap is decided alone, and if a batch fails (one
//! advance breaks a constraint) it is rolled back and each advance is applied
//! alone, so each caller gets its own result and none is lost or
//! half-applied because of another.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{Advance, Advanced, StoreError, StoreResult};

/// The most advances in one batch: enough to amortise the per-batch cost,
/// few enough that a batch stays a few milliseconds at most.
pub(super) const MAX_BATCH: usize = 64;

/// Advances waiting to be batched; past this, `advance_call` waits to queue.
const QUEUE: usize = 4096;

/// How a backend applies a batch in one transaction.
#[async_trait::async_trait]
pub(super) trait ApplyBatch: Send + Sync + 'static {
    /// Applies the advances (at most one per call) atomically: all of them
    /// or, on error, none. Returns the CallSids that moved; the others were
    /// Stale.
    async fn apply(&self, advances: &[&Advance]) -> StoreResult<HashSet<String>>;
}

struct Job {
    advance: Advance,
    reply: oneshot::Sender<StoreResult<Advanced>>,
}

/// Where `advance_call` queues; the dispatcher ends when this is dropped.
pub(super) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the dispatcher on the current tokio runtime, with at most
    /// `in_flight` batches running at once (1 for SQLite's single writer).
    pub(super) fn spawn(applier: Arc<dyn ApplyBatch>, in_flight: usize) -> Self {
        let (jobs, rx) = mpsc::channel(QUEUE);
        tokio::spawn(dispatch(applier, rx, in_flight.max(1)));
        Self { jobs }
    }

    /// Queues the advance and waits for its batch. Batches run in their own
    /// tasks, so a caller that gives up (a dropped webhook) never leaves one
    /// half done.
    pub(super) async fn advance(&self, advance: Advance) -> StoreResult<Advanced> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { advance, reply })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

fn gone() -> StoreError {
    // The dispatcher only stops with its runtime.
    StoreError::Database(sqlx::Error::WorkerCrashed)
}

async fn dispatch(applier: Arc<dyn ApplyBatch>, mut jobs: mpsc::Receiver<Job>, in_flight: usize) {
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
        // One advance per call in a batch: two webhooks for one call racing
        // from the same seq are decided one after the other (the second then
        // sees Stale), never inside one statement.
        let mut calls = HashSet::from([first.advance.call_sid.clone()]);
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            let Ok(job) = jobs.try_recv() else { break };
            if calls.insert(job.advance.call_sid.clone()) {
                batch.push(job);
            } else {
                held_back = Some(job);
                break;
            }
        }
        let applier = Arc::clone(&applier);
        tokio::spawn(async move {
            apply(applier.as_ref(), batch).await;
            drop(slot);
        });
    }
}

async fn apply(applier: &dyn ApplyBatch, batch: Vec<Job>) {
    if batch.len() > 1 {
        let advances: Vec<&Advance> = batch.iter().map(|j| &j.advance).collect();
        match applier.apply(&advances).await {
            Ok(moved) => {
                for job in batch {
                    let result = outcome(moved.contains(&job.advance.call_sid));
                    let _ = job.reply.send(Ok(result));
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
            .apply(&[&job.advance])
            .await
            .map(|moved| outcome(!moved.is_empty()));
        let _ = job.reply.send(result);
    }
}

fn outcome(moved: bool) -> Advanced {
    if moved {
        Advanced::Applied
    } else {
        Advanced::Stale
    }
}
