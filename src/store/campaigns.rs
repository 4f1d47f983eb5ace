//! Storage for outbound campaigns, kept in a trait of its own so that the
//! dialer's tables grow without touching [`super::Store`]'s call methods.
//! Reached through [`super::Store::campaigns`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::StoreResult;

/// A campaign as created.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCampaign {
    pub name: String,
    /// The flow's name.
    pub flow: String,
    /// The scheduler's plan, as JSON.
    pub plan: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRow {
    pub id: i64,
    pub name: String,
    pub flow: String,
    pub plan: serde_json::Value,
    /// `draft`, `running`, `paused`, `cancelled` or `finished`.
    pub status: String,
    pub created_at: DateTime<Utc>,
}

/// A contact to add to a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    /// E.164.
    pub phone: String,
    /// The flow variables, a JSON object.
    pub vars: serde_json::Value,
    /// IANA zone name; `None` for the campaign's default.
    pub timezone: Option<String>,
    /// When the first call is due; `None` until the campaign starts.
    pub next_at: Option<DateTime<Utc>>,
}

/// How many contacts go into one `INSERT`: 5 parameters each stays far
/// below both backends' parameter limits, and 100,000 contacts take 200
/// statements in one transaction.
pub const CONTACTS_PER_INSERT: usize = 500;

#[async_trait::async_trait]
pub trait CampaignStore: DialerStore + Send + Sync {
    /// Creates a campaign in `draft`; returns its id.
    async fn create_campaign(&self, campaign: NewCampaign) -> StoreResult<i64>;

    async fn campaign(&self, id: i64) -> StoreResult<Option<CampaignRow>>;

    /// Adds contacts in ONE transaction (all or none). A phone already in the
    /// campaign is merged: its variables and zone are replaced. Returns the
    /// number of rows written.
    async fn add_contacts(&self, campaign_id: i64, contacts: &[NewContact]) -> StoreResult<u64>;

    /// Moves a campaign to `to` if its status is one of `from`; `false` if
    /// it is unknown or in another status (e.g. resuming a cancelled one).
    async fn set_campaign_status(&self, id: i64, from: &[&str], to: &str) -> StoreResult<bool>;

    /// How many of the campaign's contacts are in each state.
    async fn contact_counts(&self, campaign_id: i64) -> StoreResult<BTreeMap<String, i64>>;
}

/// A contact a worker has claimed: no other worker can claim it until it is
/// rescheduled, finished, or its lease runs out (the worker died).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedContact {
    pub id: i64,
    pub campaign_id: i64,
    pub flow: String,
    /// The campaign's plan, as JSON.
    pub plan: serde_json::Value,
    pub phone: String,
    pub timezone: Option<String>,
    /// Calls placed to this contact so far.
    pub attempts: i32,
}

/// The contact behind an outbound call, for its status callback.
#[derive(Debug, Clone, PartialEq)]
pub struct CallContact {
    pub contact_id: i64,
    pub plan: serde_json::Value,
    pub timezone: Option<String>,
    pub attempts: i32,
    /// The contact's state: `calling` until the callback decides.
    pub state: String,
}

/// The dialer's side of campaign storage.
#[async_trait::async_trait]
pub trait DialerStore: Send + Sync {
    /// Moves a draft or paused campaign to `running`, making its pending
    /// contacts without a due time due at `now`; `false` if it was in
    /// another status.
    async fn start_campaign(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool>;

    /// Claims up to `limit` contacts of running campaigns that are due at
    /// `now`, or whose claim lapsed, marking them `calling` until
    /// `lease_until`. On PostgreSQL `FOR UPDATE SKIP LOCKED` lets every
    /// replica claim at once without ever handing one contact to two.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedContact>>;

    /// Records a call placed to a claimed contact: one more attempt, and the
    /// claim extended to `lease_until` while the call is in progress.
    async fn record_placed(
        &self,
        contact_id: i64,
        call_sid: &str,
        at: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Releases a contact to be called again at `next_at`.
    async fn reschedule(
        &self,
        contact_id: i64,
        next_at: DateTime<Utc>,
        last_result: &str,
    ) -> StoreResult<()>;

    /// Ends a contact's part in the campaign in `state` (`completed`,
    /// `no_answer`, `busy`, `failed`, `opted_out`, `error`, …).
    async fn finish_contact(
        &self,
        contact_id: i64,
        state: &str,
        last_result: &str,
    ) -> StoreResult<()>;

    /// The contact an outbound call was placed to; `None` for other calls.
    async fn contact_for_call(&self, call_sid: &str) -> StoreResult<Option<CallContact>>;

    /// Records how an attempt ended.
    async fn finish_attempt(
        &self,
        call_sid: &str,
        result: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Closed loop: the contact is to be called again with `flow` (or the
    /// campaign's) from `at` on; the worker still waits for the contact's
    /// window and skips an opt-out. `false` for an unknown contact, one in a
    /// call now, or one who opted out.
    async fn recall(
        &self,
        contact_id: i64,
        flow: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// A contact's flow variables, for the outbound call's first webhook.
    async fn contact_vars(&self, contact_id: i64) -> StoreResult<Option<serde_json::Value>>;
}
