//! Diagnostics for call-flow files: what ops staff read when a flow is wrong.
//!
//! Every problem carries a stable code (so documentation and searches keep
//! working when wording changes), the byte span it points at, a one-line
//! message and, where we can tell, a hint saying how to fix it. Rendering is
//! done by `codespan-reporting`, which gives the `file:line:col` header and a
//! source snippet with the offending text underlined.

use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;

/// Byte range in the flow file's source text.
pub type Span = Range<usize>;

/// How bad a diagnostic is. Warnings do not stop a flow from loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// Stable diagnostic codes. The number never changes meaning once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The file is not valid TOML.
    Syntax,
    /// A key the language does not know.
    UnknownKey,
    /// A required key is missing.
    MissingKey,
    /// A value has the wrong TOML type or an unknown enumerated value.
    InvalidValue,
    /// A step id is used twice.
    DuplicateStep,
    /// A step target names no step.
    UnknownTarget,
    /// No path from the first step reaches this step.
    Unreachable,
    /// Steps that lead to each other without waiting for the caller.
    InputlessLoop,
    /// An audio file that does not exist.
    MissingAudio,
    /// A template names a variable that is not declared.
    UnknownVariable,
    /// A condition that does not parse or names an unknown answer.
    BadCondition,
    /// A condition compares values of different types.
    TypeMismatch,
    /// Two keys that mean different things on the same keypad.
    KeyClash,
    /// The first thing a caller hears is a question, with no disclosure.
    NoDisclosure,
    /// A step mixes keys that do not belong together.
    ConflictingKeys,
    /// Business hours that do not parse.
    BadHours,
    /// A template that does not parse.
    BadTemplate,
    /// A flow with no steps.
    NoSteps,
    /// A topic with nothing to match: an empty list, or a phrase of only punctuation.
    EmptyTopic,
    /// One phrase listed twice, in one topic or in two.
    DuplicatePhrase,
    /// A gate (a question whose answer can stop the call) that silence skips.
    SkippableGate,
    /// A text that leaves a hole when a variable without a default has no
    /// value (an inbound caller who is no campaign contact).
    HoleWithoutDefault,
    /// `confirm_flow` names no flow of the folder, or one with no question
    /// that confirms.
    UnknownFlow,
}

impl Code {
    /// The code as ops staff see it, e.g. `E004`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "E001",
            Code::UnknownKey => "E002",
            Code::MissingKey => "E003",
            Code::InvalidValue => "E004",
            Code::DuplicateStep => "E005",
            Code::UnknownTarget => "E006",
            Code::Unreachable => "E007",
            Code::InputlessLoop => "E008",
            Code::MissingAudio => "E009",
            Code::UnknownVariable => "E010",
            Code::BadCondition => "E011",
            Code::TypeMismatch => "E012",
            Code::KeyClash => "E013",
            Code::NoDisclosure => "W014",
            Code::ConflictingKeys => "E015",
            Code::BadHours => "E016",
            Code::BadTemplate => "E017",
            Code::NoSteps => "E018",
            Code::EmptyTopic => "E019",
            Code::DuplicatePhrase => "W020",
            Code::SkippableGate => "W021",
            Code::HoleWithoutDefault => "W022",
            Code::UnknownFlow => "E023",
        }
    }
}

/// One problem found in a flow file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    /// Text under the underline; short.
    pub label: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            span,
            label: String::new(),
            hint: None,
        }
    }

    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// All diagnostics of one file, with what is needed to render them.
#[derive(Debug, Clone)]
pub struct FileDiagnostics {
    pub path: String,
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl FileDiagnostics {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Plain text (no colour), as `dialback check` prints it and snapshot
    /// tests pin it: one block per diagnostic in source order.
    pub fn render(&self) -> String {
        let file = SimpleFile::new(self.path.as_str(), self.source.as_str());
        let config = term::Config::default();
        let mut out = String::new();
        for d in &self.diagnostics {
            let report = to_report(d, self.source.len());
            match term::emit_into_string(&config, &file, &report) {
                Ok(text) => out.push_str(&text),
                // Only an out-of-range span can fail; still tell the user.
                Err(_) => out.push_str(&format!(
                    "{}[{}]: {}\n",
                    severity_word(d.severity),
                    d.code.as_str(),
                    d.message
                )),
            }
        }
        out
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn to_report(d: &Diagnostic, len: usize) -> Report<()> {
    let start = d.span.start.min(len);
    let end = d.span.end.clamp(start, len);
    let report = match d.severity {
        Severity::Error => Report::error(),
        Severity::Warning => Report::warning(),
    };
    let report = report
        .with_code(d.code.as_str())
        .with_message(&d.message)
        .with_labels(vec![Label::primary((), start..end).with_message(&d.label)]);
    match &d.hint {
        Some(hint) => report.with_notes(vec![format!("hint: {hint}")]),
        None => report,
    }
}

/// "did you mean …?" for a misspelt name, when one candidate is close.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.chars().count() / 3) && *d < c.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!("did you mean `{c}`?"))
}
