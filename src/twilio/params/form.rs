//! Reading a webhook form: every name and value size-checked before anything
//! is parsed, typed look-ups that name the parameter in every error, and the
//! parsers of the plain values (counts, tokens, URLs, text, speech).

use std::str::FromStr;

use super::error::{InvalidValue, ParamError, quote_for_log};

/// The longest name or value accepted in a webhook form, in bytes.
///
/// The provider's own values are far shorter (speech results are the longest
/// and are capped separately); the limit bounds the work and memory any
/// single parameter can cost before it is even looked at.
pub const MAX_VALUE_BYTES: usize = 4096;

/// The longest `SpeechResult` accepted, in characters.
///
/// Roughly two minutes of continuous speech; a survey answer longer than that
/// is more likely noise or abuse than an answer, and it would be stored.
pub const MAX_SPEECH_CHARS: usize = 1000;

/// A webhook form whose sizes have been checked, with typed look-ups that
/// name the parameter in every error.
pub(super) struct Form<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> Form<'a> {
    /// Checks every name and value against [`MAX_VALUE_BYTES`] before any
    /// parsing happens.
    pub(super) fn new(pairs: &'a [(String, String)]) -> Result<Self, ParamError> {
        for (name, value) in pairs {
            let longest = name.len().max(value.len());
            if longest > MAX_VALUE_BYTES {
                return Err(ParamError::TooLong {
                    name: quote_for_log(name),
                    len: longest,
                    max: MAX_VALUE_BYTES,
                });
            }
        }
        Ok(Self { pairs })
    }

    /// The value of `name`, if sent; an error if sent more than once.
    pub(super) fn get(&self, name: &'static str) -> Result<Option<&'a str>, ParamError> {
        let mut found = None;
        for (key, value) in self.pairs {
            if key == name {
                if found.is_some() {
                    return Err(ParamError::Repeated { name });
                }
                found = Some(value.as_str());
            }
        }
        Ok(found)
    }

    /// The value of `name`, absent or empty being `None`.
    pub(super) fn non_empty(&self, name: &'static str) -> Result<Option<&'a str>, ParamError> {
        Ok(self.get(name)?.filter(|value| !value.is_empty()))
    }

    pub(super) fn required<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
    ) -> Result<T, ParamError> {
        let value = self.get(name)?.ok_or(ParamError::Missing { name })?;
        parse(value).map_err(|error| ParamError::invalid(name, error))
    }

    pub(super) fn optional<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
    ) -> Result<Option<T>, ParamError> {
        self.non_empty(name)?
            .map(parse)
            .transpose()
            .map_err(|error| ParamError::invalid(name, error))
    }
}

/// Non-empty, and free of whitespace and control characters: the shape of
/// identifiers, SIDs and URLs. Rejecting whitespace catches values that were
/// mangled on the way (a `+` decoded as a space) as well as injected ones.
pub(super) fn is_token(value: &str) -> bool {
    !value.is_empty() && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A non-negative decimal integer: ASCII digits only. `str::parse` alone
/// would also take a leading `+`.
pub(super) fn parse_count<T: FromStr>(value: &str) -> Result<T, InvalidValue> {
    const EXPECTED: &str = "a non-negative whole number";
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidValue::new(EXPECTED, value));
    }
    value
        .parse()
        .map_err(|_| InvalidValue::new(EXPECTED, value))
}

pub(super) fn parse_token(value: &str) -> Result<String, InvalidValue> {
    if is_token(value) {
        Ok(value.to_owned())
    } else {
        Err(InvalidValue::new(
            "a non-empty value without spaces or control characters",
            value,
        ))
    }
}

/// A recording URL. Later code downloads it, so only absolute http(s) URLs
/// without whitespace or control characters are accepted.
pub(super) fn parse_url(value: &str) -> Result<String, InvalidValue> {
    let has_scheme = value.starts_with("https://") || value.starts_with("http://");
    if has_scheme && is_token(value) {
        Ok(value.to_owned())
    } else {
        Err(InvalidValue::new("an absolute http(s) URL", value))
    }
}

/// Free text (call direction, timestamps): anything, as long as it carries
/// no control characters that could corrupt storage or logs.
pub(super) fn parse_text(value: &str) -> Result<String, InvalidValue> {
    if value.chars().any(char::is_control) {
        Err(InvalidValue::new("text without control characters", value))
    } else {
        Ok(value.to_owned())
    }
}

/// A speech transcript, limited to [`MAX_SPEECH_CHARS`] characters.
pub(super) fn parse_speech(value: &str) -> Result<String, InvalidValue> {
    if value.chars().count() > MAX_SPEECH_CHARS {
        Err(InvalidValue::new(
            "speech text of at most 1000 characters",
            value,
        ))
    } else {
        Ok(value.to_owned())
    }
}

/// A recogniser confidence. Finite numbers are clamped to `0..=1` (the
/// provider should never exceed it, and a slightly-off value is still
/// meaningful); `NaN`, infinities and non-numbers are errors.
pub(super) fn parse_confidence(value: &str) -> Result<f32, InvalidValue> {
    match value.parse::<f32>() {
        Ok(number) if number.is_finite() => Ok(number.clamp(0.0, 1.0)),
        _ => Err(InvalidValue::new("a number between 0 and 1", value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twilio::params::test_forms::{SID, form, with_sid};
    use crate::twilio::params::{GatherParams, StatusParams, VoiceParams};

    #[test]
    fn a_value_over_4096_bytes_is_rejected_before_parsing() {
        let huge = "1".repeat(MAX_VALUE_BYTES + 1);
        // Even for a parameter that would fail to parse anyway, the size
        // check comes first.
        let error = GatherParams::from_form(&with_sid(&[("Digits", &huge)])).unwrap_err();
        assert_eq!(
            error,
            ParamError::TooLong {
                name: "Digits".to_owned(),
                len: MAX_VALUE_BYTES + 1,
                max: MAX_VALUE_BYTES,
            }
        );
        assert!(error.to_string().contains("4096"), "{error}");
        let error = VoiceParams::from_form(&form(&[("CallSid", &huge)])).unwrap_err();
        assert!(matches!(error, ParamError::TooLong { .. }), "{error:?}");
    }

    #[test]
    fn a_huge_unknown_parameter_is_rejected_too() {
        let huge = "x".repeat(1 << 20);
        let pairs = with_sid(&[("CallStatus", "completed"), ("StirVerstat", &huge)]);
        let error = StatusParams::from_form(&pairs).unwrap_err();
        assert!(matches!(error, ParamError::TooLong { len, .. } if len == 1 << 20));
        // A huge name is caught as well, and quoted safely.
        let pairs = vec![(huge.clone(), String::new())];
        let error = StatusParams::from_form(&pairs).unwrap_err();
        let ParamError::TooLong { name, .. } = &error else {
            panic!("{error:?}");
        };
        assert!(name.chars().count() <= 41, "{name}");
    }

    #[test]
    fn a_value_of_exactly_4096_bytes_is_not_too_long() {
        let at_limit = "x".repeat(MAX_VALUE_BYTES);
        let pairs = with_sid(&[("CallStatus", "completed"), ("Unused", &at_limit)]);
        assert!(StatusParams::from_form(&pairs).is_ok());
    }

    #[test]
    fn a_parameter_we_read_that_is_sent_twice_is_rejected() {
        let pairs = with_sid(&[("CallStatus", "completed"), ("CallStatus", "busy")]);
        assert_eq!(
            StatusParams::from_form(&pairs).unwrap_err(),
            ParamError::Repeated { name: "CallStatus" }
        );
        let pairs = with_sid(&[("CallStatus", "completed"), ("CallSid", SID)]);
        assert_eq!(
            StatusParams::from_form(&pairs).unwrap_err(),
            ParamError::Repeated { name: "CallSid" }
        );
    }

    #[test]
    fn an_unknown_parameter_sent_twice_is_ignored() {
        let pairs = with_sid(&[
            ("CallStatus", "completed"),
            ("StirPassportToken", "a"),
            ("StirPassportToken", "b"),
        ]);
        assert!(StatusParams::from_form(&pairs).is_ok());
    }

    #[test]
    fn parameter_names_match_exactly() {
        let pairs = form(&[("callsid", SID), ("CallStatus", "completed")]);
        assert_eq!(
            StatusParams::from_form(&pairs).unwrap_err(),
            ParamError::Missing { name: "CallSid" }
        );
        let pairs = form(&[(" CallSid", SID), ("CallStatus", "completed")]);
        assert!(StatusParams::from_form(&pairs).is_err());
    }
}
