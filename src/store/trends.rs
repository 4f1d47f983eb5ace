//! Counts per period for Trends: the same counting as the flow report
//! (`reports.rs`), grouped by the day or week a call started in, so a chart
//! of a year moves a few hundred rows whatever the number of calls.
//!
//! Periods are UTC days, or weeks starting on Monday (ISO 8601), named by
//! their first day. Both backends compute the period in SQL (see
//! [`Period`] and `Dialect::period_start`), one statement per series.

use chrono::NaiveDate;
use serde::Serialize;

use super::Outcome;

/// How calls are grouped in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// UTC calendar days.
    Day,
    /// Weeks from Monday 00:00 UTC (ISO 8601 weeks).
    Week,
}

impl Period {
    /// `"day"` or `"week"`.
    pub fn parse(text: &str) -> Result<Period, String> {
        match text {
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            other => Err(format!("by={other:?}: use `day` or `week`")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
        }
    }

    /// The first day of the period `day` falls in.
    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => day,
            Period::Week => day.week(chrono::Weekday::Mon).first_day(),
        }
    }

    /// The first day of the period after the one starting on `start`.
    pub fn next(self, start: NaiveDate) -> NaiveDate {
        let days = match self {
            Period::Day => 1,
            Period::Week => 7,
        };
        start + chrono::Days::new(days)
    }
}

/// Calls with one outcome that started in one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodOutcomes {
    /// The period's first day.
    pub period: NaiveDate,
    pub outcome: Option<Outcome>,
    pub calls: i64,
    /// Of those, calls a person picked up.
    pub reached: i64,
}

/// How many calls that started in one period gave one value to one
/// question (each call's last answer to it).
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodAnswers {
    pub period: NaiveDate,
    pub question: String,
    pub value: serde_json::Value,
    pub calls: i64,
}

/// The questions a trend follows, by step id (`None`: the flow has none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrendQuestions {
    /// The CSAT question: a rating 1–5.
    pub csat: Option<String>,
    /// The NPS question: 0–10.
    pub nps: Option<String>,
    /// The resolution question: yes/no, "is it solved?".
    pub resolved: Option<String>,
}

impl TrendQuestions {
    /// The question ids to count, three binds (NULL for a missing one).
    pub(in crate::store) fn binds(&self) -> [Option<&str>; 3] {
        [
            self.csat.as_deref(),
            self.nps.as_deref(),
            self.resolved.as_deref(),
        ]
    }
}

/// Answers of the same people to one question on an earlier call and on
/// the re-call that follows it (`calls.follows_call_sid`): how many pairs
/// gave exactly these two values.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerPairs {
    pub question: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub pairs: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_week_starts_on_the_monday_before_or_on_the_day() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
        // 2026-03-01 is a Sunday; 03-02 a Monday.
        assert_eq!(
            Period::Week.start_of(day(1)),
            NaiveDate::from_ymd_opt(2026, 2, 23).unwrap()
        );
        assert_eq!(Period::Week.start_of(day(2)), day(2));
        assert_eq!(Period::Week.start_of(day(8)), day(2));
        assert_eq!(Period::Week.next(day(2)), day(9));
        assert_eq!(Period::Day.start_of(day(8)), day(8));
    }
}
