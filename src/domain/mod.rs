//! The closed sets of values a call, a handoff and a campaign contact move
//! through — direction, outcome, handoff status — shared by the call
//! machine, the call service, the store and the reports.
//!
//! Why a module of their own at the bottom: `store` keeps them in its rows
//! and `flow` produces outcomes, and neither may import the other; a value
//! type both need belongs below both.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod closed_set;

pub use closed_set::UnknownValue;
use closed_set::closed_set;

closed_set! {
    /// Who placed the call: the caller (inbound) or the dialer (outbound).
    pub enum Direction expecting "a call direction (inbound, outbound)" {
        Inbound = "inbound",
        Outbound = "outbound",
    }
}

closed_set! {
    /// How a call ended. The names are stable: they are stored and exported.
    pub enum Outcome expecting "a call outcome (completed, refused, opted_out, handoff, ticket, abandoned, no_response, failed)" {
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
    /// Where a hand-over to a human stands.
    pub enum HandoffStatus expecting "a handoff status (connected, open, resolved)" {
        /// The transfer reached a person.
        Connected = "connected",
        /// No agent was free: a ticket waits for a call-back.
        Open = "open",
        /// Staff closed it.
        Resolved = "resolved",
    }
}

#[cfg(test)]
mod tests {
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
    }

    #[test]
    fn a_spelling_outside_the_set_is_refused_with_what_was_expected() {
        let e = Outcome::parse("Completed").unwrap_err();

        assert_eq!(e.value, "Completed");
        assert!(e.expected.starts_with("a call outcome ("), "{e}");
        assert!(serde_json::from_str::<Direction>("\"both\"").is_err());
    }
}
