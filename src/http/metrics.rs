//! `/metrics` in the Prometheus text format.
//!
//! One process-wide registry: metrics describe the process (a scrape is per
//! replica), and the media and dialer layers drive their gauge and counter
//! from wherever they run without an `AppState` in hand.

use std::sync::LazyLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Every metric dialback exports.
pub struct Metrics {
    registry: Registry,
    /// Webhook handling time by route (`/twilio/gather`, …).
    pub webhook_seconds: HistogramVec,
    /// Calls that ended, by outcome.
    pub calls_ended: IntCounterVec,
    /// Media streams open now (driven by the media layer).
    pub active_media_streams: IntGauge,
    /// Caller audio frames processed on media streams.
    pub media_frames: IntCounter,
    /// Of those, frames processed more than 20 ms after they were due: the
    /// figure to watch on a machine short of CPU, or shared with a noisy
    /// neighbour (the README's load figures).
    pub media_frames_late: IntCounter,
    /// Dial attempts, by how each ended (driven by the dialer).
    pub dialer_attempts: IntCounterVec,
    /// Store operations that failed.
    pub store_errors: IntCounter,
}

/// The process's metrics; `None` only if registration failed, which a
/// metric name typo would cause and a test would catch.
pub static METRICS: LazyLock<Option<Metrics>> = LazyLock::new(|| {
    let built = Metrics::new();
    if let Err(e) = &built {
        tracing::error!(error = %e, "metrics could not be registered");
    }
    built.ok()
});

impl Metrics {
    fn new() -> prometheus::Result<Metrics> {
        let registry = Registry::new_custom(Some("dialback".into()), None)?;
        // Webhooks must answer in well under the provider's 15 s timeout;
        // the buckets resolve the milliseconds that matter.
        let buckets = vec![
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let webhook_seconds = HistogramVec::new(
            HistogramOpts::new("webhook_duration_seconds", "Webhook handling time by route")
                .buckets(buckets),
            &["route"],
        )?;
        let calls_ended = IntCounterVec::new(
            Opts::new("calls_ended_total", "Calls that ended, by outcome"),
            &["outcome"],
        )?;
        let active_media_streams = IntGauge::new("active_media_streams", "Media streams open now")?;
        let media_frames = IntCounter::new(
            "media_frames_total",
            "Caller audio frames processed on media streams",
        )?;
        let media_frames_late = IntCounter::new(
            "media_frames_late_total",
            "Caller audio frames processed more than 20 ms after they were due",
        )?;
        let dialer_attempts = IntCounterVec::new(
            Opts::new("dialer_attempts_total", "Dial attempts by how they ended"),
            &["result"],
        )?;
        let store_errors = IntCounter::new("store_errors_total", "Store operations that failed")?;
        registry.register(Box::new(webhook_seconds.clone()))?;
        registry.register(Box::new(calls_ended.clone()))?;
        registry.register(Box::new(active_media_streams.clone()))?;
        registry.register(Box::new(media_frames.clone()))?;
        registry.register(Box::new(media_frames_late.clone()))?;
        registry.register(Box::new(dialer_attempts.clone()))?;
        registry.register(Box::new(store_errors.clone()))?;
        Ok(Metrics {
            registry,
            webhook_seconds,
            calls_ended,
            active_media_streams,
            media_frames,
            media_frames_late,
            dialer_attempts,
            store_errors,
        })
    }
}

/// Counts a call that ended with `outcome`.
pub(super) fn call_ended(outcome: &str) {
    if let Some(m) = METRICS.as_ref() {
        m.calls_ended.with_label_values(&[outcome]).inc();
    }
}

/// A media stream started: its call is live on the socket.
pub(crate) fn media_stream_started() {
    if let Some(m) = METRICS.as_ref() {
        m.active_media_streams.inc();
    }
}

/// A media stream that started has ended.
pub(crate) fn media_stream_ended() {
    if let Some(m) = METRICS.as_ref() {
        m.active_media_streams.dec();
    }
}

/// Counts a caller frame processed, and whether it was late.
pub(crate) fn media_frame(late: bool) {
    if let Some(m) = METRICS.as_ref() {
        m.media_frames.inc();
        if late {
            m.media_frames_late.inc();
        }
    }
}

/// Counts a dial attempt that ended: `completed`, `busy`, `no_answer`,
/// `failed`, `machine`, `message_left`, or, for one the provider never
/// placed, `provider_busy` or `refused`.
pub(crate) fn dial_attempt(result: &str) {
    if let Some(m) = METRICS.as_ref() {
        m.dialer_attempts.with_label_values(&[result]).inc();
    }
}

/// Counts a failed store operation.
pub(super) fn store_error() {
    if let Some(m) = METRICS.as_ref() {
        m.store_errors.inc();
    }
}

/// Times every `/twilio/…` webhook by its route pattern (never the raw
/// path, which would make one series per CallSid).
pub(super) async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .filter(|p| p.starts_with("/twilio/"));
    let started = Instant::now();
    let response = next.run(request).await;
    if let (Some(route), Some(m)) = (route, METRICS.as_ref()) {
        m.webhook_seconds
            .with_label_values(&[route.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    response
}

/// `GET /metrics`.
pub(super) async fn metrics() -> Response {
    let mut out = Vec::new();
    if let Some(m) = METRICS.as_ref()
        && let Err(e) = TextEncoder::new().encode(&m.registry.gather(), &mut out)
    {
        tracing::error!(error = %e, "metrics could not be encoded");
    }
    ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], out).into_response()
}
