//! Text to speech. A [`Synthesiser`] writes a WAV file of any common rate;
//! `media::load_prompt` then turns it into 8 kHz μ-law frames.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::SpeechError;
use crate::flow::phrases::Lang;

/// Turns text into a WAV file.
#[async_trait::async_trait]
pub trait Synthesiser: Send + Sync + 'static {
    /// Writes `text`, spoken in `language` (a BCP 47 tag), to `out` as WAV.
    async fn synthesise(&self, text: &str, language: &str, out: &Path) -> Result<(), SpeechError>;
}

/// The `espeak-ng` program (Debian package `espeak-ng`): robotic, but
/// local, free and instant, with Mandarin (`cmn`) and English voices.
#[derive(Debug, Clone)]
pub struct Espeak {
    program: String,
    /// Words per minute.
    speed: u32,
}

impl Default for Espeak {
    fn default() -> Self {
        Espeak {
            program: "espeak-ng".into(),
            speed: 165,
        }
    }
}

impl Espeak {
    /// Is the program installed (answers `--version`)?
    pub fn is_installed(&self) -> bool {
        std::process::Command::new(&self.program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn voice(language: &str) -> &'static str {
        match Lang::of(language) {
            Lang::Zh => "cmn",
            Lang::En => "en-us",
        }
    }
}

#[async_trait::async_trait]
impl Synthesiser for Espeak {
    async fn synthesise(&self, text: &str, language: &str, out: &Path) -> Result<(), SpeechError> {
        // The text goes in on stdin, never as an argument: a contact's name
        // starting with `-` must not become an option.
        let mut child = tokio::process::Command::new(&self.program)
            .args([
                "-v",
                Self::voice(language),
                "-s",
                &self.speed.to_string(),
                "--stdin",
                "-w",
            ])
            .arg(out)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| SpeechError::Espeak(format!("cannot run {}: {e}", self.program)))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .await
                .map_err(|e| SpeechError::Espeak(e.to_string()))?;
        }
        let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
            .await
            .map_err(|_| SpeechError::Espeak("took more than 20 s".into()))?
            .map_err(|e| SpeechError::Espeak(e.to_string()))?;
        if !output.status.success() {
            return Err(SpeechError::Espeak(
                String::from_utf8_lossy(&output.stderr).trim().to_string(),
            ));
        }
        Ok(())
    }
}

/// An HTTP service speaking the OpenAI-compatible speech API:
/// `POST {url}` with `{model, input, voice, response_format: "wav"}`,
/// answered with the WAV bytes.
#[derive(Debug, Clone)]
pub struct HttpSynthesiser {
    client: reqwest::Client,
    url: String,
    model: String,
    voice: String,
    api_key: Option<String>,
}

impl HttpSynthesiser {
    /// `url` is the full endpoint, e.g. `http://tts.internal/v1/audio/speech`.
    pub fn new(url: &str, model: &str, voice: &str, api_key: Option<String>) -> HttpSynthesiser {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_default();
        HttpSynthesiser {
            client,
            url: url.to_string(),
            model: model.to_string(),
            voice: voice.to_string(),
            api_key,
        }
    }
}

#[async_trait::async_trait]
impl Synthesiser for HttpSynthesiser {
    async fn synthesise(&self, text: &str, language: &str, out: &Path) -> Result<(), SpeechError> {
        let service = || format!("the speech service at {}", self.url);
        let request = self.client.post(&self.url).json(&serde_json::json!({
            "model": self.model,
            "input": text,
            "voice": self.voice,
            "response_format": "wav",
            "language": super::iso639_1(language),
        }));
        let body = super::fetch(request, self.api_key.as_deref(), &service()).await?;
        if body.get(0..4) != Some(b"RIFF") {
            return Err(SpeechError::BadAnswer {
                service: service(),
                reason: "the answer is not a WAV file".into(),
            });
        }
        tokio::fs::write(out, &body).await?;
        Ok(())
    }
}
