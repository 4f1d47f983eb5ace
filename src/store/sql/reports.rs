//! [`ReportStore`] for every [`Backend`]: read-only queries on a reading
//! connection (on SQLite a reader, so a report never queues behind the
//! writer's batches); the counting is the database's.

use chrono::{DateTime, Utc};
use sqlx::Connection;

use super::super::reports::{
    AnswerCount, AnsweredCall, ExportCall, ExportCursor, LastAnswered, OptOutRow, OutcomeCount,
    Purged, ReportFilter, ReportStore, group_answers, group_lines,
};
use super::super::rows::{
    all, answer_count, answer_row, answered_line, call_row, last_answered, opt_out_row,
    outcome_count, recording_media,
};
use super::super::trends::{AnswerPairs, Period, PeriodAnswers, PeriodOutcomes, TrendQuestions};
use super::super::{CallRow, CallSid, StoreResult};
use super::{Backend, ColExt, Dialect, Lent, On, Stmt, StmtExt, fetch_all, fetch_optional, query};

/// The calls a [`ReportFilter`] selects, parameters `$1`–`$5` (see [`bind`]).
macro_rules! filter {
    () => {
        "c.flow = $1 AND ($2 IS NULL OR c.flow_hash = $2) \
         AND ($3 IS NULL OR c.started_at >= $3) AND ($4 IS NULL OR c.started_at < $4) \
         AND ($5 IS NULL OR c.call_sid IN (SELECT t.call_sid FROM attempts t \
              JOIN contacts k ON k.id = t.contact_id WHERE k.campaign_id = $5))"
    };
}

/// The filter's text, for statements assembled at run time (`trends.rs`).
pub(super) const FILTER: &str = filter!();

/// Calls after the cursor (parameters 6 and 7), at most parameter 8.
macro_rules! page {
    () => {
        " AND ($6 IS NULL OR c.started_at > $6 OR (c.started_at = $6 AND c.call_sid > $7)) \
         ORDER BY c.started_at, c.call_sid LIMIT $8"
    };
}

macro_rules! call_columns {
    () => {
        "SELECT c.call_sid, c.flow, c.flow_hash, c.direction, c.from_phone, c.to_phone, \
         c.status, c.outcome, c.state, c.seq, c.response, c.started_at, c.ended_at, \
         c.follows_call_sid, c.follows_handoff_id \
         FROM calls c WHERE "
    };
}

const CALLS_PAGE: &str = concat!(call_columns!(), filter!(), page!());

/// The newest calls first, at most parameter 6.
const RECENT_CALLS: &str = concat!(
    call_columns!(),
    filter!(),
    " ORDER BY c.started_at DESC, c.call_sid DESC LIMIT $6"
);

/// `$1`: the call followed up (the partial index `calls_follows`).
const FOLLOW_UPS: &str = concat!(
    call_columns!(),
    "c.follows_call_sid = $1 ORDER BY c.started_at, c.call_sid"
);

/// JSON columns are read as text: PostgreSQL's are JSONB, SQLite's TEXT.
const ANSWERS_PAGE: &str = concat!(
    "SELECT a.call_sid, a.seq, a.question, CAST(a.value AS TEXT) AS value, a.raw, \
     a.confidence, a.attempt, a.answered_at \
     FROM answers a WHERE a.call_sid IN (SELECT c.call_sid FROM calls c WHERE ",
    filter!(),
    page!(),
    ") ORDER BY a.call_sid, a.seq, a.id"
);

/// A page of calls that have answers, then their answers with the
/// customer's number. Only calls with an answer are paged, so a page of
/// fewer calls than asked is the last one.
const ANSWERED_PAGE: &str = concat!(
    "SELECT a.call_sid, c.started_at, \
     CASE WHEN c.direction = 'outbound' THEN c.to_phone ELSE c.from_phone END AS customer, \
     a.question, CAST(a.value AS TEXT) AS value \
     FROM answers a JOIN calls c ON c.call_sid = a.call_sid \
     WHERE a.call_sid IN (SELECT c.call_sid FROM calls c WHERE ",
    filter!(),
    " AND EXISTS (SELECT 1 FROM answers x WHERE x.call_sid = c.call_sid)",
    page!(),
    ") ORDER BY c.started_at, a.call_sid, a.seq, a.id"
);

/// The recordings' copies and transcripts of the calls of an
/// [`ANSWERS_PAGE`] (the same calls, paged alike).
const MEDIA_PAGE: &str = concat!(
    super::recordings::media_columns!(),
    "WHERE m.call_sid IN (SELECT c.call_sid FROM calls c WHERE ",
    filter!(),
    page!(),
    ") ORDER BY m.call_sid, m.created_at, m.recording_sid"
);

/// The recordings' copies and transcripts of the calls of an
/// [`ANSWERED_PAGE`] (the same calls, paged alike).
const MEDIA_ANSWERED_PAGE: &str = concat!(
    super::recordings::media_columns!(),
    "WHERE m.transcript IS NOT NULL AND m.call_sid IN (SELECT c.call_sid FROM calls c WHERE ",
    filter!(),
    " AND EXISTS (SELECT 1 FROM answers x WHERE x.call_sid = c.call_sid)",
    page!(),
    ") ORDER BY m.call_sid, m.created_at, m.recording_sid"
);

const OUTCOMES: &str = concat!(
    "SELECT c.outcome, COUNT(*) AS calls, SUM(CASE WHEN c.status IN \
     ('busy', 'no-answer', 'failed', 'canceled', 'queued', 'initiated', 'ringing') \
     THEN 0 ELSE 1 END) AS reached FROM calls c WHERE ",
    filter!(),
    " GROUP BY c.outcome"
);

const ANSWERS: &str = concat!(
    "SELECT a.question, CAST(a.value AS TEXT) AS value, COUNT(*) AS calls \
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
    "SELECT COUNT(DISTINCT h.call_sid) AS calls FROM handoffs h \
     JOIN calls c ON c.call_sid = h.call_sid WHERE ",
    filter!()
);

const OPT_OUTS: &str = concat!(
    "SELECT COUNT(*) AS calls FROM calls c WHERE ",
    filter!(),
    " AND (c.outcome = 'opted_out' \
      OR EXISTS (SELECT 1 FROM opt_outs o WHERE o.call_sid = c.call_sid))"
);

const PURGE_RECORDINGS: &str = "DELETE FROM recordings WHERE call_sid IN \
    (SELECT call_sid FROM calls WHERE started_at < $1) RETURNING url";
/// Dialback's copies of the recordings of old calls, by the pipeline's
/// rows and by the answers' recordings (a stream recording is stored a
/// moment before its answer row): the audio, then the rows with their
/// transcripts.
const PURGE_AUDIO: &str = "DELETE FROM recording_audio WHERE recording_sid IN \
    (SELECT m.recording_sid FROM recording_media m WHERE m.call_sid IN \
        (SELECT call_sid FROM calls WHERE started_at < $1)) \
    OR recording_sid IN (SELECT r.recording_sid FROM recordings r WHERE r.call_sid IN \
        (SELECT call_sid FROM calls WHERE started_at < $1))";
const PURGE_MEDIA: &str = "DELETE FROM recording_media WHERE call_sid IN \
    (SELECT call_sid FROM calls WHERE started_at < $1)";
const PURGE_CALLS: &str = "UPDATE calls SET from_phone = '', to_phone = '', state = '', \
    response = '' WHERE started_at < $1 \
    AND (from_phone <> '' OR to_phone <> '' OR state <> '' OR response <> '')";
const PURGE_RAW: &str = "UPDATE answers SET raw = NULL WHERE raw IS NOT NULL \
    AND call_sid IN (SELECT call_sid FROM calls WHERE started_at < $1)";
/// The JSON literals need no cast: PostgreSQL types them from the JSONB
/// column they meet.
const PURGE_VALUES: &str = "UPDATE answers SET value = 'null' WHERE question = $2 \
    AND value <> 'null' AND call_sid IN \
    (SELECT call_sid FROM calls WHERE started_at < $1 AND flow = $3)";
const PURGE_SUMMARIES: &str = "UPDATE handoffs SET summary = '{}' WHERE summary <> '{}' \
    AND call_sid IN (SELECT call_sid FROM calls WHERE started_at < $1)";

const OPT_OUTS_LIST: &str =
    "SELECT phone, call_sid, created_at FROM opt_outs ORDER BY created_at, phone";

/// Binds the filter's parameters in the order [`filter!`] numbers them.
pub(super) fn bind<'q, DB: Dialect>(
    sql: impl sqlx::SqlSafeStr,
    f: &'q ReportFilter,
) -> Stmt<'q, DB> {
    sqlx::query(sql)
        .arg(f.flow.as_str())
        .arg(f.flow_hash.as_deref())
        .opt_at(f.since)
        .opt_at(f.until)
        .arg(f.campaign)
}

/// Binds the filter's parameters, then the page's.
fn bind_page<'q, DB: Dialect>(
    sql: &'static str,
    f: &'q ReportFilter,
    after: Option<&'q ExportCursor>,
    limit: i64,
) -> Stmt<'q, DB> {
    bind(sql, f)
        .opt_at(after.map(|a| a.started_at))
        .arg(after.map(|a| a.call_sid.as_str()))
        .arg(limit)
}

/// The single count a counting statement returns.
async fn read_count<B: Backend>(
    store: &B,
    sql: &'static str,
    f: &ReportFilter,
) -> StoreResult<i64> {
    let row = fetch_optional(store, On::Read, bind(sql, f)).await?;
    match row {
        Some(r) => Ok(r.col("calls")?),
        None => Ok(0),
    }
}

#[async_trait::async_trait]
impl<B: Backend> ReportStore for B {
    async fn outcome_counts(&self, f: &ReportFilter) -> StoreResult<Vec<OutcomeCount>> {
        let rows = fetch_all(self, On::Read, bind(OUTCOMES, f)).await?;
        Ok(all(&rows, outcome_count)?)
    }

    async fn answer_counts(&self, f: &ReportFilter) -> StoreResult<Vec<AnswerCount>> {
        let rows = fetch_all(self, On::Read, bind(ANSWERS, f)).await?;
        Ok(all(&rows, answer_count)?)
    }

    async fn abandoned_after(&self, f: &ReportFilter) -> StoreResult<Vec<LastAnswered>> {
        let rows = fetch_all(self, On::Read, bind(ABANDONED, f)).await?;
        Ok(all(&rows, last_answered)?)
    }

    async fn handoff_calls(&self, f: &ReportFilter) -> StoreResult<i64> {
        read_count(self, HANDOFFS, f).await
    }

    async fn opt_out_calls(&self, f: &ReportFilter) -> StoreResult<i64> {
        read_count(self, OPT_OUTS, f).await
    }

    async fn outcomes_by_period(
        &self,
        f: &ReportFilter,
        by: Period,
    ) -> StoreResult<Vec<PeriodOutcomes>> {
        super::trends::outcomes_by_period(self, f, by).await
    }

    async fn answers_by_period(
        &self,
        f: &ReportFilter,
        by: Period,
        questions: &TrendQuestions,
    ) -> StoreResult<Vec<PeriodAnswers>> {
        super::trends::answers_by_period(self, f, by, questions).await
    }

    async fn answer_pairs(
        &self,
        campaign: i64,
        questions: [Option<&str>; 2],
    ) -> StoreResult<Vec<AnswerPairs>> {
        super::trends::answer_pairs(self, campaign, questions).await
    }

    async fn export_page(
        &self,
        f: &ReportFilter,
        after: Option<&ExportCursor>,
        limit: i64,
    ) -> StoreResult<Vec<ExportCall>> {
        let calls = fetch_all(self, On::Read, bind_page(CALLS_PAGE, f, after, limit)).await?;
        let answers = fetch_all(self, On::Read, bind_page(ANSWERS_PAGE, f, after, limit)).await?;
        let media = fetch_all(self, On::Read, bind_page(MEDIA_PAGE, f, after, limit)).await?;
        Ok(group_answers(
            all(&calls, call_row)?,
            all(&answers, answer_row)?,
            all(&media, recording_media)?,
        ))
    }

    async fn answered_page(
        &self,
        f: &ReportFilter,
        after: Option<&ExportCursor>,
        limit: i64,
    ) -> StoreResult<Vec<AnsweredCall>> {
        let rows = fetch_all(self, On::Read, bind_page(ANSWERED_PAGE, f, after, limit)).await?;
        let media = fetch_all(
            self,
            On::Read,
            bind_page(MEDIA_ANSWERED_PAGE, f, after, limit),
        );
        Ok(group_lines(
            all(&rows, answered_line)?,
            all(&media.await?, recording_media)?,
        ))
    }

    async fn recent_calls(&self, f: &ReportFilter, limit: i64) -> StoreResult<Vec<CallRow>> {
        let rows = fetch_all(self, On::Read, bind(RECENT_CALLS, f).arg(limit)).await?;
        Ok(all(&rows, call_row)?)
    }

    async fn follow_ups(&self, call_sid: &CallSid) -> StoreResult<Vec<CallRow>> {
        let stmt = query::<B>(FOLLOW_UPS).arg(call_sid.as_str());
        let rows = fetch_all(self, On::Read, stmt).await?;
        Ok(all(&rows, call_row)?)
    }

    async fn opt_outs(&self) -> StoreResult<Vec<OptOutRow>> {
        let rows = fetch_all(self, On::Read, query::<B>(OPT_OUTS_LIST)).await?;
        Ok(all(&rows, opt_out_row)?)
    }

    async fn purge(
        &self,
        cutoff: DateTime<Utc>,
        personal: &[(String, String)],
    ) -> StoreResult<Purged> {
        let mut conn = self.write().await?;
        let result = purge_in::<B::Db>(&mut conn, cutoff, personal).await;
        conn.finish(result).await
    }
}

/// [`ReportStore::purge`] in one transaction on `conn`.
async fn purge_in<DB: Dialect>(
    conn: &mut DB::Connection,
    cutoff: DateTime<Utc>,
    personal: &[(String, String)],
) -> Result<Purged, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let stored_recordings = sqlx::query::<DB>(PURGE_AUDIO)
        .at(cutoff)
        .run(&mut *tx)
        .await?;
    sqlx::query::<DB>(PURGE_MEDIA)
        .at(cutoff)
        .run(&mut *tx)
        .await?;
    let recordings = DB::fetch_all(&mut tx, sqlx::query(PURGE_RECORDINGS).at(cutoff))
        .await?
        .iter()
        .map(|r| r.col("url"))
        .collect::<Result<_, _>>()?;
    let calls = sqlx::query::<DB>(PURGE_CALLS)
        .at(cutoff)
        .run(&mut *tx)
        .await?;
    let mut answers = sqlx::query::<DB>(PURGE_RAW)
        .at(cutoff)
        .run(&mut *tx)
        .await?;
    for (flow, question) in personal {
        answers += sqlx::query::<DB>(PURGE_VALUES)
            .at(cutoff)
            .arg(question.as_str())
            .arg(flow.as_str())
            .run(&mut *tx)
            .await?;
    }
    sqlx::query::<DB>(PURGE_SUMMARIES)
        .at(cutoff)
        .run(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Purged {
        calls,
        answers,
        recordings,
        stored_recordings,
    })
}
