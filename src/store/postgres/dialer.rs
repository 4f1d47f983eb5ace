//! [`DialerStore`] on PostgreSQL: claims with `FOR UPDATE SKIP LOCKED`, so
//! dialer workers on every replica share the queue.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::super::campaigns::{CallContact, ClaimedContact, DialerStore};
use super::super::{StoreResult, parse_json};
use super::PostgresStore;

const CLAIM: &str = "UPDATE contacts c SET state = 'calling', lease_until = $2 \
    FROM campaigns k \
    WHERE k.id = c.campaign_id AND c.id IN ( \
        SELECT d.id FROM contacts d JOIN campaigns m ON m.id = d.campaign_id \
        WHERE m.status = 'running' \
          AND ((d.state = 'pending' AND d.next_at <= $1) \
            OR (d.state = 'calling' AND d.lease_until < $1)) \
        ORDER BY d.next_at, d.id LIMIT $3 \
        FOR UPDATE OF d SKIP LOCKED) \
    RETURNING c.id, c.campaign_id, COALESCE(c.flow, k.flow) AS flow, k.plan, c.phone, c.timezone, c.attempts";

#[async_trait::async_trait]
impl DialerStore for PostgresStore {
    async fn start_campaign(&self, id: i64, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(
            "UPDATE campaigns SET status = 'running' \
             WHERE id = $1 AND status IN ('draft', 'paused')",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if moved {
            sqlx::query(
                "UPDATE contacts SET next_at = $2 \
                 WHERE campaign_id = $1 AND state = 'pending' AND next_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedContact>> {
        let rows = sqlx::query(CLAIM)
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE contacts SET attempts = attempts + 1, lease_until = $2, \
             last_result = 'calling' WHERE id = $1",
        )
        .bind(contact_id)
        .bind(lease_until)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO attempts (contact_id, call_sid, placed_at) VALUES ($1, $2, $3)")
            .bind(contact_id)
            .bind(call_sid)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reschedule(
        &self,
        contact_id: i64,
        next_at: DateTime<Utc>,
        last_result: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE contacts SET state = 'pending', next_at = $2, lease_until = NULL, \
             last_result = $3 WHERE id = $1",
        )
        .bind(contact_id)
        .bind(next_at)
        .bind(last_result)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn finish_contact(
        &self,
        contact_id: i64,
        state: &str,
        last_result: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE contacts SET state = $2, next_at = NULL, lease_until = NULL, \
             last_result = $3 WHERE id = $1",
        )
        .bind(contact_id)
        .bind(state)
        .bind(last_result)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn contact_for_call(&self, call_sid: &str) -> StoreResult<Option<CallContact>> {
        let row = sqlx::query(
            "SELECT c.id, k.plan, c.timezone, c.attempts, c.state FROM attempts a \
             JOIN contacts c ON c.id = a.contact_id JOIN campaigns k ON k.id = c.campaign_id \
             WHERE a.call_sid = $1",
        )
        .bind(call_sid)
        .fetch_optional(&self.pool)
        .await?;
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
        sqlx::query("UPDATE attempts SET result = $2, ended_at = $3 WHERE call_sid = $1")
            .bind(call_sid)
            .bind(result)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn recall(
        &self,
        contact_id: i64,
        flow: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE contacts SET state = 'pending', next_at = $2, lease_until = NULL, \
             flow = $3, attempts = 0, last_result = 'recall' \
             WHERE id = $1 AND state NOT IN ('calling', 'opted_out')",
        )
        .bind(contact_id)
        .bind(at)
        .bind(flow)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn contact_vars(&self, contact_id: i64) -> StoreResult<Option<serde_json::Value>> {
        let vars: Option<String> = sqlx::query_scalar("SELECT vars FROM contacts WHERE id = $1")
            .bind(contact_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(vars.as_deref().map(parse_json).transpose()?)
    }

    async fn reserve_dial_slot(&self, account: &str, interval: Duration) -> StoreResult<Duration> {
        let step = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX);
        // `clock_timestamp()`, not `now()`: the time when the row's lock is
        // held (`now()` is when the statement's transaction began, which may
        // be before another replica's reservation committed).
        let wait: f64 = sqlx::query_scalar(
            "INSERT INTO dial_pacing AS p (account, next_at) \
             VALUES ($1, clock_timestamp() + $2 * interval '1 microsecond') \
             ON CONFLICT (account) DO UPDATE \
             SET next_at = GREATEST(p.next_at, clock_timestamp()) + $2 * interval '1 microsecond' \
             RETURNING EXTRACT(EPOCH FROM \
                 p.next_at - $2 * interval '1 microsecond' - clock_timestamp())::float8",
        )
        .bind(account)
        .bind(step)
        .fetch_one(&self.pool)
        .await?;
        Ok(Duration::try_from_secs_f64(wait).unwrap_or(Duration::ZERO))
    }
}

fn claimed_row(r: &PgRow) -> Result<ClaimedContact, sqlx::Error> {
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
