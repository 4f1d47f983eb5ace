//! Retention applied by the server (`dialback serve --retention 90d`): the
//! purge of [`super::privacy::purge`] once at start, then once a day, so
//! nobody has to remember a cron job for the law to be kept.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::privacy::purge;
use crate::store::Store;

/// How often the purge runs after the first: daily, as the README promises;
/// calls crossing the limit wait at most a day more.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// One round: purges what is older than `age` at `now`, and logs what it
/// did. A failure is logged, not fatal: the next round tries again.
pub async fn apply_once(
    store: &dyn Store,
    personal: &[(String, String)],
    now: DateTime<Utc>,
    age: Duration,
) {
    match purge(store, personal, now, age).await {
        Ok(p) => tracing::info!(
            calls = p.calls,
            answers = p.answers,
            recordings = p.recordings.len(),
            stored_recordings = p.stored_recordings,
            cutoff = %(now - age),
            "retention: personal data of old calls purged"
        ),
        Err(e) => {
            tracing::error!(error = %e, "retention: the purge failed; it runs again in a day")
        }
    }
}

/// Runs [`apply_once`] now and then every [`EVERY`], for ever: the server
/// drops the future when it stops (see [`crate::app::App::run_until`]).
/// `now` is the server's clock.
pub async fn run(
    store: Arc<dyn Store>,
    personal: Vec<(String, String)>,
    age: Duration,
    now: impl Fn() -> DateTime<Utc> + Send,
) {
    let mut ticks = tokio::time::interval(EVERY);
    // A machine that slept through several days purges once, not once per day missed.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        apply_once(store.as_ref(), &personal, now(), age).await;
    }
}
