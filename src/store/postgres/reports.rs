//! [`ReportStore`] for PostgreSQL: plain pooled queries; the counting is the
//! database's (JSONB values are read back as text).

use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{PostgresStore, answer_row, call_row, parse_json};
use crate::store::reports::{
    AnswerCount, ExportCall, ExportCursor, LastAnswered, OptOutRow, OutcomeCount, Purged,
    ReportFilter, ReportStore, group_answers,
};
use crate::store::{CallRow, StoreResult};

/// The calls a [`ReportFilter`] selects, parameters `$1`–`$5` (see [`bind`]).
macro_rules! filter {
    () => {
        "c.flow = $1 AND ($2::text IS NULL OR c.flow_hash = $2) \
         AND ($3::timestamptz IS NULL OR c.started_at >= $3) \
         AND ($4::timestamptz IS NULL OR c.started_at < $4) \
         AND ($5::bigint IS NULL OR c.call_sid IN (SELECT t.call_sid FROM attempts t \
              JOIN contacts k ON k.id = t.contact_id WHERE k.campaign_id = $5))"
    };
}

/// Calls after the cursor (parameters 6 and 7), at most parameter 8.
macro_rules! page {
    () => {
        " AND ($6::timestamptz IS NULL OR c.started_at > $6 OR (c.started_at = $6 AND c.call_sid > $7::text)) ORDER BY c.started_at, c.call_sid LIMIT $8"
    };
}

const CALLS_PAGE: &str = concat!(
    "SELECT c.call_sid, c.flow, c.flow_hash, c.direction, c.from_phone, c.to_phone, \
     c.status, c.outcome, c.state, c.seq, c.response, c.started_at, c.ended_at \
     FROM calls c WHERE ",
    filter!(),
    page!()
);

/// The newest calls first, at most parameter 6.
const RECENT_CALLS: &str = concat!(
    "SELECT c.call_sid, c.flow, c.flow_hash, c.direction, c.from_phone, c.to_phone, \
     c.status, c.outcome, c.state, c.seq, c.response, c.started_at, c.ended_at \
     FROM calls c WHERE ",
    filter!(),
    " ORDER BY c.started_at DESC, c.call_sid DESC LIMIT $6"
);

const ANSWERS_PAGE: &str = concat!(
    "SELECT a.call_sid, a.seq, a.question, a.value::text AS value, a.raw, a.confidence, a.attempt, \
     a.answered_at FROM answers a WHERE a.call_sid IN (SELECT c.call_sid FROM calls c WHERE ",
    filter!(),
    page!(),
    ") ORDER BY a.call_sid, a.seq, a.id"
);

const OUTCOMES: &str = concat!(
    "SELECT c.outcome, COUNT(*) AS calls, SUM(CASE WHEN c.status IN \
     ('busy', 'no-answer', 'failed', 'canceled', 'queued', 'initiated', 'ringing') \
     THEN 0 ELSE 1 END) AS reached FROM calls c WHERE ",
    filter!(),
    " GROUP BY c.outcome"
);

const ANSWERS: &str = concat!(
    "SELECT a.question, a.value::text AS value, COUNT(*) AS calls \
     FROM answers a JOIN calls c ON c.call_sid = a.call_sid WHERE ",
    filter!(),
    " AND a.seq = (SELECT MAX(b.seq) FROM answers b \
       WHERE b.call_sid = a.call_sid AND b.question = a.question) \
     GROUP BY a.question, a.value"
);

const ABANDONED: &str = concat!(
    "SELECT last_question, COUNT(*) AS calls FROM (SELECT \
     (SELECT a.question FROM answers a WHERE a.call_sid = c.call_sid \
      ORDER BY a.seq DESC, a.id DESC LIMIT 1) AS last_question \
     FROM calls c WHERE ",
    filter!(),
    " AND c.outcome = 'abandoned') t GROUP BY last_question"
);

const HANDOFFS: &str = concat!(
    "SELECT COUNT(DISTINCT h.call_sid) FROM handoffs h \
     JOIN calls c ON c.call_sid = h.call_sid WHERE ",
    filter!()
);

const OPT_OUTS: &str = concat!(
    "SELECT COUNT(*) FROM calls c WHERE ",
    filter!(),
    " AND (c.outcome = 'opted_out' \
      OR EXISTS (SELECT 1 FROM opt_outs o WHERE o.call_sid = c.call_sid))"
);

const PURGE_RECORDINGS: &str = "DELETE FROM recordings WHERE call_sid IN (SELECT call_sid FROM calls WHERE started_at < $1) RETURNING url";
const PURGE_CALLS: &str = "UPDATE calls SET from_phone = '', to_phone = '', state = '', response = '' \
    WHERE started_at < $1 AND (from_phone <> '' OR to_phone <> '' OR state <> '' OR response <> '')";
const PURGE_RAW: &str = "UPDATE answers SET raw = NULL WHERE raw IS NOT NULL AND call_sid IN (SELECT call_sid FROM calls WHERE started_at < $1)";
const PURGE_VALUES: &str = "UPDATE answers SET value = 'null'::jsonb WHERE question = $2 \
    AND value <> 'null'::jsonb AND call_sid IN (SELECT call_sid FROM calls WHERE started_at < $1 AND flow = $3)";
const PURGE_SUMMARIES: &str = "UPDATE handoffs SET summary = '{}'::jsonb WHERE summary <> '{}'::jsonb AND call_sid IN (SELECT call_sid FROM calls WHERE started_at < $1)";

const OPT_OUTS_LIST: &str =
    "SELECT phone, call_sid, created_at FROM opt_outs ORDER BY created_at, phone";

type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Binds the filter's parameters in the order [`filter!`] numbers them.
fn bind(sql: &'static str, f: &ReportFilter) -> Query<'static> {
    sqlx::query(sql)
        .bind(f.flow.clone())
        .bind(f.flow_hash.clone())
        .bind(f.since)
        .bind(f.until)
        .bind(f.campaign)
}

/// Binds the filter's parameters, then the page's.
fn bind_page(
    sql: &'static str,
    f: &ReportFilter,
    after: Option<&ExportCursor>,
    limit: i64,
) -> Query<'static> {
    bind(sql, f)
        .bind(after.map(|a| a.started_at))
        .bind(after.map(|a| a.call_sid.clone()))
        .bind(limit)
}

impl PostgresStore {
    async fn page_rows(
        &self,
        sql: &'static str,
        f: &ReportFilter,
        after: Option<&ExportCursor>,
        limit: i64,
    ) -> StoreResult<Vec<PgRow>> {
        Ok(bind_page(sql, f, after, limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn recent_rows(&self, f: &ReportFilter, limit: i64) -> StoreResult<Vec<PgRow>> {
        Ok(bind(RECENT_CALLS, f)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn report_rows(&self, sql: &'static str, f: &ReportFilter) -> StoreResult<Vec<PgRow>> {
        Ok(bind(sql, f).fetch_all(&self.pool).await?)
    }
}

#[async_trait::async_trait]
impl ReportStore for PostgresStore {
    async fn outcome_counts(&self, f: &ReportFilter) -> StoreResult<Vec<OutcomeCount>> {
        let rows = self.report_rows(OUTCOMES, f).await?;
        let counts = rows
            .iter()
            .map(|r| {
                Ok(OutcomeCount {
                    outcome: r.try_get("outcome")?,
                    calls: r.try_get("calls")?,
                    reached: r.try_get("reached")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(counts)
    }

    async fn answer_counts(&self, f: &ReportFilter) -> StoreResult<Vec<AnswerCount>> {
        let rows = self.report_rows(ANSWERS, f).await?;
        let counts = rows
            .iter()
            .map(|r| {
                let value: String = r.try_get("value")?;
                Ok(AnswerCount {
                    question: r.try_get("question")?,
                    value: parse_json(&value)?,
                    calls: r.try_get("calls")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(counts)
    }

    async fn abandoned_after(&self, f: &ReportFilter) -> StoreResult<Vec<LastAnswered>> {
        let rows = self.report_rows(ABANDONED, f).await?;
        let counts = rows
            .iter()
            .map(|r| {
                Ok(LastAnswered {
                    question: r.try_get("last_question")?,
                    calls: r.try_get("calls")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(counts)
    }

    async fn export_page(
        &self,
        f: &ReportFilter,
        after: Option<&ExportCursor>,
        limit: i64,
    ) -> StoreResult<Vec<ExportCall>> {
        let calls = self.page_rows(CALLS_PAGE, f, after, limit).await?;
        let answers = self.page_rows(ANSWERS_PAGE, f, after, limit).await?;
        let calls = calls.iter().map(call_row).collect::<Result<_, _>>()?;
        let answers = answers.iter().map(answer_row).collect::<Result<_, _>>()?;
        Ok(group_answers(calls, answers))
    }

    async fn recent_calls(&self, f: &ReportFilter, limit: i64) -> StoreResult<Vec<CallRow>> {
        let rows = self.recent_rows(f, limit).await?;
        Ok(rows.iter().map(call_row).collect::<Result<_, _>>()?)
    }

    async fn opt_outs(&self) -> StoreResult<Vec<OptOutRow>> {
        let rows = sqlx::query(OPT_OUTS_LIST).fetch_all(&self.pool).await?;
        let list = rows
            .iter()
            .map(|r| {
                Ok(OptOutRow {
                    phone: r.try_get("phone")?,
                    call_sid: r.try_get("call_sid")?,
                    at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(list)
    }

    async fn purge(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
        personal: &[(String, String)],
    ) -> StoreResult<Purged> {
        let mut conn = self.pool.acquire().await?;
        Ok(purge_in(&mut conn, cutoff, personal).await?)
    }

    async fn handoff_calls(&self, f: &ReportFilter) -> StoreResult<i64> {
        let rows = self.report_rows(HANDOFFS, f).await?;
        count(&rows)
    }

    async fn opt_out_calls(&self, f: &ReportFilter) -> StoreResult<i64> {
        let rows = self.report_rows(OPT_OUTS, f).await?;
        count(&rows)
    }
}

fn count(rows: &[PgRow]) -> StoreResult<i64> {
    match rows.first() {
        Some(r) => Ok(r.try_get(0)?),
        None => Ok(0),
    }
}

/// [`ReportStore::purge`] in one transaction on `conn`.
async fn purge_in(
    conn: &mut sqlx::PgConnection,
    cutoff: chrono::DateTime<chrono::Utc>,
    personal: &[(String, String)],
) -> Result<Purged, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    let recordings = sqlx::query_scalar(PURGE_RECORDINGS)
        .bind(cutoff)
        .fetch_all(&mut *tx)
        .await?;
    let calls = sqlx::query(PURGE_CALLS)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let mut answers = sqlx::query(PURGE_RAW)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    for (flow, question) in personal {
        answers += sqlx::query(PURGE_VALUES)
            .bind(cutoff)
            .bind(question.clone())
            .bind(flow.clone())
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    sqlx::query(PURGE_SUMMARIES)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Purged {
        calls,
        answers,
        recordings,
    })
}
