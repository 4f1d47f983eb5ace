//! A limit on wrong sign-ins, so the admin token cannot be guessed at the
//! speed of the network.
//!
//! Each client address may get [`FAILURES`] wrong tokens per [`WINDOW`];
//! after that every sign-in from it is refused (even a right one) until the
//! window that began with its first failure has passed. Pure: time is an
//! argument. Behind a reverse proxy every client shares the proxy's
//! address, so the limit becomes one for everyone, which still bounds
//! guessing (at the cost of locking everyone out during an attack).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Wrong tokens allowed per address and window.
const FAILURES: u32 = 5;
/// How long failures are remembered.
const WINDOW: Duration = Duration::minutes(5);
/// Addresses remembered at most; beyond this, expired ones are dropped
/// first and, if that is not enough, the table starts again (an attacker
/// with that many addresses is not slowed by a per-address limit anyway).
const MAX_ADDRESSES: usize = 10_000;

#[derive(Default)]
pub(super) struct LoginLimiter {
    /// Failures per address: how many, and when the first one was.
    /// A std mutex: it is held for a map look-up, never across an await.
    failures: Mutex<HashMap<IpAddr, (u32, DateTime<Utc>)>>,
}

impl LoginLimiter {
    /// When `peer` may try again, if it is over the limit at `now`.
    pub(super) fn blocked_until(&self, peer: IpAddr, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let &(count, first) = failures.get(&peer)?;
        let until = first + WINDOW;
        (count >= FAILURES && now < until).then_some(until)
    }

    /// Counts a wrong token from `peer`.
    pub(super) fn failed(&self, peer: IpAddr, now: DateTime<Utc>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_ADDRESSES {
            failures.retain(|_, (_, first)| now < *first + WINDOW);
            if failures.len() >= MAX_ADDRESSES {
                failures.clear();
            }
        }
        let entry = failures.entry(peer).or_insert((0, now));
        if now >= entry.1 + WINDOW {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    /// A right token forgets the address's failures.
    pub(super) fn succeeded(&self, peer: IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    const ME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn the_sixth_wrong_token_in_five_minutes_is_refused_until_the_window_ends() {
        let limiter = LoginLimiter::default();
        for i in 0..FAILURES {
            assert_eq!(limiter.blocked_until(ME, at(i.into())), None);
            limiter.failed(ME, at(i.into()));
        }
        assert_eq!(limiter.blocked_until(ME, at(10)), Some(at(300)));
        assert_eq!(limiter.blocked_until(ME, at(299)), Some(at(300)));
        assert_eq!(limiter.blocked_until(OTHER, at(10)), None);
        assert_eq!(limiter.blocked_until(ME, at(300)), None);
        // A new window starts from scratch.
        limiter.failed(ME, at(301));
        assert_eq!(limiter.blocked_until(ME, at(302)), None);
    }

    #[test]
    fn a_right_token_forgets_earlier_failures() {
        let limiter = LoginLimiter::default();
        for i in 0..FAILURES - 1 {
            limiter.failed(ME, at(i.into()));
        }
        limiter.succeeded(ME);
        limiter.failed(ME, at(10));
        assert_eq!(limiter.blocked_until(ME, at(11)), None);
    }
}
