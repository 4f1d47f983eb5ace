//! The Trends queries for every [`Backend`]: one statement per series,
//! grouped by period in the database. Only the expression naming a call's
//! period differs between SQLite and PostgreSQL (`Dialect::period_start`);
//! the statements are assembled around it once per request.

use super::super::StoreResult;
use super::super::reports::ReportFilter;
use super::super::rows::{all, period_answers, period_outcomes};
use super::super::trends::{Period, PeriodAnswers, PeriodOutcomes, TrendQuestions};
use super::reports::bind;
use super::{Backend, Dialect, On, StmtExt, fetch_all};

/// Calls and reached calls per period and outcome; `{period}` is the
/// dialect's period expression, the filter is `$1`–`$5`.
const OUTCOMES: &str = "SELECT {period} AS period, c.outcome, COUNT(*) AS calls, \
    SUM(CASE WHEN c.status IN \
    ('busy', 'no-answer', 'failed', 'canceled', 'queued', 'initiated', 'ringing') \
    THEN 0 ELSE 1 END) AS reached FROM calls c WHERE {filter} GROUP BY 1, 2";

/// Answer values per period of the three followed questions (`$6`–`$8`),
/// each call's last answer to a question counted once, as in the report.
const ANSWERS: &str = "SELECT {period} AS period, a.question, \
    CAST(a.value AS TEXT) AS value, COUNT(*) AS calls \
    FROM answers a JOIN calls c ON c.call_sid = a.call_sid WHERE {filter} \
    AND a.question IN ($6, $7, $8) \
    AND a.seq = (SELECT MAX(b.seq) FROM answers b \
       WHERE b.call_sid = a.call_sid AND b.question = a.question) \
    GROUP BY 1, 2, 3";

/// A statement's text for `DB`. Assembled only from the constants of this
/// layer (never from a request's text), hence safe to assert as SQL.
fn statement<DB: Dialect>(template: &str, by: Period) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(
        template
            .replace("{period}", DB::period_start(by))
            .replace("{filter}", super::reports::FILTER),
    )
}

pub(super) async fn outcomes_by_period<B: Backend>(
    store: &B,
    f: &ReportFilter,
    by: Period,
) -> StoreResult<Vec<PeriodOutcomes>> {
    let sql = statement::<B::Db>(OUTCOMES, by);
    let rows = fetch_all(store, On::Read, bind(sql, f)).await?;
    Ok(all(&rows, period_outcomes)?)
}

pub(super) async fn answers_by_period<B: Backend>(
    store: &B,
    f: &ReportFilter,
    by: Period,
    questions: &TrendQuestions,
) -> StoreResult<Vec<PeriodAnswers>> {
    let sql = statement::<B::Db>(ANSWERS, by);
    let [csat, nps, resolved] = questions.binds();
    let stmt = bind(sql, f).arg(csat).arg(nps).arg(resolved);
    let rows = fetch_all(store, On::Read, stmt).await?;
    Ok(all(&rows, period_answers)?)
}
