//! [`CampaignStore`] for every [`Backend`]. On SQLite every write goes
//! through the store's one writer connection (see `sqlite/writer.rs`), so
//! imports and webhooks take turns on it rather than fighting over SQLite's
//! file lock.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sqlx::{AssertSqlSafe, Connection};

use super::super::StoreResult;
use super::super::campaigns::{
    CONTACTS_PER_INSERT, CampaignRow, CampaignStatus, CampaignStore, ContactPage, ContactRow,
    ContactState, NewCampaign, NewContact,
};
use super::super::rows::{all, campaign_row, contact_row};
use super::{
    Backend, ColExt, Dialect, Lent, On, StmtExt, execute, fetch_all, fetch_optional, query,
};

const INSERT_CAMPAIGN: &str = "INSERT INTO campaigns (name, flow, plan, status, created_at) \
    VALUES ($1, $2, $3, 'draft', $4) RETURNING id";

const SELECT_CAMPAIGN: &str =
    "SELECT id, name, flow, plan, status, created_at FROM campaigns WHERE id = $1";

const CONTACT_COUNTS: &str =
    "SELECT state, COUNT(*) AS n FROM contacts WHERE campaign_id = $1 GROUP BY state";

const LIST_CONTACTS: &str = "SELECT c.id, c.phone, c.state, c.attempts, c.last_result, \
        c.next_at, \
        (SELECT max(a.placed_at) FROM attempts a WHERE a.contact_id = c.id) AS last_call_at \
    FROM contacts c \
    WHERE c.campaign_id = $1 AND ($2 IS NULL OR c.state = $2) AND c.id > $3 \
    ORDER BY c.id LIMIT $4";

/// The statement head of [`set_status_sql`]; `$3` on are the `from` statuses.
const SET_STATUS: &str = "UPDATE campaigns SET status = $1 WHERE id = $2 AND status IN (";

/// The head of [`insert_contacts_sql`]; VALUES rows of seven parameters follow.
const INSERT_CONTACTS: &str = "INSERT INTO contacts \
    (campaign_id, phone, vars, timezone, next_at, follows_call_sid, follows_handoff_id) \
    VALUES ";

/// What a phone already in the campaign keeps and what it takes.
const MERGE_CONTACT: &str = " ON CONFLICT (campaign_id, phone) DO UPDATE SET \
    vars = excluded.vars, timezone = excluded.timezone, \
    follows_call_sid = excluded.follows_call_sid, \
    follows_handoff_id = excluded.follows_handoff_id";

#[async_trait::async_trait]
impl<B: Backend> CampaignStore for B {
    async fn create_campaign(&self, c: NewCampaign) -> StoreResult<i64> {
        let stmt = query::<B>(INSERT_CAMPAIGN)
            .arg(c.name.as_str())
            .arg(c.flow.as_str())
            .arg(c.plan.to_string())
            .at(c.created_at);
        let row = fetch_optional(self, On::Write, stmt).await?;
        Ok(row.ok_or(sqlx::Error::RowNotFound)?.col("id")?)
    }

    async fn campaign(&self, id: i64) -> StoreResult<Option<CampaignRow>> {
        let stmt = query::<B>(SELECT_CAMPAIGN).arg(id);
        let row = fetch_optional(self, On::Read, stmt).await?;
        Ok(row.as_ref().map(campaign_row).transpose()?)
    }

    async fn add_contacts(&self, campaign_id: i64, contacts: &[NewContact]) -> StoreResult<u64> {
        let mut conn = self.write().await?;
        let result = insert_contacts::<B::Db>(&mut conn, campaign_id, contacts).await;
        conn.finish(result).await
    }

    async fn set_campaign_status(
        &self,
        id: i64,
        from: &[CampaignStatus],
        to: CampaignStatus,
    ) -> StoreResult<bool> {
        if from.is_empty() {
            // No status to move from: nothing can match (and `IN ()` is
            // not SQL that PostgreSQL takes).
            return Ok(false);
        }
        let sql = set_status_sql(from.len());
        let mut stmt = sqlx::query::<B::Db>(AssertSqlSafe(sql))
            .arg(to.as_str())
            .arg(id);
        for status in from {
            stmt = stmt.arg(status.as_str());
        }
        Ok(execute(self, stmt).await? == 1)
    }

    async fn contact_counts(&self, campaign_id: i64) -> StoreResult<BTreeMap<String, i64>> {
        let stmt = query::<B>(CONTACT_COUNTS).arg(campaign_id);
        let rows = fetch_all(self, On::Read, stmt).await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.col("state")?, r.col("n")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn list_contacts(
        &self,
        campaign_id: i64,
        page: &ContactPage,
    ) -> StoreResult<Vec<ContactRow>> {
        let stmt = query::<B>(LIST_CONTACTS)
            .arg(campaign_id)
            .arg(page.state.map(ContactState::as_str))
            .arg(page.after.unwrap_or(0))
            .arg(page.limit);
        let rows = fetch_all(self, On::Read, stmt).await?;
        Ok(all(&rows, contact_row)?)
    }
}

/// `UPDATE … status IN ($3, …)` for `n` statuses.
fn set_status_sql(n: usize) -> String {
    let mut sql = String::from(SET_STATUS);
    for i in 0..n {
        let sep = if i == 0 { "" } else { ", " };
        // Writing to a String cannot fail.
        let _ = write!(sql, "{sep}${}", i + 3);
    }
    sql.push(')');
    sql
}

/// The contacts upsert for `rows` contacts, seven parameters each.
fn insert_contacts_sql(rows: usize) -> String {
    const PER_ROW: usize = 7;
    let mut sql = String::from(INSERT_CONTACTS);
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for i in 1..=PER_ROW {
            let sep = if i == 1 { "" } else { ", " };
            let _ = write!(sql, "{sep}${}", row * PER_ROW + i);
        }
        sql.push(')');
    }
    sql.push_str(MERGE_CONTACT);
    sql
}

/// [`CampaignStore::add_contacts`] in one transaction on `conn`, in
/// statements of [`CONTACTS_PER_INSERT`] contacts.
async fn insert_contacts<DB: Dialect>(
    conn: &mut DB::Connection,
    campaign_id: i64,
    contacts: &[NewContact],
) -> Result<u64, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let mut written = 0;
    for chunk in contacts.chunks(CONTACTS_PER_INSERT) {
        let mut stmt = sqlx::query::<DB>(AssertSqlSafe(insert_contacts_sql(chunk.len())));
        for c in chunk {
            stmt = stmt
                .arg(campaign_id)
                .arg(c.phone.as_str())
                .arg(c.vars.to_string())
                .arg(c.timezone.as_deref())
                .opt_at(c.next_at)
                .arg(c.follows.as_ref().map(|f| f.call.as_str()))
                .arg(c.follows.as_ref().and_then(|f| f.handoff).map(|h| h.0));
        }
        written += stmt.run(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::{insert_contacts_sql, set_status_sql};

    #[test]
    fn status_and_contact_lists_number_their_parameters_in_order() {
        assert_eq!(
            set_status_sql(2),
            "UPDATE campaigns SET status = $1 WHERE id = $2 AND status IN ($3, $4)"
        );
        let sql = insert_contacts_sql(2);
        assert!(
            sql.contains(
                "VALUES ($1, $2, $3, $4, $5, $6, $7), ($8, $9, $10, $11, $12, $13, $14) ON CONFLICT"
            ),
            "{sql}"
        );
    }
}
