//! "Re-call a cohort": the dashboard's form for a cohort campaign — the
//! flow to call with, the earlier calls (flow, condition, period) and the
//! calling window. *Preview* is the dry run (how many, a few masked
//! examples); *Create* makes the campaign, a draft to start from the API or
//! `dialback campaign start`. The work is `crate::http::cohort`'s, shared
//! with `POST /api/campaigns`.

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::pages::{flow_names, ser};
use super::session::{SignedIn, html_headers, same_origin};
use super::{PageError, render};
use crate::dialer::cohort::EXAMPLES;
use crate::dialer::settings::PlanSettings;
use crate::http::AppState;
use crate::http::admin::ApiError;
use crate::http::cohort::{CohortRequest, FromCalls, Ran, run};

/// The form, as typed.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub(super) struct CohortForm {
    #[serde(default)]
    flow: String,
    #[serde(default)]
    source: String,
    #[serde(default, rename = "where")]
    condition: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    window: String,
    #[serde(default)]
    max_attempts: String,
    #[serde(default)]
    name: String,
    /// `preview` or `create`.
    #[serde(default)]
    action: String,
}

fn page(status: StatusCode, context: minijinja::Value) -> Result<Response, PageError> {
    Ok((status, html_headers(), render("cohort.html", context)?).into_response())
}

/// `GET /cohort`: the empty form.
pub(super) async fn form(
    State(state): State<AppState>,
    _: SignedIn,
) -> Result<Response, PageError> {
    let filled = CohortForm {
        window: "09:00-20:00".into(),
        max_attempts: "3".into(),
        ..CohortForm::default()
    };
    page(
        StatusCode::OK,
        minijinja::context! {
            page => "cohort",
            form => ser(&filled),
            flow_names => flow_names(&state),
        },
    )
}

/// `POST /cohort`: preview or create.
pub(super) async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): super::session::Peer,
    headers: HeaderMap,
    Form(form): Form<CohortForm>,
) -> Result<Response, PageError> {
    if !super::is_signed_in(&state, &headers, peer) {
        return Err(PageError::Unauthorized);
    }
    same_origin(&state, &headers)?;
    let base = minijinja::context! {
        page => "cohort",
        form => ser(&form),
        flow_names => flow_names(&state),
    };
    let max_attempts = match form.max_attempts.trim() {
        "" => None,
        n => match n.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                let error = format!("max attempts: {n:?} is not a whole number");
                return page(
                    StatusCode::BAD_REQUEST,
                    minijinja::context! { error, ..base },
                );
            }
        },
    };
    let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    let request = CohortRequest {
        flow: form.flow.trim().to_owned(),
        name: text(&form.name),
        from_calls: FromCalls {
            flow: form.source.trim().to_owned(),
            condition: form.condition.clone(),
            since: form.since.trim().to_owned(),
            until: text(&form.until),
        },
        plan: PlanSettings {
            window: text(&form.window),
            max_attempts,
            ..PlanSettings::default()
        },
        dry_run: form.action != "create",
    };
    match run(&state, &request).await {
        Ok(Ran::Looked { query, cohort }) => page(
            StatusCode::OK,
            minijinja::context! {
                summary => cohort.summary(&query),
                matched => cohort.chosen.len(),
                examples => ser(&cohort.examples(EXAMPLES)),
                ..base
            },
        ),
        Ok(Ran::Created {
            id, query, cohort, ..
        }) => page(
            StatusCode::OK,
            minijinja::context! {
                summary => cohort.summary(&query),
                matched => cohort.chosen.len(),
                created => id,
                ..base
            },
        ),
        Err(ApiError::BadRequest(error)) => page(
            StatusCode::BAD_REQUEST,
            minijinja::context! { error, ..base },
        ),
        Err(ApiError::NotFound(what)) => page(
            StatusCode::BAD_REQUEST,
            minijinja::context! { error => format!("Choose a {what} from the list."), ..base },
        ),
        Err(ApiError::Store(e)) => Err(PageError::Store(e)),
        Err(ApiError::Unauthorized) => Err(PageError::Unauthorized),
    }
}
