//! `GET /recordings/{file}`: a caller's recording from the recordings
//! folder, for the transcript's `<audio>` player. Signed-in users only;
//! the name must be one plain file name in that folder, so `../` or an
//! absolute path can never reach another file.

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tower_http::services::ServeFile;

use super::PageError;
use crate::http::AppState;

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

pub(super) async fn recording(
    State(state): State<AppState>,
    ConnectInfo(peer): super::session::Peer,
    Path(file): Path<String>,
    req: Request,
) -> Result<Response, PageError> {
    if !super::is_signed_in(&state, req.headers(), peer) {
        return Err(PageError::Unauthorized);
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

#[cfg(test)]
mod tests {
    use super::is_plain_wav_name;

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
