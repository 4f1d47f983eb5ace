//! Middleware every route passes through: the local-mode cross-site check
//! and `Cache-Control: no-store`.
//!
//! In local mode (no auth token) nothing is signed, so being on this machine
//! is the only credential. A web page open in the operator's browser is on
//! this machine too: without these checks it could POST to the webhooks or
//! the admin API (cross-site requests), or reach them through a DNS name it
//! controls that resolves to 127.0.0.1 (a foreign `Host`). So in local mode
//! a request must name this server in `Host` (loopback, or the configured
//! public URL) and must not come from another site's page (`Origin`,
//! `Sec-Fetch-Site`). Requests from programs (curl, the provider's
//! simulator) send no `Origin` or `Sec-Fetch-Site` and pass.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Refuses, in local mode, requests that another site's page could have
/// made (403). With an auth token every provider request is signed and the
/// admin API needs its token, so nothing is checked here.
pub(super) async fn local_mode_same_site(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let settings = state.settings();
    if settings.auth_token.is_none()
        && let Err(why) = same_site(&settings.public_url, req.headers())
    {
        tracing::warn!(reason = why, "local mode: refused a request");
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    next.run(req).await
}

/// Why a local-mode request may have come from another site, if it may.
fn same_site(public_url: &str, headers: &HeaderMap) -> Result<(), &'static str> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let public = authority(public_url);
    let host = text(header::HOST).ok_or("a request without a Host header")?;
    if !(is_loopback_host(host) || public.is_some_and(|p| p.eq_ignore_ascii_case(host))) {
        return Err("the Host header names neither this machine nor the public URL");
    }
    // Browsers send Sec-Fetch-Site on every request; `same-site` is not
    // enough, as every port of localhost is the same site.
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site"))
        && !matches!(site, "same-origin" | "none")
    {
        return Err("a request from another site's page");
    }
    if let Some(origin) = text(header::ORIGIN) {
        let ok =
            authority(origin).is_some_and(|o| o.eq_ignore_ascii_case(host) || Some(o) == public);
        if !ok {
            return Err("a request from another origin");
        }
    }
    Ok(())
}

/// `host[:port]` of an absolute URL (`None` for `null` or a bare path).
fn authority(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|a| !a.is_empty())
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Adds `Cache-Control: no-store` to every response that does not set its
/// own caching: pages, JSON and CSV hold personal data (numbers, answers,
/// what callers said), and no browser or proxy cache should keep a copy.
/// The prompt audio under `/audio/` is exempt: it is the same for every
/// caller, and the provider may cache it between calls.
pub(super) async fn no_store(req: Request, next: Next) -> Response {
    let cacheable = req.uri().path().starts_with("/audio/");
    let mut response = next.run(req).await;
    if !cacheable && !response.headers().contains_key(header::CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "https://ivr.example.test";

    fn headers(items: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in items {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn programs_and_same_origin_pages_on_this_machine_pass() {
        for case in [
            headers(&[("host", "127.0.0.1:8080")]),
            headers(&[("host", "localhost:8080")]),
            headers(&[("host", "[::1]:8080")]),
            headers(&[("host", "ivr.example.test")]),
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080"),
                ("sec-fetch-site", "same-origin"),
            ]),
            headers(&[("host", "localhost:8080"), ("sec-fetch-site", "none")]),
        ] {
            assert_eq!(same_site(PUBLIC, &case), Ok(()), "{case:?}");
        }
    }

    #[test]
    fn cross_site_requests_and_foreign_hosts_are_refused() {
        for case in [
            headers(&[]),
            headers(&[("host", "attacker.example:8080")]),
            headers(&[("host", "127.0.0.1.attacker.example")]),
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "https://attacker.example"),
            ]),
            headers(&[("host", "127.0.0.1:8080"), ("origin", "null")]),
            // Another port of localhost is another origin.
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:3000"),
            ]),
            headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")]),
            headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "same-site")]),
        ] {
            assert!(same_site(PUBLIC, &case).is_err(), "{case:?}");
        }
    }
}
