//! The Twilio Media Streams wire protocol: JSON text messages over a
//! WebSocket, parsed into types at the edge (and nothing else).
//!
//! From the provider: `connected`, `start` (stream and call ids, custom
//! parameters, media format), `media` (base64 μ-law, 8 kHz, normally 20 ms),
//! `dtmf`, `mark` (a mark we sent has been played, or dropped by `clear`)
//! and `stop`. To the provider: `media`, `mark` and `clear`, each naming the
//! stream. Numbers such as `sequenceNumber`, `chunk` and `timestamp` arrive
//! as strings; they are not needed to run a call, so they are kept as text.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::media::FRAME_SAMPLES;

/// Larger messages are refused: a 20 ms frame is ~350 bytes of JSON, and
/// even a provider that batches a second of audio stays far below this.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// One message from the provider, as far as a call needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Connected,
    Start(Start),
    /// Caller audio: μ-law bytes, already base64-decoded, and the
    /// provider's timestamp (milliseconds since the stream started).
    Media {
        payload: Vec<u8>,
        timestamp: Option<u64>,
    },
    /// A key the provider detected (out of band).
    Dtmf(char),
    /// A mark we sent was reached (or cleared).
    Mark(String),
    Stop,
    /// A well-formed message of a kind this server does not use (future
    /// events, outbound-track media): ignored.
    Other(String),
}

/// The `start` message: who the stream belongs to.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Start {
    pub stream_sid: String,
    #[serde(default)]
    pub account_sid: String,
    pub call_sid: String,
    #[serde(default)]
    pub tracks: Vec<String>,
    #[serde(default)]
    pub custom_parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub media_format: Option<MediaFormat>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaFormat {
    pub encoding: String,
    pub sample_rate: u32,
    pub channels: u16,
}

impl MediaFormat {
    /// Is this the only format a bidirectional stream carries: 8 kHz mono μ-law?
    pub fn is_mulaw_8k(&self) -> bool {
        self.encoding.eq_ignore_ascii_case("audio/x-mulaw")
            && self.sample_rate == 8_000
            && self.channels == 1
    }
}

/// Why a message could not be used. Each one ends only the call it came on.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProtocolError {
    #[error("message of {0} bytes is larger than the {MAX_MESSAGE_BYTES} allowed")]
    TooLarge(usize),
    #[error("not JSON, or not a Media Streams message: {0}")]
    Malformed(String),
    #[error("media payload is not valid base64")]
    BadBase64,
    #[error("dtmf digit {0:?} is not a key")]
    BadDigit(String),
}

// Borrowed where the text allows (`Cow`): a `media` message arrives 50
// times a second per call, and owned strings were four allocations each.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(default)]
    start: Option<Start>,
    #[serde(default, borrow)]
    media: Option<MediaBody<'a>>,
    #[serde(default)]
    dtmf: Option<DtmfBody>,
    #[serde(default)]
    mark: Option<MarkBody>,
}

#[derive(Deserialize)]
struct MediaBody<'a> {
    #[serde(default, borrow)]
    track: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payload: Cow<'a, str>,
}

#[derive(Deserialize)]
struct DtmfBody {
    digit: String,
}

#[derive(Deserialize)]
struct MarkBody {
    name: String,
}

/// Parses one text message from the provider.
pub fn parse(text: &str) -> Result<Event, ProtocolError> {
    parse_reusing(text, Vec::with_capacity(FRAME_SAMPLES))
}

/// [`parse`], decoding a `media` payload into `buffer` (its contents
/// replaced), which the event then carries. Why: a call gets 50 of these a
/// second, and handing each payload's buffer back for the next one spares an
/// allocation, a reallocation (base64 decodes into a little more than it
/// keeps) and a free per frame.
pub fn parse_reusing(text: &str, buffer: Vec<u8>) -> Result<Event, ProtocolError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(ProtocolError::TooLarge(text.len()));
    }
    match plain_media::media_body(text) {
        Some(media) => media_event(media, buffer),
        None => parse_with_serde(text, buffer),
    }
}

/// Every message, as serde reads it; [`plain_media`] takes the common
/// case first.
fn parse_with_serde(text: &str, buffer: Vec<u8>) -> Result<Event, ProtocolError> {
    let envelope: Envelope =
        serde_json::from_str(text).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
    let missing = |what: &str| {
        ProtocolError::Malformed(format!("`{what}` event without its `{what}` object"))
    };
    Ok(match envelope.event.as_ref() {
        "connected" => Event::Connected,
        "start" => Event::Start(envelope.start.ok_or_else(|| missing("start"))?),
        "media" => media_event(envelope.media.ok_or_else(|| missing("media"))?, buffer)?,
        "dtmf" => {
            let digit = envelope.dtmf.ok_or_else(|| missing("dtmf"))?.digit;
            let mut chars = digit.chars();
            match (chars.next(), chars.next()) {
                (Some(c @ ('0'..='9' | '*' | '#' | 'A'..='D')), None) => Event::Dtmf(c),
                _ => return Err(ProtocolError::BadDigit(digit)),
            }
        }
        "mark" => Event::Mark(envelope.mark.ok_or_else(|| missing("mark"))?.name),
        "stop" => Event::Stop,
        other => Event::Other(other.to_string()),
    })
}

fn media_event(media: MediaBody<'_>, mut buffer: Vec<u8>) -> Result<Event, ProtocolError> {
    // A stream that also forks our own audio back says so per frame.
    if media
        .track
        .as_deref()
        .is_some_and(|t| t.starts_with("outbound"))
    {
        return Ok(Event::Other("media (outbound track)".into()));
    }
    buffer.clear();
    STANDARD
        .decode_vec(media.payload.as_bytes(), &mut buffer)
        .map_err(|_| ProtocolError::BadBase64)?;
    Ok(Event::Media {
        payload: buffer,
        timestamp: media.timestamp.and_then(|t| t.parse().ok()),
    })
}

/// One message to the provider.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// μ-law audio to play: one or more whole 20 ms frames (the provider
    /// plays a payload of any length, one after another).
    Media(Vec<u8>),
    /// Tell us (with a `mark` event) when the audio sent so far has played.
    Mark(String),
    /// Drop the audio sent but not yet played (barge-in); pending marks come back.
    Clear,
}

impl Command {
    /// The JSON text of the message for stream `stream_sid`.
    pub fn to_json(&self, stream_sid: &str) -> String {
        match self {
            Command::Media(audio) => {
                let mut s =
                    String::with_capacity(96 + stream_sid.len() + audio.len().div_ceil(3) * 4);
                s.push_str(r#"{"event":"media","streamSid":"#);
                push_json_str(&mut s, stream_sid);
                s.push_str(r#","media":{"payload":""#);
                STANDARD.encode_string(audio, &mut s);
                s.push_str(r#""}}"#);
                s
            }
            Command::Mark(name) => serde_json::json!({
                "event": "mark", "streamSid": stream_sid, "mark": { "name": name }
            })
            .to_string(),
            Command::Clear => {
                serde_json::json!({ "event": "clear", "streamSid": stream_sid }).to_string()
            }
        }
    }
}

/// Appends `s` as a JSON string; media frames are the hot path, so the
/// envelope is written by hand and only the sid goes through serde.
fn push_json_str(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

mod plain_media;
#[cfg(test)]
mod tests;
