//! "What callers said": the free text of a flow's calls read from the
//! store, grouped by `crate::insight` into the flow's topics and unnamed
//! phrases, against the previous period of the same length. Shared by the
//! admin API (`GET /api/said/{flow}`, `.csv`) and the dashboard's page.
//!
//! The text is read from the stored answers on every request and dropped
//! after it: nothing here keeps a second copy of what anyone said.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::admin::{ApiError, ResultsReader};
use crate::flow::Flow;
use crate::flow::condition::{self, Condition, ConditionError};
use crate::flow::model::AnswerType;
use crate::flow::value::Value;
use crate::insight::{Discovery, Limits, Said, analyse, compare};
use crate::report::{parse_campaign, parse_period};
use crate::store::reports::AnsweredCall;
use crate::store::{ReportFilter, Store, StoreError};

/// The period shown when none is asked for.
const DEFAULT_DAYS: i64 = 30;

/// Calls read from the store at a time.
const PAGE: i64 = 500;

/// The segmentation dictionary, loaded once per process on first use.
static DISCOVERY: LazyLock<Discovery> = LazyLock::new(Discovery::new);

/// What to show, as typed in a form or a query string; empty means "any"
/// (or, for the period, the last 30 days). The API's `since`/`until` and
/// the dashboard's `from`/`to` are the same fields.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub(super) struct SaidParams {
    #[serde(default)]
    pub(super) flow: String,
    #[serde(default)]
    pub(super) campaign: String,
    #[serde(default, alias = "since")]
    pub(super) from: String,
    #[serde(default, alias = "until")]
    pub(super) to: String,
    /// An answer condition in the flow's language: `csat <= 2`.
    #[serde(default)]
    pub(super) when: String,
}

/// Why the parameters could not be read.
pub(super) enum SaidError {
    /// 400: a parameter that cannot be read; the message says why.
    Bad(String),
    /// 404: no such flow.
    NoFlow,
}

impl From<SaidError> for ApiError {
    fn from(e: SaidError) -> Self {
        match e {
            SaidError::Bad(why) => ApiError::BadRequest(why),
            SaidError::NoFlow => ApiError::NotFound("flow"),
        }
    }
}

/// The parameters, read.
pub(super) struct Selection {
    pub(super) flow: Arc<Flow>,
    campaign: Option<i64>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    condition: Option<(String, Condition)>,
}

impl SaidParams {
    /// Reads the parameters; `now` ends the default period.
    pub(super) fn read(
        &self,
        state: &AppState,
        now: DateTime<Utc>,
    ) -> Result<Selection, SaidError> {
        let flow = state
            .flow(self.flow.trim())
            .cloned()
            .ok_or(SaidError::NoFlow)?;
        let campaign = parse_campaign(&self.campaign).map_err(SaidError::Bad)?;
        let (since, until) = parse_period(&self.from, &self.to, now, Duration::days(DEFAULT_DAYS))
            .map_err(SaidError::Bad)?;
        let condition = match self.when.trim() {
            "" => None,
            text => Some((
                text.to_owned(),
                condition::parse(text, &answer_types(&flow))
                    .map_err(|e| SaidError::Bad(diagnostic(text, &e)))?,
            )),
        };
        Ok(Selection {
            flow,
            campaign,
            since,
            until,
            condition,
        })
    }
}

/// The answer names a filter may use, with their types.
fn answer_types(flow: &Flow) -> BTreeMap<String, AnswerType> {
    flow.questions()
        .map(|(step, q)| (step.id.clone(), q.kind.answer_type()))
        .collect()
}

/// A condition's error as `dialback check` words it: the text, a caret
/// under the problem, the message and the hint.
fn diagnostic(text: &str, e: &ConditionError) -> String {
    let column = |at: usize| text.get(..at).map_or(0, |t| t.chars().count());
    let start = column(e.at.start.min(text.len()));
    let width = (column(e.at.end.min(text.len())) - start).max(1);
    let mut out = format!(
        "the condition cannot be read: {}\n  {text}\n  {}{}",
        e.message,
        " ".repeat(start),
        "^".repeat(width)
    );
    if let Some(hint) = &e.hint {
        out.push_str(&format!("\n  hint: {hint}"));
    }
    out
}

/// The themes of one period against the previous one of the same length.
#[derive(Debug, Clone, Serialize)]
pub(super) struct SaidReport {
    pub(super) flow: String,
    pub(super) since: DateTime<Utc>,
    pub(super) until: DateTime<Utc>,
    /// The previous period ends where this one starts.
    pub(super) previous_since: DateTime<Utc>,
    pub(super) campaign: Option<i64>,
    /// The answer condition the callers were chosen by, as written.
    pub(super) condition: Option<String>,
    /// The free-speech questions whose answers were read.
    pub(super) questions: Vec<String>,
    /// Distinct callers with free text in the period (after the condition).
    pub(super) callers: usize,
    pub(super) previous_callers: usize,
    pub(super) topics: Vec<TopicLine>,
    pub(super) unnamed: Vec<PhraseLine>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct TopicLine {
    pub(super) name: String,
    pub(super) callers: usize,
    /// Of all callers with free text, 0.0–1.0.
    pub(super) share: f64,
    /// Callers in the previous period.
    pub(super) previous: usize,
    /// (now − before) / before; `null` when nobody mentioned it before.
    pub(super) change: Option<f64>,
    /// Masked.
    pub(super) quotes: Vec<String>,
    /// The CallSids behind the count.
    pub(super) calls: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub(super) struct PhraseLine {
    pub(super) phrase: String,
    pub(super) callers: usize,
    pub(super) quotes: Vec<String>,
    pub(super) calls: Vec<String>,
}

/// Every free text of the calls `filter` selects whose answers meet `condition`.
async fn texts(
    store: &dyn Store,
    questions: &BTreeSet<String>,
    filter: &ReportFilter,
    condition: Option<&Condition>,
) -> Result<Vec<Said>, StoreError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .reports()
            .answered_page(filter, after.as_ref(), PAGE)
            .await?;
        for call in &page {
            said_in(call, questions, condition, &mut out);
        }
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => after = Some(last.cursor()),
            _ => return Ok(out),
        }
    }
}

/// The free texts of one call, if its answers meet `condition`.
fn said_in(
    call: &AnsweredCall,
    questions: &BTreeSet<String>,
    condition: Option<&Condition>,
    out: &mut Vec<Said>,
) {
    // A question asked again keeps its latest answer, as in the API's call view.
    let answers: BTreeMap<String, Value> = call
        .answers
        .iter()
        .filter_map(|(q, v)| Some((q.clone(), serde_json::from_value(v.clone()).ok()?)))
        .collect();
    // Once purged, the number is gone: the call stands for its caller.
    let caller = if call.customer.is_empty() {
        call.call_sid.as_str()
    } else {
        &call.customer
    };
    let spoken = call.answers.iter().filter_map(|(q, v)| match v {
        serde_json::Value::String(text) => Some((q, text)),
        _ => None,
    });
    // A recorded suggestion's transcript is grouped like any free text.
    let transcribed = call.transcripts.iter().map(|(q, text)| (q, text));
    let texts = spoken
        .chain(transcribed)
        .filter(|(q, text)| questions.contains(*q) && !text.trim().is_empty())
        .map(|(_, text)| text);
    for text in texts {
        let said = Said {
            caller: caller.to_owned(),
            call: call.call_sid.to_string(),
            text: text.clone(),
            answers: answers.clone(),
        };
        if condition.is_none_or(|c| said.satisfies(c)) {
            out.push(said);
        }
    }
}

impl Selection {
    fn filter(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> ReportFilter {
        ReportFilter {
            flow: self.flow.name.clone(),
            flow_hash: None,
            since: Some(since),
            until: Some(until),
            campaign: self.campaign,
        }
    }

    /// Reads both periods' texts and analyses them.
    pub(super) async fn report(&self, store: &dyn Store) -> Result<SaidReport, StoreError> {
        let questions = self.flow.spoken_questions();
        let previous_since = self.since - (self.until - self.since);
        let condition = self.condition.as_ref().map(|(_, c)| c);
        let now = texts(
            store,
            &questions,
            &self.filter(self.since, self.until),
            condition,
        )
        .await?;
        let before = texts(
            store,
            &questions,
            &self.filter(previous_since, self.since),
            condition,
        )
        .await?;
        let topics = self.flow.topics.clone();
        // Segmentation is CPU work: off the async workers.
        let (now, before) = tokio::task::spawn_blocking(move || {
            let limits = Limits::default();
            (
                analyse(&now, &topics, &DISCOVERY, limits),
                analyse(&before, &topics, &DISCOVERY, limits),
            )
        })
        .await
        // Only a panic in the analysis gets here: let it be one, as it would
        // have been without the thread.
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let changes = compare(&now, &before);
        let topics = now
            .topics
            .into_iter()
            .zip(changes)
            .map(|(t, c)| TopicLine {
                name: t.name,
                callers: t.callers,
                share: t.share,
                previous: c.previous,
                change: c.ratio,
                quotes: t.quotes,
                calls: t.calls,
            })
            .collect();
        Ok(SaidReport {
            flow: self.flow.name.clone(),
            since: self.since,
            until: self.until,
            previous_since,
            campaign: self.campaign,
            condition: self.condition.as_ref().map(|(text, _)| text.clone()),
            questions: questions.into_iter().collect(),
            callers: now.callers,
            previous_callers: before.callers,
            topics,
            unnamed: now
                .unnamed
                .into_iter()
                .map(|p| PhraseLine {
                    phrase: p.phrase,
                    callers: p.callers,
                    quotes: p.quotes,
                    calls: p.calls,
                })
                .collect(),
        })
    }
}

/// `GET /api/said/{flow}` (JSON) and `GET /api/said/{flow}.csv`.
pub(super) async fn said(
    State(state): State<AppState>,
    _: ResultsReader,
    Path(file): Path<String>,
    Query(mut params): Query<SaidParams>,
) -> Result<Response, ApiError> {
    let (name, csv) = match file.strip_suffix(".csv") {
        Some(name) => (name, true),
        None => (file.as_str(), false),
    };
    params.flow = name.to_owned();
    let now = state.settings().clock.now();
    let report = params.read(&state, now)?.report(state.store()).await?;
    if !csv {
        return Ok(Json(report).into_response());
    }
    let mut response = Body::from(to_csv(&report)).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}-said.csv\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// One line per topic, then one per unnamed phrase.
pub(super) fn to_csv(report: &SaidReport) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to memory fails only on I/O, which memory has none of.
    let written = csv_lines(&mut w, report);
    debug_assert!(written.is_ok(), "{written:?}");
    w.into_inner().unwrap_or_default()
}

fn csv_lines(w: &mut csv::Writer<Vec<u8>>, report: &SaidReport) -> Result<(), csv::Error> {
    w.write_record([
        "kind",
        "name",
        "callers",
        "share",
        "previous_callers",
        "change",
        "calls",
        "quotes",
    ])?;
    for t in &report.topics {
        w.write_record([
            "topic".to_owned(),
            t.name.clone(),
            t.callers.to_string(),
            format!("{:.4}", t.share),
            t.previous.to_string(),
            t.change.map(|c| format!("{c:.4}")).unwrap_or_default(),
            t.calls.len().to_string(),
            t.quotes.join(" | "),
        ])?;
    }
    for p in &report.unnamed {
        w.write_record([
            "unnamed".to_owned(),
            p.phrase.clone(),
            p.callers.to_string(),
            String::new(),
            String::new(),
            String::new(),
            p.calls.len().to_string(),
            p.quotes.join(" | "),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_condition_is_shown_with_a_caret_under_the_problem() {
        let names = BTreeMap::from([("csat".to_string(), AnswerType::Number)]);
        let text = "csat = 2";
        let err = condition::parse(text, &names).expect_err("a single =");
        let shown = diagnostic(text, &err);
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(
            lines[..3],
            [
                "the condition cannot be read: a single `=` is not a comparison",
                "  csat = 2",
                "       ^",
            ]
        );
    }
}
