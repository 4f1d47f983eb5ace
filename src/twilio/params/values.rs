//! The provider's string values as types that can only be built by parsing:
//! [`CallSid`], [`Party`] (one end of a call) and [`Digits`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::InvalidValue;
use super::form::is_token;
use crate::phone::{self, PhoneNumber};

/// The impls every string newtype shares: `as_str`, `Display`, `FromStr`,
/// and the `String` conversions serde uses, all going through `parse` so a
/// value can only ever be built by parsing.
macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The value as the provider sent it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;

            fn from_str(value: &str) -> Result<Self, InvalidValue> {
                Self::parse(value)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;

            fn try_from(value: String) -> Result<Self, InvalidValue> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
}

/// A call SID: `CA` followed by 32 hex digits (either case).
///
/// The SID is what every later request about the call is keyed on, so a
/// malformed one is rejected here rather than looked up and not found.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CallSid(String);

impl CallSid {
    /// Parses a call SID. The case of the hex digits is kept as sent.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let valid = value.len() == 34
            && value.starts_with("CA")
            && value.bytes().skip(2).all(|b| b.is_ascii_hexdigit());
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidValue::new(
                "a call SID (`CA` and 32 hex digits)",
                value,
            ))
        }
    }
}

string_newtype!(CallSid);

/// One end of a call: the `From` or `To` of a webhook.
///
/// Besides phone numbers the provider reports browser/app clients
/// (`client:alice`), SIP endpoints (`sip:alice@example.com`) and withheld
/// caller IDs, which arrive as one of several placeholder values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Party {
    /// A phone number.
    Phone(PhoneNumber),
    /// A client identity, without the `client:` prefix (`alice` for
    /// `client:alice`). Never empty, no whitespace or control characters.
    Client(String),
    /// A SIP URI, including its `sip:` or `sips:` scheme. Never just the
    /// scheme, no whitespace or control characters.
    Sip(String),
    /// The caller ID was withheld or is unknown.
    Anonymous,
}

/// The placeholders the provider and carriers use for a withheld caller ID
/// (compared ignoring ASCII case). `+266696687` spells ANONYMOUS on a keypad;
/// it must be checked before E.164, which it also matches.
const ANONYMOUS_CALLER_IDS: &[&str] = &["", "anonymous", "+266696687", "restricted", "unknown"];

impl Party {
    /// Parses a `From`/`To` value.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        const EXPECTED: &str = "an E.164 number, `client:…`, `sip:…` or an anonymous caller ID";
        if ANONYMOUS_CALLER_IDS
            .iter()
            .any(|placeholder| value.eq_ignore_ascii_case(placeholder))
        {
            return Ok(Self::Anonymous);
        }
        if let Some(identity) = value.strip_prefix("client:") {
            return if is_token(identity) {
                Ok(Self::Client(identity.to_owned()))
            } else {
                Err(InvalidValue::new(EXPECTED, value))
            };
        }
        if let Some(rest) = value
            .strip_prefix("sip:")
            .or_else(|| value.strip_prefix("sips:"))
        {
            return if is_token(rest) {
                Ok(Self::Sip(value.to_owned()))
            } else {
                Err(InvalidValue::new(EXPECTED, value))
            };
        }
        if value.starts_with('+') {
            // The provider's value is quoted (escaped, cut) in the error, as
            // every other invalid value is; `phone` itself never repeats it.
            return PhoneNumber::parse(value)
                .map(Self::Phone)
                .map_err(|_| InvalidValue::new(phone::EXPECTED, value));
        }
        Err(InvalidValue::new(EXPECTED, value))
    }

    /// The phone number, when this party is one.
    pub fn phone(&self) -> Option<&PhoneNumber> {
        match self {
            Self::Phone(number) => Some(number),
            _ => None,
        }
    }
}

/// Writes the provider's form back, so that `Display` and `parse` round-trip;
/// [`Party::Anonymous`] is written as `anonymous`.
impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Phone(number) => f.write_str(number.as_str()),
            Self::Client(identity) => write!(f, "client:{identity}"),
            Self::Sip(uri) => f.write_str(uri),
            Self::Anonymous => f.write_str("anonymous"),
        }
    }
}

impl FromStr for Party {
    type Err = InvalidValue;

    fn from_str(value: &str) -> Result<Self, InvalidValue> {
        Self::parse(value)
    }
}

impl TryFrom<String> for Party {
    type Error = InvalidValue;

    fn try_from(value: String) -> Result<Self, InvalidValue> {
        Self::parse(&value)
    }
}

impl From<Party> for String {
    fn from(value: Party) -> String {
        value.to_string()
    }
}

/// Keys pressed on the keypad: `0`–`9`, `*` and `#`, at most 64 of them.
///
/// May be empty (nothing pressed); the parameter structs turn an empty
/// `Digits` into `None` so that "nothing pressed" has one spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digits(String);

impl Digits {
    /// The most keys accepted; `<Gather numDigits>` answers are far shorter.
    pub const MAX_LEN: usize = 64;

    /// Parses keypad input.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let valid = value.len() <= Self::MAX_LEN
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#');
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidValue::new(
                "keypad digits (`0`-`9`, `*`, `#`; at most 64)",
                value,
            ))
        }
    }

    /// True when no key was pressed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

string_newtype!(Digits);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::twilio::params::test_forms::SID;
    use proptest::prelude::*;

    // ---- CallSid -------------------------------------------------------

    #[test]
    fn a_call_sid_of_ca_and_32_hex_digits_is_accepted() {
        for sid in [
            SID,
            "CA0123456789ABCDEF0123456789ABCDEF",
            "CAaBcDeF0123456789aBcDeF0123456789",
            "CA00000000000000000000000000000000",
        ] {
            let parsed = CallSid::parse(sid).unwrap();
            assert_eq!(parsed.as_str(), sid);
            assert_eq!(parsed.to_string(), sid);
        }
    }

    #[test]
    fn a_call_sid_without_the_ca_prefix_is_rejected() {
        for sid in [
            "0123456789abcdef0123456789abcdef",
            "ca0123456789abcdef0123456789abcdef",
            "Ca0123456789abcdef0123456789abcdef",
            "CB0123456789abcdef0123456789abcdef",
            "RE0123456789abcdef0123456789abcdef",
            "XXCA0123456789abcdef0123456789abcd",
        ] {
            assert!(CallSid::parse(sid).is_err(), "{sid}");
        }
    }

    #[test]
    fn a_call_sid_of_the_wrong_length_is_rejected() {
        for sid in [
            "",
            "CA",
            "CA0123456789abcdef0123456789abcde",
            "CA0123456789abcdef0123456789abcdef0",
            "CA1234567890ABCDE",
        ] {
            assert!(CallSid::parse(sid).is_err(), "{sid:?}");
        }
    }

    #[test]
    fn a_call_sid_with_non_hex_whitespace_or_non_ascii_is_rejected() {
        for sid in [
            "CA0123456789abcdef0123456789abcdeg",
            " CA0123456789abcdef0123456789abcdef",
            "CA0123456789abcdef0123456789abcdef ",
            "CA0123456789abcdef0123456789abcd\n",
            "CA０123456789abcdef0123456789abcd",
            "CA0123456789abcdef0123456789abcdé",
        ] {
            assert!(CallSid::parse(sid).is_err(), "{sid:?}");
        }
    }

    // ---- Party ---------------------------------------------------------

    #[test]
    fn a_phone_party_debug_print_is_masked() {
        let number = PhoneNumber::parse("+8613812348000").unwrap();
        let party = format!("{:?}", Party::Phone(number));
        assert!(!party.contains("13812348000"), "{party}");
    }

    #[test]
    fn a_party_is_a_phone_a_client_a_sip_uri_or_anonymous() {
        let phone = PhoneNumber::parse("+14155552671").unwrap();
        for (value, expected) in [
            ("+14155552671", Party::Phone(phone)),
            ("client:alice", Party::Client("alice".to_owned())),
            ("client:agent_42", Party::Client("agent_42".to_owned())),
            (
                "sip:alice@example.com",
                Party::Sip("sip:alice@example.com".to_owned()),
            ),
            (
                "sips:bob@example.com:5061",
                Party::Sip("sips:bob@example.com:5061".to_owned()),
            ),
            ("", Party::Anonymous),
            ("anonymous", Party::Anonymous),
            ("Anonymous", Party::Anonymous),
            ("ANONYMOUS", Party::Anonymous),
            ("+266696687", Party::Anonymous),
            ("restricted", Party::Anonymous),
            ("Restricted", Party::Anonymous),
            ("unknown", Party::Anonymous),
        ] {
            assert_eq!(Party::parse(value).unwrap(), expected, "{value:?}");
        }
    }

    #[test]
    fn a_party_that_is_none_of_the_known_shapes_is_rejected() {
        for value in [
            "client:",
            "client:al ice",
            "sip:",
            "sips:",
            "sip:alice@example.com\r\nX: y",
            "alice",
            "14155552671",
            "+0123456789",
            " anonymous",
            "tel:+14155552671",
            "Client:alice",
            "匿名",
        ] {
            assert!(Party::parse(value).is_err(), "{value:?}");
        }
    }

    #[test]
    fn a_party_displays_as_it_was_sent_and_parses_back() {
        for value in [
            "+14155552671",
            "client:alice",
            "sip:alice@example.com",
            "anonymous",
        ] {
            let party = Party::parse(value).unwrap();
            assert_eq!(party.to_string(), value);
            assert_eq!(Party::parse(&party.to_string()).unwrap(), party);
        }
        assert_eq!(Party::parse("").unwrap().to_string(), "anonymous");
    }

    #[test]
    fn only_a_phone_party_has_a_phone_number() {
        assert!(Party::parse("+14155552671").unwrap().phone().is_some());
        assert!(Party::parse("client:alice").unwrap().phone().is_none());
        assert!(Party::Anonymous.phone().is_none());
    }

    // ---- Digits --------------------------------------------------------

    #[test]
    fn digits_are_keypad_keys_up_to_64_of_them() {
        let sixty_four = "1".repeat(64);
        for digits in ["", "1", "0123456789", "*#", "12#", sixty_four.as_str()] {
            assert_eq!(Digits::parse(digits).unwrap().as_str(), digits);
        }
        assert!(Digits::parse("").unwrap().is_empty());
    }

    #[test]
    fn digits_that_are_not_keypad_keys_or_too_many_are_rejected() {
        let sixty_five = "1".repeat(65);
        for digits in [
            sixty_five.as_str(),
            "12a",
            " 1",
            "1 ",
            "1,2",
            "+1",
            "hangup",
            "１２",
            "٣",
        ] {
            assert!(Digits::parse(digits).is_err(), "{digits:?}");
        }
    }

    // ---- serde ---------------------------------------------------------

    #[test]
    fn value_types_serialize_as_their_provider_strings() {
        let sid = CallSid::parse(SID).unwrap();
        assert_eq!(serde_json::to_string(&sid).unwrap(), format!("\"{SID}\""));
        let party = Party::parse("client:alice").unwrap();
        assert_eq!(serde_json::to_string(&party).unwrap(), "\"client:alice\"");
    }

    #[test]
    fn value_types_deserialize_only_through_parse() {
        let sid: CallSid = serde_json::from_str(&format!("\"{SID}\"")).unwrap();
        assert_eq!(sid.as_str(), SID);
        assert!(serde_json::from_str::<CallSid>("\"CA123\"").is_err());
        assert!(serde_json::from_str::<Digits>("\"12a\"").is_err());
        assert!(serde_json::from_str::<Party>("\"nobody\"").is_err());
        let party: Party = serde_json::from_str("\"sip:a@example.com\"").unwrap();
        assert_eq!(party, Party::Sip("sip:a@example.com".to_owned()));
        let error = serde_json::from_str::<CallSid>("\"nope\"").unwrap_err();
        assert!(error.to_string().contains("call SID"), "{error}");
    }

    proptest! {
        #[test]
        fn a_parsed_party_displays_as_something_that_parses_to_it(value in any::<String>()) {
            if let Ok(party) = Party::parse(&value) {
                prop_assert_eq!(Party::parse(&party.to_string()).unwrap(), party);
            }
        }
    }
}
