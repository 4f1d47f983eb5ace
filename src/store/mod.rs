//! Storage: one [`Store`] trait, a SQLite implementation (the default: one file,
//! nothing to install) and a PostgreSQL one (several replicas sharing one
//! database), each with its own migrations folder. The queries are written
//! once, in `sql/`, for both; a backend adds only what truly differs (see
//! `sql/mod.rs`).
//!
//! Every webhook costs two trips here: one [`Store::load_call`] and one
//! [`Store::advance_call`]. A call's progress is guarded by its `seq` (a step
//! sequence number owned by the call machine): an advance is a
//! compare-and-swap from `from_seq` to `to_seq`, so a webhook that the
//! provider retries, duplicates or delivers out of order — possibly to another
//! replica — writes nothing and can answer with the stored TwiML instead.
//!
//! Advances arriving together are group-committed (see `group_commit.rs`): one
//! statement batch and one transaction for all of them, each still applied
//! whole or not at all. That is what lets one SQLite writer, or one
//! PostgreSQL, keep up with thousands of webhooks a second.
//!
//! Timestamps are kept to the microsecond on both backends (PostgreSQL's
//! `TIMESTAMPTZ` precision; SQLite stores fixed-width RFC 3339 text with six
//! fractional digits so that text order is time order).

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use crate::domain::{Direction, HandoffStatus, Outcome};
pub use crate::twilio::{CallSid, CallStatus};

pub mod campaigns;
mod db_url;
mod group_commit;
pub mod handoffs;
mod postgres;
pub mod recordings;
pub mod reports;
mod rows;
mod sql;
mod sqlite;
pub mod trends;

pub use campaigns::{CallContact, CampaignStore, ClaimedContact, DialerStore};
pub use handoffs::HandoffStore;
pub use postgres::PostgresStore;
pub use recordings::{AudioStore, RecordingStore};
pub use reports::{ReportFilter, ReportStore};
pub use sqlite::SqliteStore;

use db_url::redact_url;

/// What every store method returns.
pub type StoreResult<T> = Result<T, StoreError>;

/// Why a store operation failed. Never a panic: the webhook layer turns any of
/// these into safe TwiML and a log line.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a statement, or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database URL names no backend this build knows.
    #[error(
        "unsupported database URL {0:?}: use sqlite:PATH (e.g. sqlite:data/dialback.db), \
         sqlite::memory:, or postgres://USER@HOST:PORT/DATABASE"
    )]
    UnsupportedUrl(String),
}

/// Opens the database named by `url` and brings its schema up to date.
///
/// - `sqlite:path/to.db`, `sqlite://path/to.db`: a file, created (with its parent
///   folder) if missing. `sqlite::memory:`: a private in-memory database that
///   lives as long as the returned store. `?readers=N` sizes the read pool
///   (default [`SqliteStore::default_readers`]; 0 reads through the writer).
///   `?synchronous=normal` stops waiting for the disk on each commit (see
///   [`SqliteStore::connect`]); the default, `full`, is durable.
/// - `postgres://…` or `postgresql://…`: a pool; `?max_connections=N` sizes it
///   (default [`PostgresStore::DEFAULT_MAX_CONNECTIONS`]). Server settings for
///   the store's sessions go in `options[NAME]=VALUE`: with
///   `options[synchronous_commit]=off` a webhook no longer waits for the WAL
///   to reach the disk (measured: sequential webhook p50 4.0 → 0.7 ms on a
///   busy disk), at the price of losing the last fraction of a second of
///   answers if PostgreSQL crashes. That trade is ops' to make; the default
///   is durable.
///
/// Safe to call from several replicas at once: PostgreSQL migrations run under
/// an advisory lock, and an already-migrated database is left as it is.
pub async fn connect(url: &str) -> StoreResult<Arc<dyn Store>> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(redact_url(url)))
    }
}

/// A handoff's id: what an agent, the API and the CRM name a ticket by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct HandoffId(pub i64);

impl std::fmt::Display for HandoffId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What a call (or the campaign contact it was placed to) follows up: an
/// earlier call, and the handoff of it that the call confirms with the
/// customer (a confirmation call after support resolved the ticket).
///
/// Why a pair and not two loose columns: a handoff belongs to one call, so a
/// follow-up of a handoff always names that call too; a call follows at most
/// one earlier call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FollowUp {
    /// The earlier call.
    pub call: CallSid,
    /// The handoff of that call being confirmed, if it is a confirmation.
    pub handoff: Option<HandoffId>,
}

/// A call as it starts: the first webhook (inbound) or the dialer (outbound)
/// creates it together with the machine's first state and TwiML.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCall {
    pub call_sid: CallSid,
    /// The flow's name.
    pub flow: String,
    /// The content hash of the flow version the call runs; must have been saved
    /// with [`Store::save_flow_version`] first.
    pub flow_hash: String,
    pub direction: Direction,
    pub from: String,
    pub to: String,
    /// The provider's call status.
    pub status: CallStatus,
    /// The call machine's serialised state (JSON), kept byte for byte.
    pub state: String,
    pub seq: i64,
    /// The TwiML last answered, replayed to a duplicated webhook.
    pub response: String,
    pub started_at: DateTime<Utc>,
    /// The earlier call (and handoff) this one follows up, taken over from
    /// the campaign contact the dialer called.
    pub follows: Option<FollowUp>,
}

/// A call as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    pub call_sid: CallSid,
    pub flow: String,
    pub flow_hash: String,
    pub direction: Direction,
    pub from: String,
    pub to: String,
    pub status: CallStatus,
    /// How the call ended, once it has.
    pub outcome: Option<Outcome>,
    pub state: String,
    pub seq: i64,
    pub response: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The earlier call (and handoff) this one follows up.
    pub follows: Option<FollowUp>,
}

/// One answer the caller gave, written by the advance that accepted it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAnswer {
    /// The question's step id.
    pub question: String,
    /// The understood value: `true`, `4`, `"refund"`, `{"choice": …}`.
    pub value: serde_json::Value,
    /// What the caller literally pressed or said.
    pub raw: Option<String>,
    /// The recogniser's confidence for a spoken answer.
    pub confidence: Option<f32>,
    /// Which attempt at the question this answer came on (1 = first).
    pub attempt: i32,
    pub answered_at: DateTime<Utc>,
}

/// An answer as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerRow {
    pub call_sid: CallSid,
    /// The `to_seq` of the advance that stored it: with the question, what
    /// makes a replayed webhook unable to store the same answer twice.
    pub seq: i64,
    pub question: String,
    pub value: serde_json::Value,
    pub raw: Option<String>,
    pub confidence: Option<f32>,
    pub attempt: i32,
    pub answered_at: DateTime<Utc>,
}

/// A hand-over to a human: a transfer that connected, or an open ticket when no
/// agent was free.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHandoff {
    /// The step that handed off.
    pub step: String,
    /// Where to (`"queue:wallet-support"`).
    pub target: String,
    /// Connected or open; [`HandoffStore::resolve`] makes it resolved.
    pub status: HandoffStatus,
    pub reason: String,
    /// What the agent should know: the answers so far, the contact's variables.
    pub summary: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// A handoff as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffRow {
    pub id: i64,
    pub call_sid: CallSid,
    /// The flow of the call (joined from `calls`, not copied).
    pub flow: String,
    pub step: String,
    pub target: String,
    pub status: HandoffStatus,
    pub reason: String,
    pub summary: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A person who asked never to be called again.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOptOut {
    pub phone: String,
    /// The call in which they asked, if it was in a call.
    pub call_sid: Option<CallSid>,
    pub at: DateTime<Utc>,
}

/// A recording the provider made of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecording {
    pub call_sid: CallSid,
    pub question: String,
    pub url: String,
    pub duration_secs: Option<i32>,
    /// The provider's RecordingSid: a recording is stored once per id.
    pub recording_sid: Option<String>,
    pub at: DateTime<Utc>,
}

/// One webhook's effect, applied atomically and only if the call is still at
/// `from_seq`.
///
/// Why a compare-and-swap on `seq` rather than a row lock: a webhook is load,
/// compute, store; holding a lock across the compute would cost a round trip
/// and serialise replicas. The CAS lets any replica compute, and the database
/// decides which of two racing webhooks wins. The loser sees
/// [`Advanced::Stale`], reloads and answers with the stored TwiML.
#[derive(Debug, Clone, PartialEq)]
pub struct Advance {
    pub call_sid: CallSid,
    pub from_seq: i64,
    pub to_seq: i64,
    pub state: String,
    pub response: String,
    /// A new provider status, if the webhook carried one.
    pub status: Option<CallStatus>,
    /// Stored with `seq = to_seq`.
    pub answers: Vec<NewAnswer>,
    /// Ignored if the phone has already opted out.
    pub opt_out: Option<NewOptOut>,
    pub handoff: Option<NewHandoff>,
    pub recording: Option<NewRecording>,
    /// Set when the machine ended the call.
    pub outcome: Option<Outcome>,
    /// Set when the machine ended the call; an earlier `ended_at` is kept.
    pub ended_at: Option<DateTime<Utc>>,
}

impl Advance {
    /// Does this step only move the call on (new state, TwiML and `seq`),
    /// writing nothing beside the call row? A new call's first step often
    /// does, and is then stored with the row in one write.
    pub fn only_moves_on(&self) -> bool {
        self.answers.is_empty()
            && self.outcome.is_none()
            && self.handoff.is_none()
            && self.opt_out.is_none()
            && self.recording.is_none()
    }
}

/// What [`Store::advance_call`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advanced {
    /// The call moved to `to_seq`, and everything in the advance was stored.
    Applied,
    /// The call was not at `from_seq` (a duplicate, retried or out-of-order
    /// webhook, or an unknown CallSid): nothing was written.
    Stale,
}

/// The storage every layer above uses; `Arc<dyn Store>` so the server picks
/// the backend at start-up from a URL.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// Succeeds when the database answers (for readiness probes).
    async fn health(&self) -> StoreResult<()>;

    /// Records a flow's source under its content hash; idempotent on the hash.
    async fn save_flow_version(&self, name: &str, hash: &str, source: &str) -> StoreResult<()>;

    /// Creates a call; `false` (and nothing changed) if the CallSid exists,
    /// which is what a retried first webhook looks like.
    async fn create_call(&self, call: NewCall) -> StoreResult<bool>;

    async fn load_call(&self, call_sid: &CallSid) -> StoreResult<Option<CallRow>>;

    /// Applies one webhook's effect in ONE transaction: the compare-and-swap
    /// on `seq`, and the answer, opt-out, handoff and recording inserts only
    /// if it succeeds. If any statement fails, nothing of this advance is
    /// written. (The transaction may also carry other calls' advances — see
    /// `group_commit.rs` — but their fates never mix.)
    async fn advance_call(&self, advance: Advance) -> StoreResult<Advanced>;

    /// Records a provider status callback; `false` if the call is unknown.
    /// A final status ([`CallStatus::is_final`]) sets `ended_at` if it is unset. A late non-final status never
    /// replaces the status of a call that has ended (callbacks can arrive out
    /// of order), and the outcome is never touched.
    async fn update_status(
        &self,
        call_sid: &CallSid,
        status: CallStatus,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Calls whose final status was stored at or before `before` but that
    /// have no outcome yet (a final status that came during a transfer
    /// waits for the transfer's action), oldest first, at most `limit`:
    /// each CallSid with its current `seq`.
    async fn hung_up_unfinished(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<(CallSid, i64)>>;

    /// The call's answers, in the order they were given.
    async fn answers(&self, call_sid: &CallSid) -> StoreResult<Vec<AnswerRow>>;

    /// Handoffs, newest first, optionally only those with `status`.
    async fn handoffs(&self, status: Option<HandoffStatus>) -> StoreResult<Vec<HandoffRow>>;

    /// Records an opt-out; idempotent per phone (the first one is kept).
    async fn add_opt_out(&self, opt_out: NewOptOut) -> StoreResult<()>;

    async fn is_opted_out(&self, phone: &str) -> StoreResult<bool>;

    /// Stores a recording; one with a `recording_sid` already stored is
    /// left as it is (the action and the status callback both report it).
    async fn add_recording(&self, recording: NewRecording) -> StoreResult<()>;

    /// The report queries (see `reports.rs`), kept in a trait of their own.
    fn reports(&self) -> &dyn ReportStore;
    /// The outbound campaigns' storage (see [`campaigns`]).
    fn campaigns(&self) -> &dyn CampaignStore;
    /// A handoff's life cycle after it was opened (see [`handoffs`]).
    fn handoff_log(&self) -> &dyn HandoffStore;
    /// Recordings' audio and the pipeline that fetches and transcribes
    /// them (see [`recordings`]).
    fn recordings(&self) -> &dyn RecordingStore;
}

/// Parses JSON text the store wrote itself; a failure means the row was
/// changed behind our back, reported as a decode error rather than a panic.
fn parse_json(text: &str) -> Result<serde_json::Value, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}
