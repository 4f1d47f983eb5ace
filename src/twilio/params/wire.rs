//! The provider's closed sets of values (call status, dial status, queue
//! result, answering-machine result) as enums spelled exactly as on the wire.

use super::error::InvalidValue;
use crate::domain::closed_set;

closed_set! {
    /// The state of a call (`CallStatus`).
    pub enum CallStatus expecting "a call status" error InvalidValue {
        /// Created, waiting to be dialled.
        Queued = "queued",
        /// Dialling has started. Sent in status callbacks when the
        /// `initiated` event is subscribed to.
        Initiated = "initiated",
        /// The far end is ringing.
        Ringing = "ringing",
        /// Answered and connected.
        InProgress = "in-progress",
        /// Answered, then ended normally.
        Completed = "completed",
        /// The far end was busy.
        Busy = "busy",
        /// Nobody answered.
        NoAnswer = "no-answer",
        /// The call could not be placed.
        Failed = "failed",
        /// Cancelled before it was answered.
        Canceled = "canceled",
    }
}

impl CallStatus {
    /// True when the call has ended and no further status will follow, so
    /// the attempt can be settled.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Busy | Self::NoAnswer | Self::Failed | Self::Canceled
        )
    }
}

closed_set! {
    /// The outcome of a `<Dial>` (`DialCallStatus` on its action URL).
    pub enum DialCallStatus expecting "a dial status" error InvalidValue {
        /// The dialled party answered and the call ended normally.
        Completed = "completed",
        /// The dialled party answered (reported while still connected).
        Answered = "answered",
        /// The dialled party was busy.
        Busy = "busy",
        /// The dialled party did not answer.
        NoAnswer = "no-answer",
        /// The dial could not be placed.
        Failed = "failed",
        /// The dial was cancelled.
        Canceled = "canceled",
    }
}

closed_set! {
    /// Why a call left an `<Enqueue>` (`QueueResult` on its action URL), as
    /// listed in the provider's `<Enqueue>` documentation.
    pub enum QueueResult expecting "a queue result" error InvalidValue {
        /// Dequeued and bridged to the dequeuer.
        Bridged = "bridged",
        /// The provider has been told to bridge the caller.
        BridgingInProcess = "bridging-in-process",
        /// The queue was full; the caller was never enqueued.
        QueueFull = "queue-full",
        /// Redirected out of the queue, typically by a REST request.
        Redirected = "redirected",
        /// Bridged, then transferred out.
        RedirectedFromBridged = "redirected-from-bridged",
        /// The caller hung up while waiting.
        Hangup = "hangup",
        /// The `<Enqueue>` or wait-URL TwiML was invalid.
        Error = "error",
        /// The provider failed while enqueuing.
        SystemError = "system-error",
        /// The caller left through `<Leave>`.
        Leave = "leave",
    }
}

closed_set! {
    /// What answering-machine detection decided answered (`AnsweredBy`).
    pub enum AnsweredBy expecting "an answered-by value" error InvalidValue {
        /// A person.
        Human = "human",
        /// A machine; detection returned at the start of the greeting.
        MachineStart = "machine_start",
        /// A machine; its greeting ended with a beep.
        MachineEndBeep = "machine_end_beep",
        /// A machine; its greeting ended with silence.
        MachineEndSilence = "machine_end_silence",
        /// A machine; its greeting ended some other way.
        MachineEndOther = "machine_end_other",
        /// A fax machine.
        Fax = "fax",
        /// Detection could not decide.
        Unknown = "unknown",
    }
}

impl AnsweredBy {
    /// True when something other than a person answered: any answering
    /// machine result, or a fax. Either way the survey must not be run as if
    /// someone were listening. `Unknown` is not a machine: treating an
    /// undecided answer as a person is the safer default for a survey.
    pub fn is_machine(&self) -> bool {
        matches!(
            self,
            Self::MachineStart
                | Self::MachineEndBeep
                | Self::MachineEndSilence
                | Self::MachineEndOther
                | Self::Fax
        )
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::*;

    // ---- Enums ---------------------------------------------------------

    #[test]
    fn every_wire_enum_value_round_trips_through_its_provider_spelling() {
        fn check<T>(
            all: &[T],
            parse: fn(&str) -> Result<T, InvalidValue>,
            as_str: fn(T) -> &'static str,
        ) where
            T: Copy + PartialEq + fmt::Debug + fmt::Display,
        {
            for &value in all {
                assert_eq!(parse(as_str(value)).unwrap(), value);
                assert_eq!(value.to_string(), as_str(value));
            }
        }
        check(CallStatus::ALL, CallStatus::parse, CallStatus::as_str);
        check(
            DialCallStatus::ALL,
            DialCallStatus::parse,
            DialCallStatus::as_str,
        );
        check(QueueResult::ALL, QueueResult::parse, QueueResult::as_str);
        check(AnsweredBy::ALL, AnsweredBy::parse, AnsweredBy::as_str);
    }

    #[test]
    fn the_provider_spellings_are_exact() {
        let spellings: Vec<&str> = CallStatus::ALL
            .iter()
            .copied()
            .map(CallStatus::as_str)
            .collect();
        assert_eq!(
            spellings,
            [
                "queued",
                "initiated",
                "ringing",
                "in-progress",
                "completed",
                "busy",
                "no-answer",
                "failed",
                "canceled"
            ]
        );
        let spellings: Vec<&str> = DialCallStatus::ALL
            .iter()
            .copied()
            .map(DialCallStatus::as_str)
            .collect();
        assert_eq!(
            spellings,
            [
                "completed",
                "answered",
                "busy",
                "no-answer",
                "failed",
                "canceled"
            ]
        );
        let spellings: Vec<&str> = QueueResult::ALL
            .iter()
            .copied()
            .map(QueueResult::as_str)
            .collect();
        assert_eq!(
            spellings,
            [
                "bridged",
                "bridging-in-process",
                "queue-full",
                "redirected",
                "redirected-from-bridged",
                "hangup",
                "error",
                "system-error",
                "leave"
            ]
        );
        let spellings: Vec<&str> = AnsweredBy::ALL
            .iter()
            .copied()
            .map(AnsweredBy::as_str)
            .collect();
        assert_eq!(
            spellings,
            [
                "human",
                "machine_start",
                "machine_end_beep",
                "machine_end_silence",
                "machine_end_other",
                "fax",
                "unknown"
            ]
        );
    }

    #[test]
    fn a_status_in_another_case_or_spelling_is_rejected() {
        for value in [
            "",
            "Completed",
            "COMPLETED",
            " completed",
            "completed ",
            "in_progress",
            "inprogress",
            "cancelled",
            "noanswer",
        ] {
            assert!(CallStatus::parse(value).is_err(), "{value:?}");
        }
        for value in ["Human", "machine", "machine-start", "machine_end", ""] {
            assert!(AnsweredBy::parse(value).is_err(), "{value:?}");
        }
        for value in ["Bridged", "queue_full", "systemerror", ""] {
            assert!(QueueResult::parse(value).is_err(), "{value:?}");
        }
        for value in ["in-progress", "ringing", "Answered", ""] {
            assert!(DialCallStatus::parse(value).is_err(), "{value:?}");
        }
    }

    #[test]
    fn only_ended_calls_have_a_final_status() {
        for (status, is_final) in [
            (CallStatus::Queued, false),
            (CallStatus::Initiated, false),
            (CallStatus::Ringing, false),
            (CallStatus::InProgress, false),
            (CallStatus::Completed, true),
            (CallStatus::Busy, true),
            (CallStatus::NoAnswer, true),
            (CallStatus::Failed, true),
            (CallStatus::Canceled, true),
        ] {
            assert_eq!(status.is_final(), is_final, "{status}");
        }
    }

    #[test]
    fn machines_and_faxes_are_machines_but_people_and_unknowns_are_not() {
        for (answered_by, is_machine) in [
            (AnsweredBy::Human, false),
            (AnsweredBy::MachineStart, true),
            (AnsweredBy::MachineEndBeep, true),
            (AnsweredBy::MachineEndSilence, true),
            (AnsweredBy::MachineEndOther, true),
            (AnsweredBy::Fax, true),
            (AnsweredBy::Unknown, false),
        ] {
            assert_eq!(answered_by.is_machine(), is_machine, "{answered_by}");
        }
    }

    // ---- serde ---------------------------------------------------------

    #[test]
    fn wire_enums_serialize_as_their_provider_strings() {
        assert_eq!(
            serde_json::to_string(&CallStatus::NoAnswer).unwrap(),
            "\"no-answer\""
        );
        assert_eq!(
            serde_json::to_string(&AnsweredBy::MachineEndBeep).unwrap(),
            "\"machine_end_beep\""
        );
    }

    #[test]
    fn wire_enums_deserialize_only_through_parse() {
        assert!(serde_json::from_str::<CallStatus>("\"Completed\"").is_err());
        let status: QueueResult = serde_json::from_str("\"queue-full\"").unwrap();
        assert_eq!(status, QueueResult::QueueFull);
    }
}
