//! `POST /api/campaigns`: a campaign created from settings in the query
//! string and the contacts CSV as the body (`Content-Type: text/csv`); or,
//! with a JSON body naming `from_calls`, a cohort of earlier calls
//! (`super::cohort`).
//!
//! Why a CSV body rather than `multipart/form-data`: the file is the only
//! part, so a form adds a boundary parser and nothing else, and `curl
//! --data-binary @customers.csv` is the whole client. The settings are the
//! CLI's flags with the same names and the same parser
//! ([`crate::dialer::settings`]).
//!
//! The body is streamed into the CSV reader on a blocking thread as it
//! arrives, never collected whole: only the parsed contacts are held (they
//! must be, to merge duplicates and insert them in one transaction).

use std::io::Read;

use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Buf, Bytes};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::AppState;
use super::admin::{Admin, ApiError};
use crate::dialer::contacts::{CsvOptions, read_contacts};
use crate::dialer::settings::PlanSettings;
use crate::store::campaigns::{CampaignStatus, NewCampaign};

/// The largest contacts file taken (about 1.5 million short rows); bigger
/// ones are refused with 413 rather than filling the memory.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The largest JSON body taken (a cohort's condition and settings).
const MAX_JSON: usize = 64 * 1024;

/// The query string: the flow by name, and [`PlanSettings`]' fields.
/// Listed rather than `#[serde(flatten)]`ed: flattening turns every query
/// value into a string and `max_attempts=3` would no longer read as a number.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateQuery {
    flow: String,
    name: Option<String>,
    /// Country calling code for numbers written without one.
    country: Option<String>,
    phone_column: Option<String>,
    window: Option<String>,
    timezone: Option<String>,
    max_attempts: Option<u32>,
    start: Option<String>,
    end: Option<String>,
    backoff: Option<String>,
    ring_timeout: Option<String>,
    machine_detection: Option<bool>,
    machine: Option<String>,
}

/// `POST /api/campaigns?flow=…&window=…` with the contacts CSV as the body:
/// `201 {"id", "imported", "duplicates", "refused": [{"line", "reason"}]}`.
pub(super) async fn create(
    State(state): State<AppState>,
    _: Admin,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_start().to_ascii_lowercase())
        .unwrap_or_default();
    if content_type.starts_with("application/json") {
        // A cohort: small (a condition and settings), read whole.
        let body = axum::body::to_bytes(body, MAX_JSON)
            .await
            .map_err(|e| ApiError::BadRequest(format!("the JSON body: {e}")))?;
        return super::cohort::create(&state, &body).await;
    }
    if !content_type.starts_with("text/csv") {
        let message = "send the contacts file as the body with Content-Type: text/csv, \
            or a cohort of earlier calls as JSON (`from_calls`) with Content-Type: application/json";
        return Ok((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Json(json!({ "error": message })),
        )
            .into_response());
    }
    let q: CreateQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("the query string: {e}")))?;
    let flow = state
        .flow(&q.flow)
        .ok_or(ApiError::NotFound("flow"))?
        .clone();
    let spec = PlanSettings {
        window: q.window,
        timezone: q.timezone,
        max_attempts: q.max_attempts,
        start: q.start,
        end: q.end,
        backoff: q.backoff,
        ring_timeout: q.ring_timeout,
        machine_detection: q.machine_detection,
        machine: q.machine,
    }
    .to_spec()
    .map_err(ApiError::BadRequest)?;
    crate::dialer::settings::check_against_flow(&spec, &flow).map_err(ApiError::BadRequest)?;
    let defaults = CsvOptions::default();
    let options = CsvOptions {
        phone_column: q.phone_column.unwrap_or(defaults.phone_column),
        country_code: q.country.unwrap_or(defaults.country_code),
        required_vars: flow.vars.iter().map(|v| v.name.clone()).collect(),
    };

    let (tx, rx) = mpsc::channel(16);
    let parse = tokio::task::spawn_blocking(move || {
        read_contacts(
            ChannelReader {
                rx,
                chunk: Bytes::new(),
            },
            &options,
            |_| {},
        )
    });
    let too_large = pump(body, tx).await;
    let parsed = parse.await.map_err(|e| {
        tracing::error!(error = %e, "the contacts parser panicked");
        ApiError::BadRequest("the contacts file could not be read".into())
    })?;
    if too_large {
        let message = format!(
            "the contacts file is over {} MiB; split it",
            MAX_BODY / 1024 / 1024
        );
        return Ok((
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(json!({ "error": message })),
        )
            .into_response());
    }
    let imported = parsed.map_err(|e| ApiError::BadRequest(e.to_string()))?;

    let campaigns = state.store().campaigns();
    let id = campaigns
        .create_campaign(NewCampaign {
            name: q.name.unwrap_or_else(|| flow.name.clone()),
            flow: flow.name.clone(),
            plan: spec.to_json(),
            created_at: state.settings().clock.now(),
        })
        .await?;
    let rows: Vec<_> = imported
        .contacts
        .iter()
        .map(|c| c.to_new_contact(None))
        .collect();
    campaigns.add_contacts(id, &rows).await?;
    let refused: Vec<_> = imported
        .errors
        .iter()
        .map(|e| json!({ "line": e.line, "reason": e.reason }))
        .collect();
    tracing::info!(
        campaign = id,
        contacts = rows.len(),
        refused = refused.len(),
        "campaign created"
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": id,
            "status": CampaignStatus::Draft,
            "flow": flow.name,
            "plan": spec.to_json(),
            "imported": rows.len(),
            "duplicates": imported.duplicates,
            "refused": refused,
        })),
    )
        .into_response())
}

/// Forwards the body's chunks to the parser until the end, a read error,
/// the parser stopping (a bad header), or [`MAX_BODY`]; `true` for the last.
async fn pump(body: Body, tx: mpsc::Sender<std::io::Result<Bytes>>) -> bool {
    let mut stream = body.into_data_stream();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let item = match chunk {
            Ok(bytes) => {
                total += bytes.len();
                if total > MAX_BODY {
                    let _ = tx
                        .send(Err(std::io::Error::other("the body is too large")))
                        .await;
                    return true;
                }
                Ok(bytes)
            }
            Err(e) => Err(std::io::Error::other(e)),
        };
        let failed = item.is_err();
        if tx.send(item).await.is_err() || failed {
            break;
        }
    }
    false
}

/// The body's chunks as a blocking [`Read`] for the `csv` crate, which
/// reads synchronously; used on a blocking thread only.
struct ChannelReader {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    chunk: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        Ok(n)
    }
}
