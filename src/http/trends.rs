//! Trends, shared by the admin API (`GET /api/trends/{flow}`, JSON, and
//! `GET /api/trends/{flow}.csv`) and the dashboard's Trends page: the
//! parameters read once here, the figures computed by
//! [`crate::report::trends`].

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::admin::{ApiError, ResultsReader};
use crate::report::trends::{MAX_PERIODS, Trends, default_period, periods_in, trend_questions};
use crate::report::{parse_campaign, parse_period};
use crate::store::ReportFilter;
use crate::store::trends::Period;

/// The range shown when none is asked for: twelve weeks up to now.
const DEFAULT_WEEKS: i64 = 12;

/// What to show, as typed in a form or a query string; empty means "any"
/// (or, for the range, the last twelve weeks; for `by`, days when the range
/// is three weeks or less). The API's `since`/`until` and the dashboard's
/// `from`/`to` are the same fields.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub(super) struct TrendsParams {
    #[serde(default)]
    pub(super) flow: String,
    #[serde(default)]
    pub(super) campaign: String,
    #[serde(default, alias = "since")]
    pub(super) from: String,
    #[serde(default, alias = "until")]
    pub(super) to: String,
    /// `day`, `week`, or empty for the default.
    #[serde(default)]
    pub(super) by: String,
}

/// Why the parameters could not be read.
#[derive(Debug)]
pub(super) enum TrendsError {
    /// 400: the message says which parameter and why.
    Bad(String),
    /// 404: no such flow.
    NoFlow,
    /// 500: the store failed.
    Store(crate::store::StoreError),
}

impl From<crate::store::StoreError> for TrendsError {
    fn from(e: crate::store::StoreError) -> Self {
        TrendsError::Store(e)
    }
}

impl From<TrendsError> for ApiError {
    fn from(e: TrendsError) -> Self {
        match e {
            TrendsError::Bad(why) => ApiError::BadRequest(why),
            TrendsError::NoFlow => ApiError::NotFound("flow"),
            TrendsError::Store(e) => ApiError::Store(e),
        }
    }
}

impl TrendsParams {
    /// Reads the parameters; `now` ends the default range.
    pub(super) fn read(
        &self,
        state: &AppState,
        now: DateTime<Utc>,
    ) -> Result<(ReportFilter, Period), TrendsError> {
        let flow = state.flow(self.flow.trim()).ok_or(TrendsError::NoFlow)?;
        let campaign = parse_campaign(&self.campaign).map_err(TrendsError::Bad)?;
        let (since, until) =
            parse_period(&self.from, &self.to, now, Duration::weeks(DEFAULT_WEEKS))
                .map_err(TrendsError::Bad)?;
        let by = match self.by.trim() {
            "" => default_period(Some(since), Some(until)),
            text => Period::parse(text).map_err(TrendsError::Bad)?,
        };
        if periods_in(by, Some(since), Some(until)).is_some_and(|n| n > MAX_PERIODS) {
            return Err(TrendsError::Bad(format!(
                "the range holds more than {MAX_PERIODS} {}s: narrow it{}",
                by.as_str(),
                if by == Period::Day {
                    " or use by=week"
                } else {
                    ""
                }
            )));
        }
        let filter = ReportFilter {
            flow: flow.name.clone(),
            flow_hash: None,
            since: Some(since),
            until: Some(until),
            campaign,
        };
        Ok((filter, by))
    }

    /// The trend these parameters select.
    pub(super) async fn load(
        &self,
        state: &AppState,
        now: DateTime<Utc>,
    ) -> Result<Trends, TrendsError> {
        let (filter, by) = self.read(state, now)?;
        let flow = state.flow(&filter.flow).ok_or(TrendsError::NoFlow)?;
        let questions = trend_questions(flow);
        Ok(Trends::load(state.store(), questions, &filter, by).await?)
    }
}

/// `GET /api/trends/{flow}` (JSON) and `GET /api/trends/{flow}.csv`.
pub(super) async fn trends(
    State(state): State<AppState>,
    _: ResultsReader,
    Path(file): Path<String>,
    Query(mut params): Query<TrendsParams>,
) -> Result<Response, ApiError> {
    let (name, csv) = match file.strip_suffix(".csv") {
        Some(name) => (name, true),
        None => (file.as_str(), false),
    };
    params.flow = name.to_owned();
    let now = state.settings().clock.now();
    let trends = params.load(&state, now).await?;
    if !csv {
        return Ok(Json(trends).into_response());
    }
    let mut response = Body::from(trends.to_csv()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}-trends.csv\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
