//! Speech to text. A [`Recogniser`] turns one end-pointed utterance into a
//! transcript; the call machine understands it exactly as it understands a
//! TwiML `SpeechResult`.

use std::io::Cursor;
use std::time::Duration;

use hound::{SampleFormat, WavSpec, WavWriter};
use serde::Deserialize;

use super::SpeechError;
use crate::media::SAMPLE_RATE;

/// What was said, and how sure the recogniser is (0.0–1.0).
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub text: String,
    pub confidence: f32,
}

/// Turns an utterance into text.
#[async_trait::async_trait]
pub trait Recogniser: Send + Sync + 'static {
    /// `audio` is 8 kHz 16-bit mono; `hints` are phrases the question expects.
    async fn recognise(
        &self,
        audio: &[i16],
        language: &str,
        hints: &[String],
    ) -> Result<Transcript, SpeechError>;
}

/// An HTTP service speaking the OpenAI-compatible transcription API
/// (`POST {url}`, multipart: `file` (WAV), `model`, `language`, `prompt`),
/// answering `{"text": "…"}`. A `confidence` field, if the service adds
/// one, is used; without it the transcript is taken as given (confidence
/// 1.0), as a TwiML `SpeechResult` without `Confidence` is.
#[derive(Debug, Clone)]
pub struct HttpRecogniser {
    client: reqwest::Client,
    url: String,
    model: String,
    api_key: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    text: String,
    #[serde(default)]
    confidence: Option<f32>,
}

impl HttpRecogniser {
    /// `url` is the full endpoint, e.g. `http://stt.internal/v1/audio/transcriptions`.
    /// A transcription taking longer than `timeout` counts as a failure.
    pub fn new(
        url: &str,
        model: &str,
        api_key: Option<String>,
        timeout: Duration,
    ) -> HttpRecogniser {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        HttpRecogniser {
            client,
            url: url.to_string(),
            model: model.to_string(),
            api_key,
        }
    }
}

/// 8 kHz mono samples as the bytes of a WAV file.
pub fn wav_bytes(audio: &[i16]) -> Vec<u8> {
    let spec = WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::with_capacity(44 + audio.len() * 2));
    // Writing to memory fails only past WAV's 4 GiB limit, far beyond
    // any utterance the VAD lets through (20 s).
    if let Ok(mut writer) = WavWriter::new(&mut cursor, spec) {
        for &s in audio {
            if writer.write_sample(s).is_err() {
                break;
            }
        }
        let _ = writer.finalize();
    }
    cursor.into_inner()
}

#[async_trait::async_trait]
impl Recogniser for HttpRecogniser {
    async fn recognise(
        &self,
        audio: &[i16],
        language: &str,
        hints: &[String],
    ) -> Result<Transcript, SpeechError> {
        let answer = self
            .post(wav_bytes(audio), "audio/wav", language, hints)
            .await?;
        Ok(Transcript {
            text: answer.text,
            confidence: answer.confidence.unwrap_or(1.0),
        })
    }
}

/// A whole recording's transcript, as the recording pipeline stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct FileTranscript {
    pub text: String,
    /// The service's confidence, if it gave one (OpenAI's `json` answer
    /// has only `text`): `None` is stored as unknown, not as 1.0.
    pub confidence: Option<f32>,
    /// The model asked for.
    pub model: String,
}

/// Turns a stored recording (a WAV or MP3 file) into text.
#[async_trait::async_trait]
pub trait Transcriber: Send + Sync + 'static {
    /// `language` is the flow's (`zh-CN`, `en-US`).
    async fn transcribe(
        &self,
        file: Vec<u8>,
        content_type: &str,
        language: &str,
    ) -> Result<FileTranscript, SpeechError>;
}

#[async_trait::async_trait]
impl Transcriber for HttpRecogniser {
    async fn transcribe(
        &self,
        file: Vec<u8>,
        content_type: &str,
        language: &str,
    ) -> Result<FileTranscript, SpeechError> {
        let answer = self.post(file, content_type, language, &[]).await?;
        Ok(FileTranscript {
            text: answer.text,
            confidence: answer.confidence,
            model: self.model.clone(),
        })
    }
}

impl HttpRecogniser {
    /// One `POST` of `file` to the transcription endpoint; the text
    /// trimmed, the confidence (if any) clamped to 0–1.
    async fn post(
        &self,
        file: Vec<u8>,
        content_type: &str,
        language: &str,
        hints: &[String],
    ) -> Result<Answer, SpeechError> {
        let service = || format!("the speech recogniser at {}", self.url);
        let bad = |reason: String| SpeechError::BadAnswer {
            service: service(),
            reason,
        };
        let name = if content_type.contains("mpeg") || content_type.contains("mp3") {
            "answer.mp3"
        } else {
            "answer.wav"
        };
        let part = reqwest::multipart::Part::bytes(file)
            .file_name(name)
            .mime_str(content_type)
            .map_err(|e| bad(e.to_string()))?;
        let mut form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("model", self.model.clone())
            .text("language", super::iso639_1(language))
            .text("response_format", "json");
        if !hints.is_empty() {
            form = form.text("prompt", hints.join(", "));
        }
        let request = self.client.post(&self.url).multipart(form);
        let body = super::fetch(request, self.api_key.as_deref(), &service()).await?;
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
        Ok(Answer {
            text: answer.text.trim().to_string(),
            confidence: answer.confidence.map(|c| c.clamp(0.0, 1.0)),
        })
    }
}
