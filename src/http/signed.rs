//! The provider's requests, authenticated: an extractor that reads the form
//! body and checks `X-Twilio-Signature` against the configured public URL.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::twilio::signature;

/// Bodies larger than this are not webhooks.
const MAX_BODY: usize = 64 * 1024;

/// A webhook's form parameters, from a request whose signature checked out
/// (or, in local mode, that came from loopback).
pub(super) struct SignedForm(pub(super) Vec<(String, String)>);

impl FromRequest<AppState> for SignedForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let signature_header = parts
            .headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| reject(StatusCode::BAD_REQUEST, "unreadable body"))?;
        if bytes.len() > MAX_BODY {
            return Err(reject(StatusCode::PAYLOAD_TOO_LARGE, "body too large"));
        }
        let pairs: Vec<(String, String)> = form_urlencoded_pairs(&bytes);
        let signed = signature::SignedParams::new(&pairs);
        let settings = state.settings();
        match &settings.auth_token {
            Some(token) => {
                let url = format!("{}{}", settings.public_url, path_and_query);
                let ok = signature_header
                    .as_deref()
                    .is_some_and(|sig| signature::is_valid_signed(token, &url, &signed, sig));
                if !ok {
                    tracing::warn!(path = %path_and_query, "rejected a provider request with a missing or wrong signature");
                    return Err(reject(StatusCode::FORBIDDEN, "invalid signature"));
                }
            }
            None => {
                if !peer.is_some_and(|p| p.ip().is_loopback()) {
                    tracing::warn!(
                        ?peer,
                        "local mode: rejected an unsigned request from outside this machine"
                    );
                    return Err(reject(
                        StatusCode::FORBIDDEN,
                        "unsigned requests are accepted from loopback only",
                    ));
                }
            }
        }
        // The sort the signature needs already tells whether a pair repeats:
        // nearly every webhook has none and is passed on as it came.
        if signed.has_repeats() {
            Ok(SignedForm(without_repeated_pairs(pairs)))
        } else {
            Ok(SignedForm(pairs))
        }
    }
}

/// The pairs with every exact repeat of an earlier `name=value` removed,
/// order otherwise kept.
///
/// The signature treats a repeated identical pair as one (as twilio-python
/// does), so the parameters past this point must too: otherwise a request
/// the signature accepts would be refused later as a repeated parameter.
/// A name repeated with *different* values is left for the parameter parser
/// to refuse, since picking one would be a guess.
///
/// The set borrows the pairs rather than cloning each one: a webhook
/// carries ~40 parameters, and two allocations per parameter on every
/// webhook showed in the profile (docs/benchmarks.md).
fn without_repeated_pairs(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    let repeated: Vec<bool> = {
        let mut seen = std::collections::HashSet::with_capacity(pairs.len());
        pairs.iter().map(|pair| !seen.insert(pair)).collect()
    };
    if !repeated.contains(&true) {
        return pairs;
    }
    pairs
        .into_iter()
        .zip(repeated)
        .filter_map(|(pair, repeat)| (!repeat).then_some(pair))
        .collect()
}

/// Checks the provider's WebSocket upgrade request for the media stream:
/// with an auth token, `X-Twilio-Signature` must sign the public stream URL
/// (`wss://…/media`, no parameters); in local mode, the peer must be on
/// this machine. The error is the response to send (403).
pub(super) fn check_stream_upgrade(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    peer: SocketAddr,
) -> Result<(), Box<Response>> {
    let settings = state.settings();
    match &settings.auth_token {
        Some(token) => {
            let url = crate::twiml::stream_url(&settings.public_url);
            let ok = headers
                .get("x-twilio-signature")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|sig| signature::is_valid(token, &url, &[], sig));
            if ok {
                Ok(())
            } else {
                tracing::warn!(%peer, "rejected a media stream with a missing or wrong signature");
                Err(Box::new(reject(StatusCode::FORBIDDEN, "invalid signature")))
            }
        }
        None if peer.ip().is_loopback() => Ok(()),
        None => {
            tracing::warn!(%peer, "local mode: rejected a media stream from outside this machine");
            Err(Box::new(reject(
                StatusCode::FORBIDDEN,
                "unsigned requests are accepted from loopback only",
            )))
        }
    }
}

/// Parses `application/x-www-form-urlencoded`. Invalid UTF-8 is replaced,
/// not rejected: such a request then simply fails its signature check.
fn form_urlencoded_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

fn reject(status: StatusCode, message: &'static str) -> Response {
    (status, message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn an_identical_repeated_pair_is_kept_once_and_order_is_preserved() {
        let got = without_repeated_pairs(pairs(&[
            ("CallSid", "CA1"),
            ("Digits", "1"),
            ("CallSid", "CA1"),
            ("Digits", "2"),
        ]));
        assert_eq!(
            got,
            pairs(&[("CallSid", "CA1"), ("Digits", "1"), ("Digits", "2")])
        );
    }
}
