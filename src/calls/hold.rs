//! A caller waiting in a queue: the service side of the queue's wait URL.
//! Nothing is stored — the wait changes nothing about the call; leaving the
//! queue makes the provider request the queue's action, which moves the
//! call on exactly once like every other step.

use super::service::{CallError, Calls};
use crate::flow::Call;
use crate::flow::event::Hold;
use crate::store::CallSid;
use crate::twiml;

impl Calls {
    /// The wait document for call `sid` queued at wait `seq`, after
    /// `queue_secs` in the queue at `position`. A call that is unknown, no
    /// longer queued there or unreadable is told to leave: the queue's
    /// action then answers for it.
    pub async fn hold(
        &self,
        sid: &CallSid,
        seq: i64,
        queue_secs: u32,
        position: Option<u32>,
    ) -> Result<String, CallError> {
        let row = self
            .load(sid)
            .await
            .map_err(|source| CallError::Store {
                language: None,
                source,
            })?
            .ok_or(CallError::UnknownCall)?;
        let Some(flow) = self.flow(&row.flow).cloned() else {
            return Err(CallError::FlowNotLoaded(row.flow));
        };
        let hold = match (serde_json::from_str::<Call>(&row.state), u32::try_from(seq)) {
            (Ok(call), Ok(seq)) if row.outcome.is_none() => {
                call.hold(&flow, seq, queue_secs, position)
            }
            _ => Hold::Leave,
        };
        if hold == Hold::Leave {
            tracing::info!(call_sid = %sid, queue_secs, "the caller leaves the queue");
        }
        Ok(twiml::hold(&hold, &flow, self.public_url()))
    }
}
