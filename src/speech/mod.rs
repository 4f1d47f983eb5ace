//! Speech for Media Streams calls, behind two small traits so the backends
//! can change without touching the call loop:
//!
//! - [`tts`]: text to speech ([`Synthesiser`]): the `espeak-ng` program, or
//!   an HTTP service speaking the OpenAI-compatible `POST /v1/audio/speech`.
//! - [`stt`]: speech to text ([`Recogniser`]): an HTTP service speaking the
//!   OpenAI-compatible `POST /v1/audio/transcriptions`.
//! - [`prompts`]: what a caller hears, as frames: audio files through the
//!   [`crate::media::PromptCache`], texts through pre-rendered files (see
//!   `dialback prompts render`) or the synthesiser, cached by text and
//!   language.

pub mod prompts;
pub mod stt;
pub mod tts;

pub use prompts::PromptSource;
pub use stt::{FileTranscript, HttpRecogniser, Recogniser, Transcriber, Transcript};
pub use tts::{Espeak, HttpSynthesiser, Synthesiser};

/// Why speech could not be made or understood. A call never fails on one
/// of these: a prompt that cannot be rendered is skipped (and logged), an
/// utterance that cannot be recognised is a no-match.
#[derive(Debug, thiserror::Error)]
pub enum SpeechError {
    #[error("{service} is unreachable or timed out: {reason}")]
    Unreachable { service: String, reason: String },
    #[error("{service} answered HTTP {status}: {body}")]
    Status {
        service: String,
        status: u16,
        body: String,
    },
    #[error("{service} gave an unusable answer: {reason}")]
    BadAnswer { service: String, reason: String },
    #[error("espeak-ng failed: {0}")]
    Espeak(String),
    #[error("no text-to-speech backend is configured")]
    NoSynthesiser,
    #[error("no speech recogniser is configured")]
    NoRecogniser,
    #[error(transparent)]
    Prompt(#[from] crate::media::PromptError),
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
}

/// The two-letter language code services want (`zh-CN` → `zh`).
pub fn iso639_1(language: &str) -> String {
    language
        .split(['-', '_'])
        .next()
        .unwrap_or(language)
        .to_ascii_lowercase()
        .replace("cmn", "zh")
}

/// Sends a request to an HTTP speech service and returns the body of a
/// successful answer; both backends (recognition and synthesis) talk to
/// their service the same way and fail with the same errors.
pub(crate) async fn fetch(
    request: reqwest::RequestBuilder,
    api_key: Option<&str>,
    service: &str,
) -> Result<bytes::Bytes, SpeechError> {
    let request = match api_key {
        Some(key) => request.bearer_auth(key),
        None => request,
    };
    let unreachable = |e: reqwest::Error| SpeechError::Unreachable {
        service: service.to_string(),
        reason: e.to_string(),
    };
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status();
    let body = response.bytes().await.map_err(unreachable)?;
    if !status.is_success() {
        return Err(SpeechError::Status {
            service: service.to_string(),
            status: status.as_u16(),
            body: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        });
    }
    Ok(body)
}
