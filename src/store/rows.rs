//! Rows → records, written once for both backends: the columns and their
//! Rust types are the same on SQLite and PostgreSQL, only the row type
//! differs, so the decoders are generic over `sqlx::Row`.

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Row, Type};

use super::{AnswerRow, CallRow, HandoffRow, parse_json};

pub(super) fn call_row<R>(r: &R) -> Result<CallRow, sqlx::Error>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'a> String: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> i64: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> DateTime<Utc>: Decode<'a, R::Database> + Type<R::Database>,
{
    Ok(CallRow {
        call_sid: r.try_get("call_sid")?,
        flow: r.try_get("flow")?,
        flow_hash: r.try_get("flow_hash")?,
        direction: r.try_get("direction")?,
        from: r.try_get("from_phone")?,
        to: r.try_get("to_phone")?,
        status: r.try_get("status")?,
        outcome: r.try_get("outcome")?,
        state: r.try_get("state")?,
        seq: r.try_get("seq")?,
        response: r.try_get("response")?,
        started_at: r.try_get("started_at")?,
        ended_at: r.try_get("ended_at")?,
    })
}

pub(super) fn answer_row<R>(r: &R) -> Result<AnswerRow, sqlx::Error>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'a> &'a str: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> String: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> i64: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> i32: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> f32: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> DateTime<Utc>: Decode<'a, R::Database> + Type<R::Database>,
{
    Ok(AnswerRow {
        call_sid: r.try_get("call_sid")?,
        seq: r.try_get("seq")?,
        question: r.try_get("question")?,
        value: parse_json(r.try_get("value")?)?,
        raw: r.try_get("raw")?,
        confidence: r.try_get("confidence")?,
        attempt: r.try_get("attempt")?,
        answered_at: r.try_get("answered_at")?,
    })
}

pub(super) fn handoff_row<R>(r: &R) -> Result<HandoffRow, sqlx::Error>
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'a> &'a str: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> String: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> i64: Decode<'a, R::Database> + Type<R::Database>,
    for<'a> DateTime<Utc>: Decode<'a, R::Database> + Type<R::Database>,
{
    Ok(HandoffRow {
        id: r.try_get("id")?,
        call_sid: r.try_get("call_sid")?,
        flow: r.try_get("flow")?,
        step: r.try_get("step")?,
        target: r.try_get("target")?,
        status: r.try_get("status")?,
        reason: r.try_get("reason")?,
        summary: parse_json(r.try_get("summary")?)?,
        created_at: r.try_get("created_at")?,
        resolved_at: r.try_get("resolved_at")?,
    })
}
