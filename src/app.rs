//! The composition root. [`App::build`] turns [`Settings`] into a running
//! server: it loads the flows, opens the store, assembles the call service,
//! the speech backends, the provider's REST client and the HTTP router, and
//! holds every long-lived task — the HTTP server, the campaign dialer, the
//! retention purge and CRM delivery. [`App::run_until`] runs them all and,
//! when its shutdown future completes, stops them all: in-flight requests
//! finish, calls on media streams finish (up to `--stream-drain`), then one
//! cancellation token tells each task to stop, and each is
//! awaited. `dialback serve` and the tests build the server the same way
//! (port 0 gives a free port).

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::serve::{ListenerExt, TapIo};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::calls::{Calls, Delivery, Flows, Notifier};
use crate::config::{Settings, TtsBackend};
use crate::dialer::worker::{Pacer, Worker};
use crate::flow::{Flow, load};
use crate::http::{self, AppState, Parts};
use crate::metrics::Metrics;
use crate::recordings::Pipeline;
use crate::speech::{
    Espeak, HttpRecogniser, HttpSynthesiser, PromptSource, Recogniser, Synthesiser, Transcriber,
};
use crate::store::{self, Store};
use crate::twilio::rest::Provider;

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
    #[error("the campaign dialer needs the provider account (account SID and auth token)")]
    DialerWithoutProvider,
    #[error("cannot open the database: {0}")]
    Store(#[from] store::StoreError),
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
}

/// A built, bound server with its background work, ready to run.
pub struct App {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    state: AppState,
    store: Arc<dyn Store>,
    metrics: Metrics,
    local_mode: bool,
    /// See [`Settings::stream_drain`].
    stream_drain: std::time::Duration,
    /// The background tasks, started by [`App::run_until`].
    crm: Option<Delivery>,
    dialer: Option<Worker>,
    retention: Option<Retention>,
    /// Ends calls whose transfer action never came (see `calls::transfer`),
    /// with [`Settings::transfer_action_grace`].
    hung_up: (Calls, std::time::Duration),
    /// Fetches, stores and transcribes recordings (see [`crate::recordings`]).
    recordings: Pipeline,
}

/// The daily purge of old calls' personal data (see [`crate::report::retention`]).
struct Retention {
    personal: Vec<(String, String)>,
    age: chrono::Duration,
    clock: crate::config::Clock,
}

impl App {
    /// Loads flows, opens the store, assembles the services, binds the listener.
    pub async fn build(settings: Settings) -> Result<App, StartError> {
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
        if settings.numbers.default.is_none() {
            tracing::warn!(
                "no default flow: calls to numbers the numbers file does not list, and streams that name no flow, get an apology (set --default-flow or `default` in the numbers file)"
            );
        }
        let provider = settings.media.provider.clone().map(Provider::new);
        if settings.dialer.is_some() && provider.is_none() {
            return Err(StartError::DialerWithoutProvider);
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

        let metrics = Metrics::new();
        let (notifier, crm) = settings.crm_webhook.clone().map(Notifier::new).unzip();
        let calls = Calls::new(
            store.clone(),
            flows.clone(),
            &settings,
            notifier,
            metrics.clone(),
        );
        let dialer = match (settings.dialer, &provider) {
            (Some(dialer), Some(provider)) => Some(
                Worker::new(store.clone(), provider.clone(), Pacer::new(dialer.cps))
                    .with_metrics(metrics.clone()),
            ),
            _ => None,
        };
        let retention = settings.retention.map(|age| Retention {
            personal: crate::report::privacy::personal_questions(flows.values().map(|f| &**f)),
            age,
            clock: settings.clock,
        });
        let (prompts, recogniser) = speech_backends(&settings);
        let recordings = recording_pipeline(&settings, store.clone(), provider.clone(), &flows);
        let local_mode = settings.auth_token.is_none();
        let stream_drain = settings.stream_drain;
        let hung_up = (calls.clone(), settings.transfer_action_grace);
        let state = AppState::new(Parts {
            settings,
            store: store.clone(),
            flows,
            calls,
            prompts,
            recogniser,
            provider,
        });
        Ok(App {
            listener,
            addr,
            router: http::router(state.clone()),
            state,
            store,
            metrics,
            local_mode,
            stream_drain,
            crm,
            dialer,
            retention,
            hung_up,
            recordings,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The media-stream handler, to drive a stream over any socket-like
    /// channel (the in-memory tests do).
    pub fn media_streams(&self) -> http::media_ws::MediaStreams {
        http::media_ws::MediaStreams::new(self.state.clone())
    }

    /// The store the server opened (on SQLite, its one writer is shared).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The server's metrics, as `/metrics` shows them.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// No provider auth token: signatures are not checked and only
    /// loopback clients are served.
    pub fn is_local_mode(&self) -> bool {
        self.local_mode
    }

    /// Does this replica run a campaign dialer?
    pub fn dials(&self) -> bool {
        self.dialer.is_some()
    }

    /// Serves and runs the background tasks until `shutdown` completes;
    /// then lets in-flight requests finish, stops every task and waits
    /// for each.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = CancellationToken::new();
        let mut tasks: Vec<(&str, JoinHandle<()>)> = Vec::new();
        if let Some(crm) = self.crm {
            tasks.push(("CRM delivery", tokio::spawn(crm.run(stop.clone()))));
        }
        if let Some(worker) = self.dialer {
            // The worker checks the token between calls: a call being
            // placed is finished and recorded before it stops.
            let stopped = stop.clone().cancelled_owned();
            tasks.push((
                "campaign dialer",
                tokio::spawn(async move { worker.run(stopped).await }),
            ));
        }
        if let Some(r) = self.retention {
            tracing::info!(
                days = r.age.num_days(),
                "retention on: old calls' personal data is purged daily"
            );
            let purge =
                crate::report::retention::run(self.store.clone(), r.personal, r.age, move || {
                    r.clock.now()
                });
            let stopped = stop.clone();
            // The purge is dropped where it waits: a purge cut short is
            // finished by the next run.
            tasks.push((
                "retention",
                tokio::spawn(async move {
                    tokio::select! {
                        () = purge => {}
                        () = stopped.cancelled() => {}
                    }
                }),
            ));
        }
        if self.recordings.has_work() {
            // Stops between two stages: a stage under way is finished.
            tasks.push((
                "recording pipeline",
                tokio::spawn(self.recordings.run(stop.clone())),
            ));
        }
        let (calls, grace) = self.hung_up;
        tasks.push((
            "hung-up transfers",
            tokio::spawn(calls.sweep_hung_up(grace, stop.clone())),
        ));
        let streams = self.state.streams().clone();
        let served = http::serve::serve_with_timeouts(
            without_nagle(self.listener),
            self.router,
            http::serve::Timeouts::default(),
            shutdown,
        )
        .await;
        drain_streams(&streams, self.stream_drain).await;
        stop.cancel();
        for (name, task) in tasks {
            if let Err(e) = task.await {
                tracing::error!(task = name, error = %e, "a background task failed");
            }
        }
        served
    }
}

/// Waits for the calls still on a media stream to end, up to `drain`
/// ([`Settings::stream_drain`]). Why wait: a stream is tied to this
/// process, so stopping now would cut the caller off mid-question, while a
/// TwiML call's next webhook simply goes to another replica. Streams still
/// open after the wait are cut when the process exits; their answers so
/// far are stored already.
async fn drain_streams(streams: &TaskTracker, drain: std::time::Duration) {
    streams.close();
    if streams.is_empty() {
        return;
    }
    tracing::info!(
        streams = streams.len(),
        ?drain,
        "waiting for media-stream calls to end"
    );
    if tokio::time::timeout(drain, streams.wait()).await.is_err() {
        tracing::warn!(
            streams = streams.len(),
            "media-stream calls still open after the drain; they are cut"
        );
    }
}

/// The listener with Nagle's algorithm off on every accepted connection.
/// Why: Nagle holds a small write (a batch of audio to the provider, a
/// `clear` on barge-in, a short TwiML answer) until the peer has acked the
/// previous one, adding up to a round trip (or a delayed-ack timeout) to
/// what the caller hears.
fn without_nagle(listener: TcpListener) -> TapIo<TcpListener, fn(&mut tokio::net::TcpStream)> {
    fn set_nodelay(tcp: &mut tokio::net::TcpStream) {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!("could not set TCP_NODELAY on a connection: {err}");
        }
    }
    listener.tap_io(set_nodelay as fn(&mut tokio::net::TcpStream))
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

/// The recording pipeline of this replica: it fetches with the provider
/// account, if it has one, and transcribes with the speech-to-text
/// backend, if there is one (a replica with neither runs no worker; the
/// queue waits in the store for one that can).
fn recording_pipeline(
    settings: &Settings,
    store: Arc<dyn Store>,
    provider: Option<Provider>,
    flows: &Flows,
) -> Pipeline {
    let media = &settings.media;
    let transcriber = media.stt.as_ref().map(|stt| {
        // A whole recording takes longer to transcribe than an utterance.
        let timeout = stt.timeout.max(std::time::Duration::from_secs(60));
        Arc::new(HttpRecogniser::new(
            &stt.url,
            &stt.model,
            media.speech_api_key.clone(),
            timeout,
        )) as Arc<dyn Transcriber>
    });
    if settings.recordings.delete_at_provider && provider.is_none() {
        tracing::warn!(
            "--delete-provider-recordings needs the provider account (account SID and auth token): this replica deletes nothing"
        );
    }
    let languages = flows
        .values()
        .map(|f| (f.name.clone(), f.language.clone()))
        .collect();
    Pipeline::new(store, provider, transcriber, languages)
        .deleting_at_provider(settings.recordings.delete_at_provider)
        .first_retry(settings.recordings.first_retry)
}

fn load_flows(settings: &Settings) -> Result<Flows, StartError> {
    let shown = settings.flows_dir.display().to_string();
    let files = load::flow_files(&settings.flows_dir)
        .map_err(|e| StartError::FlowsFolder(shown.clone(), e))?;
    let mut flows: BTreeMap<String, Arc<Flow>> = BTreeMap::new();
    let mut broken = Vec::new();
    let mut all: Vec<load::Loaded> = files
        .iter()
        .map(|file| load::load_file(file, Some(&settings.audio_dir)))
        .collect();
    load::check_confirm_flows(&mut all, &[]);
    for loaded in all {
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
    Ok(Arc::new(flows))
}

#[cfg(test)]
mod tests {
    use axum::serve::Listener;

    use super::*;

    #[tokio::test]
    async fn accepted_connections_send_small_writes_without_waiting_for_acks() {
        let mut listener = without_nagle(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await;
        assert!(accepted.nodelay().unwrap(), "TCP_NODELAY is set");
    }

    fn local() -> (Settings, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings::local("127.0.0.1:0".parse().unwrap());
        s.database_url = format!("sqlite:{}", dir.path().join("app.db").display());
        (s, dir)
    }

    #[tokio::test]
    async fn a_dialer_without_a_provider_account_is_refused_at_start() {
        let (mut s, _dir) = local();
        s.dialer = Some(crate::config::DialerSettings { cps: 1.0 });

        let built = App::build(s).await;

        assert!(matches!(built, Err(StartError::DialerWithoutProvider)));
    }

    #[tokio::test]
    async fn the_server_stops_its_background_tasks_and_returns_when_told() {
        let (mut s, _dir) = local();
        s.retention = Some(chrono::Duration::days(90));
        s.crm_webhook = Some("http://127.0.0.1:9/crm".into());
        let app = App::build(s).await.unwrap();

        let served = app.run_until(std::future::ready(())).await;

        assert!(served.is_ok());
    }
}
