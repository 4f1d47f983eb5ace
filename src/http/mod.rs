//! The HTTP layer: adapters only. The provider's webhooks (TwiML), the
//! media-stream WebSocket (`/media`), the admin API, the dashboard
//! (`dashboard/`), "what callers said" (`said.rs`, for the API and the
//! dashboard), Trends (`trends.rs`, the same), `/metrics` and the prompt audio the provider fetches.
//! [`router`] builds the routes over an [`AppState`] that
//! [`crate::app::App::build`] assembles, for `dialback serve` and the tests
//! alike.

mod admin;
mod budget;
mod campaign_import;
mod campaigns;
mod cohort;
mod dashboard;
mod guard;
pub mod media_ws;
mod metrics;
mod results;
mod said;
pub mod serve;
mod signed;
mod trends;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;

use crate::calls::{Calls, Flows};
use crate::config::Settings;
use crate::flow::Flow;
use crate::metrics::Metrics;
use crate::speech::{PromptSource, Recogniser};
use crate::store::Store;
use crate::twilio::rest::Provider;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    store: Arc<dyn Store>,
    flows: Flows,
    /// Starting and moving calls on: what the webhooks and streams adapt.
    calls: Calls,
    /// Frames for stream prompts: audio files and spoken texts.
    prompts: PromptSource,
    recogniser: Option<Arc<dyn Recogniser>>,
    /// The provider's Calls API, for moving a stream call to its transfer.
    provider: Option<Provider>,
    /// Every live media stream: upgraded sockets outlive the HTTP
    /// connection they came on, so shutdown waits for them here.
    streams: TaskTracker,
}

/// What the HTTP layer is handed by the composition root.
pub struct Parts {
    pub settings: Settings,
    pub store: Arc<dyn Store>,
    pub flows: Flows,
    pub calls: Calls,
    pub prompts: PromptSource,
    pub recogniser: Option<Arc<dyn Recogniser>>,
    pub provider: Option<Provider>,
}

impl AppState {
    pub fn new(parts: Parts) -> AppState {
        let Parts {
            settings,
            store,
            flows,
            calls,
            prompts,
            recogniser,
            provider,
        } = parts;
        AppState {
            inner: Arc::new(Inner {
                settings,
                store,
                flows,
                calls,
                prompts,
                recogniser,
                provider,
                streams: TaskTracker::new(),
            }),
        }
    }

    /// The live media streams, for shutdown to drain (see
    /// [`crate::app::App::run_until`]).
    pub fn streams(&self) -> &TaskTracker {
        &self.inner.streams
    }

    fn calls(&self) -> &Calls {
        &self.inner.calls
    }

    fn metrics(&self) -> &Metrics {
        self.inner.calls.metrics()
    }

    fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// The store as a shared handle, for streams that outlive the handler.
    fn store_handle(&self) -> Arc<dyn Store> {
        self.inner.store.clone()
    }

    fn flow(&self, name: &str) -> Option<&Arc<Flow>> {
        self.inner.flows.get(name)
    }
}

/// Every route, over `state`.
pub fn router(state: AppState) -> Router {
    let audio_dir = state.settings().audio_dir.clone();
    Router::new()
        .route("/twilio/voice", post(webhooks::voice))
        .route("/twilio/gather", post(webhooks::gather))
        .route("/twilio/record", post(webhooks::record))
        .route("/twilio/dial", post(webhooks::dial))
        .route("/twilio/wait", post(webhooks::wait))
        .route("/twilio/transfer", post(webhooks::transfer))
        .route("/twilio/status", post(webhooks::status))
        .route("/twilio/recording-status", post(webhooks::recording_status))
        .route("/media", get(media_ws::upgrade))
        .route("/api/calls/{call_sid}", get(admin::call))
        .route("/api/handoffs", get(admin::handoffs))
        .route("/api/handoffs/{id}", get(admin::handoff))
        .route("/api/campaigns", post(campaign_import::create))
        .route("/api/campaigns/{id}", get(campaigns::status))
        .route("/api/campaigns/{id}/contacts", get(campaigns::contacts))
        .route("/api/campaigns/{id}/{action}", post(campaigns::act))
        .route("/api/contacts/{id}/recall", post(campaigns::recall))
        .route("/api/handoffs/{id}/resolve", post(admin::resolve_handoff))
        .route("/api/results/{file}", get(results::results))
        .route("/api/said/{file}", get(said::said))
        .route("/api/trends/{file}", get(trends::trends))
        .route("/api/opt-outs.csv", get(results::opt_outs))
        .route("/api/openapi.json", get(results::openapi))
        .route("/healthz", get(admin::healthz))
        .route("/metrics", get(metrics::metrics))
        .nest_service("/audio", ServeDir::new(audio_dir))
        .merge(dashboard::routes())
        .layer(axum::middleware::from_fn(server_timing))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            budget::webhook_budget,
        ))
        .layer(axum::middleware::from_fn(guard::no_store))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::local_mode_same_site,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}

/// Adds `Server-Timing: app;dur=<ms>` to every response: the time spent in
/// dialback itself, which load tests and operators can tell apart from the
/// network (the provider's own timeout covers both).
async fn server_timing(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let mut response = next.run(req).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("app;dur={ms:.3}")) {
        response.headers_mut().insert("server-timing", v);
    }
    response
}
