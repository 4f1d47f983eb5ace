//! The validated flow: what the call machine runs.
//!
//! Everything here has been checked by `validate`: step references are
//! indexes that exist, templates compile and name declared variables,
//! conditions are type-checked. The machine never has to ask "what if this
//! step id is missing?".

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::condition::Condition;
use super::hours::Hours;

/// Index of a step in [`Flow::steps`].
pub type StepIdx = usize;

/// How a call ended; a domain value because the store keeps it too.
pub use crate::domain::Outcome;

/// Whether the call runs as TwiML webhooks or over a media stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Twiml,
    Stream,
}

/// Which ways the caller may answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputMode {
    pub keypad: bool,
    pub speech: bool,
}

impl InputMode {
    pub const BOTH: InputMode = InputMode {
        keypad: true,
        speech: true,
    };

    pub fn parse(s: &str) -> Option<InputMode> {
        match s {
            "keypad" | "dtmf" => Some(InputMode {
                keypad: true,
                speech: false,
            }),
            "speech" => Some(InputMode {
                keypad: false,
                speech: true,
            }),
            "both" => Some(InputMode::BOTH),
            _ => None,
        }
    }
}

/// Something the caller hears: text spoken by the provider's voice (a
/// template name in the flow's environment), or an audio file.
#[derive(Debug, Clone, PartialEq)]
pub enum Speech {
    /// Name of a compiled template in [`Flow::templates`].
    Text(String),
    /// A path relative to the audio folder.
    Audio(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct MenuChoice {
    pub key: String,
    pub value: String,
    pub words: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum QuestionKind {
    YesNo,
    /// A rating on a scale such as 1–5.
    Rating {
        min: i64,
        max: i64,
    },
    /// Net Promoter Score, 0–10.
    Nps,
    /// A whole number within bounds.
    Number {
        min: i64,
        max: i64,
    },
    Menu(Vec<MenuChoice>),
    /// Free speech, kept as text.
    Speech,
    /// A voice recording of at most `max_secs`.
    Record {
        max_secs: u32,
    },
}

impl QuestionKind {
    /// Whether the answer is the caller's own words or voice.
    pub fn is_spoken(&self) -> bool {
        matches!(self, QuestionKind::Speech | QuestionKind::Record { .. })
    }

    /// Numeric bounds for number-like questions.
    pub fn bounds(&self) -> Option<(i64, i64)> {
        match self {
            QuestionKind::Rating { min, max } | QuestionKind::Number { min, max } => {
                Some((*min, *max))
            }
            QuestionKind::Nps => Some((0, 10)),
            _ => None,
        }
    }

    /// The type of the answer, for conditions.
    pub fn answer_type(&self) -> AnswerType {
        match self {
            QuestionKind::YesNo => AnswerType::YesNo,
            QuestionKind::Rating { .. } | QuestionKind::Nps | QuestionKind::Number { .. } => {
                AnswerType::Number
            }
            QuestionKind::Menu(_) | QuestionKind::Speech => AnswerType::Text,
            QuestionKind::Record { .. } => AnswerType::Recording,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            QuestionKind::YesNo => "yes_no",
            QuestionKind::Rating { .. } => "rating",
            QuestionKind::Nps => "nps",
            QuestionKind::Number { .. } => "number",
            QuestionKind::Menu(_) => "menu",
            QuestionKind::Speech => "speech",
            QuestionKind::Record { .. } => "record",
        }
    }
}

/// Type of a value in a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerType {
    YesNo,
    Number,
    Text,
    Recording,
}

impl AnswerType {
    pub fn describe(self) -> &'static str {
        match self {
            AnswerType::YesNo => "a yes/no answer",
            AnswerType::Number => "a number",
            AnswerType::Text => "text",
            AnswerType::Recording => "a recording",
        }
    }
}

/// What happens after the last failed attempt of a question.
#[derive(Debug, Clone, PartialEq)]
pub enum OnFail {
    /// Move on without an answer.
    Skip,
    /// Say goodbye and end the call as `no_response`.
    End,
    /// Go to a step (the agent step for `handoff`).
    Goto(StepIdx),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub kind: QuestionKind,
    pub prompt: Speech,
    pub input: InputMode,
    pub timeout_secs: u32,
    pub attempts: u8,
    pub no_input: Vec<Speech>,
    pub no_match: Vec<Speech>,
    pub on_fail: OnFail,
    /// May the caller interrupt the prompt (media streams)?
    pub barge_in: bool,
}

/// Where a handoff goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "address", rename_all = "snake_case")]
pub enum Target {
    /// An E.164 phone number.
    Phone(String),
    Sip(String),
    Client(String),
    Queue(String),
}

impl Target {
    pub fn parse(s: &str) -> Option<Target> {
        let (kind, rest) = match s.split_once(':') {
            Some((k, r)) => (k, r),
            None => ("tel", s),
        };
        let rest = rest.trim();
        if rest.is_empty() {
            return None;
        }
        match kind {
            "tel" => {
                let digits = rest.strip_prefix('+')?;
                let ok = (8..=15).contains(&digits.len())
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && !digits.starts_with('0');
                ok.then(|| Target::Phone(rest.to_string()))
            }
            "sip" => Some(Target::Sip(format!("sip:{rest}"))),
            "client" => Some(Target::Client(rest.to_string())),
            "queue" => Some(Target::Queue(rest.to_string())),
            _ => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Phone(n) => write!(f, "tel:{n}"),
            Target::Sip(s) => f.write_str(s),
            Target::Client(c) => write!(f, "client:{c}"),
            Target::Queue(q) => write!(f, "queue:{q}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    pub target: Target,
    pub hours: Option<Hours>,
    pub unavailable: Option<StepIdx>,
    /// How long to ring a person, or to hold a caller in a queue, before
    /// the `unavailable` step runs.
    pub max_wait_secs: u32,
    /// What a queued caller hears while waiting (the default phrase if none).
    pub hold: Option<Speech>,
    /// Tell a queued caller their place in the queue.
    pub announce_position: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// Says something; may end the call.
    Message {
        end: Option<Outcome>,
    },
    Question(Question),
    Transfer(Transfer),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub language: String,
    /// What is said when the step starts (messages and transfers); questions
    /// carry their prompt in [`Question::prompt`].
    pub speech: Option<Speech>,
    pub kind: StepKind,
    /// Answer value (as text: "yes", "no", a menu value, a number) → step.
    pub on: Vec<(String, StepIdx)>,
    pub branches: Vec<(Condition, StepIdx)>,
    /// Where to go when nothing else matched; `None` ends the call as completed.
    pub next: Option<StepIdx>,
}

/// A declared contact variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Var {
    pub name: String,
    pub kind: VarKind,
    /// What the call uses when the contact gives no value (an inbound
    /// caller who is no contact, an empty CSV cell).
    pub default: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarKind {
    Text,
    Number,
}

/// Keys that work during every question.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalKeys {
    pub repeat: Option<String>,
    pub opt_out: Option<String>,
    pub agent: Option<String>,
}

/// A validated, ready-to-run call flow.
#[derive(Debug)]
pub struct Flow {
    /// The flow's name: its file stem (`wallet-followup`).
    pub name: String,
    /// SHA-256 of the file's text: the flow version stored with each call.
    pub hash: String,
    pub title: Option<String>,
    pub language: String,
    pub voice: Option<String>,
    pub mode: Mode,
    /// Speech below this confidence is a no-match.
    pub confidence: f32,
    pub vars: Vec<Var>,
    pub keys: GlobalKeys,
    pub agent_step: Option<StepIdx>,
    /// Where an answering machine starts (`Input::Machine`).
    pub machine_step: Option<StepIdx>,
    pub opt_out_confirm: Option<Speech>,
    pub opt_out_goodbye: Option<Speech>,
    /// How support's fix of a handoff of this flow is confirmed with the
    /// customer (`confirm_flow`, `confirm_after`); `None`: it is not.
    pub confirm: Option<Confirm>,
    /// The yes/no question (`confirms = true`) whose answer decides the
    /// handoff a confirmation call running this flow is about.
    pub confirms: Option<String>,
    pub steps: Vec<Step>,
    /// What callers talk about, as ops staff name it (`[topics]`), in file order.
    pub topics: Vec<Topic>,
    /// Compiled templates of every text the flow speaks.
    pub templates: minijinja::Environment<'static>,
}

/// The confirmation call a resolved handoff of a flow schedules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    /// The flow the confirmation call runs.
    pub flow: String,
    /// Where `confirm_flow` is written, for the check that the flow exists
    /// (made when every flow is loaded, see `flow::load::check_confirm_flows`).
    pub flow_span: std::ops::Range<usize>,
    /// How long after the resolve the call is due (the dialer then waits
    /// for the contact's calling window).
    pub after: std::time::Duration,
}

/// A theme of what callers say: a name and the words and phrases that mean it.
///
/// Only analysis reads topics (`insight`); they never change a call. The
/// phrases are kept as written: matching normalises both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub name: String,
    pub phrases: Vec<String>,
}

impl Flow {
    pub fn step_index(&self, id: &str) -> Option<StepIdx> {
        self.steps.iter().position(|s| s.id == id)
    }

    /// Gives each declared variable a call lacks (or has empty) the flow's
    /// default, so texts read naturally on any call.
    pub fn fill_defaults(&self, vars: &mut std::collections::BTreeMap<String, String>) {
        for var in &self.vars {
            let given = vars.get(&var.name).is_some_and(|v| !v.trim().is_empty());
            if let (false, Some(default)) = (given, &var.default) {
                vars.insert(var.name.clone(), default.clone());
            }
        }
    }

    /// Questions in file order: the answer names of this flow.
    pub fn questions(&self) -> impl Iterator<Item = (&Step, &Question)> {
        self.steps.iter().filter_map(|s| match &s.kind {
            StepKind::Question(q) => Some((s, q)),
            _ => None,
        })
    }

    /// The ids of the questions answered in the caller's own words or voice
    /// (free speech, recordings): personal data that purge erases, that
    /// "what callers said" reads, and that a follow-up never copies.
    pub fn spoken_questions(&self) -> BTreeSet<String> {
        self.questions()
            .filter(|(_, q)| q.kind.is_spoken())
            .map(|(step, _)| step.id.clone())
            .collect()
    }
}
