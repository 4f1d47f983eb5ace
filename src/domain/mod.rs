//! The closed sets of values a call, a handoff and a campaign contact move
//! through — direction, outcome, handoff status, campaign status and
//! contact state — shared by the call machine, the call service, the
//! dialer, the store and the reports.
//!
//! Why a module of their own at the bottom: `store` keeps them in its rows
//! and `flow` produces outcomes, and neither may import the other; a value
//! type both need belongs below both.

mod closed_set;

pub use closed_set::{Unknown, UnknownValue};
pub(crate) use closed_set::{closed_set, comma_list};

closed_set! {
    /// Who placed the call: the caller (inbound) or the dialer (outbound).
    pub enum Direction expecting "a call direction" {
        Inbound = "inbound",
        Outbound = "outbound",
    }
}

closed_set! {
    /// How a call ended. The names are stable: they are stored and exported.
    pub enum Outcome expecting "a call outcome" {
        /// The caller went through the survey.
        Completed = "completed",
        /// The caller declined to take part.
        Refused = "refused",
        /// The caller asked never to be called again.
        OptedOut = "opted_out",
        /// The caller was connected to a person.
        Handoff = "handoff",
        /// No person was free: a ticket and a promised call-back.
        Ticket = "ticket",
        /// The caller hung up before the end.
        Abandoned = "abandoned",
        /// The caller did not answer a question after every attempt.
        NoResponse = "no_response",
        /// Something went wrong on our side.
        Failed = "failed",
    }
}

closed_set! {
    /// Where a hand-over to a human stands. A ticket's life cycle:
    /// `open` → `resolved` (by support) → `confirmed` or `reopened` (by the
    /// customer, in a confirmation call); a reopened ticket is resolved
    /// again the same way.
    pub enum HandoffStatus expecting "a handoff status" {
        /// The transfer reached a person.
        Connected = "connected",
        /// No agent was free: a ticket waits for a call-back.
        Open = "open",
        /// Support says it is fixed; the customer has not said so yet.
        Resolved = "resolved",
        /// The customer said, in a confirmation call, that it is fixed.
        Confirmed = "confirmed",
        /// The customer said, in a confirmation call, that it is not fixed.
        Reopened = "reopened",
    }
}

impl HandoffStatus {
    /// The statuses support can resolve a handoff from: any in which the
    /// customer's issue may still be open.
    pub const RESOLVABLE: &[HandoffStatus] = &[Self::Open, Self::Connected, Self::Reopened];
}

closed_set! {
    /// Who moved a handoff on.
    pub enum HandoffActor expecting "who changed a handoff" {
        /// The handoff was made in a call (`open` or `connected`).
        Caller = "caller",
        /// Support: the API, the dashboard's Resolved button, the CRM.
        Support = "support",
        /// The customer, answering a confirmation call.
        Customer = "customer",
    }
}

closed_set! {
    /// Where an outbound campaign stands.
    pub enum CampaignStatus expecting "a campaign status" {
        /// Created, contacts being added; nobody is called yet.
        Draft = "draft",
        /// The dialer calls its due contacts.
        Running = "running",
        /// Stopped for now; resuming makes it running again.
        Paused = "paused",
        /// Stopped for good.
        Cancelled = "cancelled",
        /// Every contact has been dealt with.
        Finished = "finished",
    }
}

closed_set! {
    /// Where a campaign contact stands, in the order status reports list
    /// them. The first eight are the ones ops staff follow; `machine`
    /// (answering machines to the last attempt), `error` (the provider
    /// refused the number, or a broken plan) and `expired` (the end date
    /// passed first) are the rarer endings.
    pub enum ContactState expecting "a contact state" {
        /// Waiting for its next call.
        Pending = "pending",
        /// Claimed by a worker, or in a call now.
        Calling = "calling",
        /// Reached, and the call went through.
        Completed = "completed",
        /// Never picked up, to the last attempt.
        NoAnswer = "no_answer",
        /// Busy, to the last attempt.
        Busy = "busy",
        /// The calls failed, to the last attempt.
        Failed = "failed",
        /// Asked never to be called again.
        OptedOut = "opted_out",
        /// Handed to a person, or a ticket for a call-back.
        HandedOff = "handed_off",
        /// An answering machine, to the last attempt or with a message left.
        Machine = "machine",
        /// The provider refused the number, or the plan is broken.
        Error = "error",
        /// The campaign ended first.
        Expired = "expired",
    }
}

impl ContactState {
    /// The words the command line prints for it.
    pub fn label(self) -> &'static str {
        match self {
            Self::NoAnswer => "no answer",
            Self::OptedOut => "opted out",
            Self::HandedOff => "handed off",
            other => other.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::str::FromStr;

    use serde::{Deserialize, Serialize};

    use super::*;

    #[test]
    fn every_value_parses_back_from_its_spelling_and_serialises_as_it() {
        fn check<T>(all: &[T])
        where
            T: Copy + PartialEq + fmt::Debug + FromStr + Serialize + fmt::Display,
            for<'de> T: Deserialize<'de>,
        {
            for &value in all {
                let text = value.to_string();
                assert_eq!(text.parse::<T>().ok(), Some(value), "{text}");
                let json = serde_json::to_string(&value).unwrap();
                assert_eq!(json, format!("\"{text}\""));
                assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value);
            }
        }
        check(Direction::ALL);
        check(Outcome::ALL);
        check(HandoffStatus::ALL);
        check(HandoffActor::ALL);
        check(CampaignStatus::ALL);
        check(ContactState::ALL);
    }

    #[test]
    fn a_spelling_outside_the_set_is_refused_with_what_was_expected() {
        let e = Outcome::parse("Completed").unwrap_err();

        assert_eq!(e.value, "Completed");
        assert!(e.expected.starts_with("a call outcome ("), "{e}");
        assert!(serde_json::from_str::<Direction>("\"both\"").is_err());
    }
}

closed_set! {
    /// Where dialback's own copy of a recording stands: the stages of the
    /// recording pipeline (fetch, forget the provider's copy, transcribe)
    /// and where it stopped.
    pub enum RecordingStage expecting "a recording stage" {
        /// Waiting to be fetched from the provider.
        Fetch = "fetch",
        /// Stored; the provider's copy is still to be deleted.
        Forget = "forget",
        /// Stored; the transcript is still to be made.
        Transcribe = "transcribe",
        /// Stored, and transcribed.
        Done = "done",
        /// The provider never served the media, after every attempt.
        Unavailable = "unavailable",
        /// Stored, but speech to text failed after every attempt.
        Untranscribed = "untranscribed",
    }
}

impl RecordingStage {
    /// Is there work left at this stage (a worker may claim it)?
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Fetch | Self::Forget | Self::Transcribe)
    }

    /// Is the audio in dialback's storage at this stage?
    pub fn is_stored(self) -> bool {
        !matches!(self, Self::Fetch | Self::Unavailable)
    }
}
