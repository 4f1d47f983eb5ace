//! The one SQL layer: every query that reads the store, and every write that
//! is not on a backend's own hot path, written once for SQLite and
//! PostgreSQL.
//!
//! [`Store`](super::Store), [`ReportStore`](super::ReportStore),
//! [`CampaignStore`](super::CampaignStore) and
//! [`DialerStore`](super::DialerStore) are implemented here for every
//! [`Backend`]. A backend supplies only what truly differs:
//!
//! - its [`Dialect`]: how a time is bound, how a result counts rows;
//! - how a connection to read or to write with is obtained (SQLite: one of
//!   its reader connections, or its one writer; PostgreSQL: the pool);
//! - the webhook's write path — new calls, advances, statuses — which each
//!   backend batches its own way (`group_commit.rs`: SQLite's writer,
//!   PostgreSQL's one-statement batches);
//! - the dialer's and the recording pipeline's claims (`FOR UPDATE SKIP
//!   LOCKED` on PostgreSQL) and the dialer's
//!   call pacing (the database's clock, or the process's).

mod calls;
mod campaigns;
mod dialect;
mod dialer;
mod handoffs;
mod recordings;
mod reports;
mod trends;

use std::future::Future;
use std::ops::DerefMut;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Database;

use dialect::Runs;
pub(super) use dialect::{ColExt, Dialect, Stmt, StmtExt};

use super::{Advance, Advanced, CallSid, CallStatus, NewCall, StoreResult};

/// A database the store runs on, and what only it can do.
pub(in crate::store) trait Backend: Send + Sync + 'static {
    type Db: Dialect;

    /// A connection lent for one operation.
    type Conn<'a>: Lent<Target = <Self::Db as Database>::Connection>
    where
        Self: 'a;

    /// `"sqlite"` or `"postgres"`.
    const NAME: &'static str;

    /// Claims due contacts: parameters `$1` now, `$2` the lease's end, `$3`
    /// how many; returns the columns of a
    /// [`ClaimedContact`](super::ClaimedContact).
    const CLAIM_DUE: &'static str;

    /// Claims due recording jobs: parameters `$1` now, `$2` the lease's
    /// end, `$3` how many, `$4`–`$6` the stages the worker can do (`''` for
    /// none); returns the
    /// columns of a [`RecordingJob`](super::recordings::RecordingJob).
    const CLAIM_RECORDINGS: &'static str;

    /// A connection to read with.
    fn read(&self) -> impl Future<Output = StoreResult<Self::Conn<'_>>> + Send;

    /// A connection to write with.
    fn write(&self) -> impl Future<Output = StoreResult<Self::Conn<'_>>> + Send;

    /// See [`Store::create_call`](super::Store::create_call).
    fn create_call(&self, call: NewCall) -> impl Future<Output = StoreResult<bool>> + Send;

    /// See [`Store::advance_call`](super::Store::advance_call).
    fn advance_call(&self, advance: Advance) -> impl Future<Output = StoreResult<Advanced>> + Send;

    /// See [`Store::update_status`](super::Store::update_status).
    fn update_status(
        &self,
        update: ProviderStatus<'_>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// See [`DialerStore::reserve_dial_slot`](super::DialerStore::reserve_dial_slot).
    fn reserve_dial_slot(
        &self,
        account: &str,
        interval: Duration,
    ) -> impl Future<Output = StoreResult<Duration>> + Send;
}

/// A connection a [`Backend`] lends for one operation.
pub(in crate::store) trait Lent: DerefMut + Send {
    /// Turns a statement's result on this connection into the store's
    /// (SQLite first reopens a connection whose worker thread died).
    fn finish<T: Send>(
        &mut self,
        result: Result<T, sqlx::Error>,
    ) -> impl Future<Output = StoreResult<T>> + Send;
}

/// A provider's status for a call, as
/// [`Store::update_status`](super::Store::update_status) takes it.
pub(in crate::store) struct ProviderStatus<'a> {
    pub(in crate::store) call_sid: &'a CallSid,
    pub(in crate::store) status: CallStatus,
    pub(in crate::store) at: DateTime<Utc>,
}

/// A row of backend `B`'s database.
type Row<B> = <<B as Backend>::Db as Database>::Row;

/// A statement for backend `B`'s database.
fn query<B: Backend>(sql: &'static str) -> Stmt<'static, B::Db> {
    sqlx::query(sql)
}

/// Which connection a statement runs on.
#[derive(Clone, Copy)]
enum On {
    /// One to read with: on SQLite a reader, beside the writer.
    Read,
    /// One to write with: on SQLite the one writer.
    Write,
}

async fn lend<B: Backend>(store: &B, on: On) -> StoreResult<B::Conn<'_>> {
    match on {
        On::Read => store.read().await,
        On::Write => store.write().await,
    }
}

/// Runs `stmt`; every row it returns.
async fn fetch_all<B: Backend>(
    store: &B,
    on: On,
    stmt: Stmt<'_, B::Db>,
) -> StoreResult<Vec<Row<B>>> {
    let mut conn = lend(store, on).await?;
    let result = B::Db::fetch_all(&mut conn, stmt).await;
    conn.finish(result).await
}

/// Runs `stmt`; its first row, if any.
async fn fetch_optional<B: Backend>(
    store: &B,
    on: On,
    stmt: Stmt<'_, B::Db>,
) -> StoreResult<Option<Row<B>>> {
    let mut conn = lend(store, on).await?;
    let result = B::Db::fetch_optional(&mut conn, stmt).await;
    conn.finish(result).await
}

/// Runs a writing `stmt`; how many rows it changed.
async fn execute<B: Backend>(store: &B, stmt: Stmt<'_, B::Db>) -> StoreResult<u64> {
    let mut conn = store.write().await?;
    let result = stmt.run(&mut conn).await;
    conn.finish(result).await
}
