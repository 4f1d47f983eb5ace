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
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tower_http::services::ServeFile;

use serde::Serialize;

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
        return from_store(&state, &file).await;
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

/// The stored audio, whole. Recorded answers are short (tens of
/// kilobytes), so no range requests: a browser that seeks fetches again.
async fn from_store(state: &AppState, id: &str) -> Result<Response, PageError> {
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
    Ok((
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
        ],
        audio.bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::{is_plain_wav_name, is_recording_id};

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
