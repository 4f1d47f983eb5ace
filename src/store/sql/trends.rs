//! The Trends queries for every [`Backend`]: one statement per series,
//! grouped by period in the database. Only the expression naming a call's
//! period differs between SQLite and PostgreSQL (`Dialect::period_start`);
//! the statements are assembled around it once per request.

use super::super::StoreResult;
use super::super::reports::ReportFilter;
use super::super::rows::{all, answer_pairs_row, period_answers, period_outcomes};
use super::super::trends::{AnswerPairs, Period, PeriodAnswers, PeriodOutcomes, TrendQuestions};
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
/// Pairs of answers to the same question (`$2` or `$3`) on a re-call of
/// campaign `$1` and on the call it follows, each call's last answer.
const PAIRS: &str = "SELECT r.question, CAST(b.value AS TEXT) AS before_value, \
    CAST(r.value AS TEXT) AS after_value, COUNT(*) AS pairs \
    FROM calls c \
    JOIN answers r ON r.call_sid = c.call_sid \
    JOIN answers b ON b.call_sid = c.follows_call_sid AND b.question = r.question \
    WHERE c.follows_call_sid IS NOT NULL AND r.question IN ($2, $3) \
    AND c.call_sid IN (SELECT t.call_sid FROM attempts t \
        JOIN contacts k ON k.id = t.contact_id WHERE k.campaign_id = $1) \
    AND r.seq = (SELECT MAX(x.seq) FROM answers x \
        WHERE x.call_sid = r.call_sid AND x.question = r.question) \
    AND b.seq = (SELECT MAX(x.seq) FROM answers x \
        WHERE x.call_sid = b.call_sid AND x.question = b.question) \
    GROUP BY 1, 2, 3";

pub(super) async fn answer_pairs<B: Backend>(
    store: &B,
    campaign: i64,
    questions: [Option<&str>; 2],
) -> StoreResult<Vec<AnswerPairs>> {
    let stmt = super::query::<B>(PAIRS)
        .arg(campaign)
        .arg(questions[0])
        .arg(questions[1]);
    let rows = fetch_all(store, On::Read, stmt).await?;
    Ok(all(&rows, answer_pairs_row)?)
}

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
