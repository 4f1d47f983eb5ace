//! Waiting for what another task does (a server's background work, the far
//! end of a socket): one bounded poll instead of a loop in every test.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

/// How long to wait before checking again.
const POLL: Duration = Duration::from_millis(10);

/// Runs `probe` until it gives `Some`, and returns that value; fails the
/// test naming `what` once `timeout` has passed without it.
///
/// The timeout only bounds a hang (keep it generous: a loaded machine is
/// slow, not wrong); what the test asserts is the value. It is measured on
/// the wall clock, so that under paused tokio time, whose sleeps return at
/// once, real I/O still gets real time.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: impl Display, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {timeout:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}
