//! The HTTP layer: the provider's webhooks (TwiML), the media-stream
//! WebSocket (`/media`), the admin API, the dashboard (`dashboard/`), and
//! the prompt audio the provider fetches. [`Application::build`] is used by
//! `dialback serve` and by the tests alike (port 0 gives a free port).

mod admin;
mod advance;
mod budget;
mod cache;
mod campaign_import;
mod campaigns;
mod crm;
mod dashboard;
mod guard;
pub mod media_ws;
pub mod metrics;
mod results;
mod serve;
mod signed;
mod webhooks;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower_http::services::ServeDir;

use crate::config::{Settings, TtsBackend};
use crate::flow::Flow;
use crate::flow::load;
use crate::speech::{
    Espeak, HttpRecogniser, HttpSynthesiser, PromptSource, Recogniser, Synthesiser,
};
use crate::store::{self, Store};

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    store: Arc<dyn Store>,
    flows: BTreeMap<String, Arc<Flow>>,
    crm: Option<crm::Notifier>,
    calls: cache::CallCache,
    /// Frames for stream prompts: audio files and spoken texts.
    prompts: PromptSource,
    recogniser: Option<Arc<dyn Recogniser>>,
    /// The provider's Calls API, for moving a stream call to its transfer.
    provider: Option<crate::twilio::rest::Provider>,
}

impl AppState {
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

/// Why the server could not start; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot read the flows folder {0}: {1}")]
    FlowsFolder(String, std::io::Error),
    #[error("{0} flow file(s) have errors (run `dialback check` for details):\n{1}")]
    BrokenFlows(usize, String),
    #[error("no flows found in {0}")]
    NoFlows(String),
    #[error("the numbers file names flow `{0}`, which is not in the flows folder")]
    UnknownFlow(String),
    #[error("cannot open the database: {0}")]
    Store(#[from] store::StoreError),
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
}

/// A built, bound server, ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    addr: SocketAddr,
    state: AppState,
}

impl Application {
    /// Loads flows, opens the store, binds the listener.
    pub async fn build(settings: Settings) -> Result<Application, StartError> {
        let flows = load_flows(&settings)?;
        for name in settings
            .numbers
            .numbers
            .values()
            .chain(settings.numbers.default.iter())
        {
            if !flows.contains_key(name) {
                return Err(StartError::UnknownFlow(name.clone()));
            }
        }
        let store = store::connect(&settings.database_url).await?;
        for flow in flows.values() {
            let source =
                std::fs::read_to_string(settings.flows_dir.join(format!("{}.toml", flow.name)))
                    .unwrap_or_default();
            store
                .save_flow_version(&flow.name, &flow.hash, &source)
                .await?;
        }
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(|e| StartError::Listen(settings.listen, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Listen(settings.listen, e))?;
        let crm = settings.crm_webhook.clone().map(crm::Notifier::start);
        let audio_dir = settings.audio_dir.clone();
        let (prompts, recogniser) = speech_backends(&settings);
        let provider = settings
            .media
            .provider
            .clone()
            .map(crate::twilio::rest::Provider::new);
        let state = AppState {
            inner: Arc::new(Inner {
                settings,
                store,
                flows,
                crm,
                calls: cache::CallCache::new(100_000),
                prompts,
                recogniser,
                provider,
            }),
        };
        let router = Router::new()
            .route("/twilio/voice", post(webhooks::voice))
            .route("/twilio/gather", post(webhooks::gather))
            .route("/twilio/record", post(webhooks::record))
            .route("/twilio/dial", post(webhooks::dial))
            .route("/twilio/transfer", post(webhooks::transfer))
            .route("/twilio/status", post(webhooks::status))
            .route("/twilio/recording-status", post(webhooks::recording_status))
            .route("/media", get(media_ws::upgrade))
            .route("/api/calls/{call_sid}", get(admin::call))
            .route("/api/handoffs", get(admin::handoffs))
            .route("/api/campaigns", post(campaign_import::create))
            .route("/api/campaigns/{id}", get(campaigns::status))
            .route("/api/campaigns/{id}/contacts", get(campaigns::contacts))
            .route("/api/campaigns/{id}/{action}", post(campaigns::act))
            .route("/api/contacts/{id}/recall", post(campaigns::recall))
            .route("/api/handoffs/{id}/resolve", post(admin::resolve_handoff))
            .route("/api/results/{file}", get(results::results))
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
            .route_layer(axum::middleware::from_fn(metrics::track))
            .with_state(state.clone());
        Ok(Application {
            listener,
            router,
            addr,
            state,
        })
    }

    /// The retention task, if the settings ask for one: the purge now, then
    /// daily (see [`crate::report::retention`]).
    fn retention_task(&self) -> Option<tokio::task::JoinHandle<()>> {
        let age = self.state.settings().retention?;
        let personal = crate::report::privacy::personal_questions(
            self.state.inner.flows.values().map(|f| &**f),
        );
        let clock = self.state.settings().clock;
        tracing::info!(
            days = age.num_days(),
            "retention on: old calls' personal data is purged daily"
        );
        Some(tokio::spawn(crate::report::retention::run(
            self.store(),
            personal,
            age,
            move || clock.now(),
        )))
    }

    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The media-stream handler, to drive a stream over any socket-like
    /// channel (the in-memory tests do).
    pub fn media_streams(&self) -> media_ws::MediaStreams {
        media_ws::MediaStreams::new(self.state.clone())
    }

    /// The store the server opened, so the dialer shares it (and, on SQLite,
    /// its one writer) instead of opening a second.
    pub fn store(&self) -> Arc<dyn store::Store> {
        self.state.inner.store.clone()
    }

    pub fn is_local_mode(&self) -> bool {
        self.state.settings().auth_token.is_none()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let retention = self.retention_task();
        let served = serve::serve_with_timeouts(
            self.listener,
            self.router,
            serve::Timeouts::default(),
            shutdown,
        )
        .await;
        if let Some(task) = retention {
            task.abort();
        }
        served
    }
}

/// The speech backends the settings name. A missing `espeak-ng` is not an
/// error at start: TwiML-only servers never need it, and pre-rendered
/// prompts work without it; it is logged instead.
fn speech_backends(settings: &Settings) -> (PromptSource, Option<Arc<dyn Recogniser>>) {
    let media = &settings.media;
    let synthesiser: Option<Arc<dyn Synthesiser>> = match &media.tts {
        TtsBackend::Espeak => {
            let espeak = Espeak::default();
            if !espeak.is_installed() {
                tracing::warn!(
                    "espeak-ng is not installed: stream calls can only speak pre-rendered texts (`dialback prompts render`)"
                );
            }
            Some(Arc::new(espeak))
        }
        TtsBackend::Http { url, model, voice } => Some(Arc::new(HttpSynthesiser::new(
            url,
            model,
            voice,
            media.speech_api_key.clone(),
        ))),
        TtsBackend::None => None,
    };
    let recogniser = media.stt.as_ref().map(|stt| {
        Arc::new(HttpRecogniser::new(
            &stt.url,
            &stt.model,
            media.speech_api_key.clone(),
            stt.timeout,
        )) as Arc<dyn Recogniser>
    });
    (
        PromptSource::new(settings.audio_dir.clone(), synthesiser),
        recogniser,
    )
}

fn load_flows(settings: &Settings) -> Result<BTreeMap<String, Arc<Flow>>, StartError> {
    let shown = settings.flows_dir.display().to_string();
    let files = load::flow_files(&settings.flows_dir)
        .map_err(|e| StartError::FlowsFolder(shown.clone(), e))?;
    let mut flows = BTreeMap::new();
    let mut broken = Vec::new();
    for file in files {
        let loaded = load::load_file(&file, Some(&settings.audio_dir));
        match loaded.flow {
            Some(flow) => {
                flows.insert(flow.name.clone(), Arc::new(flow));
            }
            None => broken.push(loaded.report.render()),
        }
    }
    if !broken.is_empty() {
        return Err(StartError::BrokenFlows(broken.len(), broken.concat()));
    }
    if flows.is_empty() {
        return Err(StartError::NoFlows(shown));
    }
    Ok(flows)
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
