//! The admin API (JSON). Every route needs `Authorization: Bearer <admin
//! token>`; with no token configured, only this machine may ask.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;

use super::AppState;
use crate::store::handoffs::Resolved;
use crate::store::{CallSid, HandoffId, HandoffStatus};

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

/// Proof that a request may use the admin API. As an extractor it refuses
/// everyone else with 401 ([`ApiError::Unauthorized`]) before the handler
/// runs, so a new route cannot forget the check by forgetting a line: a
/// handler without an `Admin` argument is visibly open.
pub(super) struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authorize(state, &parts.headers, peer(parts))?;
        Ok(Admin)
    }
}

/// Proof that a request may read results: the admin API's token, or a
/// signed-in dashboard session (the dashboard links to the CSV export).
pub(super) struct ResultsReader;

impl FromRequestParts<AppState> for ResultsReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = peer(parts);
        if !super::dashboard::is_signed_in(state, &parts.headers, peer) {
            authorize(state, &parts.headers, peer)?;
        }
        Ok(ResultsReader)
    }
}

/// The peer's address; without it (a server not started with connect
/// info) nobody counts as local.
fn peer(parts: &Parts) -> SocketAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0)
}

fn authorize(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> Result<(), ApiError> {
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
    _: Admin,
    Path(call_sid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    // A path that is no CallSid names no call.
    let call_sid = CallSid::parse(&call_sid).map_err(|_| ApiError::NotFound("call"))?;
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
    // Dialback's copies of the call's recordings: where each stands in the
    // pipeline, and its transcript once made.
    let recordings: Vec<Value> = state
        .store()
        .recordings()
        .recordings_of(&call_sid)
        .await?
        .into_iter()
        .map(|r| {
            json!({
                "recording_sid": r.recording_sid,
                "question": r.question,
                "stage": r.stage,
                "attempts": r.attempts,
                "last_error": r.last_error,
                "transcript": r.transcript.map(|t| json!({
                    "text": t.text,
                    "confidence": t.confidence,
                    "model": t.model,
                })),
            })
        })
        .collect();
    let followed_by: Vec<Value> = state
        .store()
        .reports()
        .follow_ups(&call_sid)
        .await?
        .into_iter()
        .map(|c| {
            json!({
                "call_sid": c.call_sid,
                "flow": c.flow,
                "started_at": c.started_at,
                "outcome": c.outcome,
                "handoff_id": c.follows.and_then(|f| f.handoff),
            })
        })
        .collect();
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
        "recordings": recordings,
        "follows": row.follows,
        "followed_by": followed_by,
    })))
}

#[derive(Deserialize)]
pub(super) struct HandoffQuery {
    /// Only handoffs in this status; an unknown one is a 400.
    status: Option<String>,
    /// Full phone numbers in the summaries, for whoever calls the customer
    /// back; masked otherwise, as in every other export.
    #[serde(default)]
    unmasked: bool,
}

/// `GET /api/handoffs?status=open&unmasked=`: callers whose issue is still
/// open, their numbers masked unless asked.
pub(super) async fn handoffs(
    State(state): State<AppState>,
    _: Admin,
    Query(q): Query<HandoffQuery>,
) -> Result<Json<Value>, ApiError> {
    let status = q
        .status
        .as_deref()
        .map(HandoffStatus::parse)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("status: {e}")))?;
    let rows = state.store().handoffs(status).await?;
    let list: Vec<Value> = rows
        .into_iter()
        .map(|mut h| {
            if !q.unmasked {
                mask_customer(&mut h.summary);
            }
            json!({
                "id": h.id, "call_sid": h.call_sid, "flow": h.flow, "step": h.step, "target": h.target,
                "status": h.status, "reason": h.reason, "summary": h.summary,
                "created_at": h.created_at, "resolved_at": h.resolved_at,
            })
        })
        .collect();
    Ok(Json(json!({ "handoffs": list })))
}

/// Masks the customer's number a handoff summary carries (the CRM gets it
/// whole, from the webhook; readers of the API get it masked).
fn mask_customer(summary: &mut Value) {
    if let Some(customer) = summary.get_mut("customer")
        && let Some(number) = customer.as_str()
    {
        *customer = Value::String(crate::report::export::mask(number));
    }
}

/// `POST /api/handoffs/{id}/resolve`: support says the issue is fixed. The
/// handoff is resolved and, when its flow names a `confirm_flow`, one
/// confirmation call is scheduled (see `calls::handoffs`); a second resolve
/// of the same handoff — a retry, another replica — is a 404 and schedules
/// nothing.
pub(super) async fn resolve_handoff(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    match state.calls().resolve_handoff(HandoffId(id)).await? {
        Resolved::Resolved { contact } => Ok(Json(json!({
            "id": id,
            "status": HandoffStatus::Resolved,
            "confirmation_contact_id": contact,
        }))),
        Resolved::Unchanged => Err(ApiError::NotFound("open handoff")),
    }
}

/// `GET /api/handoffs/{id}`: one handoff, its history (opened, resolved by
/// support, confirmed or reopened by the customer) and the calls that
/// followed it up to confirm it.
pub(super) async fn handoff(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<i64>,
    Query(q): Query<HandoffQuery>,
) -> Result<Json<Value>, ApiError> {
    let log = state.store().handoff_log();
    let mut h = log
        .handoff(HandoffId(id))
        .await?
        .ok_or(ApiError::NotFound("handoff"))?;
    if !q.unmasked {
        mask_customer(&mut h.summary);
    }
    let history = log.history(HandoffId(id)).await?;
    let confirmations: Vec<Value> = state
        .store()
        .reports()
        .follow_ups(&h.call_sid)
        .await?
        .into_iter()
        .filter(|c| c.follows.as_ref().and_then(|f| f.handoff) == Some(HandoffId(id)))
        .map(|c| {
            json!({
                "call_sid": c.call_sid, "flow": c.flow, "started_at": c.started_at,
                "outcome": c.outcome,
            })
        })
        .collect();
    Ok(Json(json!({
        "id": h.id, "call_sid": h.call_sid, "flow": h.flow, "step": h.step, "target": h.target,
        "status": h.status, "reason": h.reason, "summary": h.summary,
        "created_at": h.created_at, "resolved_at": h.resolved_at,
        "history": history,
        "confirmation_calls": confirmations,
    })))
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
