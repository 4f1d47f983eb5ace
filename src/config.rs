//! Server settings: what `dialback serve` is told by flags and environment
//! variables, plus the numbers file that maps called numbers to flows.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything the server needs to start. Built by the CLI from flags and
/// environment, and directly by tests.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: String,
    pub flows_dir: PathBuf,
    pub audio_dir: PathBuf,
    /// The base URL the provider uses to reach us (no trailing slash). Action
    /// URLs and signature checks use it; it is never guessed from `Host`.
    pub public_url: String,
    /// The provider's auth token. Without one the server is in local mode:
    /// unsigned requests are accepted, from loopback only.
    pub auth_token: Option<String>,
    /// Bearer token for the admin API. Without one, the admin API answers
    /// loopback clients only.
    pub admin_token: Option<String>,
    pub numbers: Numbers,
    /// Where open handoffs are POSTed as JSON (a CRM or ticketing webhook).
    pub crm_webhook: Option<String>,
    /// Where "now" comes from (business hours, timestamps).
    pub clock: Clock,
    /// Media Streams calls: speech backends and where recordings go.
    pub media: MediaSettings,
    /// Purge personal data of calls older than this, at start and daily
    /// (`--retention 90d`); `None`: keep everything.
    pub retention: Option<chrono::Duration>,
    /// The most time a provider webhook may take before dialback answers
    /// with its spoken apology instead (`--webhook-budget`, default 5 s):
    /// well under the provider's 15 s, past which the caller hears the
    /// provider's own "application error" and the call is lost.
    pub webhook_budget: std::time::Duration,
    /// On shutdown, how long calls still on a media stream may go on
    /// before the server stops anyway (`--stream-drain`, default 60 s). A
    /// stream cannot move to another replica, so cutting it ends the call.
    pub stream_drain: std::time::Duration,
    /// The campaign dialer of this replica; `None`: this replica does not
    /// dial. It places calls through `media.provider`, which must be set.
    pub dialer: Option<DialerSettings>,
    /// How long a call whose final status came while it was in a transfer
    /// waits for the transfer's action before it ends as a hang-up
    /// (default [`DEFAULT_TRANSFER_ACTION_GRACE`]). The provider requests
    /// that action when a queued, ringing or bridged caller's call ends,
    /// before or after the final status, and only it says whether the
    /// caller reached a person; it never comes for a caller who hung up
    /// before the provider reached the `<Enqueue>`/`<Dial>`.
    pub transfer_action_grace: std::time::Duration,
    /// The recording pipeline (fetch, store, transcribe).
    pub recordings: RecordingSettings,
}

/// What the recording pipeline is told (see [`crate::recordings`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordingSettings {
    /// Delete the provider's copy of a recording once dialback stored it
    /// (`--delete-provider-recordings`), so that retention and `purge`
    /// govern every copy. Off by default: deleting is not undone.
    pub delete_at_provider: bool,
    /// The first wait after a failed fetch or transcript, doubled after
    /// each further failure.
    pub first_retry: std::time::Duration,
}

impl Default for RecordingSettings {
    fn default() -> Self {
        Self {
            delete_at_provider: false,
            first_retry: std::time::Duration::from_secs(2),
        }
    }
}

/// See [`Settings::transfer_action_grace`]: the provider sends the action
/// within moments of the status; a minute leaves room for its retries.
pub const DEFAULT_TRANSFER_ACTION_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// What a replica's campaign dialer worker needs beyond the provider account.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DialerSettings {
    /// The provider account's calls-per-second limit, kept by all replicas
    /// together (the slots live in the database).
    pub cps: f64,
}

/// The default [`Settings::webhook_budget`].
pub const DEFAULT_WEBHOOK_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// The default [`Settings::stream_drain`]: under systemd's default stop
/// timeout (90 s), so the unit stops on its own, not by SIGKILL.
pub const DEFAULT_STREAM_DRAIN: std::time::Duration = std::time::Duration::from_secs(60);

/// What Media Streams calls need beyond the TwiML ones.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    pub tts: TtsBackend,
    /// Speech to text; without one, spoken answers on a stream are a
    /// no-match (keys still work).
    pub stt: Option<SttBackend>,
    /// Bearer token for the HTTP speech services, if they want one.
    pub speech_api_key: Option<String>,
    /// Where stream calls' recordings were written as WAV files before
    /// they were kept in the store; those are still served from here.
    pub recordings_dir: PathBuf,
    /// A stream with no message from the provider for this long has
    /// vanished (the provider sends audio every 20 ms): its call ends as a
    /// hang-up.
    pub idle_timeout: std::time::Duration,
    /// The provider's Calls API, to move a live stream call to an agent
    /// (a REST update of the call). Without it a transfer on a stream takes
    /// the flow's fallback.
    pub provider: Option<crate::twilio::rest::ProviderConfig>,
    /// Bytes of a stream socket's read buffer. Small, because tungstenite
    /// zero-fills its read buffer up to this size on every read: the
    /// 128 KiB default cost a third of the CPU under load, for messages of
    /// ~350 bytes. A setting so that the load bench's floor server reads
    /// exactly as the server it is compared with.
    pub read_buffer: usize,
}

/// Which text-to-speech backend renders `say` texts on streams.
#[derive(Debug, Clone, PartialEq)]
pub enum TtsBackend {
    /// The `espeak-ng` program.
    Espeak,
    /// An OpenAI-compatible `POST /v1/audio/speech` endpoint (full URL).
    Http {
        url: String,
        model: String,
        voice: String,
    },
    /// Only pre-rendered texts (`dialback prompts render`) are spoken.
    None,
}

/// An OpenAI-compatible `POST /v1/audio/transcriptions` endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct SttBackend {
    /// The full endpoint URL.
    pub url: String,
    pub model: String,
    /// A transcription slower than this is a no-match.
    pub timeout: std::time::Duration,
}

impl Default for MediaSettings {
    fn default() -> Self {
        MediaSettings {
            tts: TtsBackend::Espeak,
            stt: None,
            speech_api_key: None,
            recordings_dir: "data/recordings".into(),
            idle_timeout: std::time::Duration::from_secs(10),
            provider: None,
            read_buffer: 4 * 1024,
        }
    }
}

/// The server's source of time. Tests fix it so that business hours and
/// timestamps do not depend on when they run.
#[derive(Debug, Clone, Copy, Default)]
pub enum Clock {
    #[default]
    System,
    Fixed(chrono::DateTime<chrono::Utc>),
}

impl Clock {
    pub fn now(self) -> chrono::DateTime<chrono::Utc> {
        match self {
            Clock::System => chrono::Utc::now(),
            Clock::Fixed(t) => t,
        }
    }
}

/// Which flow answers which called number.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Numbers {
    /// Flow for numbers not listed (and for calls that name no flow).
    #[serde(default)]
    pub default: Option<String>,
    /// E.164 number → flow name (the flow file's stem).
    #[serde(default)]
    pub numbers: BTreeMap<String, String>,
}

impl Numbers {
    /// Reads a numbers file such as:
    ///
    /// ```toml
    /// default = "wallet-followup"
    /// [numbers]
    /// "+861012345678" = "nps-survey"
    /// ```
    pub fn load(path: &Path) -> Result<Numbers, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The flow for a called number.
    pub fn flow_for(&self, to: &str) -> Option<&str> {
        self.numbers
            .get(to)
            .or(self.default.as_ref())
            .map(String::as_str)
    }
}

impl Settings {
    /// Settings for a local run: SQLite file, example flows, no tokens.
    pub fn local(listen: SocketAddr) -> Settings {
        Settings {
            listen,
            database_url: "sqlite:data/dialback.db".into(),
            flows_dir: "call-flows".into(),
            audio_dir: "audio".into(),
            public_url: format!("http://{listen}"),
            auth_token: None,
            admin_token: None,
            numbers: Numbers::default(),
            crm_webhook: None,
            clock: Clock::System,
            media: MediaSettings::default(),
            retention: None,
            webhook_budget: DEFAULT_WEBHOOK_BUDGET,
            stream_drain: DEFAULT_STREAM_DRAIN,
            dialer: None,
            transfer_action_grace: DEFAULT_TRANSFER_ACTION_GRACE,
            recordings: RecordingSettings::default(),
        }
    }
}
