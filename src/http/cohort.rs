//! `POST /api/campaigns` with a JSON body naming `from_calls`: a cohort
//! campaign, the people whose earlier call of one flow matches a condition
//! (`crate::dialer::cohort`). `dry_run` counts them and shows a few, masked,
//! and creates nothing. The dashboard's "Re-call a cohort" form goes
//! through [`run`] too.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::admin::ApiError;
use crate::dialer::cohort::{self, Cohort, CohortQuery, EXAMPLES, NewCohortCampaign};
use crate::dialer::settings::PlanSettings;
use crate::report::parse_bound;
use crate::store::campaigns::CampaignStatus;

/// The request: the flow to call with, where its people come from, the
/// plan (the settings of `POST /api/campaigns?…`, as JSON), and whether to
/// only look.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CohortRequest {
    pub(super) flow: String,
    #[serde(default)]
    pub(super) name: Option<String>,
    pub(super) from_calls: FromCalls,
    #[serde(default)]
    pub(super) plan: PlanSettings,
    #[serde(default)]
    pub(super) dry_run: bool,
}

/// Which earlier calls: a flow, a condition on their answers in the flow
/// language, and a period (`since` required: a cohort is about a time).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FromCalls {
    pub(super) flow: String,
    #[serde(rename = "where")]
    pub(super) condition: String,
    pub(super) since: String,
    #[serde(default)]
    pub(super) until: Option<String>,
}

/// What [`run`] did.
pub(super) enum Ran {
    /// A dry run: who would be called.
    Looked { query: CohortQuery, cohort: Cohort },
    /// The campaign (a draft) and who it will call.
    Created {
        id: i64,
        query: CohortQuery,
        cohort: Cohort,
        plan: serde_json::Value,
    },
}

/// Checks the request, finds the cohort and, unless it is a dry run,
/// creates the campaign. A condition that does not parse is a 400 whose
/// message is the `where:1:COLUMN:` diagnostic.
pub(super) async fn run(state: &AppState, r: &CohortRequest) -> Result<Ran, ApiError> {
    let target = state.flow(&r.flow).ok_or(ApiError::NotFound("flow"))?;
    let source = state
        .flow(&r.from_calls.flow)
        .ok_or(ApiError::NotFound("flow"))?;
    cohort::check_target(target).map_err(ApiError::BadRequest)?;
    let spec = r.plan.to_spec().map_err(ApiError::BadRequest)?;
    crate::dialer::settings::check_against_flow(&spec, target).map_err(ApiError::BadRequest)?;
    let zone = spec.timezone.parse().map_err(|_| {
        ApiError::BadRequest(format!("timezone: `{}` is not an IANA zone", spec.timezone))
    })?;
    let since = parse_bound(r.from_calls.since.trim(), false)
        .map_err(|e| ApiError::BadRequest(format!("from_calls.since: {e}")))?;
    let until = match r.from_calls.until.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u) => Some(
            parse_bound(u, true)
                .map_err(|e| ApiError::BadRequest(format!("from_calls.until: {e}")))?,
        ),
    };
    let query = CohortQuery::parse("where", &r.from_calls.condition, source, since, until)
        .map_err(ApiError::BadRequest)?;
    let found = cohort::find(state.store(), &query).await?;
    if r.dry_run {
        return Ok(Ran::Looked {
            query,
            cohort: found,
        });
    }
    let plan = spec.to_json();
    let id = cohort::create(
        state.store(),
        NewCohortCampaign {
            name: r.name.clone().unwrap_or_else(|| target.name.clone()),
            target,
            plan: plan.clone(),
            zone,
            created_at: state.settings().clock.now(),
        },
        &found,
    )
    .await?;
    tracing::info!(
        campaign = id,
        contacts = found.chosen.len(),
        source = %query.flow,
        "cohort campaign created"
    );
    Ok(Ran::Created {
        id,
        query,
        cohort: found,
        plan,
    })
}

/// The JSON both answers share: counts and masked examples.
fn found(query: &CohortQuery, cohort: &Cohort) -> serde_json::Value {
    json!({
        "from_calls": {
            "flow": query.flow,
            "where": query.text,
            "since": query.since,
            "until": query.until,
        },
        "contacts": cohort.chosen.len(),
        "calls_read": cohort.calls_read,
        "calls_matched": cohort.calls_matched,
        "opted_out": cohort.opted_out,
        "examples": cohort.examples(EXAMPLES),
    })
}

/// `POST /api/campaigns` with `Content-Type: application/json`.
pub(super) async fn create(state: &AppState, body: &[u8]) -> Result<Response, ApiError> {
    let request: CohortRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the JSON body: {e}")))?;
    match run(state, &request).await? {
        Ran::Looked { query, cohort } => {
            let mut answer = found(&query, &cohort);
            answer["dry_run"] = json!(true);
            Ok((StatusCode::OK, Json(answer)).into_response())
        }
        Ran::Created {
            id,
            query,
            cohort,
            plan,
        } => {
            let mut answer = found(&query, &cohort);
            answer["id"] = json!(id);
            answer["status"] = json!(CampaignStatus::Draft);
            answer["flow"] = json!(request.flow);
            answer["plan"] = plan;
            Ok((StatusCode::CREATED, Json(answer)).into_response())
        }
    }
}
