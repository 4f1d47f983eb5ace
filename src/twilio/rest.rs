//! The provider's Calls REST API (Twilio-compatible): place a call, move a
//! live call to new TwiML. One request per call.
//!
//! The types here are the provider's, not ours: a [`CallRequest`] holds the
//! Calls API parameters with the webhook URLs already built, so this client
//! knows nothing of our routes, campaigns or flows. The dialer builds
//! requests; the media-stream loop redirects calls.

use std::time::Duration;

use serde::Deserialize;

/// Where and as whom to place calls.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// `https://api.twilio.com` in production; a fake server in tests.
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: String,
    /// The caller ID calls are placed from (E.164); unused when the
    /// client only updates live calls (stream transfers).
    pub from: String,
    /// Our public base URL, as the provider reaches it.
    pub public_url: String,
}

/// A call the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub call_sid: String,
}

/// A call to place: the Calls API's parameters that we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest<'a> {
    /// `To`: the number to call (E.164).
    pub to: &'a str,
    /// `Url`: the TwiML the provider fetches when the call is answered.
    pub url: &'a str,
    /// `StatusCallback`: where the provider posts the call's progress. Every
    /// event (`initiated`, `ringing`, `answered`, `completed`) is asked for.
    pub status_callback: &'a str,
    /// `MachineDetection`; `None` for none.
    pub machine_detection: Option<MachineDetection>,
    /// `Timeout`: seconds to let the phone ring (the provider accepts 5–600).
    pub ring_timeout_secs: u32,
}

/// The provider's answering-machine detection modes (`MachineDetection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineDetection {
    /// `Enable`: decide as soon as possible whether a person answered.
    Enable,
    /// `DetectMessageEnd`: on a machine, wait for the end of its greeting
    /// (the beep), so that a message starts after it.
    DetectMessageEnd,
}

impl MachineDetection {
    /// The provider's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Enable => "Enable",
            Self::DetectMessageEnd => "DetectMessageEnd",
        }
    }
}

/// Why a call was not placed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// 429 or 5xx, or no answer: try again later, it was never placed.
    #[error("the provider cannot take the call now (HTTP {status:?})")]
    RetryLater { status: Option<u16> },
    /// Any other 4xx: this call will never succeed as asked (a bad number,
    /// a blocked destination). The provider's message is kept for the ops.
    #[error("the provider refused the call (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
}

#[derive(Deserialize)]
struct CallResource {
    sid: String,
}

#[derive(Deserialize)]
struct ErrorResource {
    message: Option<String>,
}

/// The REST client; cheap to clone.
#[derive(Debug, Clone)]
pub struct Provider {
    http: reqwest::Client,
    config: ProviderConfig,
}

impl Provider {
    pub fn new(config: ProviderConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap_or_default();
        Self { http, config }
    }

    /// The account calls are placed as: the provider's CPS limit is per account.
    pub fn account_sid(&self) -> &str {
        &self.config.account_sid
    }

    /// Our public base URL, as the provider reaches it: the base of the
    /// webhook URLs a [`CallRequest`] carries.
    pub fn public_url(&self) -> &str {
        &self.config.public_url
    }

    /// `POST /2010-04-01/Accounts/{sid}/Calls.json`.
    #[tracing::instrument(skip_all)]
    pub async fn place_call(&self, request: &CallRequest<'_>) -> Result<Placed, ProviderError> {
        let c = &self.config;
        let timeout = request.ring_timeout_secs.to_string();
        let mut form: Vec<(&str, &str)> = vec![
            ("To", request.to),
            ("From", &c.from),
            ("Url", request.url),
            ("StatusCallback", request.status_callback),
            ("StatusCallbackEvent", "initiated"),
            ("StatusCallbackEvent", "ringing"),
            ("StatusCallbackEvent", "answered"),
            ("StatusCallbackEvent", "completed"),
            ("Timeout", &timeout),
        ];
        if let Some(detection) = request.machine_detection {
            form.push(("MachineDetection", detection.as_str()));
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Calls.json",
            c.base_url.trim_end_matches('/'),
            c.account_sid
        );
        let response = self
            .http
            .post(url)
            .basic_auth(&c.account_sid, Some(&c.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(|_| ProviderError::RetryLater { status: None })?;
        let status = response.status();
        if status.is_success() {
            let call: CallResource =
                response
                    .json()
                    .await
                    .map_err(|_| ProviderError::RetryLater {
                        status: Some(status.as_u16()),
                    })?;
            return Ok(Placed { call_sid: call.sid });
        }
        Err(refusal(response).await)
    }
}

impl Provider {
    /// `POST /2010-04-01/Accounts/{sid}/Calls/{CallSid}.json` with `Url`:
    /// the live call leaves what it is doing (a `<Connect><Stream>` ends,
    /// the provider sends `stop`) and runs the TwiML it fetches from `url`.
    /// `timeout` bounds the whole request: a caller is waiting on the line.
    #[tracing::instrument(skip_all)]
    pub async fn redirect_call(
        &self,
        call_sid: &str,
        url: &str,
        timeout: Duration,
    ) -> Result<(), ProviderError> {
        let c = &self.config;
        let endpoint = format!(
            "{}/2010-04-01/Accounts/{}/Calls/{}.json",
            c.base_url.trim_end_matches('/'),
            c.account_sid,
            call_sid
        );
        let response = self
            .http
            .post(endpoint)
            .basic_auth(&c.account_sid, Some(&c.auth_token))
            .timeout(timeout)
            .form(&[("Url", url), ("Method", "POST")])
            .send()
            .await
            .map_err(|_| ProviderError::RetryLater { status: None })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        Err(refusal(response).await)
    }
}

/// A failed answer from the Calls API: 429 and 5xx mean "later", any other
/// status a refusal with the provider's own message.
async fn refusal(response: reqwest::Response) -> ProviderError {
    let status = response.status().as_u16();
    if status == 429 || response.status().is_server_error() {
        return ProviderError::RetryLater {
            status: Some(status),
        };
    }
    let message = response
        .json::<ErrorResource>()
        .await
        .ok()
        .and_then(|e| e.message)
        .unwrap_or_default();
    ProviderError::Refused { status, message }
}

/// A recording's media, as the provider served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingMedia {
    /// The provider's `Content-Type` (`audio/x-wav` for WAV).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Why a recording's media could not be fetched or deleted.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    /// 404: not there (yet). Twilio's recording status callback can come a
    /// moment before the media is served, so this is retried too.
    #[error("the provider has no media at this URL (yet): HTTP 404")]
    NotYet,
    /// Any other failure: no answer, 5xx, 401 (wrong credentials)…
    #[error("the provider answered HTTP {status:?}")]
    Failed { status: Option<u16> },
}

impl Provider {
    /// `GET {RecordingUrl}.wav` with HTTP Basic auth (account SID and auth
    /// token): Twilio serves a recording's media at its `RecordingUrl`
    /// with a `.wav` (binary WAV, `audio/x-wav`) or `.mp3` extension, and
    /// asks for the account's credentials when the account enforces HTTP
    /// auth on media URLs (twilio.com/docs/api/rest/recording, "HTTP GET":
    /// "Without an extension, or with a .wav, a binary WAV audio file is
    /// returned"). WAV because it is what speech-to-text services take
    /// without conversion. The credentials are sent only to a URL on the
    /// configured API's host, never to one a callback invented.
    #[tracing::instrument(skip_all)]
    pub async fn fetch_recording(
        &self,
        recording_url: &str,
    ) -> Result<RecordingMedia, RecordingError> {
        let c = &self.config;
        let url = format!("{}.wav", recording_url.trim_end_matches(".json"));
        let mut request = self.http.get(&url);
        if same_origin(&url, &c.base_url) {
            request = request.basic_auth(&c.account_sid, Some(&c.auth_token));
        }
        let response = request
            .send()
            .await
            .map_err(|_| RecordingError::Failed { status: None })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(RecordingError::NotYet);
        }
        if !status.is_success() {
            return Err(RecordingError::Failed {
                status: Some(status.as_u16()),
            });
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("audio/x-wav")
            .to_owned();
        let bytes = response.bytes().await.map_err(|_| RecordingError::Failed {
            status: Some(status.as_u16()),
        })?;
        Ok(RecordingMedia {
            content_type,
            bytes: bytes.to_vec(),
        })
    }

    /// `DELETE /2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}.json`:
    /// the provider's copy is gone (Twilio answers 204 No Content). A 404
    /// means it is gone already, which is what was asked.
    #[tracing::instrument(skip_all)]
    pub async fn delete_recording(&self, recording_sid: &str) -> Result<(), RecordingError> {
        let c = &self.config;
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Recordings/{}.json",
            c.base_url.trim_end_matches('/'),
            c.account_sid,
            recording_sid
        );
        let response = self
            .http
            .delete(url)
            .basic_auth(&c.account_sid, Some(&c.auth_token))
            .send()
            .await
            .map_err(|_| RecordingError::Failed { status: None })?;
        let status = response.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        Err(RecordingError::Failed {
            status: Some(status.as_u16()),
        })
    }
}

/// Do `url` and `base` name the same scheme, host and port?
fn same_origin(url: &str, base: &str) -> bool {
    match (reqwest::Url::parse(url), reqwest::Url::parse(base)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

#[cfg(test)]
mod recording_tests {
    use super::same_origin;

    #[test]
    fn credentials_go_only_to_the_configured_api() {
        assert!(same_origin(
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1.wav",
            "https://api.twilio.com"
        ));
        assert!(!same_origin(
            "https://evil.example/2010-04-01/Recordings/RE1.wav",
            "https://api.twilio.com"
        ));
        assert!(!same_origin("not a url", "https://api.twilio.com"));
    }
}
