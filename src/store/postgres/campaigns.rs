//! [`CampaignStore`] on PostgreSQL.

use std::collections::BTreeMap;

use sqlx::postgres::Postgres;
use sqlx::{QueryBuilder, Row};

use super::super::campaigns::{
    CONTACTS_PER_INSERT, CampaignRow, CampaignStore, ContactPage, ContactRow, NewCampaign,
    NewContact,
};
use super::super::{StoreResult, parse_json};
use super::PostgresStore;

#[async_trait::async_trait]
impl CampaignStore for PostgresStore {
    async fn create_campaign(&self, c: NewCampaign) -> StoreResult<i64> {
        Ok(sqlx::query_scalar::<_, i64>(
            "INSERT INTO campaigns (name, flow, plan, status, created_at) \
             VALUES ($1, $2, $3, 'draft', $4) RETURNING id",
        )
        .bind(&c.name)
        .bind(&c.flow)
        .bind(c.plan.to_string())
        .bind(c.created_at)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn campaign(&self, id: i64) -> StoreResult<Option<CampaignRow>> {
        let row = sqlx::query(
            "SELECT id, name, flow, plan, status, created_at FROM campaigns WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|r| -> Result<_, sqlx::Error> {
                Ok(CampaignRow {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    flow: r.try_get("flow")?,
                    plan: parse_json(r.try_get("plan")?)?,
                    status: r.try_get("status")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .transpose()?)
    }

    async fn add_contacts(&self, campaign_id: i64, contacts: &[NewContact]) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let mut written = 0;
        for chunk in contacts.chunks(CONTACTS_PER_INSERT) {
            let mut query = QueryBuilder::<Postgres>::new(
                "INSERT INTO contacts (campaign_id, phone, vars, timezone, next_at) ",
            );
            query.push_values(chunk, |mut row, c| {
                row.push_bind(campaign_id)
                    .push_bind(&c.phone)
                    .push_bind(c.vars.to_string())
                    .push_bind(&c.timezone)
                    .push_bind(c.next_at);
            });
            query.push(
                " ON CONFLICT (campaign_id, phone) DO UPDATE SET \
                 vars = excluded.vars, timezone = excluded.timezone",
            );
            written += query.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(written)
    }

    async fn set_campaign_status(&self, id: i64, from: &[&str], to: &str) -> StoreResult<bool> {
        let from: Vec<String> = from.iter().map(|s| (*s).to_owned()).collect();
        let done =
            sqlx::query("UPDATE campaigns SET status = $1 WHERE id = $2 AND status = ANY($3)")
                .bind(to)
                .bind(id)
                .bind(from)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn contact_counts(&self, campaign_id: i64) -> StoreResult<BTreeMap<String, i64>> {
        let rows = sqlx::query_as::<_, (String, i64)>(
            "SELECT state, COUNT(*) FROM contacts WHERE campaign_id = $1 GROUP BY state",
        )
        .bind(campaign_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().collect())
    }

    async fn list_contacts(
        &self,
        campaign_id: i64,
        page: &ContactPage,
    ) -> StoreResult<Vec<ContactRow>> {
        let rows = sqlx::query(
            "SELECT c.id, c.phone, c.state, c.attempts, c.last_result, c.next_at, \
                 (SELECT max(a.placed_at) FROM attempts a WHERE a.contact_id = c.id) AS last_call_at \
             FROM contacts c \
             WHERE c.campaign_id = $1 AND ($2::text IS NULL OR c.state = $2) AND c.id > $3 \
             ORDER BY c.id LIMIT $4",
        )
        .bind(campaign_id)
        .bind(&page.state)
        .bind(page.after.unwrap_or(0))
        .bind(page.limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| -> Result<_, sqlx::Error> {
                Ok(ContactRow {
                    id: r.try_get("id")?,
                    phone: r.try_get("phone")?,
                    state: r.try_get("state")?,
                    attempts: r.try_get("attempts")?,
                    last_result: r.try_get("last_result")?,
                    last_call_at: r.try_get("last_call_at")?,
                    next_at: r.try_get("next_at")?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?)
    }
}
