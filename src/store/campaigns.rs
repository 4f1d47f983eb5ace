//! Storage for outbound campaigns, kept in a trait of its own so that the
//! dialer's tables grow without touching [`super::Store`]'s call methods.
//! Reached through [`super::Store::campaigns`].

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{FollowUp, StoreResult};
pub use crate::domain::{CampaignStatus, ContactState};

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
    pub status: CampaignStatus,
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
    /// The earlier call (and handoff) the contact is called about; the
    /// call placed to it takes the link over.
    pub follows: Option<FollowUp>,
}

/// [`CampaignStore::contact_counts`] with every [`ContactState`] present
/// (zero when no contact is in it), so a report always has the same
/// counters; a state outside the set is kept as it is.
pub fn every_state(counts: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    let mut all: BTreeMap<String, i64> = ContactState::ALL
        .iter()
        .map(|state| (state.as_str().to_owned(), 0))
        .collect();
    all.extend(counts.iter().map(|(k, v)| (k.clone(), *v)));
    all
}

/// The statuses a campaign can be cancelled from: any but an ending.
pub const CANCELLABLE: &[CampaignStatus] = &[
    CampaignStatus::Draft,
    CampaignStatus::Running,
    CampaignStatus::Paused,
];

/// How many contacts go into one `INSERT`: 7 parameters each stays far
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
    async fn set_campaign_status(
        &self,
        id: i64,
        from: &[CampaignStatus],
        to: CampaignStatus,
    ) -> StoreResult<bool>;

    /// How many of the campaign's contacts are in each state. Keyed by the
    /// stored text rather than [`ContactState`], so that a report still
    /// counts a state written by a newer build.
    async fn contact_counts(&self, campaign_id: i64) -> StoreResult<BTreeMap<String, i64>>;

    /// One page of the campaign's contacts in id order (keyset pagination:
    /// the next page starts after the last id of this one, so a page costs
    /// the same however deep it is).
    async fn list_contacts(
        &self,
        campaign_id: i64,
        page: &ContactPage,
    ) -> StoreResult<Vec<ContactRow>>;
}

/// Which contacts [`CampaignStore::list_contacts`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactPage {
    /// Only contacts in this state.
    pub state: Option<ContactState>,
    /// Only contacts with a greater id: the last id of the previous page.
    pub after: Option<i64>,
    pub limit: i64,
}

impl ContactPage {
    /// The most contacts one page holds.
    pub const MAX_LIMIT: i64 = 1000;

    /// A page request as the API and the CLI take it, checked at the edge:
    /// a known state, 1 to [`Self::MAX_LIMIT`] rows (default 100).
    pub fn new(
        state: Option<String>,
        limit: Option<i64>,
        after: Option<i64>,
    ) -> Result<Self, String> {
        let state = match state.as_deref().map(ContactState::parse).transpose() {
            Ok(state) => state,
            Err(unknown) => {
                let known: Vec<_> = ContactState::ALL.iter().map(|s| s.as_str()).collect();
                return Err(format!(
                    "status `{}` is not one of {}",
                    unknown.value,
                    known.join(", ")
                ));
            }
        };
        let limit = limit.unwrap_or(100);
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(format!("limit must be 1 to {}", Self::MAX_LIMIT));
        }
        Ok(Self {
            state,
            after,
            limit,
        })
    }
}

/// A contact and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactRow {
    pub id: i64,
    /// E.164, unmasked: callers mask it for display.
    pub phone: String,
    pub state: ContactState,
    pub attempts: i32,
    /// What the last call (or the dialer) did: `busy`, `no_answer`,
    /// `completed`, `outside_window`, `opted_out`, a provider error, …
    pub last_result: Option<String>,
    /// When the last call was placed.
    pub last_call_at: Option<DateTime<Utc>>,
    /// When the next call is due (pending contacts).
    pub next_at: Option<DateTime<Utc>>,
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

/// What an outbound call takes from its contact when it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactStart {
    /// The flow variables, a JSON object.
    pub vars: serde_json::Value,
    /// The earlier call (and handoff) the contact is called about.
    pub follows: Option<FollowUp>,
}

/// The contact behind an outbound call, for its status callback.
#[derive(Debug, Clone, PartialEq)]
pub struct CallContact {
    pub contact_id: i64,
    pub plan: serde_json::Value,
    pub timezone: Option<String>,
    pub attempts: i32,
    /// The contact's state: calling until the callback decides.
    pub state: ContactState,
    /// This call's attempt already has its result: its final status was
    /// applied, even if the contact is being called again now (a recall,
    /// the next confirmation call of the same customer).
    pub attempt_ended: bool,
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

    /// Ends a contact's part in the campaign in `state` (completed, no
    /// answer, busy, failed, opted out, error, …).
    async fn finish_contact(
        &self,
        contact_id: i64,
        state: ContactState,
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

    /// A contact's flow variables and what it follows up, for the outbound
    /// call's first webhook.
    async fn contact_start(&self, contact_id: i64) -> StoreResult<Option<ContactStart>>;

    /// The flow variables of an inbound caller who is a contact of a
    /// campaign of `flow` (`phone` in E.164), from the most recent such
    /// campaign; `None` for a caller who is no contact.
    async fn inbound_contact_vars(
        &self,
        flow: &str,
        phone: &str,
    ) -> StoreResult<Option<serde_json::Value>>;

    /// Reserves the next free call slot of a provider `account` and moves it
    /// on by `interval` (1/CPS), atomically: every worker on this database —
    /// on every replica — takes its slots from the same row, so together
    /// they never place more than one call per `interval`. Returns how long
    /// to wait for the slot (zero when it is free now). Time is the
    /// database's clock on PostgreSQL (one clock for all replicas, whatever
    /// their own clocks say) and the process's on SQLite (one process).
    async fn reserve_dial_slot(&self, account: &str, interval: Duration) -> StoreResult<Duration>;
}
