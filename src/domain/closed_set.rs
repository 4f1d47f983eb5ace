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

/// An enum with a fixed spelling per variant: `ALL`, `as_str`, `parse`,
/// `Display`, `FromStr`, and serde through the same spelling.
macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        pub enum $name:ident expecting $expected:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }

            /// Parses the stored spelling exactly (no case folding).
            pub fn parse(value: &str) -> Result<Self, UnknownValue> {
                match value {
                    $( $text => Ok(Self::$variant), )+
                    _ => Err(UnknownValue {
                        expected: $expected,
                        value: value.to_owned(),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(value: &str) -> Result<Self, UnknownValue> {
                Self::parse(value)
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownValue;

            fn try_from(value: String) -> Result<Self, UnknownValue> {
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
