//! [`DialerStore`] on SQLite: one node, and every claim goes through the one
//! writer connection, so two claims can never see the same due contact.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{Connection, Row};

use super::super::campaigns::{CallContact, ClaimedContact, DialerStore};
use super::super::{StoreResult, parse_json};
use super::{SqliteStore, ts};

const CLAIM: &str = "UPDATE contacts SET state = 'calling', lease_until = ?2 \
    WHERE id IN ( \
        SELECT d.id FROM contacts d JOIN campaigns m ON m.id = d.campaign_id \
        WHERE m.status = 'running' \
          AND ((d.state = 'pending' AND d.next_at <= ?1) \
            OR (d.state = 'calling' AND d.lease_until < ?1)) \
        ORDER BY d.next_at, d.id LIMIT ?3) \
    RETURNING id, campaign_id, \
        COALESCE(flow, (SELECT k.flow FROM campaigns k WHERE k.id = campaign_id)) AS flow, \
        (SELECT plan FROM campaigns k WHERE k.id = campaign_id) AS plan, \
        phone, timezone, attempts";

#[async_trait::async_trait]
impl DialerStore for SqliteStore {
    async fn start_campaign(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut w = self.write().await;
        let result = start(w.conn(), id, now).await;
        w.finish(result).await
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedContact>> {
        let mut w = self.write().await;
        let result = sqlx::query(CLAIM)
            .bind(ts(&now))
            .bind(ts(&lease_until))
            .bind(limit)
            .fetch_all(w.conn())
            .await;
        let rows = w.finish(result).await?;
        Ok(rows
            .iter()
            .map(claimed_row)
            .collect::<Result<Vec<_>, _>>()?)
    }

    async fn record_placed(
        &self,
        contact_id: i64,
        call_sid: &str,
        at: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut w = self.write().await;
        let result = placed(w.conn(), contact_id, call_sid, at, lease_until).await;
        w.finish(result).await
    }

    async fn reschedule(
        &self,
        contact_id: i64,
        next_at: DateTime<Utc>,
        last_result: &str,
    ) -> StoreResult<()> {
        let mut w = self.write().await;
        let result = sqlx::query(
            "UPDATE contacts SET state = 'pending', next_at = ?, lease_until = NULL, \
             last_result = ? WHERE id = ?",
        )
        .bind(ts(&next_at))
        .bind(last_result)
        .bind(contact_id)
        .execute(w.conn())
        .await;
        w.finish(result).await.map(drop)
    }

    async fn finish_contact(
        &self,
        contact_id: i64,
        state: &str,
        last_result: &str,
    ) -> StoreResult<()> {
        let mut w = self.write().await;
        let result = sqlx::query(
            "UPDATE contacts SET state = ?, next_at = NULL, lease_until = NULL, \
             last_result = ? WHERE id = ?",
        )
        .bind(state)
        .bind(last_result)
        .bind(contact_id)
        .execute(w.conn())
        .await;
        w.finish(result).await.map(drop)
    }

    async fn contact_for_call(&self, call_sid: &str) -> StoreResult<Option<CallContact>> {
        let mut conn = self.read().await;
        let result = sqlx::query(
            "SELECT c.id, k.plan, c.timezone, c.attempts, c.state FROM attempts a \
             JOIN contacts c ON c.id = a.contact_id JOIN campaigns k ON k.id = c.campaign_id \
             WHERE a.call_sid = ?",
        )
        .bind(call_sid)
        .fetch_optional(&mut *conn)
        .await;
        let row = conn.finish(result).await?;
        Ok(row
            .map(|r| -> Result<_, sqlx::Error> {
                Ok(CallContact {
                    contact_id: r.try_get("id")?,
                    plan: parse_json(r.try_get("plan")?)?,
                    timezone: r.try_get("timezone")?,
                    attempts: r.try_get("attempts")?,
                    state: r.try_get("state")?,
                })
            })
            .transpose()?)
    }

    async fn finish_attempt(
        &self,
        call_sid: &str,
        result: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut w = self.write().await;
        let done = sqlx::query("UPDATE attempts SET result = ?, ended_at = ? WHERE call_sid = ?")
            .bind(result)
            .bind(ts(&at))
            .bind(call_sid)
            .execute(w.conn())
            .await;
        w.finish(done).await.map(drop)
    }

    async fn recall(
        &self,
        contact_id: i64,
        flow: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut w = self.write().await;
        let result = sqlx::query(
            "UPDATE contacts SET state = 'pending', next_at = ?, lease_until = NULL, \
             flow = ?, attempts = 0, last_result = 'recall' \
             WHERE id = ? AND state NOT IN ('calling', 'opted_out')",
        )
        .bind(ts(&at))
        .bind(flow)
        .bind(contact_id)
        .execute(w.conn())
        .await;
        Ok(w.finish(result).await?.rows_affected() == 1)
    }

    async fn contact_vars(&self, contact_id: i64) -> StoreResult<Option<serde_json::Value>> {
        let mut conn = self.read().await;
        let result = sqlx::query_scalar::<_, String>("SELECT vars FROM contacts WHERE id = ?")
            .bind(contact_id)
            .fetch_optional(&mut *conn)
            .await;
        let vars = conn.finish(result).await?;
        Ok(vars.as_deref().map(parse_json).transpose()?)
    }

    async fn reserve_dial_slot(&self, account: &str, interval: Duration) -> StoreResult<Duration> {
        let step = micros(interval);
        let mut w = self.write().await;
        // Read under the writer's lock, so no other reservation comes between.
        let now = Utc::now().timestamp_micros();
        let result = sqlx::query_scalar::<_, i64>(
            "INSERT INTO dial_pacing (account, next_at_us) VALUES (?1, ?2 + ?3) \
             ON CONFLICT (account) DO UPDATE SET next_at_us = max(next_at_us, ?2) + ?3 \
             RETURNING next_at_us - ?3",
        )
        .bind(account)
        .bind(now)
        .bind(step)
        .fetch_one(w.conn())
        .await;
        let slot = w.finish(result).await?;
        Ok(Duration::from_micros(
            u64::try_from(slot - now).unwrap_or(0),
        ))
    }
}

fn micros(interval: Duration) -> i64 {
    i64::try_from(interval.as_micros()).unwrap_or(i64::MAX)
}

async fn start(
    conn: &mut SqliteConnection,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let moved = sqlx::query(
        "UPDATE campaigns SET status = 'running' WHERE id = ? AND status IN ('draft', 'paused')",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if moved {
        sqlx::query(
            "UPDATE contacts SET next_at = ? \
             WHERE campaign_id = ? AND state = 'pending' AND next_at IS NULL",
        )
        .bind(ts(&now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(moved)
}

async fn placed(
    conn: &mut SqliteConnection,
    contact_id: i64,
    call_sid: &str,
    at: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::query(
        "UPDATE contacts SET attempts = attempts + 1, lease_until = ?, \
         last_result = 'calling' WHERE id = ?",
    )
    .bind(ts(&lease_until))
    .bind(contact_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO attempts (contact_id, call_sid, placed_at) VALUES (?, ?, ?)")
        .bind(contact_id)
        .bind(call_sid)
        .bind(ts(&at))
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

fn claimed_row(r: &SqliteRow) -> Result<ClaimedContact, sqlx::Error> {
    Ok(ClaimedContact {
        id: r.try_get("id")?,
        campaign_id: r.try_get("campaign_id")?,
        flow: r.try_get("flow")?,
        plan: parse_json(r.try_get("plan")?)?,
        phone: r.try_get("phone")?,
        timezone: r.try_get("timezone")?,
        attempts: r.try_get("attempts")?,
    })
}
