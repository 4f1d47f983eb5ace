//! What the pipeline does next with a recording: pure, with the attempt
//! count and the time as arguments.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::store::recordings::RecordingStage;

/// How often a stage is tried before the recording stops there.
///
/// Fetch: Twilio may answer 404 for a moment after its `completed`
/// callback; eight tries with doubling waits from 2 s span about four
/// minutes, far past that moment, while a recording that really is gone
/// is marked within minutes instead of retried for ever.
pub const MAX_ATTEMPTS: i32 = 8;

/// The longest wait between two tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10 * 60);

/// What to do after a stage failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this time.
    Retry(DateTime<Utc>),
    /// Stop: the recording stays at this stage, marked.
    GiveUp(RecordingStage),
    /// Stop trying this stage, and go on with the next one (the
    /// provider's copy could not be deleted: the stored audio is still
    /// worth a transcript, and the failure is logged).
    MoveOn(RecordingStage),
}

/// The wait before try `attempts + 1`: `first`, doubled after each
/// failure, at most [`MAX_BACKOFF`].
pub fn backoff(first: Duration, attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    first.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

/// After `attempts` failed tries of `stage` (this one included).
pub fn after_failure(
    stage: RecordingStage,
    attempts: i32,
    first: Duration,
    now: DateTime<Utc>,
) -> AfterFailure {
    if attempts < MAX_ATTEMPTS {
        let wait = chrono::Duration::from_std(backoff(first, attempts))
            .unwrap_or_else(|_| chrono::Duration::minutes(10));
        return AfterFailure::Retry(now + wait);
    }
    match stage {
        RecordingStage::Fetch => AfterFailure::GiveUp(RecordingStage::Unavailable),
        RecordingStage::Forget => AfterFailure::MoveOn(RecordingStage::Transcribe),
        _ => AfterFailure::GiveUp(RecordingStage::Untranscribed),
    }
}

/// The stage after the media is stored.
pub fn after_fetch(delete_at_provider: bool) -> RecordingStage {
    if delete_at_provider {
        RecordingStage::Forget
    } else {
        RecordingStage::Transcribe
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
    }

    #[test]
    fn waits_double_from_the_first_and_stop_growing_at_ten_minutes() {
        let first = Duration::from_secs(2);
        let waits: Vec<u64> = (1..=10).map(|n| backoff(first, n).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 512, 600]);
    }

    #[test]
    fn a_failed_fetch_is_retried_until_the_last_attempt_then_marked_unavailable() {
        let first = Duration::from_secs(2);
        assert_eq!(
            after_failure(RecordingStage::Fetch, 1, first, now()),
            AfterFailure::Retry(now() + chrono::Duration::seconds(2))
        );
        assert_eq!(
            after_failure(RecordingStage::Fetch, MAX_ATTEMPTS, first, now()),
            AfterFailure::GiveUp(RecordingStage::Unavailable)
        );
    }

    #[test]
    fn a_transcript_that_never_comes_is_marked_and_a_copy_that_cannot_be_deleted_moves_on() {
        let first = Duration::from_secs(1);
        assert_eq!(
            after_failure(RecordingStage::Transcribe, MAX_ATTEMPTS, first, now()),
            AfterFailure::GiveUp(RecordingStage::Untranscribed)
        );
        assert_eq!(
            after_failure(RecordingStage::Forget, MAX_ATTEMPTS, first, now()),
            AfterFailure::MoveOn(RecordingStage::Transcribe)
        );
    }

    #[test]
    fn the_provider_copy_is_deleted_only_when_asked() {
        assert_eq!(after_fetch(false), RecordingStage::Transcribe);
        assert_eq!(after_fetch(true), RecordingStage::Forget);
    }
}
