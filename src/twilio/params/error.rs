//! Errors that are safe to log: a rejected webhook names its parameter and
//! quotes the offending value truncated and escaped, because the value is
//! attacker-controlled and the error ends up in a log line.

/// How many characters of an offending value an error quotes: enough to
/// recognise it in a log line, not enough to flood one.
const QUOTED_CHARS: usize = 40;

/// A single value that did not parse as the type it should be.
///
/// Returned by the `parse` functions of the value types; `from_form` adds the
/// parameter name and turns it into [`ParamError::Invalid`]. The offending
/// value is kept only in quoted form (see [`InvalidValue::value`]) because
/// errors end up in logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, got \"{value}\"")]
pub struct InvalidValue {
    expected: &'static str,
    value: String,
}

impl InvalidValue {
    pub(super) fn new(expected: &'static str, raw: &str) -> Self {
        Self {
            expected,
            value: quote_for_log(raw),
        }
    }

    /// What the value should have been, in words.
    pub fn expected(&self) -> &'static str {
        self.expected
    }

    /// The offending value, cut to 40 characters (then `…`) with control,
    /// invisible-formatting, quote and backslash characters escaped, so that
    /// it can be logged safely.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// The provider's closed sets (`wire.rs`) report a value outside the set
/// with the value quoted for the log.
impl crate::domain::Unknown for InvalidValue {
    fn unknown(expected: &'static str, value: &str) -> Self {
        InvalidValue::new(expected, value)
    }
}

/// Why a webhook form could not be turned into a parameter struct.
///
/// Every variant names the parameter, so a rejected webhook can be diagnosed
/// from the log line alone. Values are quoted safely (truncated, control
/// characters escaped): they are attacker-controlled and end up in logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// A required parameter was not sent.
    #[error("missing webhook parameter `{name}`")]
    Missing {
        /// The parameter's name, as the provider spells it.
        name: &'static str,
    },
    /// A parameter was sent but its value is not what it should be.
    #[error("webhook parameter `{name}` is invalid: expected {expected}, got \"{value}\"")]
    Invalid {
        /// The parameter's name, as the provider spells it.
        name: &'static str,
        /// What the value should have been, in words.
        expected: &'static str,
        /// The value, truncated to 40 characters with control characters
        /// escaped.
        value: String,
    },
    /// A parameter's name or value is longer than [`MAX_VALUE_BYTES`](super::MAX_VALUE_BYTES).
    /// Checked for every parameter, used or not, before anything is parsed.
    #[error("webhook parameter `{name}` is too long: {len} bytes, the limit is {max}")]
    TooLong {
        /// The parameter's name, truncated and escaped like a value (it may
        /// be an unknown, attacker-chosen name).
        name: String,
        /// The length of the offending name or value, in bytes.
        len: usize,
        /// The limit, [`MAX_VALUE_BYTES`](super::MAX_VALUE_BYTES).
        max: usize,
    },
    /// A parameter we read was sent more than once.
    #[error("webhook parameter `{name}` was sent more than once")]
    Repeated {
        /// The parameter's name, as the provider spells it.
        name: &'static str,
    },
}

impl ParamError {
    pub(super) fn invalid(name: &'static str, error: InvalidValue) -> Self {
        Self::Invalid {
            name,
            expected: error.expected,
            value: error.value,
        }
    }
}
/// Parameters whose values are personal data: phone numbers and what the
/// caller said.
const PERSONAL_PARAMS: &[&str] = &[
    "From",
    "To",
    "Caller",
    "Called",
    "ForwardedFrom",
    "CallerName",
    "SpeechResult",
    "UnstableSpeechResult",
];

impl ParamError {
    /// The error as it may be logged: like `Display`, but the value of a
    /// parameter holding personal data (a phone number, spoken text) is
    /// hidden, so that info- and warn-level logs carry neither.
    pub fn for_log(&self) -> String {
        match self {
            ParamError::Invalid { name, expected, .. } if PERSONAL_PARAMS.contains(name) => {
                format!("webhook parameter `{name}` is invalid: expected {expected} (value hidden)")
            }
            other => other.to_string(),
        }
    }
}

/// Quotes untrusted text for a log line: at most [`QUOTED_CHARS`] characters
/// (then `…`), with control characters, invisible formatting characters
/// (bidi overrides, zero-width spaces) and `"`/`\` escaped, so a value can
/// neither forge log lines nor hide what it is.
pub(super) fn quote_for_log(raw: &str) -> String {
    let mut quoted = String::new();
    let mut chars = raw.chars();
    for c in chars.by_ref().take(QUOTED_CHARS) {
        if c.is_control() || is_invisible_format(c) || c == '"' || c == '\\' {
            quoted.extend(c.escape_default());
        } else {
            quoted.push(c);
        }
    }
    if chars.next().is_some() {
        quoted.push('…');
    }
    quoted
}

/// Unicode format characters that change how text displays without being
/// visible: zero-width characters, bidi embeddings, overrides and isolates,
/// the word joiner family, the byte-order mark and the soft hyphen.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{AD}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twilio::params::test_forms::{form, with_sid};
    use crate::twilio::params::{GatherParams, StatusParams, VoiceParams};

    // ---- Errors --------------------------------------------------------

    #[test]
    fn a_missing_parameter_is_named_in_the_error() {
        let error = VoiceParams::from_form(&form(&[("From", "+14155552671")])).unwrap_err();
        assert_eq!(error, ParamError::Missing { name: "CallSid" });
        assert_eq!(error.to_string(), "missing webhook parameter `CallSid`");
        let error = VoiceParams::from_form(&with_sid(&[("From", "+14155552671")])).unwrap_err();
        assert_eq!(error, ParamError::Missing { name: "To" });
    }

    #[test]
    fn an_invalid_value_is_named_explained_and_quoted() {
        let error = GatherParams::from_form(&with_sid(&[("Digits", "12a")])).unwrap_err();
        assert_eq!(
            error,
            ParamError::Invalid {
                name: "Digits",
                expected: "keypad digits (`0`-`9`, `*`, `#`; at most 64)",
                value: "12a".to_owned(),
            }
        );
        let message = error.to_string();
        assert!(message.contains("`Digits`"), "{message}");
        assert!(message.contains("keypad digits"), "{message}");
        assert!(message.contains("\"12a\""), "{message}");
    }

    #[test]
    fn a_logged_error_hides_a_phone_number_or_spoken_text_but_not_digits() {
        let error = VoiceParams::from_form(&with_sid(&[("From", "+86 138 1234 8000")]));
        let logged = error.map(|_| String::new()).unwrap_or_else(|e| e.for_log());
        assert!(
            logged.contains("`From`") && !logged.contains("1234"),
            "{logged}"
        );
        let digits = GatherParams::from_form(&with_sid(&[("Digits", "12a")])).unwrap_err();
        assert!(digits.for_log().contains("12a"));
    }

    #[test]
    fn a_quoted_value_is_cut_to_40_characters() {
        let long = "x".repeat(100);
        let error = StatusParams::from_form(&with_sid(&[("CallStatus", &long)])).unwrap_err();
        let ParamError::Invalid { value, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(value, &format!("{}…", "x".repeat(40)));
        // Exactly 40 characters are not marked as cut; counted in
        // characters, not bytes.
        assert_eq!(quote_for_log(&"好".repeat(40)), "好".repeat(40));
        assert_eq!(
            quote_for_log(&"好".repeat(41)),
            format!("{}…", "好".repeat(40))
        );
    }

    #[test]
    fn a_quoted_value_has_its_control_and_invisible_characters_escaped() {
        for (raw, quoted) in [
            ("a\nb", "a\\nb"),
            ("a\r\nFAKE LOG LINE", "a\\r\\nFAKE LOG LINE"),
            ("\u{1b}[31mred", "\\u{1b}[31mred"),
            ("nul\0", "nul\\u{0}"),
            ("tab\t", "tab\\t"),
            ("quote\"", "quote\\\""),
            ("back\\slash", "back\\\\slash"),
            ("bidi\u{202E}txt", "bidi\\u{202e}txt"),
            ("zero\u{200B}width", "zero\\u{200b}width"),
            ("中文 ok", "中文 ok"),
        ] {
            assert_eq!(quote_for_log(raw), quoted, "{raw:?}");
        }
        let error = VoiceParams::from_form(&form(&[
            ("CallSid", "CA\n2024-01-01 INFO forged"),
            ("From", ""),
            ("To", ""),
        ]))
        .unwrap_err();
        assert!(!error.to_string().contains('\n'), "{error}");
    }
}
