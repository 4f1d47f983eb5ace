//! The campaigns admin API: status counts, contacts page by page, and
//! start / pause / resume / cancel (creation: `campaign_import.rs`). Same
//! admin-token rule as the rest of `/api`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use chrono::Utc;
use serde_json::{Value, json};

use super::AppState;
use super::admin::{Admin, ApiError};
use crate::report::export::mask;
use crate::store::campaigns::{CANCELLABLE, CampaignStatus, ContactPage, every_state};

/// `GET /api/campaigns/{id}`: the campaign and its contacts counted by state.
pub(super) async fn status(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let campaigns = state.store().campaigns();
    let row = campaigns
        .campaign(id)
        .await?
        .ok_or(ApiError::NotFound("campaign"))?;
    let counts = every_state(&campaigns.contact_counts(id).await?);
    let total: i64 = counts.values().sum();
    Ok(Json(json!({
        "id": row.id, "name": row.name, "flow": row.flow, "status": row.status,
        "plan": row.plan, "created_at": row.created_at, "contacts": counts,
        "total": total,
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
    _: Admin,
    Path(id): Path<i64>,
    Json(body): Json<Recall>,
) -> Result<Json<Value>, ApiError> {
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
    _: Admin,
    Path((id, action)): Path<(i64, String)>,
) -> Result<Json<Value>, ApiError> {
    let campaigns = state.store().campaigns();
    let moved = match action.as_str() {
        "start" | "resume" => {
            campaigns
                .start_campaign(id, state.settings().clock.now())
                .await?
        }
        "pause" => {
            campaigns
                .set_campaign_status(id, &[CampaignStatus::Running], CampaignStatus::Paused)
                .await?
        }
        "cancel" => {
            campaigns
                .set_campaign_status(id, CANCELLABLE, CampaignStatus::Cancelled)
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

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ContactsQuery {
    /// Only contacts in this state (`no_answer`, `busy`, …).
    status: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    limit: Option<i64>,
    /// The last id of the previous page (its `next_after`).
    after: Option<i64>,
    #[serde(default)]
    unmasked: bool,
}

/// `GET /api/campaigns/{id}/contacts?status=&limit=&after=&unmasked=`: one
/// page of contacts with their last result, phones masked unless asked;
/// `next_after` is the `after` of the next page (`null` on the last one).
pub(super) async fn contacts(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let q: ContactsQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("the query string: {e}")))?;
    let page = ContactPage::new(q.status, q.limit, q.after).map_err(ApiError::BadRequest)?;
    let campaigns = state.store().campaigns();
    campaigns
        .campaign(id)
        .await?
        .ok_or(ApiError::NotFound("campaign"))?;
    let rows = campaigns.list_contacts(id, &page).await?;
    let next_after = (i64::try_from(rows.len()).unwrap_or(0) == page.limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let contacts: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let phone = if q.unmasked { r.phone } else { mask(&r.phone) };
            json!({
                "id": r.id, "phone": phone, "status": r.state, "attempts": r.attempts,
                "last_result": r.last_result, "last_call_at": r.last_call_at,
                "next_at": r.next_at,
            })
        })
        .collect();
    Ok(Json(
        json!({ "contacts": contacts, "next_after": next_after }),
    ))
}
