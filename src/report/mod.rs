//! Results: aggregates per flow (completion, drop-off, distributions,
//! CSAT/NPS, handoff and opt-out rates) computed from the counts the
//! database returns through [`crate::store::ReportStore`]; Trends
//! (`trends.rs`): the same figures period by period, with 95 % intervals
//! (`interval.rs`).

pub mod aggregate;
pub mod export;
pub mod interval;
pub mod privacy;
pub mod retention;
pub mod trends;

pub use aggregate::{FlowReport, QuestionSpec};

/// Reads a date-range bound: RFC 3339 (`2026-03-01T00:00:00Z`) or a plain
/// date (`2026-03-01`, UTC). A plain `until` date includes that whole day,
/// as people mean "until the 31st": it becomes the next midnight.
pub fn parse_bound(text: &str, is_until: bool) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date (2026-03-01) or an RFC 3339 time"))?;
    let day = if is_until {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    Ok(day.and_time(chrono::NaiveTime::MIN).and_utc())
}
