//! `dialback serve`: the IVR server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{MediaSettings, Numbers, Settings, SttBackend, TtsBackend};
use crate::http::Application;

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
    /// TOML file mapping called numbers to flows (`default = "…"`, `[numbers]`).
    #[arg(long, env = "DIALBACK_NUMBERS")]
    numbers: Option<PathBuf>,
    /// Flow for calls whose number is not mapped (default: the only flow, or `wallet-followup`).
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
    /// Folder where callers' recordings (stream calls) are written as WAV.
    #[arg(long, env = "DIALBACK_RECORDINGS", default_value = "data/recordings")]
    recordings: PathBuf,
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
    let mut numbers = match &args.numbers {
        Some(path) => match Numbers::load(path) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => Numbers::default(),
    };
    if args.default_flow.is_some() {
        numbers.default = args.default_flow.clone();
    }
    if numbers.default.is_none() && args.flows.join("wallet-followup.toml").is_file() {
        numbers.default = Some("wallet-followup".into());
    }
    let public_url = args
        .public_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_string())
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let settings = Settings {
        listen: args.listen,
        database_url: args.database_url,
        flows_dir: args.flows,
        audio_dir: args.audio,
        public_url: public_url.clone(),
        auth_token: args.auth_token.clone().filter(|t| !t.is_empty()),
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
            // Stream calls reach an agent through a REST update of the call.
            provider: match (&args.account_sid, &args.auth_token) {
                (Some(account_sid), Some(auth_token)) => {
                    Some(crate::twilio::rest::ProviderConfig {
                        base_url: args.provider_url.clone(),
                        account_sid: account_sid.clone(),
                        auth_token: auth_token.clone(),
                        from: args.caller_id.clone().unwrap_or_default(),
                        public_url: public_url.clone(),
                    })
                }
                _ => None,
            },
        },
        retention: args.retention,
        webhook_budget: args.webhook_budget,
    };
    let app = match Application::build(settings).await {
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
    let dialer = match (&args.account_sid, &args.auth_token, &args.caller_id) {
        (Some(account_sid), Some(auth_token), Some(caller_id)) => {
            let provider =
                crate::twilio::rest::Provider::new(crate::twilio::rest::ProviderConfig {
                    base_url: args.provider_url.clone(),
                    account_sid: account_sid.clone(),
                    auth_token: auth_token.clone(),
                    from: caller_id.clone(),
                    public_url: public_url.clone(),
                });
            let worker = crate::dialer::worker::Worker::new(
                app.store(),
                provider,
                crate::dialer::worker::Pacer::new(args.cps),
            );
            tracing::info!(cps = args.cps, "campaign dialer running");
            Some(tokio::spawn(async move {
                worker.run(std::future::pending::<()>()).await;
            }))
        }
        _ => {
            tracing::info!(
                "campaign dialer off: set DIALBACK_ACCOUNT_SID, DIALBACK_AUTH_TOKEN and DIALBACK_CALLER_ID to dial"
            );
            None
        }
    };
    let served = app.run_until(shutdown_signal()).await;
    // A call being placed when the task stops keeps its claim until the
    // lease lapses, then another worker takes it.
    if let Some(dialer) = dialer {
        dialer.abort();
    }
    match served {
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

    use super::parse_budget;

    #[test]
    fn a_webhook_budget_has_a_unit_and_stays_under_the_providers_timeout() {
        assert_eq!(parse_budget("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_budget("750ms"), Ok(Duration::from_millis(750)));
        for bad in ["5", "15s", "50ms", "fast", "-1s"] {
            assert!(parse_budget(bad).is_err(), "{bad}");
        }
    }
}
