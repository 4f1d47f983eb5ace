//! The server's metrics, as a handle: [`crate::app::App`] makes one and
//! passes it to whoever counts (the call service, the media loop, the
//! dialer, the HTTP layer that times webhooks and serves `/metrics`).
//!
//! Why a handle and not a process-wide static: each `App` (tests start
//! several in one process) counts on its own registry, and a bench reads
//! the figures of the server it started through that server's handle.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// A caller frame processed later than this after it was due is late.
pub const LATE_FRAME: Duration = Duration::from_millis(20);

/// Every metric dialback exports; cheap to clone (one shared registry).
#[derive(Clone)]
pub struct Metrics {
    /// `None` only if registration failed, which a metric name typo would
    /// cause and the tests below would catch.
    registered: Option<Arc<Registered>>,
    /// The worst lateness (µs) of a caller frame since it was last taken.
    /// The counts themselves are on `/metrics`; a maximum that can be reset
    /// is not a Prometheus kind.
    max_lateness_us: Arc<AtomicU64>,
}

struct Registered {
    registry: Registry,
    /// Webhook handling time by route (`/twilio/gather`, …).
    webhook_seconds: HistogramVec,
    /// Calls that ended, by outcome.
    calls_ended: IntCounterVec,
    /// Media streams open now.
    active_media_streams: IntGauge,
    /// Caller audio frames processed on media streams.
    media_frames: IntCounter,
    /// Of those, frames processed more than [`LATE_FRAME`] after they were
    /// due: the figure to watch on a machine short of CPU, or shared with a
    /// noisy neighbour.
    media_frames_late: IntCounter,
    /// Dial attempts, by how each ended.
    dialer_attempts: IntCounterVec,
    /// Store operations that failed.
    store_errors: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh set of metrics on a registry of its own.
    pub fn new() -> Metrics {
        let registered = Registered::new()
            .inspect_err(|e| tracing::error!(error = %e, "metrics could not be registered"))
            .ok()
            .map(Arc::new);
        Metrics {
            registered,
            max_lateness_us: Arc::new(AtomicU64::new(0)),
        }
    }

    fn with(&self, f: impl FnOnce(&Registered)) {
        if let Some(m) = &self.registered {
            f(m);
        }
    }

    /// Counts a call that ended with `outcome`.
    pub fn call_ended(&self, outcome: &str) {
        self.with(|m| m.calls_ended.with_label_values(&[outcome]).inc());
    }

    /// A media stream started: its call is live on the socket.
    pub fn media_stream_started(&self) {
        self.with(|m| m.active_media_streams.inc());
    }

    /// A media stream that started has ended.
    pub fn media_stream_ended(&self) {
        self.with(|m| m.active_media_streams.dec());
    }

    /// Counts a caller frame processed `lateness` after it was due (`None`:
    /// the frame carried no timestamp to tell).
    pub fn media_frame(&self, lateness: Option<Duration>) {
        if let Some(late) = lateness {
            let us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
            self.max_lateness_us.fetch_max(us, Ordering::Relaxed);
        }
        self.with(|m| {
            m.media_frames.inc();
            if lateness.is_some_and(|l| l > LATE_FRAME) {
                m.media_frames_late.inc();
            }
        });
    }

    /// The worst lateness of a caller frame since the last call, which it
    /// resets: the load bench takes it at the start and end of each level.
    pub fn take_max_lateness(&self) -> Duration {
        Duration::from_micros(self.max_lateness_us.swap(0, Ordering::Relaxed))
    }

    /// Caller frames processed so far, and how many of them were late.
    pub fn media_frames(&self) -> (u64, u64) {
        self.registered.as_ref().map_or((0, 0), |m| {
            (m.media_frames.get(), m.media_frames_late.get())
        })
    }

    /// Media streams open now.
    pub fn active_media_streams(&self) -> i64 {
        self.registered
            .as_ref()
            .map_or(0, |m| m.active_media_streams.get())
    }

    /// Counts a dial attempt that ended: `completed`, `busy`, `no_answer`,
    /// `failed`, `machine`, `message_left`, or, for one the provider never
    /// placed, `provider_busy` or `refused`.
    pub fn dial_attempt(&self, result: &str) {
        self.with(|m| m.dialer_attempts.with_label_values(&[result]).inc());
    }

    /// Counts a failed store operation.
    pub fn store_error(&self) {
        self.with(|m| m.store_errors.inc());
    }

    /// Records how long a webhook took, by its route pattern.
    pub fn webhook_handled(&self, route: &str, took: Duration) {
        self.with(|m| {
            m.webhook_seconds
                .with_label_values(&[route])
                .observe(took.as_secs_f64())
        });
    }

    /// Everything, in the Prometheus text format.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(m) = &self.registered
            && let Err(e) = TextEncoder::new().encode(&m.registry.gather(), &mut out)
        {
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        out
    }
}

impl Registered {
    fn new() -> prometheus::Result<Registered> {
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
        Ok(Registered {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(m: &Metrics) -> String {
        String::from_utf8(m.encode()).unwrap()
    }

    #[test]
    fn every_metric_registers_and_counts_on_its_own_registry() {
        let (a, b) = (Metrics::new(), Metrics::new());
        assert!(a.registered.is_some(), "registration failed");
        a.dial_attempt("busy");
        a.call_ended("completed");
        assert!(text(&a).contains(r#"dialback_dialer_attempts_total{result="busy"} 1"#));
        assert!(text(&a).contains(r#"dialback_calls_ended_total{outcome="completed"} 1"#));
        assert!(!text(&b).contains("dialback_dialer_attempts_total{"));
    }

    #[test]
    fn a_frame_later_than_twenty_ms_counts_as_late_and_the_worst_lateness_resets_when_taken() {
        let m = Metrics::new();
        m.media_frame(Some(Duration::from_millis(5)));
        m.media_frame(Some(Duration::from_millis(35)));
        m.media_frame(None);
        assert_eq!(m.media_frames(), (3, 1));
        assert_eq!(m.take_max_lateness(), Duration::from_millis(35));
        assert_eq!(m.take_max_lateness(), Duration::ZERO);
    }
}
