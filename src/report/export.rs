//! Exports: one row per call, one column per question, as CSV or JSON lines,
//! produced page by page so that any number of calls streams in constant
//! memory (see [`crate::store::ReportStore::export_page`]).
//!
//! Phone numbers are masked unless the caller of [`export`] asks otherwise;
//! the HTTP and CLI edges only do so on an explicit flag.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::{self, Stream};
use serde_json::{Map, Value as Json};

use super::aggregate::QuestionSpec;
use crate::flow::model::QuestionKind;
use crate::flow::value::Value;
use crate::phone::PhoneNumber;
use crate::store::reports::{ExportCall, ExportCursor, ReportFilter};
use crate::store::{Store, StoreError};

/// Calls per page: big enough that the per-page round trips do not matter,
/// small enough that a page is a few hundred kilobytes.
const PAGE: i64 = 500;

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON object per line (JSON Lines), so it streams like CSV.
    Json,
}

/// How an export is made.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    pub format: Format,
    /// Full phone numbers instead of masked ones.
    pub unmasked: bool,
}

/// The column names, in order: the call's, then per question its value and,
/// for questions answered by keypad or voice, `<id>_input` with what the
/// caller literally pressed or said; for a recorded question,
/// `<id>_transcript` with the recording's transcript, and the speech-to-text
/// model and its confidence (empty when the service gave none).
pub fn columns(questions: &[QuestionSpec]) -> Vec<String> {
    let mut cols: Vec<String> = [
        "call_sid",
        "flow_version",
        "direction",
        "from",
        "to",
        "status",
        "outcome",
        "started_at",
        "ended_at",
        // The chain: the earlier call this one follows up, and the handoff
        // it confirmed (a confirmation call).
        "follows_call_sid",
        "follows_handoff_id",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for q in questions {
        cols.push(q.id.clone());
        if has_input(&q.kind) {
            cols.push(format!("{}_input", q.id));
        } else {
            for suffix in TRANSCRIPT_COLUMNS {
                cols.push(format!("{}{suffix}", q.id));
            }
        }
    }
    cols
}

/// The columns a recorded question's transcript adds.
const TRANSCRIPT_COLUMNS: [&str; 3] =
    ["_transcript", "_transcript_model", "_transcript_confidence"];

fn has_input(kind: &QuestionKind) -> bool {
    !matches!(kind, QuestionKind::Record { .. })
}

/// One call's cells, in [`columns`] order.
pub fn cells(call: &ExportCall, questions: &[QuestionSpec], unmasked: bool) -> Vec<String> {
    let c = &call.call;
    let phone = |p: &str| if unmasked { p.to_owned() } else { mask(p) };
    let mut row = vec![
        c.call_sid.to_string(),
        c.flow_hash.clone(),
        c.direction.to_string(),
        phone(&c.from),
        phone(&c.to),
        c.status.to_string(),
        c.outcome.map(|o| o.to_string()).unwrap_or_default(),
        timestamp(&c.started_at),
        c.ended_at.as_ref().map(timestamp).unwrap_or_default(),
        c.follows
            .as_ref()
            .map(|f| f.call.to_string())
            .unwrap_or_default(),
        c.follows
            .as_ref()
            .and_then(|f| f.handoff)
            .map(|h| h.to_string())
            .unwrap_or_default(),
    ];
    // The last answer to a question wins: answers are in the order given.
    let mut last: BTreeMap<&str, (&Json, Option<&str>)> = BTreeMap::new();
    for a in &call.answers {
        last.insert(&a.question, (&a.value, a.raw.as_deref()));
    }
    for q in questions {
        let answer = last.get(q.id.as_str());
        row.push(answer.map(|(v, _)| cell(v)).unwrap_or_default());
        if has_input(&q.kind) {
            row.push(
                answer
                    .and_then(|(_, raw)| *raw)
                    .unwrap_or_default()
                    .to_owned(),
            );
        } else {
            // The last transcribed recording of the question, as its answer.
            let t = call
                .recordings
                .iter()
                .rev()
                .filter(|r| r.question == q.id)
                .find_map(|r| r.transcript.as_ref());
            row.push(t.map(|t| t.text.clone()).unwrap_or_default());
            row.push(t.map(|t| t.model.clone()).unwrap_or_default());
            row.push(
                t.and_then(|t| t.confidence)
                    .map(|c| format!("{c:.2}"))
                    .unwrap_or_default(),
            );
        }
    }
    row
}

/// An answer value as analysts read it: `yes`/`no`, numbers, text, and a
/// recording's URL.
fn cell(value: &Json) -> String {
    match serde_json::from_value::<Value>(value.clone()) {
        Ok(Value::Recording { url, .. }) => url,
        Ok(v) => v.to_string(),
        Err(_) => value.to_string(),
    }
}

/// A phone number as exports show it by default; anything that is not an
/// E.164 number (`client:…`, `sip:…`, anonymous) is hidden entirely.
pub fn mask(phone: &str) -> String {
    match PhoneNumber::parse(phone) {
        Ok(p) => p.masked(),
        Err(_) if phone.is_empty() => String::new(),
        Err(_) => "****".to_owned(),
    }
}

fn timestamp(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The export as a stream of byte chunks: the header (CSV), then one chunk
/// per page of calls. A store failure mid-way ends the stream with an error,
/// which cuts the HTTP response short rather than sending a truncated file
/// that looks complete.
pub fn export(
    store: Arc<dyn Store>,
    questions: Vec<QuestionSpec>,
    filter: ReportFilter,
    options: ExportOptions,
) -> impl Stream<Item = Result<Bytes, StoreError>> + Send + 'static {
    struct Cursor {
        after: Option<ExportCursor>,
        header: bool,
        done: bool,
    }
    let start = Cursor {
        after: None,
        header: options.format == Format::Csv,
        done: false,
    };
    let names = columns(&questions);
    stream::try_unfold(start, move |mut cur| {
        let store = store.clone();
        let questions = questions.clone();
        let filter = filter.clone();
        let options = options.clone();
        let names = names.clone();
        async move {
            if cur.header {
                cur.header = false;
                return Ok(Some((csv_line(&names)?, cur)));
            }
            if cur.done {
                return Ok(None);
            }
            let page = store
                .reports()
                .export_page(&filter, cur.after.as_ref(), PAGE)
                .await?;
            cur.done = (page.len() as i64) < PAGE;
            cur.after = page.last().map(ExportCall::cursor);
            if page.is_empty() {
                return Ok(None);
            }
            let mut out = Vec::new();
            for call in &page {
                let row = cells(call, &questions, options.unmasked);
                match options.format {
                    Format::Csv => out.extend_from_slice(&csv_line(&row)?),
                    Format::Json => {
                        let object: Map<String, Json> = names
                            .iter()
                            .cloned()
                            .zip(row.into_iter().map(Json::String))
                            .collect();
                        out.extend_from_slice(Json::Object(object).to_string().as_bytes());
                        out.push(b'\n');
                    }
                }
            }
            Ok(Some((Bytes::from(out), cur)))
        }
    })
}

/// One CSV record, quoted where needed, CRLF-terminated as RFC 4180 says.
fn csv_line(fields: &[String]) -> Result<Bytes, StoreError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(fields).map_err(csv_error)?;
    w.into_inner()
        .map(Bytes::from)
        .map_err(|e| csv_error(e.into_error().into()))
}

/// Writing CSV to memory only fails on a bug; reported as a store error so
/// the stream has one error type.
fn csv_error(e: csv::Error) -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(format!("CSV writer: {e}")))
}
