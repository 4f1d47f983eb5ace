//! Report queries: the counting done in the database, so a report over a
//! million calls moves a few dozen rows, not a million.
//!
//! Kept apart from [`super::Store`] (reached through [`super::Store::reports`])
//! so that the write path's trait stays small and the report queries can
//! grow without touching it. Shares, scores and drop-off steps are derived
//! from these counts in `crate::report`, which knows the flow's questions.

use chrono::{DateTime, Utc};

use super::recordings::RecordingMediaRow;
use super::trends::{AnswerPairs, Period, PeriodAnswers, PeriodOutcomes, TrendQuestions};
use super::{AnswerRow, CallRow, CallSid, Outcome, StoreResult};

/// Which calls a report covers. Every field but `flow` narrows it.
///
/// The one filter clause (`sql/reports.rs`) takes these as parameters by number, so a
/// new field is one more clause and one more bind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportFilter {
    /// The flow's name.
    pub flow: String,
    /// Only calls that ran this flow version (content hash).
    pub flow_hash: Option<String>,
    /// Calls started at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Calls started before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Only calls placed for this campaign (an attempt of one of its
    /// contacts carries the CallSid); inbound calls belong to none.
    pub campaign: Option<i64>,
}

impl ReportFilter {
    /// Every call of `flow`, any version, any time.
    pub fn flow(flow: &str) -> Self {
        Self {
            flow: flow.to_owned(),
            ..Self::default()
        }
    }
}

/// Calls with one outcome (`None`: not ended, or ended without an outcome).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeCount {
    pub outcome: Option<Outcome>,
    /// Calls with this outcome.
    pub calls: i64,
    /// Of those, calls a person picked up (provider status not busy,
    /// no-answer, failed, canceled, or still ringing).
    pub reached: i64,
}

/// How many calls gave one answer value to one question (each call's last
/// answer to the question counts, once).
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerCount {
    pub question: String,
    pub value: serde_json::Value,
    pub calls: i64,
}

/// Abandoned calls grouped by the last question they answered (`None`: they
/// answered none), which is what places each drop-off on a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastAnswered {
    pub question: Option<String>,
    pub calls: i64,
}

/// The report queries each backend runs.
#[async_trait::async_trait]
pub trait ReportStore: Send + Sync {
    /// Calls and reached calls per outcome.
    async fn outcome_counts(&self, filter: &ReportFilter) -> StoreResult<Vec<OutcomeCount>>;

    /// Answer values per question.
    async fn answer_counts(&self, filter: &ReportFilter) -> StoreResult<Vec<AnswerCount>>;

    /// Abandoned calls by the last question they answered.
    async fn abandoned_after(&self, filter: &ReportFilter) -> StoreResult<Vec<LastAnswered>>;

    /// Calls handed to a person (a handoff row, connected, open or resolved).
    async fn handoff_calls(&self, filter: &ReportFilter) -> StoreResult<i64>;

    /// Calls in which the person opted out.
    async fn opt_out_calls(&self, filter: &ReportFilter) -> StoreResult<i64>;

    /// Calls and reached calls per period and outcome (Trends' completion).
    async fn outcomes_by_period(
        &self,
        filter: &ReportFilter,
        by: Period,
    ) -> StoreResult<Vec<PeriodOutcomes>>;

    /// Answer values per period of the questions a trend follows.
    async fn answers_by_period(
        &self,
        filter: &ReportFilter,
        by: Period,
        questions: &TrendQuestions,
    ) -> StoreResult<Vec<PeriodAnswers>>;

    /// Before and after for a cohort campaign: answers to the same
    /// question (one of `questions`) on each of its re-calls and on the
    /// call the re-call follows, counted by pair of values.
    async fn answer_pairs(
        &self,
        campaign: i64,
        questions: [Option<&str>; 2],
    ) -> StoreResult<Vec<AnswerPairs>>;

    /// Up to `limit` calls after `after`, oldest first, with their answers.
    ///
    /// Why pages and not one long cursor: a page is two short reads, so an
    /// export of a million calls never holds one of SQLite's few reader
    /// connections (nor a PostgreSQL transaction) for the minutes a slow
    /// client takes to download it, and memory stays at one page.
    async fn export_page(
        &self,
        filter: &ReportFilter,
        after: Option<&ExportCursor>,
        limit: i64,
    ) -> StoreResult<Vec<ExportCall>>;

    /// Up to `limit` calls with at least one answer after `after`, oldest
    /// first, each with its customer and its answers in the order given: what
    /// "what callers said" reads its free text and its filters from. Paged
    /// like [`ReportStore::export_page`], and lighter: no state, no TwiML.
    async fn answered_page(
        &self,
        filter: &ReportFilter,
        after: Option<&ExportCursor>,
        limit: i64,
    ) -> StoreResult<Vec<AnsweredCall>>;

    /// The newest `limit` calls, newest first (the dashboard's list).
    async fn recent_calls(&self, filter: &ReportFilter, limit: i64) -> StoreResult<Vec<CallRow>>;

    /// The calls that follow `call_sid` up (re-calls, confirmation calls),
    /// oldest first: the other half of the chain a call page shows.
    async fn follow_ups(&self, call_sid: &CallSid) -> StoreResult<Vec<CallRow>>;

    /// Every opt-out, oldest first: the do-not-call list, for compliance.
    async fn opt_outs(&self) -> StoreResult<Vec<OptOutRow>>;

    /// Removes personal data of calls started before `cutoff`, in one
    /// transaction: recordings (rows, stored audio and transcripts), phone numbers, call state and last
    /// TwiML, the literal input of every answer, the values of `personal`
    /// questions (free speech, recordings: `(flow, question)`), and handoff
    /// summaries. Kept: outcomes, times, statuses and every other answer
    /// value, so reports stay computable; and opt-outs, which must outlive
    /// the calls they were made in. Idempotent.
    async fn purge(
        &self,
        cutoff: DateTime<Utc>,
        personal: &[(String, String)],
    ) -> StoreResult<Purged>;
}

/// What [`ReportStore::purge`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    /// Calls whose phone numbers and state were erased.
    pub calls: u64,
    /// Answer fields erased (an answer losing both input and value counts twice).
    pub answers: u64,
    /// Recording URLs removed (a caller may also delete local files).
    pub recordings: Vec<String>,
    /// Recordings' audio removed from dialback's storage, with their
    /// transcripts.
    pub stored_recordings: u64,
}

/// Where an export page starts: after this call, in `(started_at, call_sid)`
/// order.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportCursor {
    pub started_at: DateTime<Utc>,
    pub call_sid: CallSid,
}

/// One call with its answers in the order given, as exports need it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportCall {
    pub call: CallRow,
    pub answers: Vec<AnswerRow>,
    /// Dialback's copies of the call's recordings, with their transcripts.
    pub recordings: Vec<RecordingMediaRow>,
}

impl ExportCall {
    /// The cursor for the page after this call.
    pub fn cursor(&self) -> ExportCursor {
        ExportCursor {
            started_at: self.call.started_at,
            call_sid: self.call.call_sid.clone(),
        }
    }
}

/// Groups answers (ordered by call) under their calls, keeping call order.
pub(in crate::store) fn group_answers(
    calls: Vec<CallRow>,
    answers: Vec<AnswerRow>,
    recordings: Vec<RecordingMediaRow>,
) -> Vec<ExportCall> {
    let mut by_call: std::collections::HashMap<CallSid, Vec<AnswerRow>> =
        std::collections::HashMap::new();
    for a in answers {
        by_call.entry(a.call_sid.clone()).or_default().push(a);
    }
    let mut media = by_call_sid(recordings);
    calls
        .into_iter()
        .map(|call| ExportCall {
            answers: by_call.remove(&call.call_sid).unwrap_or_default(),
            recordings: media.remove(&call.call_sid).unwrap_or_default(),
            call,
        })
        .collect()
}

fn by_call_sid(
    recordings: Vec<RecordingMediaRow>,
) -> std::collections::HashMap<CallSid, Vec<RecordingMediaRow>> {
    let mut by_call: std::collections::HashMap<CallSid, Vec<RecordingMediaRow>> =
        std::collections::HashMap::new();
    for r in recordings {
        by_call.entry(r.call_sid.clone()).or_default().push(r);
    }
    by_call
}

/// A call and its answers, as [`ReportStore::answered_page`] reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct AnsweredCall {
    pub call_sid: CallSid,
    pub started_at: DateTime<Utc>,
    /// The customer's number: the one called (outbound) or calling
    /// (inbound); empty once purged. Who said something, so that a caller
    /// who calls twice counts once.
    pub customer: String,
    /// `(question, value)` in the order given; a purged value is `null`.
    pub answers: Vec<(String, serde_json::Value)>,
    /// `(question, transcript)` of the call's transcribed recordings.
    pub transcripts: Vec<(String, String)>,
}

impl AnsweredCall {
    /// The cursor for the page after this call.
    pub fn cursor(&self) -> ExportCursor {
        ExportCursor {
            started_at: self.started_at,
            call_sid: self.call_sid.clone(),
        }
    }
}

/// One answer of [`AnsweredCall`], as a row brings it.
pub(in crate::store) struct AnsweredLine {
    pub(in crate::store) call_sid: CallSid,
    pub(in crate::store) started_at: DateTime<Utc>,
    pub(in crate::store) customer: String,
    pub(in crate::store) question: String,
    pub(in crate::store) value: serde_json::Value,
}

/// Groups answer lines (ordered by call) under their calls, keeping order.
pub(in crate::store) fn group_lines(
    lines: Vec<AnsweredLine>,
    recordings: Vec<RecordingMediaRow>,
) -> Vec<AnsweredCall> {
    let mut media = by_call_sid(recordings);
    let mut calls: Vec<AnsweredCall> = Vec::new();
    for line in lines {
        match calls.last_mut() {
            Some(call) if call.call_sid == line.call_sid => {
                call.answers.push((line.question, line.value));
            }
            _ => calls.push(AnsweredCall {
                call_sid: line.call_sid,
                started_at: line.started_at,
                customer: line.customer,
                answers: vec![(line.question, line.value)],
                transcripts: Vec::new(),
            }),
        }
    }
    for call in &mut calls {
        call.transcripts = media
            .remove(&call.call_sid)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| Some((r.question, r.transcript?.text)))
            .collect();
    }
    calls
}

/// One entry of the do-not-call list.
#[derive(Debug, Clone, PartialEq)]
pub struct OptOutRow {
    pub phone: String,
    pub call_sid: Option<CallSid>,
    pub at: DateTime<Utc>,
}
