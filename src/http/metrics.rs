//! `/metrics` in the Prometheus text format, and the middleware that times
//! every webhook. The counts themselves live in [`crate::metrics::Metrics`],
//! the handle the whole server shares.

use std::time::Instant;

use axum::Extension;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Marks a response that failed because the store did: [`track`] counts
/// it on the server's metrics. Why a mark: an error's `IntoResponse` has
/// no state in hand, and the middleware does.
#[derive(Clone, Copy)]
pub(super) struct StoreFailed;

impl StoreFailed {
    /// The mark, as a response part, when `failed`.
    pub(super) fn when(failed: bool) -> Option<Extension<StoreFailed>> {
        failed.then_some(Extension(StoreFailed))
    }
}

/// Times every `/twilio/…` webhook by its route pattern (never the raw
/// path, which would make one series per CallSid), and counts responses
/// marked [`StoreFailed`].
pub(super) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .filter(|p| p.starts_with("/twilio/"));
    let started = Instant::now();
    let response = next.run(request).await;
    if response.extensions().get::<StoreFailed>().is_some() {
        state.metrics().store_error();
    }
    if let Some(route) = route {
        state.metrics().webhook_handled(&route, started.elapsed());
    }
    response
}

/// `GET /metrics`.
pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        state.metrics().encode(),
    )
        .into_response()
}
