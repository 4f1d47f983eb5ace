//! The `closed_set!` macro: an enum whose values are stored and shown as
//! fixed strings, with one table for both directions.

use std::fmt;

/// A string that is none of a closed set's values: a stored row written by
/// something else, or a bad argument. Names what was expected and what came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    pub expected: &'static str,
    pub value: String,
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, got {:?}", self.expected, self.value)
    }
}

impl std::error::Error for UnknownValue {}

/// How a closed set's `parse` reports a spelling outside the set: the
/// domain's [`UnknownValue`], or the provider edge's log-safe error.
pub trait Unknown {
    fn unknown(expected: &'static str, value: &str) -> Self;
}

impl Unknown for UnknownValue {
    fn unknown(expected: &'static str, value: &str) -> Self {
        UnknownValue {
            expected,
            value: value.to_owned(),
        }
    }
}

/// `"a, b, c"` from string literals, at compile time: the list of values a
/// closed set names in its error, written once, in the variants.
macro_rules! comma_list {
    ($only:literal) => { $only };
    ($first:literal, $($rest:literal),+) => {
        concat!($first, ", ", $crate::domain::comma_list!($($rest),+))
    };
}

/// An enum with a fixed spelling per variant: `ALL`, `as_str`, `parse`,
/// `Display`, `FromStr`, and serde through the same spelling. Used for the
/// domain's sets and for the provider's wire values (`twilio::params`),
/// which name their own error type. A bad spelling's error says
/// "`expecting` (every spelling)".
macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        pub enum $name:ident expecting $expected:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $crate::domain::closed_set! {
            $(#[$meta])*
            pub enum $name expecting $expected error $crate::domain::UnknownValue {
                $( $(#[$vmeta])* $variant = $text, )+
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub enum $name:ident expecting $expected:literal error $error:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            ::serde::Serialize, ::serde::Deserialize,
        )]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// What a bad spelling's error says was expected.
            const EXPECTED: &'static str =
                concat!($expected, " (", $crate::domain::comma_list!($($text),+), ")");

            /// The stored (or wire) spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }

            /// Parses the spelling exactly (no case folding or trimming).
            pub fn parse(value: &str) -> Result<Self, $error> {
                match value {
                    $( $text => Ok(Self::$variant), )+
                    _ => Err(<$error as $crate::domain::Unknown>::unknown(Self::EXPECTED, value)),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $error;

            fn from_str(value: &str) -> Result<Self, $error> {
                Self::parse(value)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;

            fn try_from(value: String) -> Result<Self, $error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for &'static str {
            fn from(value: $name) -> &'static str {
                value.as_str()
            }
        }
    };
}

pub(crate) use closed_set;
pub(crate) use comma_list;
