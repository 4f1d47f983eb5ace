//! The six webhook parameter structs, each parsed once from its form with
//! [`from_form`](VoiceParams::from_form).

use super::error::ParamError;
use super::form::{
    Form, parse_confidence, parse_count, parse_speech, parse_text, parse_token, parse_url,
};
use super::values::{CallSid, Digits, Party};
use super::wire::{AnsweredBy, CallStatus, DialCallStatus, QueueResult};

/// The voice webhook: a call arrived, or an outbound call was answered.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceParams {
    /// `CallSid`.
    pub call_sid: CallSid,
    /// `From`.
    pub from: Party,
    /// `To`.
    pub to: Party,
    /// `CallStatus`.
    pub call_status: Option<CallStatus>,
    /// `Direction` (`inbound`, `outbound-api`, `outbound-dial`, …); kept as
    /// text, read through [`VoiceParams::is_outbound`].
    pub direction: Option<String>,
    /// `AnsweredBy`, when answering-machine detection ran.
    pub answered_by: Option<AnsweredBy>,
}

impl VoiceParams {
    /// Parses the form of a voice webhook. `CallSid`, `From` and `To` are
    /// required.
    pub fn from_form(pairs: &[(String, String)]) -> Result<Self, ParamError> {
        let form = Form::new(pairs)?;
        Ok(Self {
            call_sid: form.required("CallSid", CallSid::parse)?,
            from: form.required("From", Party::parse)?,
            to: form.required("To", Party::parse)?,
            call_status: form.optional("CallStatus", CallStatus::parse)?,
            direction: form.optional("Direction", parse_text)?,
            answered_by: form.optional("AnsweredBy", AnsweredBy::parse)?,
        })
    }

    /// True when we placed the call: the provider's `Direction` is
    /// `outbound-api` (the Calls API) or `outbound-dial` (a `<Dial>`). A
    /// missing `Direction` is an inbound call.
    pub fn is_outbound(&self) -> bool {
        self.direction
            .as_deref()
            .is_some_and(|d| d.starts_with("outbound"))
    }
}

/// The `<Gather>` action: what the caller pressed or said.
#[derive(Debug, Clone, PartialEq)]
pub struct GatherParams {
    /// `CallSid`.
    pub call_sid: CallSid,
    /// `Digits`; `None` when nothing was pressed (absent or empty).
    pub digits: Option<Digits>,
    /// `SpeechResult`; `None` when nothing was recognised (absent or empty).
    /// At most [`MAX_SPEECH_CHARS`](super::MAX_SPEECH_CHARS) characters.
    pub speech_result: Option<String>,
    /// `Confidence`, clamped to `0..=1`.
    pub confidence: Option<f32>,
}

impl GatherParams {
    /// Parses the form of a `<Gather>` action request.
    pub fn from_form(pairs: &[(String, String)]) -> Result<Self, ParamError> {
        let form = Form::new(pairs)?;
        Ok(Self {
            call_sid: form.required("CallSid", CallSid::parse)?,
            digits: form.optional("Digits", Digits::parse)?,
            speech_result: form.optional("SpeechResult", parse_speech)?,
            confidence: form.optional("Confidence", parse_confidence)?,
        })
    }
}

/// The `<Record>` action: a recording finished.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordParams {
    /// `CallSid`.
    pub call_sid: CallSid,
    /// `RecordingUrl`.
    pub recording_url: Option<String>,
    /// `RecordingSid`.
    pub recording_sid: Option<String>,
    /// `RecordingDuration`, in seconds.
    pub recording_duration: Option<u32>,
    /// `Digits`: the key that ended the recording, if any.
    pub digits: Option<Digits>,
    /// True when the recording ended because the caller hung up. The
    /// provider reports this as `Digits=hangup`, which is not keypad input,
    /// so it is lifted out here and `digits` is then `None`.
    pub hung_up: bool,
}

impl RecordParams {
    /// Parses the form of a `<Record>` action request.
    pub fn from_form(pairs: &[(String, String)]) -> Result<Self, ParamError> {
        let form = Form::new(pairs)?;
        let hung_up = form.get("Digits")? == Some("hangup");
        Ok(Self {
            call_sid: form.required("CallSid", CallSid::parse)?,
            recording_url: form.optional("RecordingUrl", parse_url)?,
            recording_sid: form.optional("RecordingSid", parse_token)?,
            recording_duration: form.optional("RecordingDuration", parse_count)?,
            digits: if hung_up {
                None
            } else {
                form.optional("Digits", Digits::parse)?
            },
            hung_up,
        })
    }
}

/// The `<Dial>` action (and the `<Enqueue>` action, which shares the route
/// shape): how a transfer ended.
#[derive(Debug, Clone, PartialEq)]
pub struct DialParams {
    /// `CallSid`.
    pub call_sid: CallSid,
    /// `DialCallStatus`, sent by `<Dial>`.
    pub dial_call_status: Option<DialCallStatus>,
    /// `QueueResult`, sent by `<Enqueue>`.
    pub queue_result: Option<QueueResult>,
}

impl DialParams {
    /// Parses the form of a `<Dial>` or `<Enqueue>` action request.
    pub fn from_form(pairs: &[(String, String)]) -> Result<Self, ParamError> {
        let form = Form::new(pairs)?;
        Ok(Self {
            call_sid: form.required("CallSid", CallSid::parse)?,
            dial_call_status: form.optional("DialCallStatus", DialCallStatus::parse)?,
            queue_result: form.optional("QueueResult", QueueResult::parse)?,
        })
    }
}

/// A queue's wait URL (`<Enqueue waitUrl>`), requested when the caller
/// joins the queue and again each time the wait document ends.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitParams {
    /// `CallSid`.
    pub call_sid: CallSid,
    /// `QueueTime`: seconds this caller has waited so far.
    pub queue_time: u32,
    /// `QueuePosition`: 1 is next.
    pub queue_position: Option<u32>,
}

impl WaitParams {
    /// Parses the form of a wait URL request. A missing `QueueTime` counts
    /// as no time waited: the wait limit then still holds on the next ask.
    pub fn from_form(pairs: &[(String, String)]) -> Result<Self, ParamError> {
        let form = Form::new(pairs)?;
        Ok(Self {
            call_sid: form.required("CallSid", CallSid::parse)?,
            queue_time: form.optional("QueueTime", parse_count)?.unwrap_or(0),
            queue_position: form.optional("QueuePosition", parse_count)?,
        })
    }
}

/// The call status callback: the call moved to a new state.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusParams {
    /// `CallSid`.
    pub call_sid: CallSid,
    /// `CallStatus`; required, since it is the point of the callback.
    pub call_status: CallStatus,
    /// `CallDuration`, in seconds (final statuses only).
    pub call_duration: Option<u32>,
    /// `AnsweredBy`, when answering-machine detection ran.
    pub answered_by: Option<AnsweredBy>,
    /// `SipResponseCode`, e.g. 486 for busy.
    pub sip_response_code: Option<u16>,
    /// `Timestamp`, as sent (RFC 2822).
    pub timestamp: Option<String>,
}

impl StatusParams {
    /// Parses the form of a call status callback.
    pub fn from_form(pairs: &[(String, String)]) -> Result<Self, ParamError> {
        let form = Form::new(pairs)?;
        Ok(Self {
            call_sid: form.required("CallSid", CallSid::parse)?,
            call_status: form.required("CallStatus", CallStatus::parse)?,
            call_duration: form.optional("CallDuration", parse_count)?,
            answered_by: form.optional("AnsweredBy", AnsweredBy::parse)?,
            sip_response_code: form.optional("SipResponseCode", parse_count)?,
            timestamp: form.optional("Timestamp", parse_text)?,
        })
    }
}

/// The recording status callback: a recording's state changed.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingStatusParams {
    /// `CallSid`.
    pub call_sid: CallSid,
    /// `RecordingSid`.
    pub recording_sid: String,
    /// `RecordingUrl`.
    pub recording_url: String,
    /// `RecordingStatus` (`in-progress`, `completed`, `absent`, `failed`).
    pub recording_status: String,
    /// `RecordingDuration`, in seconds.
    pub recording_duration: Option<u32>,
}

impl RecordingStatusParams {
    /// Parses the form of a recording status callback. `CallSid`,
    /// `RecordingSid`, `RecordingUrl` and `RecordingStatus` are required and
    /// must not be empty.
    pub fn from_form(pairs: &[(String, String)]) -> Result<Self, ParamError> {
        let form = Form::new(pairs)?;
        Ok(Self {
            call_sid: form.required("CallSid", CallSid::parse)?,
            recording_sid: form.required("RecordingSid", parse_token)?,
            recording_url: form.required("RecordingUrl", parse_url)?,
            recording_status: form.required("RecordingStatus", parse_token)?,
            recording_duration: form.optional("RecordingDuration", parse_count)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twilio::params::MAX_SPEECH_CHARS;
    use crate::twilio::params::test_forms::{SID, form, with_sid};
    use proptest::prelude::*;

    // ---- VoiceParams ---------------------------------------------------

    /// A voice webhook as the provider sends it: many parameters we ignore.
    fn voice_form() -> Vec<(String, String)> {
        form(&[
            ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", SID),
            ("CallStatus", "in-progress"),
            ("Called", "+8613812348000"),
            ("CalledCountry", "CN"),
            ("Caller", "+14155552671"),
            ("CallerCity", "SAN FRANCISCO"),
            ("Direction", "outbound-api"),
            ("From", "+14155552671"),
            ("FromCountry", "US"),
            ("To", "+8613812348000"),
            ("ToCountry", "CN"),
            ("AnsweredBy", "human"),
            ("StirVerstat", "TN-Validation-Passed-A"),
        ])
    }

    #[test]
    fn a_realistic_voice_webhook_parses_and_ignores_what_we_do_not_use() {
        let params = VoiceParams::from_form(&voice_form()).unwrap();
        assert_eq!(params.call_sid.as_str(), SID);
        assert_eq!(params.from.to_string(), "+14155552671");
        assert_eq!(params.to.to_string(), "+8613812348000");
        assert_eq!(params.call_status, Some(CallStatus::InProgress));
        assert_eq!(params.direction.as_deref(), Some("outbound-api"));
        assert_eq!(params.answered_by, Some(AnsweredBy::Human));
    }

    #[test]
    fn a_call_we_placed_is_outbound_and_one_without_a_direction_is_inbound() {
        for (direction, outbound) in [
            (Some("outbound-api"), true),
            (Some("outbound-dial"), true),
            (Some("inbound"), false),
            (None, false),
        ] {
            let mut pairs = with_sid(&[("From", "+14155552671"), ("To", "+8613812348000")]);
            pairs.extend(direction.map(|d| ("Direction".to_owned(), d.to_owned())));
            let params = VoiceParams::from_form(&pairs).unwrap();
            assert_eq!(params.is_outbound(), outbound, "{direction:?}");
        }
    }

    #[test]
    fn a_voice_webhook_with_only_the_required_parameters_parses() {
        let pairs = with_sid(&[("From", "client:alice"), ("To", "anonymous")]);
        let params = VoiceParams::from_form(&pairs).unwrap();
        assert_eq!(params.from, Party::Client("alice".to_owned()));
        assert_eq!(params.to, Party::Anonymous);
        assert_eq!(params.call_status, None);
        assert_eq!(params.direction, None);
        assert_eq!(params.answered_by, None);
    }

    #[test]
    fn a_voice_webhook_with_empty_optional_values_has_none() {
        let pairs = with_sid(&[
            ("From", ""),
            ("To", "+14155552671"),
            ("CallStatus", ""),
            ("Direction", ""),
            ("AnsweredBy", ""),
        ]);
        let params = VoiceParams::from_form(&pairs).unwrap();
        assert_eq!(params.from, Party::Anonymous);
        assert_eq!(params.call_status, None);
        assert_eq!(params.direction, None);
        assert_eq!(params.answered_by, None);
    }

    #[test]
    fn a_voice_webhook_is_rejected_for_any_bad_value() {
        for (name, bad) in [
            ("CallSid", "CA123"),
            ("CallSid", ""),
            ("From", "4155552671"),
            ("To", "+1 415 555 2671"),
            ("CallStatus", "Completed"),
            ("AnsweredBy", "robot"),
            ("Direction", "inbound\n"),
        ] {
            let pairs: Vec<(String, String)> = voice_form()
                .into_iter()
                .map(|(k, v)| {
                    if k == name {
                        (k, bad.to_owned())
                    } else {
                        (k, v)
                    }
                })
                .collect();
            let error = VoiceParams::from_form(&pairs).unwrap_err();
            assert!(
                matches!(error, ParamError::Invalid { name: n, .. } if n == name),
                "{name}={bad:?}: {error:?}"
            );
        }
    }

    #[test]
    fn a_form_decoded_from_the_wire_keeps_the_plus_of_a_phone_number() {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(
            "CallSid=CA0123456789abcdef0123456789abcdef&From=%2B8613812348000&To=client%3Aalice",
        )
        .unwrap();
        let params = VoiceParams::from_form(&pairs).unwrap();
        assert_eq!(params.from.to_string(), "+8613812348000");
        // An unencoded `+` decodes as a space, which no party accepts.
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(
            "CallSid=CA0123456789abcdef0123456789abcdef&From=+8613812348000&To=anonymous",
        )
        .unwrap();
        assert!(VoiceParams::from_form(&pairs).is_err());
    }

    // ---- GatherParams --------------------------------------------------

    #[test]
    fn gathered_digits_parse_and_empty_ones_are_none() {
        let params = GatherParams::from_form(&with_sid(&[("Digits", "42#")])).unwrap();
        assert_eq!(params.digits.unwrap().as_str(), "42#");
        for pairs in [with_sid(&[("Digits", "")]), with_sid(&[])] {
            let params = GatherParams::from_form(&pairs).unwrap();
            assert_eq!(params.digits, None);
            assert_eq!(params.speech_result, None);
            assert_eq!(params.confidence, None);
        }
    }

    #[test]
    fn gathered_speech_parses_and_empty_speech_is_none() {
        let pairs = with_sid(&[("SpeechResult", "我很满意，谢谢。"), ("Confidence", "0.91")]);
        let params = GatherParams::from_form(&pairs).unwrap();
        assert_eq!(params.speech_result.as_deref(), Some("我很满意，谢谢。"));
        assert_eq!(params.confidence, Some(0.91));
        let pairs = with_sid(&[("SpeechResult", ""), ("Confidence", "")]);
        let params = GatherParams::from_form(&pairs).unwrap();
        assert_eq!(params.speech_result, None);
        assert_eq!(params.confidence, None);
    }

    #[test]
    fn speech_of_1000_characters_is_accepted_but_not_1001() {
        // 1000 Chinese characters are 3000 bytes: under the byte limit, at
        // the character limit.
        let at_limit = "好".repeat(MAX_SPEECH_CHARS);
        let params = GatherParams::from_form(&with_sid(&[("SpeechResult", &at_limit)])).unwrap();
        assert_eq!(params.speech_result.as_deref(), Some(at_limit.as_str()));
        let over = "a".repeat(MAX_SPEECH_CHARS + 1);
        let error = GatherParams::from_form(&with_sid(&[("SpeechResult", &over)])).unwrap_err();
        assert!(
            matches!(
                error,
                ParamError::Invalid {
                    name: "SpeechResult",
                    ..
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn a_confidence_outside_zero_to_one_is_clamped() {
        for (raw, clamped) in [
            ("0", 0.0),
            ("1", 1.0),
            ("0.5", 0.5),
            ("1.5", 1.0),
            ("-0.2", 0.0),
            ("1e3", 1.0),
        ] {
            let params = GatherParams::from_form(&with_sid(&[("Confidence", raw)])).unwrap();
            assert_eq!(params.confidence, Some(clamped), "{raw}");
        }
    }

    #[test]
    fn a_confidence_that_is_not_a_finite_number_is_rejected() {
        for raw in [
            "abc", "NaN", "nan", "inf", "-inf", "infinity", "0,5", " 0.5", "0.5 ",
        ] {
            let error = GatherParams::from_form(&with_sid(&[("Confidence", raw)])).unwrap_err();
            assert!(
                matches!(
                    error,
                    ParamError::Invalid {
                        name: "Confidence",
                        ..
                    }
                ),
                "{raw:?}: {error:?}"
            );
        }
    }

    // ---- RecordParams --------------------------------------------------

    #[test]
    fn a_record_action_parses_its_recording() {
        let pairs = with_sid(&[
            (
                "RecordingUrl",
                "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
            ),
            ("RecordingSid", "RE0123456789abcdef0123456789abcdef"),
            ("RecordingDuration", "17"),
            ("Digits", "#"),
        ]);
        let params = RecordParams::from_form(&pairs).unwrap();
        assert_eq!(
            params.recording_url.as_deref(),
            Some("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1")
        );
        assert_eq!(
            params.recording_sid.as_deref(),
            Some("RE0123456789abcdef0123456789abcdef")
        );
        assert_eq!(params.recording_duration, Some(17));
        assert_eq!(params.digits.unwrap().as_str(), "#");
        assert!(!params.hung_up);
    }

    #[test]
    fn a_record_action_ended_by_hanging_up_has_no_digits() {
        let params = RecordParams::from_form(&with_sid(&[("Digits", "hangup")])).unwrap();
        assert!(params.hung_up);
        assert_eq!(params.digits, None);
        let params = RecordParams::from_form(&with_sid(&[])).unwrap();
        assert!(!params.hung_up);
        assert_eq!(params.recording_url, None);
        assert_eq!(params.recording_sid, None);
        assert_eq!(params.recording_duration, None);
    }

    #[test]
    fn a_record_action_with_a_bad_value_is_rejected() {
        for (name, bad) in [
            ("RecordingDuration", "-1"),
            ("RecordingDuration", "+5"),
            ("RecordingDuration", "1.5"),
            ("RecordingDuration", "4294967296"),
            ("RecordingDuration", " 5"),
            ("RecordingUrl", "file:///etc/passwd"),
            ("RecordingUrl", "/relative/path"),
            ("RecordingUrl", "https://example.com/a b"),
            ("RecordingSid", "RE 1"),
            ("Digits", "Hangup"),
        ] {
            let error = RecordParams::from_form(&with_sid(&[(name, bad)])).unwrap_err();
            assert!(
                matches!(error, ParamError::Invalid { name: n, .. } if n == name),
                "{name}={bad:?}: {error:?}"
            );
        }
    }

    // ---- DialParams ----------------------------------------------------

    #[test]
    fn a_dial_action_parses_its_outcome() {
        let params = DialParams::from_form(&with_sid(&[("DialCallStatus", "no-answer")])).unwrap();
        assert_eq!(params.dial_call_status, Some(DialCallStatus::NoAnswer));
        assert_eq!(params.queue_result, None);
        let params = DialParams::from_form(&with_sid(&[("QueueResult", "bridged")])).unwrap();
        assert_eq!(params.dial_call_status, None);
        assert_eq!(params.queue_result, Some(QueueResult::Bridged));
        let error = DialParams::from_form(&with_sid(&[("QueueResult", "timeout")])).unwrap_err();
        assert!(matches!(
            error,
            ParamError::Invalid {
                name: "QueueResult",
                ..
            }
        ));
    }

    // ---- StatusParams --------------------------------------------------

    #[test]
    fn a_status_callback_parses_its_status_and_details() {
        let pairs = with_sid(&[
            ("CallStatus", "busy"),
            ("CallDuration", "0"),
            ("AnsweredBy", "machine_end_beep"),
            ("SipResponseCode", "486"),
            ("Timestamp", "Mon, 04 Nov 2024 12:00:00 +0000"),
            ("SequenceNumber", "3"),
        ]);
        let params = StatusParams::from_form(&pairs).unwrap();
        assert_eq!(params.call_status, CallStatus::Busy);
        assert!(params.call_status.is_final());
        assert_eq!(params.call_duration, Some(0));
        assert_eq!(params.answered_by, Some(AnsweredBy::MachineEndBeep));
        assert_eq!(params.sip_response_code, Some(486));
        assert_eq!(
            params.timestamp.as_deref(),
            Some("Mon, 04 Nov 2024 12:00:00 +0000")
        );
    }

    #[test]
    fn a_status_callback_without_a_status_is_rejected() {
        assert_eq!(
            StatusParams::from_form(&with_sid(&[])).unwrap_err(),
            ParamError::Missing { name: "CallStatus" }
        );
        let error = StatusParams::from_form(&with_sid(&[("CallStatus", "")])).unwrap_err();
        assert!(matches!(
            error,
            ParamError::Invalid {
                name: "CallStatus",
                ..
            }
        ));
    }

    #[test]
    fn a_status_callback_with_an_out_of_range_sip_code_is_rejected() {
        let pairs = with_sid(&[("CallStatus", "failed"), ("SipResponseCode", "70000")]);
        let error = StatusParams::from_form(&pairs).unwrap_err();
        assert!(matches!(
            error,
            ParamError::Invalid {
                name: "SipResponseCode",
                ..
            }
        ));
    }

    // ---- RecordingStatusParams -----------------------------------------

    #[test]
    fn a_recording_status_callback_parses() {
        let pairs = with_sid(&[
            ("RecordingSid", "RE0123456789abcdef0123456789abcdef"),
            ("RecordingUrl", "https://api.twilio.com/Recordings/RE0"),
            ("RecordingStatus", "completed"),
            ("RecordingDuration", "42"),
            ("RecordingChannels", "1"),
        ]);
        let params = RecordingStatusParams::from_form(&pairs).unwrap();
        assert_eq!(params.recording_sid, "RE0123456789abcdef0123456789abcdef");
        assert_eq!(
            params.recording_url,
            "https://api.twilio.com/Recordings/RE0"
        );
        assert_eq!(params.recording_status, "completed");
        assert_eq!(params.recording_duration, Some(42));
    }

    #[test]
    fn a_recording_status_callback_needs_its_recording_fields() {
        let complete = [
            ("RecordingSid", "RE0"),
            ("RecordingUrl", "https://api.twilio.com/Recordings/RE0"),
            ("RecordingStatus", "completed"),
        ];
        for missing in ["RecordingSid", "RecordingUrl", "RecordingStatus"] {
            let items: Vec<(&str, &str)> = complete
                .iter()
                .copied()
                .filter(|(name, _)| *name != missing)
                .collect();
            assert_eq!(
                RecordingStatusParams::from_form(&with_sid(&items)).unwrap_err(),
                ParamError::Missing { name: missing }
            );
            let items: Vec<(&str, &str)> = complete
                .iter()
                .map(|&(name, value)| (name, if name == missing { "" } else { value }))
                .collect();
            let error = RecordingStatusParams::from_form(&with_sid(&items)).unwrap_err();
            assert!(
                matches!(error, ParamError::Invalid { name, .. } if name == missing),
                "{missing}: {error:?}"
            );
        }
    }

    // ---- Never panics --------------------------------------------------

    const KNOWN_NAMES: &[&str] = &[
        "CallSid",
        "From",
        "To",
        "CallStatus",
        "Direction",
        "AnsweredBy",
        "Digits",
        "SpeechResult",
        "Confidence",
        "RecordingUrl",
        "RecordingSid",
        "RecordingDuration",
        "DialCallStatus",
        "QueueResult",
        "CallDuration",
        "SipResponseCode",
        "Timestamp",
        "RecordingStatus",
    ];

    fn parse_all(pairs: &[(String, String)]) {
        let _ = VoiceParams::from_form(pairs);
        let _ = GatherParams::from_form(pairs);
        let _ = RecordParams::from_form(pairs);
        let _ = DialParams::from_form(pairs);
        let _ = StatusParams::from_form(pairs);
        let _ = RecordingStatusParams::from_form(pairs);
    }

    fn pair_strategy() -> impl Strategy<Value = (String, String)> {
        let name = prop_oneof![
            proptest::sample::select(KNOWN_NAMES).prop_map(str::to_owned),
            any::<String>(),
        ];
        let value = prop_oneof![
            any::<String>(),
            "[0-9*#+.eE-]{0,20}",
            "(CA)?[0-9a-fA-F]{0,34}",
            "\\+[0-9]{0,17}",
            "(client|sip|sips):.{0,10}",
            proptest::sample::select(vec![
                "completed",
                "hangup",
                "bridged",
                "human",
                "anonymous",
                "NaN",
                "1e39",
                "https://x",
            ])
            .prop_map(str::to_owned),
        ];
        (name, value)
    }

    proptest! {
        #[test]
        fn from_form_never_panics_on_arbitrary_pairs(
            pairs in proptest::collection::vec(pair_strategy(), 0..24)
        ) {
            parse_all(&pairs);
        }

        #[test]
        fn from_form_never_panics_on_arbitrary_values_for_every_known_name(
            values in proptest::collection::vec(any::<String>(), KNOWN_NAMES.len())
        ) {
            let pairs: Vec<(String, String)> = KNOWN_NAMES
                .iter()
                .map(|name| (*name).to_owned())
                .zip(values)
                .collect();
            parse_all(&pairs);
        }

    }
}
