//! The admin API (JSON). Every route needs `Authorization: Bearer <admin
//! token>`; with no token configured, only this machine may ask.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::AppState;

/// The admin API's errors, each with its status code. Internals are logged,
/// never sent.
pub(super) enum ApiError {
    /// 401: no or wrong admin token.
    Unauthorized,
    /// 404: no such call or handoff.
    NotFound(&'static str),
    /// 400: a query parameter that cannot be read; the message says which.
    BadRequest(String),
    /// 500: the store failed.
    Store(crate::store::StoreError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let failed = super::metrics::StoreFailed::when(matches!(self, ApiError::Store(_)));
        let (status, message) = match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "a valid admin token is required".to_string(),
            ),
            ApiError::NotFound(what) => (StatusCode::NOT_FOUND, format!("no such {what}")),
            ApiError::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
            ApiError::Store(e) => {
                tracing::error!(error = %e, "store failed in the admin API");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the database is unavailable".to_string(),
                )
            }
        };
        (status, failed, Json(json!({ "error": message }))).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::Store(e)
    }
}

pub(super) fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<(), ApiError> {
    match &state.settings().admin_token {
        Some(token) => {
            let given = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            if bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
                Ok(())
            } else {
                Err(ApiError::Unauthorized)
            }
        }
        None if peer.ip().is_loopback() => Ok(()),
        None => Err(ApiError::Unauthorized),
    }
}

/// `GET /api/calls/{CallSid}`: the call and its answers, with the value
/// types of `simulate --json` (yes/no as booleans, numbers as numbers).
pub(super) async fn call(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(call_sid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, peer)?;
    let row = state
        .store()
        .load_call(&call_sid)
        .await?
        .ok_or(ApiError::NotFound("call"))?;
    let mut answers = Map::new();
    for a in state.store().answers(&call_sid).await? {
        // A question asked again (a flow that loops back) keeps its latest answer.
        answers.insert(a.question, a.value);
    }
    Ok(Json(json!({
        "call_sid": row.call_sid,
        "flow": row.flow,
        "flow_version": row.flow_hash,
        "direction": row.direction,
        "status": row.status,
        "outcome": row.outcome,
        "started_at": row.started_at,
        "ended_at": row.ended_at,
        "answers": answers,
    })))
}

#[derive(Deserialize)]
pub(super) struct HandoffQuery {
    status: Option<String>,
}

/// `GET /api/handoffs?status=open`: callers whose issue is still open.
pub(super) async fn handoffs(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<HandoffQuery>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, peer)?;
    let rows = state.store().handoffs(q.status.as_deref()).await?;
    let list: Vec<Value> = rows
        .into_iter()
        .map(|h| {
            json!({
                "id": h.id, "call_sid": h.call_sid, "flow": h.flow, "step": h.step, "target": h.target,
                "status": h.status, "reason": h.reason, "summary": h.summary,
                "created_at": h.created_at, "resolved_at": h.resolved_at,
            })
        })
        .collect();
    Ok(Json(json!({ "handoffs": list })))
}

/// `POST /api/handoffs/{id}/resolve`: someone followed the caller up.
pub(super) async fn resolve_handoff(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers, peer)?;
    if state
        .store()
        .resolve_handoff(id, chrono::Utc::now())
        .await?
    {
        Ok(Json(json!({ "id": id, "status": "resolved" })))
    } else {
        Err(ApiError::NotFound("open handoff"))
    }
}

/// `GET /healthz`: 200 when the store answers.
pub(super) async fn healthz(State(state): State<AppState>) -> Response {
    match state.store().health().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "store": state.store().backend()})),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "store unavailable"})),
            )
                .into_response()
        }
    }
}
