//! Business hours: `Mon-Fri 09:00-18:00 Asia/Shanghai`, or several spans
//! separated by `;`: `Mon-Fri 09:00-18:00; Sat 10:00-14:00 Europe/London`.
//!
//! Hours are evaluated in their own IANA time zone (daylight saving handled
//! by chrono-tz), so a flow means the same thing on any server. The current
//! time is always passed in: nothing here reads a clock.

use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq)]
pub struct Hours {
    pub zone: Tz,
    pub spans: Vec<Span>,
}

/// Days of the week (a bit per day, Monday first) and a time range.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub days: [bool; 7],
    pub start: NaiveTime,
    pub end: NaiveTime,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Hours {
    /// Parses hours; the error says what was expected.
    pub fn parse(text: &str) -> Result<Hours, String> {
        let text = text.trim();
        let (body, zone) = text.rsplit_once(char::is_whitespace).ok_or_else(|| {
            "expected days, times and a time zone, like `Mon-Fri 09:00-18:00 Asia/Shanghai`"
                .to_string()
        })?;
        let zone: Tz = zone
            .parse()
            .map_err(|_| format!("`{zone}` is not an IANA time zone name such as Asia/Shanghai"))?;
        let spans = body
            .split(';')
            .map(|part| parse_span(part.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Hours { zone, spans })
    }

    /// Is `now` within these hours?
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.zone);
        let day = local.weekday().num_days_from_monday() as usize;
        let time = local.time();
        self.spans
            .iter()
            .any(|s| s.days[day] && time >= s.start && time < s.end)
    }
}

fn parse_span(part: &str) -> Result<Span, String> {
    let (days, times) = part
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("`{part}` needs days and times, like `Mon-Fri 09:00-18:00`"))?;
    let (start, end) = times
        .trim()
        .split_once('-')
        .ok_or_else(|| format!("`{times}` should be a time range like 09:00-18:00"))?;
    let start = parse_time(start)?;
    let end = parse_time(end)?;
    if end <= start {
        return Err(format!("the range {times} ends before it starts"));
    }
    Ok(Span {
        days: parse_days(days)?,
        start,
        end,
    })
}

fn parse_time(s: &str) -> Result<NaiveTime, String> {
    let s = s.trim();
    if s == "24:00" {
        return NaiveTime::from_hms_opt(23, 59, 59).ok_or_else(|| "bad time".to_string());
    }
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| format!("`{s}` is not a time like 09:00"))
}

fn day_index(s: &str) -> Result<usize, String> {
    let lower = s.trim().to_ascii_lowercase();
    DAYS.iter()
        .position(|d| lower.starts_with(d) && lower.len() <= 9)
        .ok_or_else(|| format!("`{s}` is not a day; use Mon, Tue, Wed, Thu, Fri, Sat, Sun"))
}

fn parse_days(s: &str) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    let lower = s.to_ascii_lowercase();
    if lower == "daily" || lower == "every-day" || lower == "mon-sun" {
        return Ok([true; 7]);
    }
    for piece in s.split(',') {
        match piece.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day_index(a)?, day_index(b)?);
                let mut d = a;
                loop {
                    days[d] = true;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days[day_index(piece)?] = true,
        }
    }
    Ok(days)
}

/// Weekday helper for tests and reports.
pub fn weekday_name(d: Weekday) -> &'static str {
    DAYS[d.num_days_from_monday() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn office_hours_are_evaluated_in_their_own_time_zone() {
        let h = Hours::parse("Mon-Fri 09:00-18:00 Asia/Shanghai").unwrap();
        // 2026-11-23 is a Monday. 01:00 UTC = 09:00 in Shanghai.
        assert!(h.is_open(utc(2026, 11, 23, 1, 0)));
        assert!(!h.is_open(utc(2026, 11, 23, 0, 59)));
        assert!(h.is_open(utc(2026, 11, 23, 9, 59)));
        assert!(!h.is_open(utc(2026, 11, 23, 10, 0)));
        // Saturday in Shanghai.
        assert!(!h.is_open(utc(2026, 11, 28, 3, 0)));
    }

    #[test]
    fn several_spans_and_wrapping_day_ranges_are_understood() {
        let h = Hours::parse("Mon-Fri 09:00-18:00; Sat,Sun 10:00-12:00 UTC").unwrap();
        assert!(h.is_open(utc(2026, 11, 28, 11, 0)));
        assert!(!h.is_open(utc(2026, 11, 28, 13, 0)));
        let w = Hours::parse("Fri-Mon 00:00-24:00 UTC").unwrap();
        assert_eq!(
            w.spans[0].days,
            [true, false, false, false, true, true, true]
        );
    }

    #[test]
    fn daylight_saving_moves_the_window_in_utc() {
        let h = Hours::parse("Mon-Fri 09:00-17:00 Europe/London").unwrap();
        // Summer (BST, UTC+1): 08:30 UTC is 09:30 local.
        assert!(h.is_open(utc(2026, 7, 1, 8, 30)));
        // Winter (GMT): 08:30 UTC is 08:30 local, closed.
        assert!(!h.is_open(utc(2026, 12, 2, 8, 30)));
    }

    #[test]
    fn malformed_hours_say_what_was_expected() {
        let cases = [
            ("Mon-Fri 09:00-18:00 Mars/Olympus", "not an IANA time zone"),
            ("Mon-Fri 9am-6pm Asia/Shanghai", "not a time like 09:00"),
            ("Funday 09:00-18:00 UTC", "not a day"),
            ("Mon-Fri 18:00-09:00 UTC", "ends before it starts"),
            ("UTC", "expected days, times and a time zone"),
        ];
        for (text, want) in cases {
            let err = Hours::parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
