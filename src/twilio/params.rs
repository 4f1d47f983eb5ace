//! Typed webhook parameters: parse, don't validate.
//!
//! The provider posts its webhooks as `application/x-www-form-urlencoded`
//! pairs. Everything in those pairs is untrusted text (even after the
//! signature check it may be caller-controlled: speech, digits, SIP headers),
//! so it is turned into types exactly once, here, at the edge. Code past this
//! module never sees a raw `String` where a [`CallSid`], a [`PhoneNumber`] or
//! a [`CallStatus`] is meant, and never has to re-check one.
//!
//! Rules shared by every `from_form`:
//!
//! - Parameter names match exactly (the provider's `PascalCase`); unknown
//!   parameters are ignored, because the provider sends many we do not use
//!   and adds more over time.
//! - Any name or value longer than [`MAX_VALUE_BYTES`] is rejected before
//!   anything is parsed, whether or not we use that parameter.
//! - A parameter we use that appears more than once is rejected: the provider
//!   never repeats them, and picking one of two values would be a guess.
//! - An optional parameter that is absent or empty is `None`; a required one
//!   that is absent is [`ParamError::Missing`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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

/// How many characters of an offending value an error quotes: enough to
/// recognise it in a log line, not enough to flood one.
const QUOTED_CHARS: usize = 40;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

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
    fn new(expected: &'static str, raw: &str) -> Self {
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
    /// A parameter's name or value is longer than [`MAX_VALUE_BYTES`].
    /// Checked for every parameter, used or not, before anything is parsed.
    #[error("webhook parameter `{name}` is too long: {len} bytes, the limit is {max}")]
    TooLong {
        /// The parameter's name, truncated and escaped like a value (it may
        /// be an unknown, attacker-chosen name).
        name: String,
        /// The length of the offending name or value, in bytes.
        len: usize,
        /// The limit, [`MAX_VALUE_BYTES`].
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
    fn invalid(name: &'static str, error: InvalidValue) -> Self {
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
fn quote_for_log(raw: &str) -> String {
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

// ---------------------------------------------------------------------------
// Value types
// ---------------------------------------------------------------------------

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

/// A phone number in E.164 form: `+`, then 8 to 15 ASCII digits, the first
/// of which is not 0.
///
/// Phone numbers are personal data, so `Debug` prints [`PhoneNumber::masked`]
/// and a number that slips into `{:?}` in a log does not leak; `Display` and
/// [`PhoneNumber::as_str`] give the full number for where it is needed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses an E.164 number. No separators, spaces or national formats are
    /// accepted: the provider always sends E.164, and anything else is
    /// either not a phone number or not from the provider.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        let valid = match value.strip_prefix('+') {
            Some(digits) => {
                (8..=15).contains(&digits.len())
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && !digits.starts_with('0')
            }
            None => false,
        };
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidValue::new(
                "an E.164 phone number (`+` and 8 to 15 digits)",
                value,
            ))
        }
    }

    /// The number with most national digits hidden, for logs and screens:
    /// `+8613812348000` becomes `+86 138****8000`.
    ///
    /// The rule: the country calling code is shown, then a space, then the
    /// national number. When the national number has 10 or more digits its
    /// first 3 and last 4 are kept and the rest replaced by `*`; shorter
    /// national numbers keep only their last 2 digits, so at least three
    /// digits are always hidden. The country code length comes from the ITU
    /// plan (1 digit for `+1`/`+7`, a table of the 2-digit codes, 3 digits
    /// in the zones where codes are 3 digits); prefixes in unassigned ranges
    /// are assumed to be 2 digits. The split only affects display.
    pub fn masked(&self) -> String {
        let digits = &self.0[1..];
        let (code, national) = digits.split_at(country_code_len(digits));
        let len = national.len();
        let (head, tail) = if len >= 10 { (3, 4) } else { (0, 2.min(len)) };
        let mut masked = String::with_capacity(self.0.len() + 2);
        masked.push('+');
        masked.push_str(code);
        masked.push(' ');
        masked.push_str(&national[..head]);
        masked.extend(std::iter::repeat_n('*', len - head - tail));
        masked.push_str(&national[len - tail..]);
        masked
    }
}

string_newtype!(PhoneNumber);

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PhoneNumber").field(&self.masked()).finish()
    }
}

/// Two-digit country calling codes (ITU-T E.164 assignments).
const TWO_DIGIT_CODES: &[&str] = &[
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
    "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65",
    "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
];

/// Two-digit prefixes under which every assigned code has three digits
/// (e.g. `35` → 351 Portugal, 353 Ireland; `85` → 852 Hong Kong, 853 Macau;
/// `88` → 886 Taiwan; `97` → 971 UAE).
const THREE_DIGIT_ZONES: &[&str] = &[
    "21", "22", "23", "24", "25", "26", "29", "35", "37", "38", "42", "50", "59", "67", "68", "69",
    "80", "85", "87", "88", "96", "97", "99",
];

/// The length of the country calling code at the start of `digits` (the
/// E.164 digits after `+`). See [`PhoneNumber::masked`].
fn country_code_len(digits: &str) -> usize {
    if digits.starts_with('1') || digits.starts_with('7') {
        return 1;
    }
    let prefix = digits.get(..2).unwrap_or(digits);
    if TWO_DIGIT_CODES.contains(&prefix) {
        2
    } else if THREE_DIGIT_ZONES.contains(&prefix) {
        3
    } else {
        2
    }
}

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
            return PhoneNumber::parse(value).map(Self::Phone);
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

/// A closed set of provider strings as an enum: the provider's exact
/// (case-sensitive) spelling parses, `as_str` gives it back, and serde goes
/// through the same two functions.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident expecting $expected:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// Parses the provider's exact spelling; no case folding or
            /// trimming, since the provider never varies it.
            pub fn parse(value: &str) -> Result<Self, InvalidValue> {
                match value {
                    $( $wire => Ok(Self::$variant), )+
                    _ => Err(InvalidValue::new($expected, value)),
                }
            }

            /// The provider's spelling.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $( Self::$variant => $wire, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
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
                value.as_str().to_owned()
            }
        }
    };
}

wire_enum! {
    /// The state of a call (`CallStatus`).
    pub enum CallStatus expecting "a call status (queued, initiated, ringing, in-progress, completed, busy, no-answer, failed, canceled)" {
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

wire_enum! {
    /// The outcome of a `<Dial>` (`DialCallStatus` on its action URL).
    pub enum DialCallStatus expecting "a dial status (completed, answered, busy, no-answer, failed, canceled)" {
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

wire_enum! {
    /// Why a call left an `<Enqueue>` (`QueueResult` on its action URL), as
    /// listed in the provider's `<Enqueue>` documentation.
    pub enum QueueResult expecting "a queue result (bridged, bridging-in-process, queue-full, redirected, redirected-from-bridged, hangup, error, system-error, leave)" {
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

wire_enum! {
    /// What answering-machine detection decided answered (`AnsweredBy`).
    pub enum AnsweredBy expecting "an answered-by value (human, machine_start, machine_end_beep, machine_end_silence, machine_end_other, fax, unknown)" {
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

// ---------------------------------------------------------------------------
// Reading a form
// ---------------------------------------------------------------------------

/// A webhook form whose sizes have been checked, with typed look-ups that
/// name the parameter in every error.
struct Form<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> Form<'a> {
    /// Checks every name and value against [`MAX_VALUE_BYTES`] before any
    /// parsing happens.
    fn new(pairs: &'a [(String, String)]) -> Result<Self, ParamError> {
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
    fn get(&self, name: &'static str) -> Result<Option<&'a str>, ParamError> {
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
    fn non_empty(&self, name: &'static str) -> Result<Option<&'a str>, ParamError> {
        Ok(self.get(name)?.filter(|value| !value.is_empty()))
    }

    fn required<T>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
    ) -> Result<T, ParamError> {
        let value = self.get(name)?.ok_or(ParamError::Missing { name })?;
        parse(value).map_err(|error| ParamError::invalid(name, error))
    }

    fn optional<T>(
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
fn is_token(value: &str) -> bool {
    !value.is_empty() && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A non-negative decimal integer: ASCII digits only. `str::parse` alone
/// would also take a leading `+`.
fn parse_count<T: FromStr>(value: &str) -> Result<T, InvalidValue> {
    const EXPECTED: &str = "a non-negative whole number";
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidValue::new(EXPECTED, value));
    }
    value
        .parse()
        .map_err(|_| InvalidValue::new(EXPECTED, value))
}

fn parse_token(value: &str) -> Result<String, InvalidValue> {
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
fn parse_url(value: &str) -> Result<String, InvalidValue> {
    let has_scheme = value.starts_with("https://") || value.starts_with("http://");
    if has_scheme && is_token(value) {
        Ok(value.to_owned())
    } else {
        Err(InvalidValue::new("an absolute http(s) URL", value))
    }
}

/// Free text (call direction, timestamps): anything, as long as it carries
/// no control characters that could corrupt storage or logs.
fn parse_text(value: &str) -> Result<String, InvalidValue> {
    if value.chars().any(char::is_control) {
        Err(InvalidValue::new("text without control characters", value))
    } else {
        Ok(value.to_owned())
    }
}

/// A speech transcript, limited to [`MAX_SPEECH_CHARS`] characters.
fn parse_speech(value: &str) -> Result<String, InvalidValue> {
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
fn parse_confidence(value: &str) -> Result<f32, InvalidValue> {
    match value.parse::<f32>() {
        Ok(number) if number.is_finite() => Ok(number.clamp(0.0, 1.0)),
        _ => Err(InvalidValue::new("a number between 0 and 1", value)),
    }
}

// ---------------------------------------------------------------------------
// Webhook parameter structs
// ---------------------------------------------------------------------------

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
    /// text because nothing branches on it yet.
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
}

/// The `<Gather>` action: what the caller pressed or said.
#[derive(Debug, Clone, PartialEq)]
pub struct GatherParams {
    /// `CallSid`.
    pub call_sid: CallSid,
    /// `Digits`; `None` when nothing was pressed (absent or empty).
    pub digits: Option<Digits>,
    /// `SpeechResult`; `None` when nothing was recognised (absent or empty).
    /// At most [`MAX_SPEECH_CHARS`] characters.
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
    use proptest::prelude::*;

    const SID: &str = "CA0123456789abcdef0123456789abcdef";

    fn form(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn with_sid(items: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut pairs = form(&[("CallSid", SID)]);
        pairs.extend(form(items));
        pairs
    }

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

    // ---- PhoneNumber ---------------------------------------------------

    #[test]
    fn an_e164_number_of_8_to_15_digits_is_accepted() {
        for number in [
            "+14155552671",
            "+8613812348000",
            "+85291234567",
            "+12345678",
            "+123456789012345",
        ] {
            assert_eq!(PhoneNumber::parse(number).unwrap().as_str(), number);
        }
    }

    #[test]
    fn a_phone_number_that_is_not_e164_is_rejected() {
        for number in [
            "",
            "+",
            "14155552671",
            "+04155552671",
            "+1234567",
            "+1234567890123456",
            "+1 415 555 2671",
            "+1-415-555-2671",
            "+1(415)5552671",
            " +14155552671",
            "+14155552671 ",
            "++14155552671",
            "+1415555267a",
            "+١٤١٥٥٥٥٢٦٧١",
            "+１４１５５５５２６７１",
        ] {
            assert!(PhoneNumber::parse(number).is_err(), "{number:?}");
        }
    }

    #[test]
    fn a_masked_number_shows_the_country_code_and_the_ends_of_the_national_number() {
        for (number, masked) in [
            ("+8613812348000", "+86 138****8000"),
            ("+14155552671", "+1 415***2671"),
            ("+79161234567", "+7 916***4567"),
            ("+447911123456", "+44 791***3456"),
            ("+4915112345678", "+49 151****5678"),
            ("+919812345678", "+91 981***5678"),
            ("+5511987654321", "+55 119****4321"),
            ("+971501234567", "+971 *******67"),
            ("+85291234567", "+852 ******67"),
            ("+85361234567", "+853 ******67"),
            ("+886912345678", "+886 *******78"),
            ("+353861234567", "+353 *******67"),
            ("+33612345678", "+33 *******78"),
            ("+6591234567", "+65 ******67"),
            // 28 is an unassigned zone: assumed to be a 2-digit code.
            ("+2812345678", "+28 ******78"),
            ("+12345678", "+1 *****78"),
        ] {
            let parsed = PhoneNumber::parse(number).unwrap();
            assert_eq!(parsed.masked(), masked, "{number}");
        }
    }

    #[test]
    fn a_phone_number_debug_print_is_masked() {
        let number = PhoneNumber::parse("+8613812348000").unwrap();
        let debug = format!("{number:?}");
        assert!(!debug.contains("13812348000"), "{debug}");
        assert!(debug.contains("+86 138****8000"), "{debug}");
        let party = format!("{:?}", Party::Phone(number));
        assert!(!party.contains("13812348000"), "{party}");
    }

    // ---- Party ---------------------------------------------------------

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

    // ---- Enums ---------------------------------------------------------

    #[test]
    fn every_wire_enum_value_round_trips_through_its_provider_spelling() {
        fn check<T>(all: &[T], parse: fn(&str) -> Result<T, InvalidValue>, as_str: fn(&T) -> &str)
        where
            T: PartialEq + fmt::Debug + fmt::Display,
        {
            for value in all {
                assert_eq!(&parse(as_str(value)).unwrap(), value);
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
        let spellings: Vec<&str> = CallStatus::ALL.iter().map(CallStatus::as_str).collect();
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
        let spellings: Vec<&str> = QueueResult::ALL.iter().map(QueueResult::as_str).collect();
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
        let spellings: Vec<&str> = AnsweredBy::ALL.iter().map(AnsweredBy::as_str).collect();
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
    fn value_types_serialize_as_their_provider_strings() {
        let sid = CallSid::parse(SID).unwrap();
        assert_eq!(serde_json::to_string(&sid).unwrap(), format!("\"{SID}\""));
        let number = PhoneNumber::parse("+8613812348000").unwrap();
        assert_eq!(
            serde_json::to_string(&number).unwrap(),
            "\"+8613812348000\""
        );
        let party = Party::parse("client:alice").unwrap();
        assert_eq!(serde_json::to_string(&party).unwrap(), "\"client:alice\"");
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
    fn value_types_deserialize_only_through_parse() {
        let sid: CallSid = serde_json::from_str(&format!("\"{SID}\"")).unwrap();
        assert_eq!(sid.as_str(), SID);
        assert!(serde_json::from_str::<CallSid>("\"CA123\"").is_err());
        assert!(serde_json::from_str::<PhoneNumber>("\"0800 123\"").is_err());
        assert!(serde_json::from_str::<Digits>("\"12a\"").is_err());
        assert!(serde_json::from_str::<Party>("\"nobody\"").is_err());
        assert!(serde_json::from_str::<CallStatus>("\"Completed\"").is_err());
        let party: Party = serde_json::from_str("\"sip:a@example.com\"").unwrap();
        assert_eq!(party, Party::Sip("sip:a@example.com".to_owned()));
        let status: QueueResult = serde_json::from_str("\"queue-full\"").unwrap();
        assert_eq!(status, QueueResult::QueueFull);
        let error = serde_json::from_str::<CallSid>("\"nope\"").unwrap_err();
        assert!(error.to_string().contains("call SID"), "{error}");
    }

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

        #[test]
        fn masking_never_panics_and_never_shows_the_whole_number(
            digits in "[1-9][0-9]{7,14}"
        ) {
            let number = PhoneNumber::parse(&format!("+{digits}")).unwrap();
            let masked = number.masked();
            prop_assert!(masked.starts_with('+'));
            prop_assert!(masked.matches('*').count() >= 3, "{}", masked);
            prop_assert_eq!(masked.len(), number.as_str().len() + 1);
        }

        #[test]
        fn a_parsed_party_displays_as_something_that_parses_to_it(value in any::<String>()) {
            if let Ok(party) = Party::parse(&value) {
                prop_assert_eq!(Party::parse(&party.to_string()).unwrap(), party);
            }
        }
    }
}
