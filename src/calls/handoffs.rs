//! The per-ticket loop, on the call service: support resolves a handoff
//! (the API, the dashboard, the CRM through the API), which schedules one
//! confirmation call through the dialer when the handoff's flow names a
//! `confirm_flow`; the customer's answer in that call confirms or reopens
//! the handoff. The CRM hears of every change.
//!
//! The confirmation call is a contact of the confirm flow's campaign (one
//! campaign of kind `confirmations` per flow, made on the first resolve):
//! the dialer then applies its calling window in the customer's zone, its
//! pacing, retries, opt-outs and answering-machine handling as to any
//! contact. A customer it never reaches leaves the handoff `resolved`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;

use super::service::Calls;
use crate::dialer::plan::PlanSpec;
use crate::dialer::previous::follow_up_vars;
use crate::flow::Flow;
use crate::phone::PhoneNumber;
use crate::store::campaigns::NewContact;
use crate::store::handoffs::{Confirmation, HandoffActor, HandoffStatus, Resolve, Resolved};
use crate::store::{CallRow, CallSid, Direction, FollowUp, HandoffId, HandoffRow, StoreError};

/// What a confirmation call's answer decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Verdict {
    pub handoff: HandoffId,
    pub status: HandoffStatus,
    /// When the confirmation call started: it confirms only a resolve made
    /// before it, never a later one (a late answer of an older call).
    pub call_started_at: DateTime<Utc>,
}

impl Calls {
    /// Support resolved handoff `id`: resolves it (if it is open, connected
    /// or reopened) and schedules its confirmation call, in one store
    /// transaction, so a resolve sent twice or to two replicas at once does
    /// both once. [`Resolved::Unchanged`] for an unknown handoff or one not
    /// in a status to resolve.
    pub async fn resolve_handoff(&self, id: HandoffId) -> Result<Resolved, StoreError> {
        let now = self.clock().now();
        let Some(handoff) = self.store().handoff_log().handoff(id).await? else {
            return Ok(Resolved::Unchanged);
        };
        let confirmation = match self.flow(&handoff.flow).cloned() {
            Some(flow) => self.confirmation(&flow, &handoff, now).await?,
            None => None,
        };
        let resolved = self
            .store()
            .handoff_log()
            .resolve(Resolve {
                id,
                at: now,
                confirmation: confirmation.clone(),
            })
            .await?;
        if let Resolved::Resolved { contact } = resolved {
            match (&confirmation, contact) {
                (Some(c), Some(contact)) => {
                    tracing::info!(handoff = %id, contact, flow = %c.flow, due = ?c.contact.next_at, "handoff resolved; confirmation call scheduled");
                }
                (Some(c), None) => {
                    tracing::warn!(handoff = %id, flow = %c.flow, "handoff resolved; no confirmation call: the customer is in a call of that campaign now");
                }
                (None, _) => tracing::info!(handoff = %id, "handoff resolved"),
            }
            self.notify_change(
                &handoff,
                HandoffStatus::Resolved,
                HandoffActor::Support,
                None,
                now,
            );
        }
        Ok(resolved)
    }

    /// The confirmation call of a handoff of `flow`, if the flow names a
    /// confirm flow and the customer can be called: their number from the
    /// handoff's call, their zone from the campaign contact it was placed
    /// to (else the plan's), the earlier call as `previous.…` variables.
    async fn confirmation(
        &self,
        flow: &Flow,
        handoff: &HandoffRow,
        now: DateTime<Utc>,
    ) -> Result<Option<Confirmation>, StoreError> {
        let Some(confirm) = &flow.confirm else {
            return Ok(None);
        };
        let store = self.store();
        let Some(call) = store.load_call(&handoff.call_sid).await? else {
            return Ok(None);
        };
        let customer = match call.direction {
            Direction::Outbound => &call.to,
            Direction::Inbound => &call.from,
        };
        let Ok(phone) = PhoneNumber::parse(customer) else {
            tracing::warn!(
                handoff = handoff.id,
                "no confirmation call: the customer's number is withheld or not a phone number"
            );
            return Ok(None);
        };
        let plan = PlanSpec::default();
        let contact_zone = store
            .campaigns()
            .contact_for_call(call.call_sid.as_str())
            .await?
            .and_then(|c| c.timezone);
        // The zone `previous.date` is written in: the customer's, as the
        // dialer will use for their window.
        let zone: Tz = contact_zone
            .as_deref()
            .and_then(|z| z.parse().ok())
            .or_else(|| plan.timezone.parse().ok())
            .unwrap_or(chrono_tz::Asia::Shanghai);
        let mut answers = store.answers(&call.call_sid).await?;
        // What the caller said in their own words stays with their call,
        // where purge reaches it.
        let spoken = flow.spoken_questions();
        answers.retain(|a| !spoken.contains(&a.question));
        let after = chrono::Duration::from_std(confirm.after).unwrap_or(chrono::Duration::MAX);
        Ok(Some(Confirmation {
            flow: confirm.flow.clone(),
            plan: plan.to_json(),
            contact: NewContact {
                phone: phone.to_string(),
                vars: follow_up_vars(&call, &answers, zone),
                timezone: contact_zone,
                next_at: now.checked_add_signed(after),
                follows: Some(FollowUp {
                    call: call.call_sid.clone(),
                    handoff: Some(HandoffId(handoff.id)),
                }),
            },
        }))
    }

    /// The customer answered the confirming question of a confirmation
    /// call: the handoff is confirmed or reopened (if it is still resolved).
    /// A failure is logged, not the caller's problem: the call goes on.
    pub(super) async fn apply_verdict(&self, verdict: Verdict, call_sid: &CallSid) {
        let now = self.clock().now();
        let log = self.store().handoff_log();
        let changed = log
            .customer_answered(
                verdict.handoff,
                verdict.status,
                call_sid,
                verdict.call_started_at,
                now,
            )
            .await;
        match changed {
            Ok(true) => {
                tracing::info!(handoff = %verdict.handoff, %call_sid, status = %verdict.status, "the customer answered the confirmation call");
                if let Ok(Some(handoff)) = log.handoff(verdict.handoff).await {
                    self.notify_change(
                        &handoff,
                        verdict.status,
                        HandoffActor::Customer,
                        Some(call_sid),
                        now,
                    );
                }
            }
            Ok(false) => {
                tracing::info!(handoff = %verdict.handoff, %call_sid, "a confirmation answer for a handoff no longer resolved; left as it is");
            }
            Err(e) => {
                tracing::error!(handoff = %verdict.handoff, %call_sid, error = %e, "store failed recording the customer's confirmation");
            }
        }
    }

    /// Tells the CRM a handoff moved on.
    fn notify_change(
        &self,
        handoff: &HandoffRow,
        status: HandoffStatus,
        actor: HandoffActor,
        confirmation_call: Option<&CallSid>,
        at: DateTime<Utc>,
    ) {
        if let Some(crm) = self.crm() {
            crm.notify(json!({
                "event": "handoff_status",
                "handoff_id": handoff.id,
                "call_sid": handoff.call_sid,
                "flow": handoff.flow,
                "status": status,
                "actor": actor,
                "confirmation_call_sid": confirmation_call,
                "at": at,
            }));
        }
    }
}

/// What answers decide on a confirmation call (one that follows a handoff
/// up) of a flow with a `confirms` question: yes confirms, no reopens; the
/// last answer to it counts. Cheap for every other call: the first check
/// is whether the call follows a handoff at all.
pub(super) fn verdict<'a>(
    row: &CallRow,
    flow: Option<&Flow>,
    answers: impl DoubleEndedIterator<Item = (&'a str, &'a serde_json::Value)>,
) -> Option<Verdict> {
    let handoff = row.follows.as_ref()?.handoff?;
    let question = flow?.confirms.as_deref()?;
    let (_, value) = answers.rev().find(|(q, _)| *q == question)?;
    let status = match value.as_bool()? {
        true => HandoffStatus::Confirmed,
        false => HandoffStatus::Reopened,
    };
    Some(Verdict {
        handoff,
        status,
        call_started_at: row.started_at,
    })
}

impl Calls {
    /// The provider's final status of a confirmation call: its answer is
    /// applied again if the step that carried it could not apply it (the
    /// store failed just then). A no-op when it was applied, or when the
    /// handoff moved on since. The dialer asks for the `completed` event
    /// (`StatusCallbackEvent`), which Twilio posts asynchronously once the
    /// call has ended ("Completed: The call has ended",
    /// https://support.twilio.com/hc/en-us/articles/223132267), so this
    /// second chance comes after every answer the call could store.
    pub(super) async fn settle_verdict(&self, row: &CallRow) {
        let answers = match self.store().answers(&row.call_sid).await {
            Ok(answers) => answers,
            Err(e) => {
                tracing::error!(call_sid = %row.call_sid, error = %e, "store failed reading a confirmation call's answers");
                return;
            }
        };
        let given = answers.iter().map(|a| (a.question.as_str(), &a.value));
        if let Some(v) = verdict(row, self.flow(&row.flow).map(AsRef::as_ref), given) {
            self.apply_verdict(v, &row.call_sid).await;
        }
    }
}
