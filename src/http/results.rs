//! `GET /api/results/{flow}` (the flow's report as JSON) and
//! `GET /api/results/{flow}.csv` (one row per call, streamed): admin token
//! required, phone numbers masked unless `?unmasked=true`. The dashboard's
//! signed-in session may fetch the CSV too (`super::dashboard`).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use serde::Deserialize;

use super::AppState;
use super::admin::{Admin, ApiError, ResultsReader};
use crate::report::export::{ExportOptions, Format, export};
use crate::report::{FlowReport, QuestionSpec, parse_bound};
use crate::store::ReportFilter;

#[derive(Deserialize)]
pub(super) struct ResultsQuery {
    since: Option<String>,
    until: Option<String>,
    /// A flow version (content hash).
    version: Option<String>,
    /// Only calls placed for this campaign id.
    campaign: Option<i64>,
    #[serde(default)]
    unmasked: bool,
}

pub(super) async fn results(
    State(state): State<AppState>,
    _: ResultsReader,
    Path(file): Path<String>,
    Query(q): Query<ResultsQuery>,
) -> Result<Response, ApiError> {
    let (name, csv) = match file.strip_suffix(".csv") {
        Some(name) => (name, true),
        None => (file.as_str(), false),
    };
    let flow = state.flow(name).ok_or(ApiError::NotFound("flow"))?;
    let questions = QuestionSpec::of(flow);
    let bound = |text: &Option<String>, is_until| {
        text.as_deref()
            .map(|t| parse_bound(t, is_until))
            .transpose()
            .map_err(ApiError::BadRequest)
    };
    let filter = ReportFilter {
        flow: flow.name.clone(),
        flow_hash: q.version.clone(),
        since: bound(&q.since, false)?,
        until: bound(&q.until, true)?,
        campaign: q.campaign,
    };
    if !csv {
        let report = FlowReport::load(state.store(), &questions, &filter).await?;
        return Ok(Json(report).into_response());
    }
    let options = ExportOptions {
        format: Format::Csv,
        unmasked: q.unmasked,
    };
    let body = export(state.store_handle(), questions, filter, options).inspect_err(|e| {
        tracing::error!(error = %e, "store failed during a CSV export; response cut short");
    });
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    let mut response = Body::from_stream(body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// `GET /api/opt-outs.csv`: the do-not-call list, full numbers, admin only.
pub(super) async fn opt_outs(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Response, ApiError> {
    let csv = crate::report::privacy::opt_outs_csv(state.store()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"opt-outs.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// The admin API described for client generators and people, kept by hand
/// beside the routes (a test checks that every `/api` route is in it).
pub(super) const OPENAPI: &str = include_str!("openapi.json");

/// `GET /api/openapi.json`: public, it describes the API and holds no data.
pub(super) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
