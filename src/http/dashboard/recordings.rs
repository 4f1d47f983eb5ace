//! `GET /recordings/{id}`: a caller's recording for the call page's
//! `<audio>` player, from the store — whichever replica answers, whichever
//! took the call or fetched the recording. Signed-in users only, never
//! cached (`no-store`): it is a person's voice.
//!
//! A name ending in `.wav` is a stream recording made before recordings
//! were kept in the store, served from the recordings folder; it must be
//! one plain file name there, so `../` or an absolute path can never reach
//! another file.

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tower_http::services::ServeFile;

use super::PageError;
use crate::http::AppState;
use crate::store::recordings::{RecordingMediaRow, RecordingStage};

/// Whether `name` is a plain WAV file name: no separators, no `..`, no
/// hidden files, nothing a file system could read as a path.
fn is_plain_wav_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.ends_with(".wav")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.contains("..")
}

/// The dashboard's URL for a recording stored at `url` (an absolute path
/// or `file://` URL), if it is a file of the recordings folder that is
/// still there.
pub(super) fn link(state: &AppState, url: &str) -> Option<String> {
    let path = std::path::Path::new(url.strip_prefix("file://").unwrap_or(url));
    let name = path.file_name()?.to_str()?;
    let dir = &state.settings().media.recordings_dir;
    (is_plain_wav_name(name) && dir.join(name).is_file()).then(|| format!("/recordings/{name}"))
}

/// A recorded answer on the call page.
#[derive(Debug, Serialize)]
pub(super) struct RecordingView {
    /// Where the page plays it through dialback, if it is stored.
    play: Option<String>,
    /// The provider's address, while dialback has no copy of its own.
    at_provider: Option<String>,
    transcript: Option<String>,
    /// "confidence 0.93, model whisper-1", or "model whisper-1".
    transcript_by: Option<String>,
    /// Where it stands, when that is not simply "stored and transcribed".
    note: Option<String>,
}

/// The call page's view of a recording stored at `url`, with dialback's
/// copy of it, if the pipeline knows it.
pub(super) fn view(state: &AppState, url: &str, copy: Option<&RecordingMediaRow>) -> RecordingView {
    let Some(copy) = copy else {
        // Recorded before recordings were kept in the store: a file of
        // the recordings folder, or the provider's (whose completion
        // callback may not have come yet).
        let play = link(state, url);
        return RecordingView {
            at_provider: provider_link(url).filter(|_| play.is_none()),
            note: play
                .is_none()
                .then(|| "not stored by dialback (yet): the provider's copy only".to_owned()),
            play,
            transcript: None,
            transcript_by: None,
        };
    };
    let error = || {
        copy.last_error
            .as_deref()
            .map_or(String::new(), |e| format!(" (last error: {e})"))
    };
    let note = match copy.stage {
        RecordingStage::Fetch => Some(format!(
            "being fetched from the provider, attempt {}{}",
            copy.attempts,
            error()
        )),
        RecordingStage::Unavailable => Some(format!(
            "the provider never served this recording; dialback gave up{}",
            error()
        )),
        RecordingStage::Forget => Some("stored; the provider's copy is being deleted".into()),
        RecordingStage::Transcribe if state.settings().media.stt.is_none() => {
            Some("not transcribed: no speech-to-text backend is configured (--stt-url)".into())
        }
        RecordingStage::Transcribe => Some(format!("transcript pending{}", error())),
        RecordingStage::Untranscribed => {
            Some(format!("not transcribed: speech to text failed{}", error()))
        }
        RecordingStage::Done => None,
    };
    let stored = copy.stage.is_stored();
    RecordingView {
        play: stored.then(|| stored_link(&copy.recording_sid)),
        at_provider: (!stored).then(|| provider_link(url)).flatten(),
        transcript: copy.transcript.as_ref().map(|t| t.text.clone()),
        transcript_by: copy.transcript.as_ref().map(|t| match t.confidence {
            Some(c) => format!("confidence {c:.2}, model {}", t.model),
            None => format!("model {}", t.model),
        }),
        note,
    }
}

/// A recording URL the provider gave us (`RecordingUrl`), as a link; only
/// http(s), so a stored value can never become a `javascript:` link.
fn provider_link(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "https" | "http").then(|| parsed.to_string())
}

/// The dashboard's address of a recording kept in the store.
pub(super) fn stored_link(recording_sid: &str) -> String {
    format!("/recordings/{recording_sid}")
}

/// Is `id` a recording id as dialback makes and the provider gives them
/// (`RE…`, `CA…-question-7`)?
fn is_recording_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

pub(super) async fn recording(
    State(state): State<AppState>,
    ConnectInfo(peer): super::session::Peer,
    Path(file): Path<String>,
    req: Request,
) -> Result<Response, PageError> {
    if !super::is_signed_in(&state, req.headers(), peer) {
        return Err(PageError::Unauthorized);
    }
    if is_recording_id(&file) {
        let range = req
            .headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok());
        return from_store(&state, &file, range).await;
    }
    if !is_plain_wav_name(&file) {
        return Err(PageError::NotFound("recording"));
    }
    let path = state.settings().media.recordings_dir.join(&file);
    if !path.is_file() {
        return Err(PageError::NotFound("recording"));
    }
    // ServeFile streams the file and answers the Range requests that
    // `<audio>` makes when someone seeks.
    let mut response = ServeFile::new(&path)
        .try_call(req)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot read a recording");
            PageError::NotFound("recording")
        })?
        .map(Body::new);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response.into_response())
}

/// The stored audio, whole or the one byte range asked for: browsers
/// (Safari always, others when seeking) ask `<audio>` sources for ranges
/// and expect `206 Partial Content`.
async fn from_store(
    state: &AppState,
    id: &str,
    range: Option<&str>,
) -> Result<Response, PageError> {
    let audio = state
        .store()
        .recordings()
        .get_audio(id)
        .await?
        .ok_or(PageError::NotFound("recording"))?;
    // Only audio types are served as what they say; anything else the
    // provider sent is served as bytes, never as something a browser runs.
    let content_type = if audio.content_type.starts_with("audio/") {
        HeaderValue::from_str(&audio.content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
    } else {
        HeaderValue::from_static("application/octet-stream")
    };
    let len = audio.bytes.len();
    let (status, body, content_range) = match byte_range(range, len) {
        Range::Whole => (StatusCode::OK, audio.bytes, None),
        Range::Part(start, end) => (
            StatusCode::PARTIAL_CONTENT,
            audio.bytes[start..=end].to_vec(),
            Some(format!("bytes {start}-{end}/{len}")),
        ),
        Range::Unsatisfiable => (
            StatusCode::RANGE_NOT_SATISFIABLE,
            Vec::new(),
            Some(format!("bytes */{len}")),
        ),
    };
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
        ],
        body,
    )
        .into_response();
    if let Some(value) = content_range.and_then(|v| HeaderValue::from_str(&v).ok()) {
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
    Ok(response)
}

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// No range, or one this server does not split (several ranges, other
    /// units): the whole body, 200.
    Whole,
    /// Bytes `start..=end`, 206.
    Part(usize, usize),
    /// A range outside the body, 416.
    Unsatisfiable,
}

/// Reads `bytes=A-B`, `bytes=A-` and `bytes=-N` (RFC 9110 §14.1.2).
fn byte_range(header: Option<&str>, len: usize) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Range::Whole;
    };
    let number = |t: &str| t.trim().parse::<usize>().ok();
    let (start, end) = match (first.trim().is_empty(), number(first), number(last)) {
        // The last N bytes.
        (true, _, Some(n)) if n > 0 && len > 0 => (len.saturating_sub(n), len - 1),
        (false, Some(a), None) if last.trim().is_empty() => (a, len.saturating_sub(1)),
        (false, Some(a), Some(b)) if a <= b => (a, b.min(len.saturating_sub(1))),
        _ => return Range::Whole,
    };
    if start >= len {
        return Range::Unsatisfiable;
    }
    Range::Part(start, end)
}

#[cfg(test)]
mod tests {
    use super::{Range, byte_range, is_plain_wav_name, is_recording_id};

    #[test]
    fn the_one_range_a_browser_asks_for_is_served_and_others_get_the_whole_body() {
        let cases = [
            (None, Range::Whole),
            (Some("bytes=0-"), Range::Part(0, 99)),
            (Some("bytes=0-1"), Range::Part(0, 1)),
            (Some("bytes=90-500"), Range::Part(90, 99)),
            (Some("bytes=-10"), Range::Part(90, 99)),
            (Some("bytes=100-"), Range::Unsatisfiable),
            (Some("bytes=5-2"), Range::Whole),
            (Some("bytes=0-1,5-6"), Range::Whole),
            (Some("items=0-1"), Range::Whole),
        ];
        for (header, expected) in cases {
            assert_eq!(byte_range(header, 100), expected, "{header:?}");
        }
    }

    #[test]
    fn only_plain_ids_are_looked_up_in_the_store() {
        assert!(is_recording_id("RE0123456789abcdef"));
        assert!(is_recording_id("CA1-suggestion-7"));
        for bad in ["", "../x", "a/b", "x.wav", "a b", "%2e"] {
            assert!(!is_recording_id(bad), "{bad}");
        }
    }

    #[test]
    fn only_plain_wav_names_are_served() {
        assert!(is_plain_wav_name("CA1-suggestion-7.wav"));
        for bad in [
            "../x.wav",
            "a/b.wav",
            "..wav",
            ".hidden.wav",
            "x.txt",
            "",
            "a\\b.wav",
            "%2e%2e.wav",
        ] {
            assert!(!is_plain_wav_name(bad), "{bad}");
        }
    }
}
