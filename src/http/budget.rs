//! Every provider webhook is answered within its budget.
//!
//! The provider waits 15 s for a webhook's TwiML; past that the caller hears
//! its "application error" and the call is lost. A webhook that cannot be
//! answered in time (the database is locked, restarting, or overloaded) is
//! better answered with dialback's own apology while the caller is still
//! there. The budget (`--webhook-budget`, 5 s by default) wraps the whole
//! request, body included, as a layer around the webhook routes, so no
//! handler has to remember it.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;

/// Runs a `/twilio/*` request within the configured budget, answering with
/// the apology when it runs out. Other routes pass untouched: the media
/// stream upgrade and the admin API have their own limits.
pub(super) async fn webhook_budget(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if !req.uri().path().starts_with("/twilio/") {
        return next.run(req).await;
    }
    let budget = state.settings().webhook_budget;
    let path = req.uri().path().to_owned();
    match tokio::time::timeout(budget, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(
                %path,
                budget_ms = budget.as_millis() as u64,
                "a webhook ran out of its time budget: answering with the apology"
            );
            state.metrics().store_error();
            super::webhooks::apology(&state, None)
        }
    }
}
