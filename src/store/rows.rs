//! Rows → records, written once for both backends: the columns and their
//! Rust types are the same on SQLite and PostgreSQL, only the row type
//! differs, so the decoders take a row of any [`Dialect`].

use sqlx::Row;

use super::campaigns::{CallContact, CampaignRow, ClaimedContact, ContactRow};
use super::reports::{AnswerCount, LastAnswered, OptOutRow, OutcomeCount};
use super::sql::{ColExt, Dialect};
use super::{AnswerRow, CallRow, HandoffRow, parse_json};

pub(super) fn call_row<R: Row>(r: &R) -> Result<CallRow, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(CallRow {
        call_sid: r.col("call_sid")?,
        flow: r.col("flow")?,
        flow_hash: r.col("flow_hash")?,
        direction: r.col("direction")?,
        from: r.col("from_phone")?,
        to: r.col("to_phone")?,
        status: r.col("status")?,
        outcome: r.col("outcome")?,
        state: r.col("state")?,
        seq: r.col("seq")?,
        response: r.col("response")?,
        started_at: r.col("started_at")?,
        ended_at: r.col("ended_at")?,
    })
}

pub(super) fn answer_row<R: Row>(r: &R) -> Result<AnswerRow, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(AnswerRow {
        call_sid: r.col("call_sid")?,
        seq: r.col("seq")?,
        question: r.col("question")?,
        value: parse_json(&r.col::<String>("value")?)?,
        raw: r.col("raw")?,
        confidence: r.col("confidence")?,
        attempt: r.col("attempt")?,
        answered_at: r.col("answered_at")?,
    })
}

pub(super) fn handoff_row<R: Row>(r: &R) -> Result<HandoffRow, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(HandoffRow {
        id: r.col("id")?,
        call_sid: r.col("call_sid")?,
        flow: r.col("flow")?,
        step: r.col("step")?,
        target: r.col("target")?,
        status: r.col("status")?,
        reason: r.col("reason")?,
        summary: parse_json(&r.col::<String>("summary")?)?,
        created_at: r.col("created_at")?,
        resolved_at: r.col("resolved_at")?,
    })
}

pub(super) fn campaign_row<R: Row>(r: &R) -> Result<CampaignRow, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(CampaignRow {
        id: r.col("id")?,
        name: r.col("name")?,
        flow: r.col("flow")?,
        plan: parse_json(&r.col::<String>("plan")?)?,
        status: r.col("status")?,
        created_at: r.col("created_at")?,
    })
}

pub(super) fn contact_row<R: Row>(r: &R) -> Result<ContactRow, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(ContactRow {
        id: r.col("id")?,
        phone: r.col("phone")?,
        state: r.col("state")?,
        attempts: r.col("attempts")?,
        last_result: r.col("last_result")?,
        last_call_at: r.col("last_call_at")?,
        next_at: r.col("next_at")?,
    })
}

pub(super) fn claimed_row<R: Row>(r: &R) -> Result<ClaimedContact, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(ClaimedContact {
        id: r.col("id")?,
        campaign_id: r.col("campaign_id")?,
        flow: r.col("flow")?,
        plan: parse_json(&r.col::<String>("plan")?)?,
        phone: r.col("phone")?,
        timezone: r.col("timezone")?,
        attempts: r.col("attempts")?,
    })
}

pub(super) fn call_contact_row<R: Row>(r: &R) -> Result<CallContact, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(CallContact {
        contact_id: r.col("id")?,
        plan: parse_json(&r.col::<String>("plan")?)?,
        timezone: r.col("timezone")?,
        attempts: r.col("attempts")?,
        state: r.col("state")?,
    })
}

pub(super) fn outcome_count<R: Row>(r: &R) -> Result<OutcomeCount, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(OutcomeCount {
        outcome: r.col("outcome")?,
        calls: r.col("calls")?,
        reached: r.col("reached")?,
    })
}

pub(super) fn answer_count<R: Row>(r: &R) -> Result<AnswerCount, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(AnswerCount {
        question: r.col("question")?,
        value: parse_json(&r.col::<String>("value")?)?,
        calls: r.col("calls")?,
    })
}

pub(super) fn last_answered<R: Row>(r: &R) -> Result<LastAnswered, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(LastAnswered {
        question: r.col("last_question")?,
        calls: r.col("calls")?,
    })
}

pub(super) fn opt_out_row<R: Row>(r: &R) -> Result<OptOutRow, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(OptOutRow {
        phone: r.col("phone")?,
        call_sid: r.col("call_sid")?,
        at: r.col("created_at")?,
    })
}

/// Decodes every row with `decode`.
pub(super) fn all<R, T>(
    rows: &[R],
    decode: fn(&R) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, sqlx::Error> {
    rows.iter().map(decode).collect()
}
