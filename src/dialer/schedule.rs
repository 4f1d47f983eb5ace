//! The scheduler: when to place a contact's next call, as pure functions of
//! the campaign's plan, the contact's time zone, what the last call did and
//! the current time.
//!
//! Nothing here reads a clock or a database, so every rule — window edges,
//! daylight-saving changes, end dates, attempt limits — is tested on
//! controlled time (see the tests below), and the dialer only has to store
//! what these functions decide.

use std::time::Duration;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::flow::hours::{Hours, Span};

/// When contacts may be called, in *their own* local time: `09:00-20:00`
/// (every day) or `Mon-Sat 09:00-20:00; Sun 10:00-12:00`.
///
/// Why no time zone in the window: one campaign reaches people in several
/// zones, and "not before nine" means nine where the phone rings. Each
/// contact's zone (or the campaign's default) is passed in when evaluating.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    spans: Vec<Span>,
}

impl Window {
    /// Every day, all day: no restriction.
    pub fn always() -> Self {
        Self::parse("00:00-24:00").unwrap_or(Self { spans: Vec::new() })
    }

    /// Parses `HH:MM-HH:MM`, optionally preceded by days (`Mon-Fri`), several
    /// spans separated by `;`. Reuses the flow language's business-hours
    /// grammar so ops staff learn one syntax.
    pub fn parse(text: &str) -> Result<Self, String> {
        let spans = text
            .split(';')
            .map(|part| {
                let part = part.trim();
                let with_days = if part.contains(char::is_whitespace) {
                    part.to_owned()
                } else {
                    format!("daily {part}")
                };
                Hours::parse(&format!("{with_days} UTC")).map(|h| h.spans)
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        if spans.is_empty() {
            return Err("a calling window needs at least one time range, like 09:00-20:00".into());
        }
        Ok(Self { spans })
    }

    /// Is `at` inside the window where the contact lives?
    pub fn contains(&self, zone: Tz, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&zone);
        let day = local.weekday().num_days_from_monday() as usize;
        let time = local.time();
        self.spans
            .iter()
            .any(|s| s.days[day] && time >= s.start && time < s.end)
    }

    /// The first instant at or after `at` inside the window, or `None` if the
    /// window has no open day at all.
    ///
    /// Daylight saving: a window start that falls in a spring-forward gap
    /// (02:30 that never happens) opens at the first local time after the
    /// gap; a start that happens twice in the autumn opens at the earlier one.
    pub fn next_open(&self, zone: Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.contains(zone, at) {
            return Some(at);
        }
        let today = at.with_timezone(&zone).date_naive();
        // Eight days reach every weekday once more, past any DST shift.
        (0..=8u64)
            .filter_map(|offset| today.checked_add_days(Days::new(offset)))
            .flat_map(|date| {
                let day = date.weekday().num_days_from_monday() as usize;
                self.spans
                    .iter()
                    .filter(move |s| s.days[day])
                    .filter_map(move |s| local_to_utc(zone, date, s.start))
            })
            .filter(|open| *open > at && self.contains(zone, *open))
            .min()
    }
}

/// The UTC instant of a local wall-clock time, resolving DST gaps forward
/// and folds to the earlier instant.
fn local_to_utc(zone: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let naive = date.and_time(time);
    if let Some(t) = zone.from_local_datetime(&naive).earliest() {
        return Some(t.with_timezone(&Utc));
    }
    // In a gap: step forward minute by minute (gaps are at most a few hours).
    (1..=24 * 60).find_map(|m| {
        let later = naive + chrono::Duration::minutes(m);
        zone.from_local_datetime(&later)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// What came of one attempt, as far as scheduling cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallResult {
    /// Someone answered and the flow ran: nothing more to do.
    Answered,
    Busy,
    NoAnswer,
    /// The network or the provider could not connect the call.
    Failed,
    /// Answering-machine detection said a machine answered and the campaign
    /// retries on machines.
    Machine,
    /// The provider refused for now (HTTP 429 or 5xx): the call was never
    /// placed, so it does not count as an attempt.
    ProviderUnavailable,
}

impl CallResult {
    /// Does this result use up one of the contact's attempts?
    fn counts_as_attempt(self) -> bool {
        !matches!(self, CallResult::ProviderUnavailable)
    }
}

/// How long to wait before calling again after each result.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    pub busy: Duration,
    pub no_answer: Duration,
    pub failed: Duration,
    pub machine: Duration,
    pub provider_unavailable: Duration,
}

impl Default for Backoff {
    /// Busy people are often free soon; an unanswered phone is better tried
    /// hours later; a machine means "not now", so try another part of the day.
    fn default() -> Self {
        Self {
            busy: Duration::from_secs(15 * 60),
            no_answer: Duration::from_secs(2 * 3600),
            failed: Duration::from_secs(3600),
            machine: Duration::from_secs(4 * 3600),
            provider_unavailable: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    fn after(&self, result: CallResult) -> Duration {
        match result {
            CallResult::Answered => Duration::ZERO,
            CallResult::Busy => self.busy,
            CallResult::NoAnswer => self.no_answer,
            CallResult::Failed => self.failed,
            CallResult::Machine => self.machine,
            CallResult::ProviderUnavailable => self.provider_unavailable,
        }
    }
}

/// A campaign's calling plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub window: Window,
    /// The zone of contacts whose row names none.
    pub default_zone: Tz,
    /// Calls actually placed per contact, the first included.
    pub max_attempts: u32,
    pub backoff: Backoff,
    /// No call before this instant.
    pub starts_at: Option<DateTime<Utc>>,
    /// No call at or after this instant.
    pub ends_at: Option<DateTime<Utc>>,
}

/// The scheduler's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Done: the contact was reached.
    Done,
    /// Call at this instant.
    CallAt(DateTime<Utc>),
    /// Stop trying.
    GiveUp(GiveUpReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUpReason {
    /// Every allowed attempt was used.
    MaxAttempts,
    /// The next chance falls after the campaign's end.
    CampaignEnded,
    /// The window has no open time at all.
    NeverOpen,
}

impl Plan {
    /// When to place the contact's first call, given the time now.
    pub fn first_attempt(&self, zone: Option<Tz>, now: DateTime<Utc>) -> Next {
        self.earliest_in_window(zone, now)
    }

    /// When to call again after `result`, with `attempts_made` calls placed so
    /// far (the one that produced `result` included, if it counts).
    pub fn after(
        &self,
        zone: Option<Tz>,
        result: CallResult,
        attempts_made: u32,
        now: DateTime<Utc>,
    ) -> Next {
        if result == CallResult::Answered {
            return Next::Done;
        }
        if result.counts_as_attempt() && attempts_made >= self.max_attempts {
            return Next::GiveUp(GiveUpReason::MaxAttempts);
        }
        let wait =
            chrono::Duration::from_std(self.backoff.after(result)).unwrap_or(chrono::Duration::MAX);
        let earliest = now.checked_add_signed(wait).unwrap_or(now);
        self.earliest_in_window(zone, earliest)
    }

    /// A re-call asked for at `at` (closed loop): the first window time at or
    /// after it, within the campaign's dates.
    pub fn recall_at(&self, zone: Option<Tz>, at: DateTime<Utc>) -> Next {
        self.earliest_in_window(zone, at)
    }

    fn earliest_in_window(&self, zone: Option<Tz>, earliest: DateTime<Utc>) -> Next {
        let zone = zone.unwrap_or(self.default_zone);
        let earliest = match self.starts_at {
            Some(start) if start > earliest => start,
            _ => earliest,
        };
        let Some(at) = self.window.next_open(zone, earliest) else {
            return Next::GiveUp(GiveUpReason::NeverOpen);
        };
        match self.ends_at {
            Some(end) if at >= end => Next::GiveUp(GiveUpReason::CampaignEnded),
            _ => Next::CallAt(at),
        }
    }
}

#[cfg(test)]
mod tests;
