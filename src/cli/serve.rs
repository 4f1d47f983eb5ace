//! `dialback serve`: the IVR server. A shim: flags and environment become
//! [`Settings`], [`App::build`] assembles the server, and it runs until
//! Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::app::App;
use crate::config::{DialerSettings, MediaSettings, Numbers, Settings, SttBackend, TtsBackend};
use crate::flow::load::NUMBERS_FILE;
use crate::twilio::rest::ProviderConfig;

#[derive(clap::Args)]
pub(super) struct Args {
    /// Address to listen on.
    #[arg(long, env = "DIALBACK_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// `sqlite:PATH` (default, created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "DIALBACK_DATABASE_URL",
        default_value = "sqlite:data/dialback.db"
    )]
    database_url: String,
    /// Folder of call-flow files.
    #[arg(long, env = "DIALBACK_FLOWS", default_value = "call-flows")]
    flows: PathBuf,
    /// Folder of prompt audio.
    #[arg(long, env = "DIALBACK_AUDIO", default_value = "audio")]
    audio: PathBuf,
    /// Base URL the provider reaches this server at, e.g. https://ivr.example.com
    /// (default: http://LISTEN). Used in action URLs and signature checks.
    #[arg(long, env = "DIALBACK_PUBLIC_URL")]
    public_url: Option<String>,
    /// The provider's auth token; without it only unsigned loopback requests are accepted.
    #[arg(long, env = "DIALBACK_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// Bearer token for the admin API; without it only loopback clients may use it.
    #[arg(long, env = "DIALBACK_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// TOML file mapping called numbers to flows (`default = "…"`, `[numbers]`)
    /// (default: `numbers.toml` in the flows folder, if there is one).
    #[arg(long, env = "DIALBACK_NUMBERS")]
    numbers: Option<PathBuf>,
    /// Flow for calls whose number is not mapped, overriding the numbers
    /// file's `default`. With neither, such calls get an apology.
    #[arg(long, env = "DIALBACK_DEFAULT_FLOW")]
    default_flow: Option<String>,
    /// URL that open handoffs are POSTed to as JSON.
    #[arg(long, env = "DIALBACK_CRM_WEBHOOK")]
    crm_webhook: Option<String>,
    /// Text to speech for Media Streams calls: `espeak` (the espeak-ng program),
    /// `http` (an OpenAI-compatible /v1/audio/speech at --tts-url) or `none`
    /// (only texts pre-rendered with `dialback prompts render`).
    #[arg(long, env = "DIALBACK_TTS", default_value = "espeak", value_parser = ["espeak", "http", "none"])]
    tts: String,
    /// Full URL of the speech endpoint, e.g. http://tts.internal/v1/audio/speech.
    #[arg(long, env = "DIALBACK_TTS_URL", required_if_eq("tts", "http"))]
    tts_url: Option<String>,
    #[arg(long, env = "DIALBACK_TTS_MODEL", default_value = "tts-1")]
    tts_model: String,
    #[arg(long, env = "DIALBACK_TTS_VOICE", default_value = "alloy")]
    tts_voice: String,
    /// Full URL of an OpenAI-compatible transcription endpoint, e.g.
    /// http://stt.internal/v1/audio/transcriptions. Without it, spoken answers
    /// on a stream are a no-match (keys still work).
    #[arg(long, env = "DIALBACK_STT_URL")]
    stt_url: Option<String>,
    #[arg(long, env = "DIALBACK_STT_MODEL", default_value = "whisper-1")]
    stt_model: String,
    /// A transcription slower than this many milliseconds is a no-match.
    #[arg(long, env = "DIALBACK_STT_TIMEOUT_MS", default_value_t = 5_000)]
    stt_timeout_ms: u64,
    /// Bearer token for the HTTP speech services.
    #[arg(long, env = "DIALBACK_SPEECH_API_KEY", hide_env_values = true)]
    speech_api_key: Option<String>,
    /// Folder of stream calls' recordings made before recordings were kept
    /// in the database; they are still served from it.
    #[arg(long, env = "DIALBACK_RECORDINGS", default_value = "data/recordings")]
    recordings: PathBuf,
    /// Delete each recording at the provider once dialback has stored it
    /// (needs the account SID and auth token), so that retention and
    /// `purge` govern every copy.
    #[arg(long, env = "DIALBACK_DELETE_PROVIDER_RECORDINGS")]
    delete_provider_recordings: bool,
    /// A media stream with no message from the provider for this many
    /// milliseconds has vanished: its call ends as a hang-up.
    #[arg(
        long,
        env = "DIALBACK_STREAM_IDLE_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    stream_idle_timeout_ms: u64,
    /// The provider's account SID; with it (and the auth token) this replica
    /// also runs a campaign dialer worker.
    #[arg(long, env = "DIALBACK_ACCOUNT_SID")]
    account_sid: Option<String>,
    /// Base URL of the provider's Calls REST API.
    #[arg(
        long,
        env = "DIALBACK_PROVIDER_URL",
        default_value = "https://api.twilio.com"
    )]
    provider_url: String,
    /// Caller ID for outbound calls (E.164).
    #[arg(long, env = "DIALBACK_CALLER_ID")]
    caller_id: Option<String>,
    /// The provider account's calls-per-second limit (providers allow 1 by
    /// default), kept by all replicas together: the slots live in the database.
    #[arg(long, env = "DIALBACK_CPS", default_value_t = 1.0)]
    cps: f64,
    /// Erase personal data of calls older than this (90d, 12h, 2w) at start
    /// and then daily, as `dialback purge --older-than` does.
    #[arg(long, env = "DIALBACK_RETENTION", value_parser = crate::report::privacy::parse_age)]
    retention: Option<chrono::Duration>,
    /// The most a provider webhook may take (500ms, 5s): past it the caller
    /// hears dialback's apology, well before the provider's 15 s timeout.
    #[arg(long, env = "DIALBACK_WEBHOOK_BUDGET", default_value = "5s", value_parser = parse_budget)]
    webhook_budget: std::time::Duration,
    /// On SIGTERM or Ctrl-C, how long calls still on a media stream may go
    /// on (30s, 2m) before the server stops anyway; TwiML calls need no
    /// wait (their next webhook goes to another replica).
    #[arg(long, env = "DIALBACK_STREAM_DRAIN", default_value = "60s", value_parser = crate::dialer::settings::parse_duration)]
    stream_drain: std::time::Duration,
}

/// `500ms` or `5s`, between 100 ms and 14 s (past 15 s the provider has
/// given up already).
fn parse_budget(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let parsed = if let Some(ms) = text.strip_suffix("ms") {
        ms.trim()
            .parse::<u64>()
            .map(std::time::Duration::from_millis)
    } else if let Some(secs) = text.strip_suffix('s') {
        secs.trim()
            .parse::<u64>()
            .map(std::time::Duration::from_secs)
    } else {
        return Err("write it with a unit: 500ms or 5s".into());
    };
    let budget = parsed.map_err(|e| format!("{text}: {e}"))?;
    if !(std::time::Duration::from_millis(100)..=std::time::Duration::from_secs(14))
        .contains(&budget)
    {
        return Err("the budget must be between 100ms and 14s".into());
    }
    Ok(budget)
}

pub(super) fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(args))
}

async fn serve(args: Args) -> ExitCode {
    let settings = match settings(args) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let public_url = settings.public_url.clone();
    let cps = settings.dialer.map(|d| d.cps);
    let app = match App::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if app.is_local_mode() {
        tracing::warn!(
            "LOCAL MODE: no provider auth token is set, so request signatures are not checked and only \
             requests from this machine are accepted. Set DIALBACK_AUTH_TOKEN before exposing the server."
        );
    }
    tracing::info!(addr = %app.addr(), %public_url, "dialback is listening; point the provider's voice webhook at {public_url}/twilio/voice");
    match cps {
        Some(cps) if app.dials() => tracing::info!(cps, "campaign dialer running"),
        _ => tracing::info!(
            "campaign dialer off: set DIALBACK_ACCOUNT_SID, DIALBACK_AUTH_TOKEN and DIALBACK_CALLER_ID to dial"
        ),
    }
    match app.run_until(shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The settings the flags and environment give.
fn settings(args: Args) -> Result<Settings, String> {
    // An explicit numbers file, or the one the flows folder holds.
    let numbers_file = args.numbers.clone().or_else(|| {
        let beside = args.flows.join(NUMBERS_FILE);
        beside.is_file().then_some(beside)
    });
    let mut numbers = match &numbers_file {
        Some(path) => Numbers::load(path)?,
        None => Numbers::default(),
    };
    if args.default_flow.is_some() {
        numbers.default = args.default_flow.clone();
    }
    let public_url = args
        .public_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let auth_token = args.auth_token.filter(|t| !t.is_empty());
    // One provider account serves both the dialer and the transfers of
    // stream calls (a REST update of the live call).
    let provider = match (&args.account_sid, &auth_token) {
        (Some(account_sid), Some(auth_token)) => Some(ProviderConfig {
            base_url: args.provider_url.clone(),
            account_sid: account_sid.clone(),
            auth_token: auth_token.clone(),
            from: args.caller_id.clone().unwrap_or_default(),
            public_url: public_url.clone(),
        }),
        _ => None,
    };
    // Dialing also needs a caller ID to call from.
    let dialer = match (&provider, &args.caller_id) {
        (Some(_), Some(_)) => Some(DialerSettings { cps: args.cps }),
        _ => None,
    };
    Ok(Settings {
        listen: args.listen,
        database_url: args.database_url,
        flows_dir: args.flows,
        audio_dir: args.audio,
        public_url,
        auth_token,
        admin_token: args.admin_token.filter(|t| !t.is_empty()),
        numbers,
        crm_webhook: args.crm_webhook,
        clock: crate::config::Clock::System,
        media: MediaSettings {
            tts: match (args.tts.as_str(), args.tts_url) {
                ("http", Some(url)) => TtsBackend::Http {
                    url,
                    model: args.tts_model,
                    voice: args.tts_voice,
                },
                ("none", _) => TtsBackend::None,
                _ => TtsBackend::Espeak,
            },
            stt: args.stt_url.map(|url| SttBackend {
                url,
                model: args.stt_model,
                timeout: std::time::Duration::from_millis(args.stt_timeout_ms),
            }),
            speech_api_key: args.speech_api_key.filter(|k| !k.is_empty()),
            recordings_dir: args.recordings,
            idle_timeout: std::time::Duration::from_millis(args.stream_idle_timeout_ms),
            provider,
            ..MediaSettings::default()
        },
        retention: args.retention,
        webhook_budget: args.webhook_budget,
        stream_drain: args.stream_drain,
        dialer,
        transfer_action_grace: crate::config::DEFAULT_TRANSFER_ACTION_GRACE,
        recordings: crate::config::RecordingSettings {
            delete_at_provider: args.delete_provider_recordings,
            ..crate::config::RecordingSettings::default()
        },
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        args: Args,
    }

    fn settings_of(argv: &[&str]) -> Settings {
        let args = Serve::try_parse_from(["serve"].iter().chain(argv))
            .unwrap()
            .args;
        settings(args).unwrap()
    }

    #[test]
    fn the_shipped_flows_folder_names_its_default_flow_in_its_numbers_file() {
        let s = settings_of(&["--flows", "call-flows"]);
        assert_eq!(s.numbers.default.as_deref(), Some("wallet-followup"));
    }

    #[test]
    fn a_flows_folder_without_a_numbers_file_has_no_default_flow_unless_one_is_given() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            "call-flows/wallet-followup.toml",
            dir.path().join("wallet-followup.toml"),
        )
        .unwrap();
        let flows = dir.path().to_str().unwrap();

        let plain = settings_of(&["--flows", flows]);
        let chosen = settings_of(&["--flows", flows, "--default-flow", "wallet-followup"]);

        assert_eq!(plain.numbers.default, None);
        assert_eq!(chosen.numbers.default.as_deref(), Some("wallet-followup"));
    }

    #[test]
    fn one_provider_account_serves_transfers_and_the_dialer_needs_a_caller_id_too() {
        let account = ["--account-sid", "AC1", "--auth-token", "t"];
        let transfers_only = settings_of(&account);
        let dialing = settings_of(&[&account[..], &["--caller-id", "+861000000001"]].concat());

        assert!(transfers_only.media.provider.is_some());
        assert_eq!(transfers_only.dialer, None);
        assert_eq!(dialing.dialer.map(|d| d.cps), Some(1.0));
        let provider = dialing.media.provider.unwrap();
        assert_eq!(provider.from, "+861000000001");
    }

    #[test]
    fn a_webhook_budget_has_a_unit_and_stays_under_the_providers_timeout() {
        assert_eq!(parse_budget("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_budget("750ms"), Ok(Duration::from_millis(750)));
        for bad in ["5", "15s", "50ms", "fast", "-1s"] {
            assert!(parse_budget(bad).is_err(), "{bad}");
        }
    }
}
