//! `dialback prompts render FLOW`: speaks every fixed text of a flow ahead
//! of time into `audio/tts/`, where stream calls find them, so that no
//! caller ever waits for text to speech. Texts that name a contact
//! variable or an answer differ per call; they are listed, not rendered.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use crate::speech::prompts::{fixed_texts, rendered_path};
use crate::speech::{Espeak, HttpSynthesiser, Synthesiser};

#[derive(clap::Subcommand)]
pub(super) enum Command {
    /// Pre-render every fixed text of a flow into the audio folder (tts/).
    Render(RenderArgs),
}

#[derive(clap::Args)]
pub(super) struct RenderArgs {
    /// The flow file.
    flow: PathBuf,
    /// The audio folder (default: `audio/` beside the flows folder).
    #[arg(long)]
    audio: Option<PathBuf>,
    /// `espeak` (the espeak-ng program) or `http` (OpenAI-compatible, --tts-url).
    #[arg(long, env = "DIALBACK_TTS", default_value = "espeak", value_parser = ["espeak", "http"])]
    tts: String,
    #[arg(long, env = "DIALBACK_TTS_URL", required_if_eq("tts", "http"))]
    tts_url: Option<String>,
    #[arg(long, env = "DIALBACK_TTS_MODEL", default_value = "tts-1")]
    tts_model: String,
    #[arg(long, env = "DIALBACK_TTS_VOICE", default_value = "alloy")]
    tts_voice: String,
    #[arg(long, env = "DIALBACK_SPEECH_API_KEY", hide_env_values = true)]
    speech_api_key: Option<String>,
    /// Render again even when a file exists.
    #[arg(long)]
    force: bool,
}

pub(super) fn run(command: Command) -> ExitCode {
    let Command::Render(args) = command;
    let audio = args.audio.clone().unwrap_or_else(|| {
        args.flow
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("."))
            .join("audio")
    });
    let Some(flow) = super::check::load_one(&args.flow, Some(&audio)) else {
        return ExitCode::FAILURE;
    };
    let synthesiser: Arc<dyn Synthesiser> = match (args.tts.as_str(), &args.tts_url) {
        ("http", Some(url)) => Arc::new(HttpSynthesiser::new(
            url,
            &args.tts_model,
            &args.tts_voice,
            args.speech_api_key.clone(),
        )),
        _ => {
            let espeak = Espeak::default();
            if !espeak.is_installed() {
                eprintln!(
                    "error: espeak-ng is not installed (apt-get install espeak-ng), or use --tts http"
                );
                return ExitCode::FAILURE;
            }
            Arc::new(espeak)
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (texts, per_call) = fixed_texts(&flow);
    if let Err(e) = std::fs::create_dir_all(audio.join(crate::speech::prompts::TTS_DIR)) {
        eprintln!("error: cannot create {}: {e}", audio.join("tts").display());
        return ExitCode::FAILURE;
    }
    let (mut rendered, mut kept, mut failed) = (0, 0, 0);
    for (text, language) in &texts {
        let path = audio.join(rendered_path(text, language));
        if path.is_file() && !args.force {
            kept += 1;
            continue;
        }
        match runtime.block_on(synthesiser.synthesise(text, language, &path)) {
            Ok(()) => {
                rendered += 1;
                println!("{}  {language}  {text}", path.display());
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {text:?} ({language}): {e}");
            }
        }
    }
    for name in &per_call {
        println!("per call (names a variable): {name}");
    }
    println!(
        "{rendered} rendered, {kept} already there, {failed} failed, {} rendered during calls",
        per_call.len()
    );
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
