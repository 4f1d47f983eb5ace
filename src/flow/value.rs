//! Answer values, as stored, compared and exported.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The value of one answer. Serialised untagged so that JSON shows yes/no as
/// `true`/`false`, numbers as numbers and text as strings — the shape
/// analysts and `simulate --json` see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Number(i64),
    Text(String),
    Recording {
        url: String,
        duration_secs: u32,
        /// The recording's id: the provider's RecordingSid, or the id
        /// dialback gave a recording it made on a stream. What makes
        /// storing the recording idempotent, and where its copy is found.
        #[serde(
            default,
            rename = "recording_sid",
            skip_serializing_if = "Option::is_none"
        )]
        sid: Option<String>,
    },
}

impl Value {
    /// The key used to route on this value in a step's `on` table.
    pub fn route_key(&self) -> String {
        match self {
            Value::Bool(true) => "yes".into(),
            Value::Bool(false) => "no".into(),
            Value::Number(n) => n.to_string(),
            Value::Text(t) => t.clone(),
            Value::Recording { .. } => "recorded".into(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => f.write_str(if *b { "yes" } else { "no" }),
            Value::Number(n) => write!(f, "{n}"),
            Value::Text(t) => f.write_str(t),
            Value::Recording {
                url, duration_secs, ..
            } => write!(f, "{url} ({duration_secs}s)"),
        }
    }
}
