//! [`DialerStore`] for every [`Backend`]. Claims run on a writing
//! connection: on SQLite that is the one writer, so two claims can never see
//! the same due contact; on PostgreSQL the backend's claim locks the rows it
//! takes with `FOR UPDATE SKIP LOCKED`, so workers on every replica share the
//! queue.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Connection;

use super::super::campaigns::{
    CallContact, ClaimedContact, ContactStart, ContactState, DialerStore,
};
use super::super::rows::{all, call_contact_row, claimed_row, contact_start_row};
use super::super::{StoreResult, parse_json};
use super::{
    Backend, ColExt, Dialect, Lent, On, StmtExt, execute, fetch_all, fetch_optional, query,
};

const START_CAMPAIGN: &str = "UPDATE campaigns SET status = 'running' \
    WHERE id = $1 AND status IN ('draft', 'paused')";

const SCHEDULE_PENDING: &str = "UPDATE contacts SET next_at = $2 \
    WHERE campaign_id = $1 AND state = 'pending' AND next_at IS NULL";

const PLACED: &str = "UPDATE contacts SET attempts = attempts + 1, lease_until = $2, \
    last_result = 'calling' WHERE id = $1";

const INSERT_ATTEMPT: &str =
    "INSERT INTO attempts (contact_id, call_sid, placed_at) VALUES ($1, $2, $3)";

const RESCHEDULE: &str = "UPDATE contacts SET state = 'pending', next_at = $2, \
    lease_until = NULL, last_result = $3 WHERE id = $1";

const FINISH_CONTACT: &str = "UPDATE contacts SET state = $2, next_at = NULL, \
    lease_until = NULL, last_result = $3 WHERE id = $1";

const CONTACT_FOR_CALL: &str = "SELECT c.id, k.plan, c.timezone, c.attempts, c.state, \
    CASE WHEN a.result IS NULL THEN 0 ELSE 1 END AS attempt_ended \
    FROM attempts a JOIN contacts c ON c.id = a.contact_id \
    JOIN campaigns k ON k.id = c.campaign_id WHERE a.call_sid = $1";

const FINISH_ATTEMPT: &str = "UPDATE attempts SET result = $2, ended_at = $3 WHERE call_sid = $1";

const RECALL: &str = "UPDATE contacts SET state = 'pending', next_at = $2, lease_until = NULL, \
    flow = $3, attempts = 0, last_result = 'recall' \
    WHERE id = $1 AND state NOT IN ('calling', 'opted_out')";

const CONTACT_START: &str =
    "SELECT vars, follows_call_sid, follows_handoff_id FROM contacts WHERE id = $1";

/// The caller's row in the most recent campaign of the flow (or whose
/// closed-loop re-call is with the flow); ids grow with creation time, so
/// the highest campaign id is the most recent.
const INBOUND_CONTACT_VARS: &str = "SELECT c.vars FROM contacts c \
    JOIN campaigns k ON k.id = c.campaign_id \
    WHERE c.phone = $1 AND (k.flow = $2 OR c.flow = $2) \
    ORDER BY k.id DESC, c.id DESC LIMIT 1";

#[async_trait::async_trait]
impl<B: Backend> DialerStore for B {
    async fn start_campaign(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut conn = self.write().await?;
        let result = start::<B::Db>(&mut conn, id, now).await;
        conn.finish(result).await
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedContact>> {
        let stmt = query::<B>(B::CLAIM_DUE).at(now).at(lease_until).arg(limit);
        let rows = fetch_all(self, On::Write, stmt).await?;
        Ok(all(&rows, claimed_row)?)
    }

    async fn record_placed(
        &self,
        contact_id: i64,
        call_sid: &str,
        at: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut conn = self.write().await?;
        let result = placed::<B::Db>(&mut conn, contact_id, call_sid, at, lease_until).await;
        conn.finish(result).await
    }

    async fn reschedule(
        &self,
        contact_id: i64,
        next_at: DateTime<Utc>,
        last_result: &str,
    ) -> StoreResult<()> {
        let stmt = query::<B>(RESCHEDULE)
            .arg(contact_id)
            .at(next_at)
            .arg(last_result);
        execute(self, stmt).await.map(drop)
    }

    async fn finish_contact(
        &self,
        contact_id: i64,
        state: ContactState,
        last_result: &str,
    ) -> StoreResult<()> {
        let stmt = query::<B>(FINISH_CONTACT)
            .arg(contact_id)
            .arg(state.as_str())
            .arg(last_result);
        execute(self, stmt).await.map(drop)
    }

    async fn contact_for_call(&self, call_sid: &str) -> StoreResult<Option<CallContact>> {
        let stmt = query::<B>(CONTACT_FOR_CALL).arg(call_sid);
        let row = fetch_optional(self, On::Read, stmt).await?;
        Ok(row.as_ref().map(call_contact_row).transpose()?)
    }

    async fn finish_attempt(
        &self,
        call_sid: &str,
        result: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let stmt = query::<B>(FINISH_ATTEMPT).arg(call_sid).arg(result).at(at);
        execute(self, stmt).await.map(drop)
    }

    async fn recall(
        &self,
        contact_id: i64,
        flow: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let stmt = query::<B>(RECALL).arg(contact_id).at(at).arg(flow);
        Ok(execute(self, stmt).await? == 1)
    }

    async fn contact_start(&self, contact_id: i64) -> StoreResult<Option<ContactStart>> {
        let stmt = query::<B>(CONTACT_START).arg(contact_id);
        let row = fetch_optional(self, On::Read, stmt).await?;
        Ok(row.as_ref().map(contact_start_row).transpose()?)
    }

    async fn inbound_contact_vars(
        &self,
        flow: &str,
        phone: &str,
    ) -> StoreResult<Option<serde_json::Value>> {
        let stmt = query::<B>(INBOUND_CONTACT_VARS).arg(phone).arg(flow);
        let row = fetch_optional(self, On::Read, stmt).await?;
        Ok(row
            .map(|r| parse_json(&r.col::<String>("vars")?))
            .transpose()?)
    }

    async fn reserve_dial_slot(&self, account: &str, interval: Duration) -> StoreResult<Duration> {
        Backend::reserve_dial_slot(self, account, interval).await
    }
}

/// [`DialerStore::start_campaign`] in one transaction on `conn`.
async fn start<DB: Dialect>(
    conn: &mut DB::Connection,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let moved = sqlx::query::<DB>(START_CAMPAIGN)
        .arg(id)
        .run(&mut *tx)
        .await?
        == 1;
    if moved {
        sqlx::query::<DB>(SCHEDULE_PENDING)
            .arg(id)
            .at(now)
            .run(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(moved)
}

/// [`DialerStore::record_placed`] in one transaction on `conn`.
async fn placed<DB: Dialect>(
    conn: &mut DB::Connection,
    contact_id: i64,
    call_sid: &str,
    at: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::query::<DB>(PLACED)
        .arg(contact_id)
        .at(lease_until)
        .run(&mut *tx)
        .await?;
    sqlx::query::<DB>(INSERT_ATTEMPT)
        .arg(contact_id)
        .arg(call_sid)
        .at(at)
        .run(&mut *tx)
        .await?;
    tx.commit().await
}
