//! Phone numbers: the E.164 domain type shared by the dialer (contacts,
//! opt-outs), reports (masked exports) and the provider edge (`From`/`To`).
//!
//! It lives here, below every module that uses it, so that code about
//! contacts and results does not depend on the provider's webhook types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a phone number must look like, in words: the whole message of
/// [`InvalidPhoneNumber`], and what the provider edge quotes when a `From`
/// or `To` is neither a number nor another kind of party.
pub const EXPECTED: &str = "an E.164 phone number (`+` and 8 to 15 digits)";

/// A text that is not an E.164 phone number.
///
/// It does not carry the text: a nearly valid phone number is still personal
/// data, and this error is logged and stored as a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("expected {EXPECTED}")]
pub struct InvalidPhoneNumber;

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
    /// accepted: the provider always sends E.164, and numbers as people
    /// write them are normalised first (`dialer::contacts::normalise_phone`).
    pub fn parse(value: &str) -> Result<Self, InvalidPhoneNumber> {
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
            Err(InvalidPhoneNumber)
        }
    }

    /// The full number, for where it is needed (dialling, opt-out checks).
    pub fn as_str(&self) -> &str {
        &self.0
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

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PhoneNumber {
    type Err = InvalidPhoneNumber;

    fn from_str(value: &str) -> Result<Self, InvalidPhoneNumber> {
        Self::parse(value)
    }
}

/// Serde deserialises through here, so a stored number is parsed too.
impl TryFrom<String> for PhoneNumber {
    type Error = InvalidPhoneNumber;

    fn try_from(value: String) -> Result<Self, InvalidPhoneNumber> {
        Self::parse(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> String {
        value.0
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
    }

    #[test]
    fn a_phone_number_serializes_as_its_e164_text_and_deserializes_only_through_parse() {
        let number = PhoneNumber::parse("+8613812348000").unwrap();
        assert_eq!(
            serde_json::to_string(&number).unwrap(),
            "\"+8613812348000\""
        );
        assert!(serde_json::from_str::<PhoneNumber>("\"0800 123\"").is_err());
    }

    #[test]
    fn a_rejected_number_is_not_repeated_in_the_error() {
        let error = PhoneNumber::parse("+86 138 1234 8000").unwrap_err();
        assert_eq!(error.to_string(), format!("expected {EXPECTED}"));
        assert!(!error.to_string().contains("1234"));
    }

    proptest! {
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
    }
}
