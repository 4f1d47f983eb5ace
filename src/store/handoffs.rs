//! A handoff's life cycle after it was opened: resolved by support, then
//! confirmed or reopened by the customer in a confirmation call. Every
//! change is one transaction that moves the status only from where it may
//! move and writes its event beside it, so a resolve POSTed twice — or to
//! two replicas at once — changes the handoff and schedules the
//! confirmation call once. Reached through [`super::Store::handoff_log`].

use chrono::{DateTime, Utc};

use super::campaigns::NewContact;
use super::{CallSid, HandoffId, HandoffRow, StoreResult};
pub use crate::domain::{HandoffActor, HandoffStatus};

/// One change of a handoff, oldest first in a history.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HandoffEvent {
    pub status: HandoffStatus,
    pub actor: HandoffActor,
    /// The call it happened in: the call that opened the handoff, or the
    /// confirmation call the customer answered; none for support.
    pub call_sid: Option<CallSid>,
    pub at: DateTime<Utc>,
}

/// Support resolves a handoff.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolve {
    pub id: HandoffId,
    pub at: DateTime<Utc>,
    /// The confirmation call to schedule with it, when the handoff's flow
    /// has a `confirm_flow`.
    pub confirmation: Option<Confirmation>,
}

/// A confirmation call, as a contact of the confirm flow's campaign (made
/// on the first resolve: one campaign of kind `confirmations` per flow).
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    /// The confirm flow.
    pub flow: String,
    /// The campaign's plan, if the campaign is made now.
    pub plan: serde_json::Value,
    /// The customer, due at `next_at`, following the handoff up.
    pub contact: NewContact,
}

/// What [`HandoffStore::resolve`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// The handoff is unknown, or already resolved or confirmed: nothing
    /// was written.
    Unchanged,
    /// The handoff is resolved now.
    Resolved {
        /// The confirmation contact, when one was scheduled. `None` with a
        /// confirmation asked for: the customer is in a call of the confirm
        /// flow's campaign right now (one contact per person and campaign).
        contact: Option<i64>,
    },
}

#[async_trait::async_trait]
pub trait HandoffStore: Send + Sync {
    async fn handoff(&self, id: HandoffId) -> StoreResult<Option<HandoffRow>>;

    /// The handoffs made in one call, oldest first (the call page's).
    async fn handoffs_of_call(&self, call_sid: &CallSid) -> StoreResult<Vec<HandoffRow>>;

    /// The handoff's history, oldest first: how it was opened (from the
    /// handoff row while nothing else happened to it), then each change.
    async fn history(&self, id: HandoffId) -> StoreResult<Vec<HandoffEvent>>;

    /// Support resolves the handoff if it is open, connected or reopened,
    /// and schedules the confirmation, in one transaction.
    async fn resolve(&self, resolve: Resolve) -> StoreResult<Resolved>;

    /// The customer answered the confirmation call `call_sid`, which
    /// started at `call_started_at`: the handoff becomes `status`
    /// (confirmed or reopened) if it is still resolved, by a resolve made
    /// before that call; `false` otherwise (an answer already taken, a
    /// handoff reopened and resolved again since the call began).
    async fn customer_answered(
        &self,
        id: HandoffId,
        status: HandoffStatus,
        call_sid: &CallSid,
        call_started_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
}
