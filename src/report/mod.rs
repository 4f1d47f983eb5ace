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

/// Reads a bound as a form or query field gives it: empty is no bound.
pub fn parse_optional_bound(
    text: &str,
    is_until: bool,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
    match text.trim() {
        "" => Ok(None),
        t => parse_bound(t, is_until).map(Some),
    }
}

/// Reads a campaign id as a form or query field gives it: empty is none.
pub fn parse_campaign(text: &str) -> Result<Option<i64>, String> {
    match text.trim() {
        "" => Ok(None),
        id => id
            .parse()
            .map(Some)
            .map_err(|_| format!("campaign {id:?} is not a campaign id (a whole number)")),
    }
}

/// The period a page reads, from two form fields: `to` defaults to `now`,
/// `from` to `default_len` before `to`; a period that holds no time is an
/// error rather than an empty page.
pub fn parse_period(
    from: &str,
    to: &str,
    now: chrono::DateTime<chrono::Utc>,
    default_len: chrono::Duration,
) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>), String> {
    let until = parse_optional_bound(to, true)?.unwrap_or(now);
    let since = parse_optional_bound(from, false)?.unwrap_or(until - default_len);
    if since >= until {
        return Err(format!(
            "the period is empty: {} is not before {}",
            since.to_rfc3339(),
            until.to_rfc3339()
        ));
    }
    Ok((since, until))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn now() -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap()
    }

    #[test]
    fn an_empty_form_reads_the_default_length_up_to_now() {
        let (since, until) = parse_period("", " ", now(), Duration::days(30)).unwrap();
        assert_eq!((since, until), (now() - Duration::days(30), now()));
    }

    #[test]
    fn a_plain_until_date_includes_that_whole_day() {
        let (since, until) =
            parse_period("2026-11-01", "2026-11-30", now(), Duration::days(30)).unwrap();
        assert_eq!(since, Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap());
        assert_eq!(until, Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap());
    }

    #[test]
    fn a_period_that_ends_before_it_starts_is_refused_with_both_times() {
        let e = parse_period("2026-11-30", "2026-11-01", now(), Duration::days(30)).unwrap_err();
        assert!(
            e.starts_with("the period is empty: 2026-11-30T00:00:00"),
            "{e}"
        );
    }

    #[test]
    fn a_campaign_field_is_empty_or_a_whole_number() {
        assert_eq!(parse_campaign(" "), Ok(None));
        assert_eq!(parse_campaign("12"), Ok(Some(12)));
        assert!(parse_campaign("twelve").unwrap_err().contains("\"twelve\""));
    }
}
