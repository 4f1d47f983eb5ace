//! The campaigns admin API: status counts, and start / pause / resume /
//! cancel. Same admin-token rule as the rest of `/api`.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use chrono::Utc;
use serde_json::{Value, json};

use super::AppState;
use super::admin::{ApiError, authorize};

/// `GET /api/campaigns/{id}`: the campaign and its contacts counted by state.
pub(super) async fn status(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, peer)?;
    let campaigns = state.store().campaigns();
    let row = campaigns
        .campaign(id)
        .await?
        .ok_or(ApiError::NotFound("campaign"))?;
    let counts = campaigns.contact_counts(id).await?;
    Ok(Json(json!({
        "id": row.id, "name": row.name, "flow": row.flow, "status": row.status,
        "plan": row.plan, "created_at": row.created_at, "contacts": counts,
    })))
}

#[derive(serde::Deserialize)]
pub(super) struct Recall {
    /// The flow to run; the campaign's when absent.
    flow: Option<String>,
    /// From when; the contact's window still applies.
    at: chrono::DateTime<Utc>,
}

/// `POST /api/contacts/{id}/recall` `{"flow": "…", "at": "RFC 3339"}`:
/// closed loop, call this person again after a fix.
pub(super) async fn recall(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(body): Json<Recall>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, peer)?;
    if let Some(flow) = &body.flow
        && state.flow(flow).is_none()
    {
        return Err(ApiError::NotFound("flow"));
    }
    let moved = state
        .store()
        .campaigns()
        .recall(id, body.flow.as_deref(), body.at)
        .await?;
    if !moved {
        return Err(ApiError::NotFound("contact that may be called again"));
    }
    Ok(Json(
        json!({ "contact": id, "flow": body.flow, "at": body.at }),
    ))
}

/// `POST /api/campaigns/{id}/{start|pause|resume|cancel}`.
pub(super) async fn act(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((id, action)): Path<(i64, String)>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, peer)?;
    let campaigns = state.store().campaigns();
    let moved = match action.as_str() {
        "start" | "resume" => campaigns.start_campaign(id, Utc::now()).await?,
        "pause" => {
            campaigns
                .set_campaign_status(id, &["running"], "paused")
                .await?
        }
        "cancel" => {
            campaigns
                .set_campaign_status(id, &["draft", "running", "paused"], "cancelled")
                .await?
        }
        _ => return Err(ApiError::NotFound("campaign action")),
    };
    if !moved {
        return Err(ApiError::NotFound("campaign in a status allowing that"));
    }
    let row = campaigns
        .campaign(id)
        .await?
        .ok_or(ApiError::NotFound("campaign"))?;
    Ok(Json(json!({ "id": id, "status": row.status })))
}
