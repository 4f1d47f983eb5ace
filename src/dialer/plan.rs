//! A campaign's plan as stored (JSON in `campaigns.plan`) and as the
//! scheduler uses it. Parsed once at the edge: a plan that does not parse
//! is refused when the campaign is created, not discovered at dial time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::schedule::{Backoff, Plan, Window};

/// What to do when answering-machine detection hears a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnMachine {
    /// Hang up and call again later (the `machine` back-off).
    #[default]
    RetryLater,
    /// Let the flow run as if a person had answered.
    RunFlow,
    /// Wait for the machine's beep, leave the flow's `machine_step`, and
    /// count the contact as done.
    LeaveMessage,
}

/// The plan as stored; every field has a default so older plans still load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanSpec {
    /// `09:00-20:00`, `Mon-Fri 09:00-20:00`: see [`Window::parse`].
    pub window: String,
    /// IANA zone for contacts whose row names none.
    pub timezone: String,
    pub max_attempts: u32,
    pub backoff_busy_secs: u64,
    pub backoff_no_answer_secs: u64,
    pub backoff_failed_secs: u64,
    pub backoff_machine_secs: u64,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Answering-machine detection on the provider's side.
    pub machine_detection: bool,
    pub on_machine: OnMachine,
    /// Seconds to let the phone ring.
    pub ring_timeout_secs: u32,
}

impl Default for PlanSpec {
    fn default() -> Self {
        let backoff = Backoff::default();
        Self {
            window: "09:00-20:00".into(),
            timezone: "Asia/Shanghai".into(),
            max_attempts: 3,
            backoff_busy_secs: backoff.busy.as_secs(),
            backoff_no_answer_secs: backoff.no_answer.as_secs(),
            backoff_failed_secs: backoff.failed.as_secs(),
            backoff_machine_secs: backoff.machine.as_secs(),
            starts_at: None,
            ends_at: None,
            machine_detection: false,
            on_machine: OnMachine::RetryLater,
            ring_timeout_secs: 30,
        }
    }
}

impl PlanSpec {
    /// Reads a stored plan.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        serde_json::from_value(value.clone()).map_err(|e| format!("the campaign plan: {e}"))
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The scheduler's plan; the error says which field is wrong.
    pub fn plan(&self) -> Result<Plan, String> {
        let window =
            Window::parse(&self.window).map_err(|e| format!("window {:?}: {e}", self.window))?;
        let default_zone: Tz = self.timezone.parse().map_err(|_| {
            format!(
                "`{}` is not an IANA time zone such as Asia/Shanghai",
                self.timezone
            )
        })?;
        if self.max_attempts == 0 {
            return Err("max_attempts must be at least 1".into());
        }
        Ok(Plan {
            window,
            default_zone,
            max_attempts: self.max_attempts,
            backoff: Backoff {
                busy: Duration::from_secs(self.backoff_busy_secs),
                no_answer: Duration::from_secs(self.backoff_no_answer_secs),
                failed: Duration::from_secs(self.backoff_failed_secs),
                machine: Duration::from_secs(self.backoff_machine_secs),
                ..Backoff::default()
            },
            starts_at: self.starts_at,
            ends_at: self.ends_at,
        })
    }
}
