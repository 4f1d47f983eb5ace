//! [`HandoffStore`] for every [`Backend`]. Each change runs on a writing
//! connection in one transaction. Exactly once: the status update's `WHERE`
//! names the statuses it may move from, so of two resolves of one handoff —
//! on one replica or two — the second finds it resolved, changes nothing
//! and rolls back, confirmation contact included (PostgreSQL re-reads the
//! row after the first one's lock; SQLite has one writer).

use chrono::{DateTime, Utc};
use sqlx::Connection;

use super::super::handoffs::{
    Confirmation, HandoffActor, HandoffEvent, HandoffStatus, HandoffStore, Resolve, Resolved,
};
use super::super::rows::{all, handoff_row, typed};
use super::super::{CallSid, HandoffId, HandoffRow, StoreResult};
use super::{Backend, ColExt, Dialect, Lent, On, StmtExt, fetch_all, fetch_optional, query};

const SELECT_HANDOFF: &str = "SELECT h.id, h.call_sid, c.flow, h.step, h.target, h.status, \
    h.reason, CAST(h.summary AS TEXT) AS summary, h.created_at, h.resolved_at \
    FROM handoffs h JOIN calls c ON c.call_sid = h.call_sid WHERE h.id = $1";

const SELECT_CALL_HANDOFFS: &str = "SELECT h.id, h.call_sid, c.flow, h.step, h.target, \
    h.status, h.reason, CAST(h.summary AS TEXT) AS summary, h.created_at, h.resolved_at \
    FROM handoffs h JOIN calls c ON c.call_sid = h.call_sid WHERE h.call_sid = $1 ORDER BY h.id";

const SELECT_EVENTS: &str = "SELECT status, actor, call_sid, at FROM handoff_events \
    WHERE handoff_id = $1 ORDER BY at, id";

/// The opening, written down at the first change (before it the handoff
/// row itself says how it was opened; after it, its status no longer does).
const RECORD_OPENING: &str = "INSERT INTO handoff_events (handoff_id, status, actor, call_sid, at) \
    SELECT h.id, h.status, 'caller', h.call_sid, h.created_at FROM handoffs h \
    WHERE h.id = $1 AND h.status IN ('open', 'connected') \
    AND NOT EXISTS (SELECT 1 FROM handoff_events e WHERE e.handoff_id = h.id)";

const RESOLVE: &str = "UPDATE handoffs SET status = 'resolved', resolved_at = $2 \
    WHERE id = $1 AND status IN ('open', 'connected', 'reopened')";

const CUSTOMER_ANSWERED: &str = "UPDATE handoffs SET status = $2 \
    WHERE id = $1 AND status = 'resolved' AND resolved_at <= $3";

const INSERT_EVENT: &str = "INSERT INTO handoff_events (handoff_id, status, actor, call_sid, at) \
    VALUES ($1, $2, $3, $4, $5)";

/// The confirm flow's campaign, made running on the first resolve; the
/// partial unique index `campaigns_confirmations` keeps it one per flow
/// when two replicas make it at once.
const MAKE_CONFIRMATIONS: &str = "INSERT INTO campaigns (name, flow, plan, status, created_at, kind) \
    VALUES ($1, $2, $3, 'running', $4, 'confirmations') \
    ON CONFLICT (flow) WHERE kind = 'confirmations' DO NOTHING";

const CONFIRMATIONS: &str = "SELECT id FROM campaigns WHERE kind = 'confirmations' AND flow = $1";

/// The customer's contact in it, new or called again for this handoff; one
/// in a call right now is left alone (nothing returned).
const CONFIRMATION_CONTACT: &str = "INSERT INTO contacts \
    (campaign_id, phone, vars, timezone, next_at, follows_call_sid, follows_handoff_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7) \
    ON CONFLICT (campaign_id, phone) DO UPDATE SET vars = excluded.vars, \
        timezone = excluded.timezone, next_at = excluded.next_at, \
        follows_call_sid = excluded.follows_call_sid, \
        follows_handoff_id = excluded.follows_handoff_id, \
        state = 'pending', attempts = 0, lease_until = NULL, last_result = NULL, flow = NULL \
    WHERE contacts.state <> 'calling' \
    RETURNING id";

#[async_trait::async_trait]
impl<B: Backend> HandoffStore for B {
    async fn handoff(&self, id: HandoffId) -> StoreResult<Option<HandoffRow>> {
        let stmt = query::<B>(SELECT_HANDOFF).arg(id.0);
        let row = fetch_optional(self, On::Read, stmt).await?;
        Ok(row.as_ref().map(handoff_row).transpose()?)
    }

    async fn handoffs_of_call(&self, call_sid: &CallSid) -> StoreResult<Vec<HandoffRow>> {
        let stmt = query::<B>(SELECT_CALL_HANDOFFS).arg(call_sid.as_str());
        let rows = fetch_all(self, On::Read, stmt).await?;
        Ok(all(&rows, handoff_row)?)
    }

    async fn history(&self, id: HandoffId) -> StoreResult<Vec<HandoffEvent>> {
        let stmt = query::<B>(SELECT_EVENTS).arg(id.0);
        let rows = fetch_all(self, On::Read, stmt).await?;
        let events = all(&rows, |r| {
            Ok(HandoffEvent {
                status: typed(r, "status")?,
                actor: typed(r, "actor")?,
                call_sid: r
                    .col::<Option<String>>("call_sid")?
                    .map(|s| s.parse())
                    .transpose()
                    .map_err(|e| sqlx::Error::ColumnDecode {
                        index: "call_sid".into(),
                        source: Box::new(e),
                    })?,
                at: r.col("at")?,
            })
        })?;
        if !events.is_empty() {
            return Ok(events);
        }
        // Nothing happened to it since it was opened: the row says how.
        Ok(self
            .handoff(id)
            .await?
            .map(|h| HandoffEvent {
                status: h.status,
                actor: HandoffActor::Caller,
                call_sid: Some(h.call_sid),
                at: h.created_at,
            })
            .into_iter()
            .collect())
    }

    async fn resolve(&self, r: Resolve) -> StoreResult<Resolved> {
        let mut conn = self.write().await?;
        let result = resolve::<B::Db>(&mut conn, &r).await;
        conn.finish(result).await
    }

    async fn customer_answered(
        &self,
        id: HandoffId,
        status: HandoffStatus,
        call_sid: &CallSid,
        call_started_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut conn = self.write().await?;
        let answer = Answer {
            id,
            status,
            call_sid,
            call_started_at,
            at,
        };
        let result = answered::<B::Db>(&mut conn, answer).await;
        conn.finish(result).await
    }
}

/// [`HandoffStore::resolve`] in one transaction on `conn`.
async fn resolve<DB: Dialect>(
    conn: &mut DB::Connection,
    r: &Resolve,
) -> Result<Resolved, sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::query::<DB>(RECORD_OPENING)
        .arg(r.id.0)
        .run(&mut *tx)
        .await?;
    let moved = sqlx::query::<DB>(RESOLVE)
        .arg(r.id.0)
        .at(r.at)
        .run(&mut *tx)
        .await?
        == 1;
    if !moved {
        tx.rollback().await?;
        return Ok(Resolved::Unchanged);
    }
    event::<DB>(
        &mut tx,
        r.id,
        HandoffStatus::Resolved,
        HandoffActor::Support,
        None,
        r.at,
    )
    .await?;
    let contact = match &r.confirmation {
        Some(c) => confirmation::<DB>(&mut tx, c, r.at).await?,
        None => None,
    };
    tx.commit().await?;
    Ok(Resolved::Resolved { contact })
}

/// The confirmation's contact in the confirm flow's campaign; `None` when
/// the customer is in a call of that campaign right now.
async fn confirmation<DB: Dialect>(
    tx: &mut sqlx::Transaction<'_, DB>,
    c: &Confirmation,
    at: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    let name = format!("confirm: {}", c.flow);
    sqlx::query::<DB>(MAKE_CONFIRMATIONS)
        .arg(name.as_str())
        .arg(c.flow.as_str())
        .arg(c.plan.to_string())
        .at(at)
        .run(&mut **tx)
        .await?;
    let stmt = sqlx::query::<DB>(CONFIRMATIONS).arg(c.flow.as_str());
    let campaign: i64 = DB::fetch_optional(&mut **tx, stmt)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?
        .col("id")?;
    let k = &c.contact;
    let stmt = sqlx::query::<DB>(CONFIRMATION_CONTACT)
        .arg(campaign)
        .arg(k.phone.as_str())
        .arg(k.vars.to_string())
        .arg(k.timezone.as_deref())
        .opt_at(k.next_at)
        .arg(k.follows.as_ref().map(|f| f.call.as_str()))
        .arg(k.follows.as_ref().and_then(|f| f.handoff).map(|h| h.0));
    let row = DB::fetch_optional(&mut **tx, stmt).await?;
    row.map(|r| r.col("id")).transpose()
}

/// The arguments of [`HandoffStore::customer_answered`].
struct Answer<'a> {
    id: HandoffId,
    status: HandoffStatus,
    call_sid: &'a CallSid,
    call_started_at: DateTime<Utc>,
    at: DateTime<Utc>,
}

/// [`HandoffStore::customer_answered`] in one transaction on `conn`.
async fn answered<DB: Dialect>(
    conn: &mut DB::Connection,
    a: Answer<'_>,
) -> Result<bool, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let moved = sqlx::query::<DB>(CUSTOMER_ANSWERED)
        .arg(a.id.0)
        .arg(a.status.as_str())
        .at(a.call_started_at)
        .run(&mut *tx)
        .await?
        == 1;
    if !moved {
        tx.rollback().await?;
        return Ok(false);
    }
    let (status, actor) = (a.status, HandoffActor::Customer);
    event::<DB>(&mut tx, a.id, status, actor, Some(a.call_sid), a.at).await?;
    tx.commit().await?;
    Ok(true)
}

async fn event<DB: Dialect>(
    tx: &mut sqlx::Transaction<'_, DB>,
    id: HandoffId,
    status: HandoffStatus,
    actor: HandoffActor,
    call_sid: Option<&CallSid>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query::<DB>(INSERT_EVENT)
        .arg(id.0)
        .arg(status.as_str())
        .arg(actor.as_str())
        .arg(call_sid.map(CallSid::as_str))
        .at(at)
        .run(&mut **tx)
        .await
        .map(drop)
}
