//! Signing in to the dashboard: the admin token, typed once into a form,
//! buys a session cookie; every dashboard route then checks that cookie,
//! and every form POST also checks where it came from.
//!
//! The cookie is `<expiry>.<HMAC-SHA256(key, expiry)>`, never the token.
//! The key is derived from the admin token rather than drawn at random per
//! process: with several replicas behind a load balancer a session must
//! hold on whichever replica a request lands on, and changing the token
//! signs everybody out, which is what an operator rotating it wants.
//! Hand-written rather than axum-extra's `SignedCookieJar`: what is signed is
//! one expiry time, the MAC is the `hmac` crate's, and the jar would add a
//! dependency (and a key format) for the same twenty lines.

use std::net::SocketAddr;

use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::login_limit::LoginLimiter;
use super::{PageError, render};
use crate::http::AppState;

pub(super) const COOKIE: &str = "dialback_session";

/// How long a sign-in lasts: a working day, so a laptop left open overnight
/// asks again.
const LIFETIME: Duration = Duration::hours(12);

type HmacSha256 = Hmac<Sha256>;

fn key(token: &str) -> HmacSha256 {
    let mut derive = <HmacSha256 as KeyInit>::new_from_slice(token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    derive.update(b"dialback dashboard session v1");
    let key = derive.finalize().into_bytes();
    <HmacSha256 as KeyInit>::new_from_slice(&key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

/// The cookie value for a session ending at `expires`.
fn sign(token: &str, expires: DateTime<Utc>) -> String {
    let secs = expires.timestamp();
    let mut mac = key(token);
    mac.update(secs.to_string().as_bytes());
    format!("{secs}.{}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `value` is a cookie [`sign`] made with `token` that has not
/// expired at `now`.
fn verify(token: &str, value: &str, now: DateTime<Utc>) -> bool {
    let Some((secs, tag)) = value.split_once('.') else {
        return false;
    };
    let (Ok(secs), Ok(tag)) = (secs.parse::<i64>(), hex::decode(tag)) else {
        return false;
    };
    let mut mac = key(token);
    mac.update(secs.to_string().as_bytes());
    mac.verify_slice(&tag).is_ok() && secs > now.timestamp()
}

fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the request comes from a signed-in dashboard user. Without an
/// admin token (local mode) the dashboard, like the admin API, is open to
/// this machine only, with no sign-in.
pub(crate) fn is_signed_in(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> bool {
    match &state.settings().admin_token {
        Some(token) => cookie_value(headers, COOKIE)
            .is_some_and(|v| verify(token, v, state.settings().clock.now())),
        None => peer.ip().is_loopback(),
    }
}

/// Proof that a page request comes from a signed-in user. As an extractor
/// it sends anyone else to the sign-in form ([`PageError::SignIn`]), so a
/// page handler cannot forget the check by forgetting a line.
pub(super) struct SignedIn;

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        // Without the peer address (a server not started with connect
        // info) nobody counts as local.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
        if is_signed_in(state, &parts.headers, peer) {
            Ok(SignedIn)
        } else {
            Err(PageError::SignIn)
        }
    }
}

/// Refuses a form POST whose `Origin` (or, failing that, `Referer`) names
/// another site. The SameSite=Strict cookie already keeps other sites'
/// forms from riding on a session; this is the second lock, for browsers
/// that ignore SameSite. A request with neither header (curl, old
/// browsers on same-origin POSTs) passes: a browser always sends `Origin`
/// on a cross-site POST.
pub(super) fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), PageError> {
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    let Some(source) = source else {
        return Ok(());
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let ours = [host, authority(&state.settings().public_url)];
    match authority(source) {
        Some(theirs) if ours.contains(&Some(theirs)) => Ok(()),
        _ => Err(PageError::CrossOrigin),
    }
}

/// `host[:port]` of an absolute URL (`None` for `null` or a bare path).
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|a| !a.is_empty())
}

fn set_cookie(state: &AppState, value: &str, max_age: i64) -> Option<HeaderValue> {
    // Secure only when the public URL is https: a plain-http local run
    // would otherwise never keep the cookie.
    let secure = if state.settings().public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// `GET /login`: the sign-in form.
pub(super) async fn form() -> Result<Response, PageError> {
    render("login.html", minijinja::context! { error => () })
        .map(|html| (html_headers(), html).into_response())
}

#[derive(Deserialize)]
pub(super) struct Login {
    token: String,
}

/// `POST /login`: the admin token in, a session cookie out. Wrong tokens
/// are limited per client address ([`LoginLimiter`]).
pub(super) async fn login(
    State(state): State<AppState>,
    Extension(limiter): Extension<Arc<LoginLimiter>>,
    ConnectInfo(peer): Peer,
    headers: HeaderMap,
    Form(login): Form<Login>,
) -> Result<Response, PageError> {
    same_origin(&state, &headers)?;
    let now = state.settings().clock.now();
    if let Some(until) = limiter.blocked_until(peer.ip(), now) {
        tracing::warn!(%peer, "dashboard sign-in refused: too many wrong tokens");
        let wait = (until - now).num_seconds().max(1).to_string();
        let html = render(
            "login.html",
            minijinja::context! { error => "Too many wrong tokens from this address. Wait a few minutes, then try again." },
        )?;
        let mut response = (StatusCode::TOO_MANY_REQUESTS, html_headers(), html).into_response();
        if let Ok(v) = HeaderValue::from_str(&wait) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Ok(response);
    }
    let Some(token) = &state.settings().admin_token else {
        return Err(PageError::BadRequest(
            "this server has no admin token, so the dashboard is open to this machine without \
             signing in; start it with --admin-token to sign in from elsewhere"
                .into(),
        ));
    };
    if !bool::from(login.token.trim().as_bytes().ct_eq(token.as_bytes())) {
        limiter.failed(peer.ip(), now);
        tracing::warn!(%peer, "dashboard sign-in with a wrong admin token");
        let html = render(
            "login.html",
            minijinja::context! { error => "That is not the admin token. Check DIALBACK_ADMIN_TOKEN on the server." },
        )?;
        return Ok((StatusCode::UNAUTHORIZED, html_headers(), html).into_response());
    }
    limiter.succeeded(peer.ip());
    let cookie = sign(token, now + LIFETIME);
    let mut response = Redirect::to("/").into_response();
    if let Some(v) = set_cookie(&state, &cookie, LIFETIME.num_seconds()) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// `POST /logout`: forgets the cookie in this browser.
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    same_origin(&state, &headers)?;
    let mut response = Redirect::to("/login").into_response();
    if let Some(v) = set_cookie(&state, "", 0) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// Headers of every dashboard page: HTML, and a policy that allows nothing
/// but this server's own stylesheet, audio and forms (no scripts at all:
/// the charts are SVG drawn on the server).
pub(super) fn html_headers() -> [(header::HeaderName, &'static str); 4] {
    [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ]
}

/// Keeps `ConnectInfo` in the signature list of the page handlers short.
pub(super) type Peer = ConnectInfo<SocketAddr>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_cookie_holds_until_it_expires_and_only_for_its_token() {
        let now = Utc::now();
        let cookie = sign("secret", now + Duration::hours(1));

        assert!(verify("secret", &cookie, now));
        assert!(!verify("secret", &cookie, now + Duration::hours(2)));
        assert!(!verify("other", &cookie, now));
        assert!(!cookie.contains("secret"));
    }

    #[test]
    fn a_forged_expiry_does_not_verify() {
        let now = Utc::now();
        let cookie = sign("secret", now + Duration::hours(1));
        let (_, tag) = cookie.split_once('.').unwrap();
        let forged = format!("{}.{tag}", (now + Duration::days(365)).timestamp());

        assert!(!verify("secret", &forged, now));
        assert!(!verify("secret", "garbage", now));
    }

    #[test]
    fn an_authority_is_the_host_and_port_of_a_url() {
        assert_eq!(
            authority("http://127.0.0.1:8080/x?y"),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            authority("https://ivr.example.com"),
            Some("ivr.example.com")
        );
        assert_eq!(authority("null"), None);
    }
}
