//! Campaign settings as people write them — `dialback campaign create`'s
//! flags and `POST /api/campaigns`'s query — parsed once into a
//! [`PlanSpec`]. One parser for both, so the CLI and the API accept exactly
//! the same words and refuse them with the same messages.

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::plan::{OnMachine, PlanSpec};

/// Every field is optional: what is left out keeps [`PlanSpec::default`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSettings {
    /// `09:00-20:00`, `Mon-Fri 09:00-18:00`.
    pub window: Option<String>,
    /// IANA zone of contacts whose row names none; also the zone of `start`
    /// and `end` when they are written without an offset.
    pub timezone: Option<String>,
    pub max_attempts: Option<u32>,
    /// No call before: see [`parse_when`].
    pub start: Option<String>,
    /// No call after: see [`parse_when`]; a bare date means the end of it.
    pub end: Option<String>,
    /// `busy=10m,no-answer=2h,failed=1h,machine=4h` (any subset).
    pub backoff: Option<String>,
    /// How long the phone rings: `30s`.
    pub ring_timeout: Option<String>,
    pub machine_detection: Option<bool>,
    /// What to do with an answering machine: `retry` or `continue`.
    pub machine: Option<String>,
}

impl PlanSettings {
    /// The plan, or a message naming the setting that is wrong.
    pub fn to_spec(&self) -> Result<PlanSpec, String> {
        let mut spec = PlanSpec::default();
        if let Some(window) = &self.window {
            spec.window.clone_from(window);
        }
        if let Some(zone) = &self.timezone {
            spec.timezone.clone_from(zone);
        }
        let zone: Tz = spec.timezone.parse().map_err(|_| {
            format!(
                "timezone: `{}` is not an IANA time zone such as Asia/Shanghai",
                spec.timezone
            )
        })?;
        if let Some(n) = self.max_attempts {
            spec.max_attempts = n;
        }
        if let Some(start) = &self.start {
            spec.starts_at =
                Some(parse_when(start, zone, false).map_err(|e| format!("start: {e}"))?);
        }
        if let Some(end) = &self.end {
            spec.ends_at = Some(parse_when(end, zone, true).map_err(|e| format!("end: {e}"))?);
        }
        if let (Some(start), Some(end)) = (spec.starts_at, spec.ends_at)
            && end <= start
        {
            return Err(format!("end ({end}) must come after start ({start})"));
        }
        if let Some(backoff) = &self.backoff {
            apply_backoff(&mut spec, backoff).map_err(|e| format!("backoff: {e}"))?;
        }
        if let Some(ring) = &self.ring_timeout {
            let secs = parse_duration(ring)
                .map_err(|e| format!("ring timeout: {e}"))?
                .as_secs();
            // Twilio's `Timeout` accepts 5 to 600 seconds.
            if !(5..=600).contains(&secs) {
                return Err(format!(
                    "ring timeout: {ring} is outside 5s to 600s, what the provider accepts"
                ));
            }
            spec.ring_timeout_secs = u32::try_from(secs).unwrap_or(600);
        }
        if let Some(on) = self.machine_detection {
            spec.machine_detection = on;
        }
        if let Some(machine) = &self.machine {
            spec.on_machine = match machine.as_str() {
                "retry" => OnMachine::RetryLater,
                "continue" => OnMachine::RunFlow,
                "message" => OnMachine::LeaveMessage,
                other => {
                    return Err(format!(
                        "machine: `{other}` is not `retry` (call again after the machine \
                         back-off), `continue` (let the flow run) or `message` (leave the \
                         flow's `machine_step`)"
                    ));
                }
            };
            // Asking what to do with machines implies detecting them.
            spec.machine_detection = true;
        }
        spec.plan()?;
        Ok(spec)
    }
}

/// Checks a plan against the flow it will run: leaving a message needs the
/// flow's `machine_step`, and a TwiML flow (a stream call cannot be told
/// about the machine yet).
pub fn check_against_flow(spec: &PlanSpec, flow: &crate::flow::Flow) -> Result<(), String> {
    if spec.on_machine != OnMachine::LeaveMessage {
        return Ok(());
    }
    if flow.machine_step.is_none() {
        return Err(format!(
            "machine: `message` leaves the flow's `machine_step` on an answering machine, \
             and flow `{}` has none; add `machine_step = \"<id of a message step>\"` to its \
             `[flow]` table, or use `retry`",
            flow.name
        ));
    }
    if flow.mode == crate::flow::model::Mode::Stream {
        return Err(format!(
            "machine: `message` works with TwiML flows only; `{}` runs over a media stream",
            flow.name
        ));
    }
    Ok(())
}

/// `30s`, `10m`, `2h`, `1d`: one parser for campaign settings and flow
/// files (`confirm_after`), so both accept the same words.
pub use crate::flow::duration::parse_duration;

/// `busy=10m,no-answer=2h,failed=1h,machine=4h`, any subset, any order.
fn apply_backoff(spec: &mut PlanSpec, text: &str) -> Result<(), String> {
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((result, duration)) = part.split_once('=') else {
            return Err(format!("`{part}` is not RESULT=DURATION, like busy=10m"));
        };
        let secs = parse_duration(duration)?.as_secs();
        match result.trim() {
            "busy" => spec.backoff_busy_secs = secs,
            "no-answer" | "no_answer" => spec.backoff_no_answer_secs = secs,
            "failed" => spec.backoff_failed_secs = secs,
            "machine" => spec.backoff_machine_secs = secs,
            other => {
                return Err(format!(
                    "`{other}` is not a call result; use busy, no-answer, failed or machine"
                ));
            }
        }
    }
    Ok(())
}

/// A start or end: RFC 3339 (`2026-11-24T09:00:00+08:00`), or a local date
/// and time in `zone` (`2026-11-24 09:00`, `2026-11-24T09:00`), or a bare
/// date (`2026-11-24`): its first moment, or with `end_of_day` the first
/// moment of the next day, so `--end 2026-11-30` still calls on the 30th.
pub fn parse_when(text: &str, zone: Tz, end_of_day: bool) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let local = if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let date = if end_of_day {
            date.checked_add_days(Days::new(1))
                .ok_or_else(|| format!("`{text}` is out of range"))?
        } else {
            date
        };
        date.and_hms_opt(0, 0, 0)
    } else {
        [
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M:%S",
        ]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    };
    let Some(local) = local else {
        return Err(format!(
            "`{text}` is not a date or time like 2026-11-24, 2026-11-24 09:00 \
             or 2026-11-24T09:00:00+08:00"
        ));
    };
    // A time skipped by a daylight-saving change means the moment after it.
    zone.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| format!("`{text}` does not exist in {zone}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn leaving_a_message_on_a_machine_turns_detection_on() {
        let spec = PlanSettings {
            machine: Some("message".into()),
            ..PlanSettings::default()
        }
        .to_spec()
        .expect("valid");
        assert_eq!(spec.on_machine, OnMachine::LeaveMessage);
        assert!(spec.machine_detection);
    }

    #[test]
    fn every_setting_written_as_people_write_it_reaches_the_plan() {
        let settings = PlanSettings {
            window: Some("Mon-Fri 09:00-18:00".into()),
            timezone: Some("Asia/Shanghai".into()),
            max_attempts: Some(5),
            start: Some("2026-11-24 09:00".into()),
            end: Some("2026-11-30".into()),
            backoff: Some("busy=10m,no-answer=2h,failed=1h,machine=4h".into()),
            ring_timeout: Some("25s".into()),
            machine_detection: None,
            machine: Some("continue".into()),
        };

        let spec = settings.to_spec().expect("valid");

        assert_eq!(spec.window, "Mon-Fri 09:00-18:00");
        assert_eq!(spec.max_attempts, 5);
        assert_eq!(spec.starts_at, Some(utc("2026-11-24T01:00:00Z")));
        assert_eq!(spec.ends_at, Some(utc("2026-11-30T16:00:00Z")));
        assert_eq!(
            (
                spec.backoff_busy_secs,
                spec.backoff_no_answer_secs,
                spec.backoff_failed_secs,
                spec.backoff_machine_secs
            ),
            (600, 7200, 3600, 14_400)
        );
        assert_eq!(spec.ring_timeout_secs, 25);
        assert_eq!(spec.on_machine, OnMachine::RunFlow);
        assert!(spec.machine_detection);
    }

    #[test]
    fn a_partial_backoff_keeps_the_other_defaults() {
        let spec = PlanSettings {
            backoff: Some("busy=5m".into()),
            ..PlanSettings::default()
        }
        .to_spec()
        .expect("valid");

        let defaults = PlanSpec::default();
        assert_eq!(spec.backoff_busy_secs, 300);
        assert_eq!(spec.backoff_no_answer_secs, defaults.backoff_no_answer_secs);
    }

    #[test]
    fn a_wrong_setting_is_refused_with_its_name_and_the_expected_form() {
        for (settings, message) in [
            (
                PlanSettings {
                    backoff: Some("busy=10x".into()),
                    ..PlanSettings::default()
                },
                "backoff: `10x` is not a duration such as 30s, 10m, 2h or 1d",
            ),
            (
                PlanSettings {
                    backoff: Some("hangup=1h".into()),
                    ..PlanSettings::default()
                },
                "backoff: `hangup` is not a call result; use busy, no-answer, failed or machine",
            ),
            (
                PlanSettings {
                    ring_timeout: Some("2s".into()),
                    ..PlanSettings::default()
                },
                "ring timeout: 2s is outside 5s to 600s, what the provider accepts",
            ),
            (
                PlanSettings {
                    start: Some("2026-12-01".into()),
                    end: Some("2026-11-30T00:00:00Z".into()),
                    ..PlanSettings::default()
                },
                "end (2026-11-30 00:00:00 UTC) must come after start (2026-11-30 16:00:00 UTC)",
            ),
            (
                PlanSettings {
                    start: Some("tomorrow".into()),
                    ..PlanSettings::default()
                },
                "start: `tomorrow` is not a date or time like 2026-11-24, 2026-11-24 09:00 \
                 or 2026-11-24T09:00:00+08:00",
            ),
            (
                PlanSettings {
                    machine: Some("hang-up".into()),
                    ..PlanSettings::default()
                },
                "machine: `hang-up` is not `retry` (call again after the machine back-off), \
                 `continue` (let the flow run) or `message` (leave the flow's `machine_step`)",
            ),
        ] {
            assert_eq!(settings.to_spec().err().as_deref(), Some(message));
        }
    }

    #[test]
    fn a_start_in_a_spring_forward_gap_means_the_hour_after() {
        let zone: Tz = "America/New_York".parse().expect("zone");

        let at = parse_when("2026-03-08 02:30", zone, false).expect("valid");

        assert_eq!(at, utc("2026-03-08T07:30:00Z"));
    }
}
