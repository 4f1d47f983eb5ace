//! A final status that arrives while a call is in a transfer. The provider
//! requests the transfer's action (`<Enqueue>`/`<Dial>`) whenever a caller
//! who reached it is done — queued, ringing or talking to an agent — and
//! sends the call's final status too, in either order; only the action says
//! whether the caller talked to a person, so the status leaves the call to
//! it. A caller who hung up before the provider reached the transfer (during
//! its "transferring you" words) gets no action at all: once its final
//! status is older than a grace, the call ends as that hang-up, with its
//! open handoff. That is done by a sweep of the store, not a timer in the
//! process that got the status, so that any replica (or the same one after
//! a restart) finishes it.

use std::time::Duration;

use chrono::TimeDelta;
use tokio_util::sync::CancellationToken;

use super::service::Calls;
use crate::flow::Call;
use crate::flow::event::Input;
use crate::flow::machine::At;
use crate::store::StoreError;

/// Calls one sweep ends at most; the next sweep takes the rest.
const SWEEP_BATCH: i64 = 500;

/// Is this stored call state waiting for a transfer's result?
pub(super) fn in_transfer(state: &str) -> bool {
    serde_json::from_str::<Call>(state).is_ok_and(|c| matches!(c.at, At::Transfer { .. }))
}

/// How often the sweep runs: often enough that a call is finished soon
/// after its grace, rarely enough to cost nothing (a few times per grace,
/// at most every 10 s, at least every 50 ms).
fn sweep_period(grace: Duration) -> Duration {
    (grace / 6).clamp(Duration::from_millis(50), Duration::from_secs(10))
}

impl Calls {
    /// Ends, as the hang-up it was, every call whose final status was
    /// stored more than `grace` ago and that no transfer action has
    /// finished since; how many it ended. Each is applied as a step at the
    /// `seq` read, so a late action racing it (on any replica) and the
    /// sweep cannot both apply: the store's compare-and-swap takes one.
    pub async fn finish_hung_up(&self, grace: Duration) -> Result<usize, StoreError> {
        let grace = TimeDelta::from_std(grace).unwrap_or(TimeDelta::MAX);
        let before = self.clock().now() - grace;
        let due = self.store().hung_up_unfinished(before, SWEEP_BATCH).await?;
        let mut ended = 0;
        for (sid, seq) in due {
            tracing::info!(call_sid = %sid, "no transfer action after the final status: the caller hung up before the transfer");
            match self.step(&sid, seq, Input::HungUp).await {
                Ok(_) => ended += 1,
                Err(e) => {
                    tracing::error!(call_sid = %sid, error = %e, "could not end a call that hung up before its transfer")
                }
            }
        }
        Ok(ended)
    }

    /// Runs [`Calls::finish_hung_up`] every [`sweep_period`] until `stop`.
    pub async fn sweep_hung_up(self, grace: Duration, stop: CancellationToken) {
        let mut every = tokio::time::interval(sweep_period(grace));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = every.tick() => {}
            }
            if let Err(e) = self.finish_hung_up(grace).await {
                tracing::error!(error = %e, "store failed finding calls hung up during a transfer");
            }
        }
    }
}
