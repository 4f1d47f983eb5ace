//! Rows → records, written once for both backends: the columns and their
//! Rust types are the same on SQLite and PostgreSQL, only the row type
//! differs, so the decoders take a row of any [`Dialect`].

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::campaigns::{CallContact, CampaignRow, ClaimedContact, ContactRow, ContactStart};
use super::recordings::{RecordingJob, RecordingMediaRow, StoredTranscript};
use super::reports::{AnswerCount, AnsweredLine, LastAnswered, OptOutRow, OutcomeCount};
use super::sql::{ColExt, Dialect};
use super::trends::{AnswerPairs, PeriodAnswers, PeriodOutcomes};
use super::{AnswerRow, CallRow, CallSid, FollowUp, HandoffId, HandoffRow, parse_json};

pub(super) fn call_row<R: Row>(r: &R) -> Result<CallRow, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(CallRow {
        call_sid: typed(r, "call_sid")?,
        flow: r.col("flow")?,
        flow_hash: r.col("flow_hash")?,
        direction: typed(r, "direction")?,
        from: r.col("from_phone")?,
        to: r.col("to_phone")?,
        status: typed(r, "status")?,
        outcome: typed_opt(r, "outcome")?,
        state: r.col("state")?,
        seq: r.col("seq")?,
        response: r.col("response")?,
        started_at: r.col("started_at")?,
        ended_at: r.col("ended_at")?,
        follows: follow_up(r)?,
    })
}

/// The `follows_call_sid` and `follows_handoff_id` columns of a call or a
/// contact. A handoff without its call was never written by the store: a
/// decode error naming the column, not a link dropped in silence.
pub(super) fn follow_up<R: Row>(r: &R) -> Result<Option<FollowUp>, sqlx::Error>
where
    R::Database: Dialect,
{
    let call: Option<CallSid> = typed_opt(r, "follows_call_sid")?;
    let handoff: Option<i64> = r.col("follows_handoff_id")?;
    match (call, handoff) {
        (Some(call), handoff) => Ok(Some(FollowUp {
            call,
            handoff: handoff.map(HandoffId),
        })),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(sqlx::Error::ColumnDecode {
            index: "follows_handoff_id".to_owned(),
            source: "a followed-up handoff without the call it belongs to".into(),
        }),
    }
}

pub(super) fn answer_row<R: Row>(r: &R) -> Result<AnswerRow, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(AnswerRow {
        call_sid: typed(r, "call_sid")?,
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
        call_sid: typed(r, "call_sid")?,
        flow: r.col("flow")?,
        step: r.col("step")?,
        target: r.col("target")?,
        status: typed(r, "status")?,
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
        status: typed(r, "status")?,
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
        state: typed(r, "state")?,
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
        state: typed(r, "state")?,
        attempt_ended: r.col::<i32>("attempt_ended")? != 0,
    })
}

pub(super) fn contact_start_row<R: Row>(r: &R) -> Result<ContactStart, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(ContactStart {
        vars: parse_json(&r.col::<String>("vars")?)?,
        follows: follow_up(r)?,
    })
}

pub(super) fn outcome_count<R: Row>(r: &R) -> Result<OutcomeCount, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(OutcomeCount {
        outcome: typed_opt(r, "outcome")?,
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

pub(super) fn answered_line<R: Row>(r: &R) -> Result<AnsweredLine, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(AnsweredLine {
        call_sid: typed(r, "call_sid")?,
        started_at: r.col("started_at")?,
        customer: r.col("customer")?,
        question: r.col("question")?,
        value: parse_json(&r.col::<String>("value")?)?,
    })
}

pub(super) fn opt_out_row<R: Row>(r: &R) -> Result<OptOutRow, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(OptOutRow {
        phone: r.col("phone")?,
        call_sid: typed_opt(r, "call_sid")?,
        at: r.col("created_at")?,
    })
}

/// A TEXT column holding one of a closed set's values (a direction, a
/// status, an outcome) or a value with a grammar (a CallSid). A value outside
/// it means the row was written by something else: a decode error naming the
/// column, never a guess.
pub(super) fn typed<R: Row, T>(r: &R, column: &str) -> Result<T, sqlx::Error>
where
    R::Database: Dialect,
    T: FromStr<Err: std::error::Error + Send + Sync + 'static>,
{
    parse_column(column, &r.col::<String>(column)?)
}

/// [`typed`] for a column that may be NULL.
fn typed_opt<R: Row, T>(r: &R, column: &str) -> Result<Option<T>, sqlx::Error>
where
    R::Database: Dialect,
    T: FromStr<Err: std::error::Error + Send + Sync + 'static>,
{
    r.col::<Option<String>>(column)?
        .map(|text| parse_column(column, &text))
        .transpose()
}

fn parse_column<T>(column: &str, text: &str) -> Result<T, sqlx::Error>
where
    T: FromStr<Err: std::error::Error + Send + Sync + 'static>,
{
    text.parse().map_err(|e| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: Box::new(e),
    })
}

/// Decodes every row with `decode`.
/// A claimed job: `flow` comes from the call (the transcript's language).
pub(super) fn recording_job<R: Row>(r: &R) -> Result<RecordingJob, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(RecordingJob {
        recording_sid: r.col("recording_sid")?,
        call_sid: typed(r, "call_sid")?,
        flow: r.col("flow")?,
        source_url: r.col("source_url")?,
        stage: typed(r, "stage")?,
        attempts: r.col("attempts")?,
        // Set by the claim to the value it bound, so that a report compares
        // exactly what was stored.
        lease_until: DateTime::<Utc>::MIN_UTC,
    })
}

/// A recording's copy with the question it answers (empty if the answer
/// row is not stored yet) and its transcript, if made.
pub(super) fn recording_media<R: Row>(r: &R) -> Result<RecordingMediaRow, sqlx::Error>
where
    R::Database: Dialect,
{
    let text: Option<String> = r.col("transcript")?;
    let transcript = match text {
        Some(text) => Some(StoredTranscript {
            text,
            confidence: r.col("confidence")?,
            model: r.col::<Option<String>>("model")?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(RecordingMediaRow {
        recording_sid: r.col("recording_sid")?,
        call_sid: typed(r, "call_sid")?,
        question: r.col("question")?,
        stage: typed(r, "stage")?,
        attempts: r.col("attempts")?,
        last_error: r.col("last_error")?,
        transcript,
    })
}

pub(super) fn all<R, T>(
    rows: &[R],
    decode: fn(&R) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, sqlx::Error> {
    rows.iter().map(decode).collect()
}

/// A period's first day, as the period expression writes it (`2026-03-02`).
fn period<R: Row>(r: &R) -> Result<chrono::NaiveDate, sqlx::Error>
where
    R::Database: Dialect,
{
    let text: String = r.col("period")?;
    chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|e| sqlx::Error::ColumnDecode {
        index: "period".into(),
        source: format!("{text:?} is not a day: {e}").into(),
    })
}

pub(super) fn period_outcomes<R: Row>(r: &R) -> Result<PeriodOutcomes, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(PeriodOutcomes {
        period: period(r)?,
        outcome: typed_opt(r, "outcome")?,
        calls: r.col("calls")?,
        reached: r.col("reached")?,
    })
}

pub(super) fn answer_pairs_row<R: Row>(r: &R) -> Result<AnswerPairs, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(AnswerPairs {
        question: r.col("question")?,
        before: parse_json(&r.col::<String>("before_value")?)?,
        after: parse_json(&r.col::<String>("after_value")?)?,
        pairs: r.col("pairs")?,
    })
}

pub(super) fn period_answers<R: Row>(r: &R) -> Result<PeriodAnswers, sqlx::Error>
where
    R::Database: Dialect,
{
    Ok(PeriodAnswers {
        period: period(r)?,
        question: r.col("question")?,
        value: parse_json(&r.col::<String>("value")?)?,
        calls: r.col("calls")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CallSid, CallStatus, Direction, Outcome};

    #[test]
    fn a_stored_value_of_a_closed_set_decodes_as_its_type() {
        assert_eq!(
            parse_column::<Direction>("direction", "outbound").unwrap(),
            Direction::Outbound
        );
        assert_eq!(
            parse_column::<CallStatus>("status", "no-answer").unwrap(),
            CallStatus::NoAnswer
        );
        assert_eq!(
            parse_column::<Outcome>("outcome", "opted_out").unwrap(),
            Outcome::OptedOut
        );
    }

    #[test]
    fn a_stored_value_outside_its_set_is_a_decode_error_naming_the_column() {
        let e = parse_column::<Direction>("direction", "sideways").unwrap_err();

        let sqlx::Error::ColumnDecode { index, source } = e else {
            panic!("expected a column decode error, got {e:?}");
        };
        assert_eq!(index, "direction");
        assert_eq!(
            source.to_string(),
            r#"expected a call direction (inbound, outbound), got "sideways""#
        );
    }

    #[test]
    fn a_stored_call_sid_decodes_and_a_malformed_one_is_a_decode_error_naming_the_column() {
        let sid = "CA0123456789abcdef0123456789abcdef";
        assert_eq!(
            parse_column::<CallSid>("call_sid", sid).unwrap().as_str(),
            sid
        );

        let e = parse_column::<CallSid>("call_sid", "CA1").unwrap_err();

        let sqlx::Error::ColumnDecode { index, source } = e else {
            panic!("expected a column decode error, got {e:?}");
        };
        assert_eq!(index, "call_sid");
        assert!(source.to_string().contains("\"CA1\""), "{source}");
    }
}
