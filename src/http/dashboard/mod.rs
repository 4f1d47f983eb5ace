//! The dashboard: server-rendered HTML for people reading results, served
//! by the same binary (no front-end build, no scripts). Charts are SVG
//! drawn on the server, so they show with JavaScript off.
//!
//! - `session.rs`: signing in with the admin token, the session cookie, the
//!   same-origin check on forms.
//! - `login_limit.rs`: how many wrong tokens an address may try.
//! - `pages.rs`: the overview, the open-handoff queue, recent calls, one
//!   call's transcript.
//! - `view.rs`: a [`crate::report::FlowReport`] shaped for the templates
//!   (bar widths, percentages, score lines).
//! - `recordings.rs`: callers' recordings, streamed to `<audio>`.
//! - `said.rs`: "What callers said", a flow's topics and unnamed phrases
//!   (`crate::http::said` does the work), and the calls behind each.
//! - `trends.rs`: Trends, a flow's completion, CSAT, NPS and resolution
//!   period by period with 95 % intervals (`crate::http::trends`).
//! - `cohort.rs`: "Re-call a cohort", the form for a cohort campaign
//!   (`crate::http::cohort`).
//! - `templates/`: minijinja templates, HTML auto-escaped.

mod cohort;
mod login_limit;
mod pages;
mod recordings;
mod said;
mod session;
mod trends;
mod view;

use std::sync::{Arc, LazyLock};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use minijinja::Environment;

use super::AppState;

pub(crate) use session::is_signed_in;

/// The dashboard's routes, merged into the server's router.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::overview))
        .route("/login", get(session::form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/handoffs", get(pages::handoffs))
        .route("/handoffs/{id}/resolve", post(pages::resolve))
        .route("/calls", get(pages::calls))
        .route("/calls/{call_sid}", get(pages::call))
        .route("/said", get(said::page))
        .route("/said/calls", get(said::calls))
        .route("/trends", get(trends::page))
        .route("/cohort", get(cohort::form).post(cohort::submit))
        .route("/recordings/{file}", get(recordings::recording))
        .route("/dashboard.css", get(stylesheet))
        // One limiter per server: every sign-in on it shares the count.
        .layer(Extension(Arc::new(login_limit::LoginLimiter::default())))
}

/// The templates, compiled once. They are part of the binary, so a broken
/// one is a build mistake that `every_template_compiles` catches, not
/// something a request could cause.
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        ("base.html", include_str!("templates/base.html")),
        ("login.html", include_str!("templates/login.html")),
        ("overview.html", include_str!("templates/overview.html")),
        ("handoffs.html", include_str!("templates/handoffs.html")),
        (
            "handoff_history.html",
            include_str!("templates/handoff_history.html"),
        ),
        ("calls.html", include_str!("templates/calls.html")),
        ("call.html", include_str!("templates/call.html")),
        ("said.html", include_str!("templates/said.html")),
        ("said_calls.html", include_str!("templates/said_calls.html")),
        ("trends.html", include_str!("templates/trends.html")),
        ("cohort.html", include_str!("templates/cohort.html")),
    ] {
        if let Err(e) = env.add_template(name, source) {
            panic!("dashboard template {name} does not compile: {e}");
        }
    }
    env
});

const STYLESHEET: &str = include_str!("templates/dashboard.css");

fn render(name: &str, context: minijinja::Value) -> Result<String, PageError> {
    Ok(TEMPLATES.get_template(name)?.render(context)?)
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// Why a dashboard request failed, each with its status code; internals
/// are logged, never shown.
#[derive(Debug)]
pub(super) enum PageError {
    /// 303 to `/login`: a page asked for without a session.
    SignIn,
    /// 401: a file (recording) asked for without a session.
    Unauthorized,
    /// 403: a form posted from another site.
    CrossOrigin,
    /// 404.
    NotFound(&'static str),
    /// 400: a filter that cannot be read; the message says which.
    BadRequest(String),
    /// 500: the store failed.
    Store(crate::store::StoreError),
    /// 500: a template failed to render.
    Template(minijinja::Error),
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        PageError::Store(e)
    }
}

impl From<minijinja::Error> for PageError {
    fn from(e: minijinja::Error) -> Self {
        PageError::Template(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let failed = super::metrics::StoreFailed::when(matches!(self, PageError::Store(_)));
        let (status, message) = match self {
            PageError::SignIn => return Redirect::to("/login").into_response(),
            PageError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "Sign in at /login first.".to_string(),
            ),
            PageError::CrossOrigin => (
                StatusCode::FORBIDDEN,
                "This form was sent from another site, so it was refused. Use the dashboard's own page."
                    .to_string(),
            ),
            PageError::NotFound(what) => (StatusCode::NOT_FOUND, format!("No such {what}.")),
            PageError::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
            PageError::Store(e) => {
                tracing::error!(error = %e, "store failed in the dashboard");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The database is unavailable; try again in a moment.".to_string(),
                )
            }
            PageError::Template(e) => {
                tracing::error!(error = %e, "a dashboard template failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "This page could not be drawn; the server log says why.".to_string(),
                )
            }
        };
        (
            status,
            failed,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            message,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_compiles() {
        for name in [
            "base.html",
            "login.html",
            "overview.html",
            "handoffs.html",
            "handoff_history.html",
            "calls.html",
            "call.html",
            "said.html",
            "said_calls.html",
            "trends.html",
            "cohort.html",
        ] {
            assert!(super::TEMPLATES.get_template(name).is_ok(), "{name}");
        }
    }
}
