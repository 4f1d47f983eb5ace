//! The dialer worker: claim one due contact, check it may be called now,
//! place the call, record what happened. [`Worker::try_execute`] does one
//! step and says what it did, so tests drive it step by step and the
//! server loops it (see [`Worker::run`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::plan::{OnMachine, PlanSpec};
use super::request::CallUrls;
use super::schedule::{CallResult, GiveUpReason, Next};
use crate::metrics::Metrics;
use crate::phone::PhoneNumber;
use crate::store::campaigns::ContactState;
use crate::store::{CallSid, ClaimedContact, Outcome as CallOutcome, Store, StoreError};
use crate::twilio::rest::{Provider, ProviderError};
use crate::twilio::{AnsweredBy, CallStatus};

/// How long a claimed contact stays claimed while its call is being placed;
/// a worker that dies leaves it to be claimed again after this.
pub const DIAL_LEASE: Duration = Duration::from_secs(120);
/// How long a placed call may go without its final status callback before
/// the contact is claimed again (a lost callback must not strand it).
pub const CALL_LEASE: Duration = Duration::from_secs(2 * 3600);

/// What one step did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing was due.
    Idle,
    /// A call was placed.
    Placed { contact_id: i64, call_sid: String },
    /// The contact asked never to be called again.
    OptedOut { contact_id: i64 },
    /// Outside the contact's window: moved to its next opening.
    Rescheduled { contact_id: i64, at: DateTime<Utc> },
    /// The provider said "later" (429/5xx); the attempt does not count.
    ProviderBusy { contact_id: i64, at: DateTime<Utc> },
    /// The provider refused the call for good (4xx), or the plan is broken.
    Refused { contact_id: i64, reason: String },
    /// Past the end date, or never callable: given up.
    GaveUp { contact_id: i64 },
}

/// Spaces calls to at most `cps` a second. The pacing itself lives in the
/// store (one `dial_pacing` row per provider account, see
/// [`crate::store::DialerStore::reserve_dial_slot`]), so every worker of
/// every replica sharing the database takes its slots from the same row and
/// together they stay under the provider's limit.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    interval: Duration,
}

/// Slots are spaced this much wider than `1/cps`. A call reaches the
/// provider a little after its slot (timer granularity, the worker's trip
/// to the database and to the provider), and that lateness varies by a few
/// milliseconds; 2% spare (20 ms a second) keeps the jitter from ever
/// putting `cps + 1` calls into one second as the provider counts them.
const HEADROOM: f64 = 1.02;

impl Pacer {
    pub fn new(cps: f64) -> Self {
        let cps = if cps.is_finite() && cps > 0.0 {
            cps
        } else {
            1.0
        };
        Self {
            interval: Duration::from_secs_f64(HEADROOM / cps),
        }
    }

    /// The time between two slots.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Reserves this call's slot in the store and waits for it.
    pub async fn wait(&self, store: &dyn Store, account: &str) -> Result<(), StoreError> {
        let wait = store
            .campaigns()
            .reserve_dial_slot(account, self.interval)
            .await?;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }
}

pub struct Worker {
    store: Arc<dyn Store>,
    provider: Provider,
    pacer: Pacer,
    metrics: Metrics,
}

impl Worker {
    /// A worker counting its attempts on metrics of its own; the server
    /// gives it its own with [`Worker::with_metrics`].
    pub fn new(store: Arc<dyn Store>, provider: Provider, pacer: Pacer) -> Self {
        Self {
            store,
            provider,
            pacer,
            metrics: Metrics::new(),
        }
    }

    /// Counts dial attempts on `metrics` (the server's `/metrics`).
    pub fn with_metrics(self, metrics: Metrics) -> Self {
        Self { metrics, ..self }
    }

    /// Claims one due contact and deals with it.
    pub async fn try_execute(&self, now: DateTime<Utc>) -> Result<Outcome, StoreError> {
        let campaigns = self.store.campaigns();
        let lease = now + chrono::Duration::from_std(DIAL_LEASE).unwrap_or_default();
        let Some(contact) = campaigns.claim_due(now, lease, 1).await?.pop() else {
            return Ok(Outcome::Idle);
        };
        self.dial(contact, now).await
    }

    /// Loops [`Self::try_execute`] until `stop` resolves, resting when idle.
    pub async fn run(&self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let rest = match self.try_execute(Utc::now()).await {
                Ok(Outcome::Idle) => Duration::from_secs(1),
                Ok(_) => Duration::ZERO,
                Err(e) => {
                    tracing::warn!(error = %e, "dialer step failed");
                    Duration::from_secs(5)
                }
            };
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(rest) => {}
            }
        }
    }

    async fn dial(
        &self,
        contact: ClaimedContact,
        now: DateTime<Utc>,
    ) -> Result<Outcome, StoreError> {
        let campaigns = self.store.campaigns();
        let id = contact.id;
        let refuse = |reason: String| Outcome::Refused {
            contact_id: id,
            reason,
        };
        let spec = match PlanSpec::from_json(&contact.plan) {
            Ok(spec) => spec,
            Err(reason) => {
                campaigns
                    .finish_contact(id, ContactState::Error, &reason)
                    .await?;
                return Ok(refuse(reason));
            }
        };
        let (plan, phone) = match (spec.plan(), PhoneNumber::parse(&contact.phone)) {
            (Ok(plan), Ok(phone)) => (plan, phone),
            (Err(reason), _) => {
                campaigns
                    .finish_contact(id, ContactState::Error, &reason)
                    .await?;
                return Ok(refuse(reason));
            }
            (_, Err(e)) => {
                let reason = e.to_string();
                campaigns
                    .finish_contact(id, ContactState::Error, &reason)
                    .await?;
                return Ok(refuse(reason));
            }
        };
        // Checked at dial time, not import time: people opt out mid-campaign.
        if self.store.is_opted_out(phone.as_str()).await? {
            campaigns
                .finish_contact(id, ContactState::OptedOut, "opted_out")
                .await?;
            return Ok(Outcome::OptedOut { contact_id: id });
        }
        let zone = contact
            .timezone
            .as_deref()
            .and_then(|z| z.parse::<Tz>().ok());
        match plan.first_attempt(zone, now) {
            Next::CallAt(at) if at <= now => {}
            Next::CallAt(at) => {
                campaigns.reschedule(id, at, "outside_window").await?;
                return Ok(Outcome::Rescheduled { contact_id: id, at });
            }
            Next::Done | Next::GiveUp(_) => {
                campaigns
                    .finish_contact(id, ContactState::Expired, "campaign_ended")
                    .await?;
                return Ok(Outcome::GaveUp { contact_id: id });
            }
        }

        self.pacer
            .wait(self.store.as_ref(), self.provider.account_sid())
            .await?;
        let urls = CallUrls::new(self.provider.public_url(), &contact.flow, id, &spec);
        let request = urls.request(phone.as_str(), &spec);
        match self.provider.place_call(&request).await {
            Ok(placed) => {
                let lease = now + chrono::Duration::from_std(CALL_LEASE).unwrap_or_default();
                campaigns
                    .record_placed(id, &placed.call_sid, now, lease)
                    .await?;
                tracing::info!(contact = id, to = %phone.masked(), call_sid = %placed.call_sid, "call placed");
                Ok(Outcome::Placed {
                    contact_id: id,
                    call_sid: placed.call_sid,
                })
            }
            Err(ProviderError::RetryLater { status }) => {
                self.metrics.dial_attempt("provider_busy");
                let attempts = u32::try_from(contact.attempts).unwrap_or(0);
                match plan.after(zone, CallResult::ProviderUnavailable, attempts, now) {
                    Next::CallAt(at) => {
                        tracing::warn!(contact = id, ?status, "provider busy; retrying later");
                        campaigns.reschedule(id, at, "provider_busy").await?;
                        Ok(Outcome::ProviderBusy { contact_id: id, at })
                    }
                    Next::Done | Next::GiveUp(_) => {
                        campaigns
                            .finish_contact(id, ContactState::Failed, "provider_busy")
                            .await?;
                        Ok(Outcome::GaveUp { contact_id: id })
                    }
                }
            }
            Err(e @ ProviderError::Refused { .. }) => {
                self.metrics.dial_attempt("refused");
                let reason = e.to_string();
                tracing::warn!(contact = id, to = %phone.masked(), %reason, "call refused");
                campaigns
                    .finish_contact(id, ContactState::Error, &reason)
                    .await?;
                Ok(refuse(reason))
            }
        }
    }
}

/// What a status callback did to the campaign contact behind the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusEffect {
    /// Not a final status, or a duplicate of one already applied.
    None,
    /// No campaign attempt has this CallSid: not a campaign call, or one
    /// whose worker has not recorded it yet (the provider was quicker).
    Unrecorded,
    /// The contact was reached.
    Done,
    Retry(DateTime<Utc>),
    GaveUp(GiveUpReason),
}

/// Waits between second looks for a campaign call's attempt that the worker
/// had not recorded when its final status arrived (it does so milliseconds
/// after the provider answers).
const UNRECORDED_RETRIES: [u64; 6] = [100, 250, 500, 1_000, 2_000, 4_000];

/// [`on_status`] for a campaign call whose attempt was not recorded yet: a
/// status that outran the worker must still count, or the contact would be
/// called again when its lease ran out. Tries for about eight seconds.
pub async fn on_status_later(
    store: Arc<dyn Store>,
    metrics: Metrics,
    call_sid: CallSid,
    status: CallStatus,
    answered_by: Option<AnsweredBy>,
    now: DateTime<Utc>,
) {
    for ms in UNRECORDED_RETRIES {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        match on_status(
            store.as_ref(),
            &metrics,
            &call_sid,
            status,
            answered_by,
            now,
        )
        .await
        {
            Ok(StatusEffect::Unrecorded) => {}
            Ok(effect) => {
                tracing::debug!(%call_sid, ?effect, "campaign contact updated late");
                return;
            }
            Err(e) => {
                tracing::warn!(%call_sid, error = %e, "store failed on a campaign callback; trying again")
            }
        }
    }
    tracing::warn!(%call_sid, "a campaign call's final status matched no recorded attempt; the contact waits for its lease");
}

/// Applies an outbound call's status callback to its contact: done, a retry
/// scheduled by the back-off and the window, or given up; the attempt is
/// counted on `metrics`.
pub async fn on_status(
    store: &dyn Store,
    metrics: &Metrics,
    call_sid: &CallSid,
    status: CallStatus,
    answered_by: Option<AnsweredBy>,
    now: DateTime<Utc>,
) -> Result<StatusEffect, StoreError> {
    if !status.is_final() {
        return Ok(StatusEffect::None);
    }
    let campaigns = store.campaigns();
    let Some(contact) = campaigns.contact_for_call(call_sid.as_str()).await? else {
        return Ok(StatusEffect::Unrecorded);
    };
    if contact.state != ContactState::Calling || contact.attempt_ended {
        // A duplicated callback: the first one decided. Also when it comes
        // late, while the same contact is in its next call: that call's
        // own status decides the contact, not this one's copy.
        return Ok(StatusEffect::None);
    }
    let id = contact.contact_id;
    let Ok(spec) = PlanSpec::from_json(&contact.plan) else {
        campaigns
            .finish_contact(id, ContactState::Error, "bad plan")
            .await?;
        return Ok(StatusEffect::GaveUp(GiveUpReason::NeverOpen));
    };
    let Ok(plan) = spec.plan() else {
        campaigns
            .finish_contact(id, ContactState::Error, "bad plan")
            .await?;
        return Ok(StatusEffect::GaveUp(GiveUpReason::NeverOpen));
    };
    let machine = answered_by.is_some_and(|a| a.is_machine());
    // How the attempt ended, spelled as the contact state it leaves if it
    // was the last one.
    let (result, ended) = match status {
        CallStatus::Completed if machine && spec.on_machine == OnMachine::RetryLater => {
            (CallResult::Machine, ContactState::Machine)
        }
        CallStatus::Completed if machine && spec.on_machine == OnMachine::LeaveMessage => {
            campaigns
                .finish_attempt(call_sid.as_str(), "message_left", now)
                .await?;
            metrics.dial_attempt("message_left");
            campaigns
                .finish_contact(id, ContactState::Machine, "message_left")
                .await?;
            return Ok(StatusEffect::Done);
        }
        CallStatus::Completed => (CallResult::Answered, ContactState::Completed),
        CallStatus::Busy => (CallResult::Busy, ContactState::Busy),
        CallStatus::Failed => (CallResult::Failed, ContactState::Failed),
        _ => (CallResult::NoAnswer, ContactState::NoAnswer),
    };
    let label = ended.as_str();
    campaigns
        .finish_attempt(call_sid.as_str(), label, now)
        .await?;
    metrics.dial_attempt(label);
    let zone = contact
        .timezone
        .as_deref()
        .and_then(|z| z.parse::<Tz>().ok());
    let attempts = u32::try_from(contact.attempts).unwrap_or(0);
    match plan.after(zone, result, attempts, now) {
        Next::Done => {
            // The flow's own ending says more than "answered".
            let outcome = store.load_call(call_sid).await?.and_then(|c| c.outcome);
            let state = match outcome {
                Some(CallOutcome::OptedOut) => ContactState::OptedOut,
                Some(CallOutcome::Handoff | CallOutcome::Ticket) => ContactState::HandedOff,
                _ => ContactState::Completed,
            };
            campaigns.finish_contact(id, state, label).await?;
            Ok(StatusEffect::Done)
        }
        Next::CallAt(at) => {
            campaigns.reschedule(id, at, label).await?;
            Ok(StatusEffect::Retry(at))
        }
        Next::GiveUp(why) => {
            campaigns.finish_contact(id, ended, label).await?;
            Ok(StatusEffect::GaveUp(why))
        }
    }
}
