//! A final status that arrives while a call is in a transfer. The provider
//! requests the transfer's action (`<Enqueue>`/`<Dial>`) whenever a caller
//! who reached it is done — queued, ringing or talking to an agent — and
//! sends the call's final status too, in either order; only the action says
//! whether the caller talked to a person, so the status leaves the call to
//! it. A caller who hung up before the provider reached the transfer (during
//! its "transferring you" words) gets no action at all: after a grace the
//! call ends as that hang-up, with its open handoff.

use std::time::Duration;

use super::service::Calls;
use crate::flow::Call;
use crate::flow::event::Input;
use crate::flow::machine::At;
use crate::store::CallSid;

/// Is this stored call state waiting for a transfer's result?
pub(super) fn in_transfer(state: &str) -> bool {
    serde_json::from_str::<Call>(state).is_ok_and(|c| matches!(c.at, At::Transfer { .. }))
}

impl Calls {
    /// After `grace`, ends call `sid` as a hang-up during its transfer
    /// (stored at `seq`) if no transfer action has moved it on by then. The
    /// store's compare-and-swap settles a race with a late action; a replica
    /// that stops before the grace ends leaves the call to the action.
    pub(super) fn hang_up_unless_transferred(&self, sid: &CallSid, seq: i64, grace: Duration) {
        let (calls, sid) = (self.clone(), sid.clone());
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let row = match calls.load(&sid).await {
                Ok(Some(row)) => row,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(call_sid = %sid, error = %e, "store failed loading a call after its transfer's grace");
                    return;
                }
            };
            if row.seq != seq || row.outcome.is_some() || !in_transfer(&row.state) {
                return;
            }
            tracing::info!(call_sid = %sid, "no transfer action after the final status: the caller hung up before the transfer");
            if let Err(e) = calls.step(&sid, seq, Input::HungUp).await {
                tracing::error!(call_sid = %sid, error = %e, "could not end a call that hung up before its transfer");
            }
        });
    }
}
