//! The call machine's vocabulary: what goes in, what comes out.
//!
//! Adapters (TwiML, media streams, the simulator) translate provider events
//! into [`Input`]s and [`Output`]s into what the provider understands. The
//! machine never sees HTTP, audio or a clock.

use serde::{Deserialize, Serialize};

use super::model::{InputMode, Outcome, Target};
use super::value::Value;

/// One thing that happened on the call.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The call was answered (or the inbound call arrived).
    Answered,
    /// Keys pressed, as the provider collected them (may end with `#`).
    Keys(String),
    /// What the recogniser heard, with its confidence (0.0–1.0).
    Speech { text: String, confidence: f32 },
    /// The question timed out with no input.
    Silence,
    /// A recording finished.
    Recorded {
        url: String,
        duration_secs: u32,
        /// The provider's RecordingSid, if it sent one.
        sid: Option<String>,
    },
    /// The handoff attempt finished.
    TransferEnded(TransferResult),
    /// The handoff attempt finished after the call's final status came (the
    /// provider sends both when a transferred call ends, in either order):
    /// nobody is left to hear the steps after a conversation with a person.
    TransferEndedAfterHangUp(TransferResult),
    /// The caller hung up.
    HungUp,
    /// An answering machine picked up an outbound call. With
    /// `leave_message` (the provider's detection waited for its beep) the
    /// flow's `machine_step` runs instead of its first step; without, the
    /// call ends at once with nothing said (the campaign will call again).
    Machine { leave_message: bool },
}

/// How a transfer to a person went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferResult {
    /// Connected to a person; the conversation is over.
    Completed,
    Busy,
    NoAnswer,
    Failed,
    /// The caller gave up while waiting.
    CallerHungUp,
}

/// Something the caller hears.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Prompt {
    Say { text: String, language: String },
    Play { file: String },
}

impl Prompt {
    /// What a log may say about the prompt: its kind, language and length,
    /// or its audio file, but never the text, which templates fill with
    /// the contact's name and other personal data.
    pub fn for_log(&self) -> String {
        match self {
            Prompt::Say { text, language } => {
                format!("say ({language}, {} characters)", text.chars().count())
            }
            Prompt::Play { file } => format!("play {file}"),
        }
    }
}

/// Wait for an answer to a question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listen {
    pub step: String,
    pub seq: u32,
    pub prompts: Vec<Prompt>,
    pub input: InputMode,
    pub timeout_secs: u32,
    /// Submit after this many keys (single-key answers), if set.
    pub num_digits: Option<u8>,
    /// Key that submits a multi-digit answer.
    pub finish_key: Option<char>,
    /// Phrases the recogniser should expect.
    pub hints: Vec<String>,
    pub language: String,
    /// May the caller interrupt the prompts?
    pub barge_in: bool,
}

/// Record the caller's voice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordSpec {
    pub step: String,
    pub seq: u32,
    pub prompts: Vec<Prompt>,
    pub max_secs: u32,
    pub timeout_secs: u32,
    pub finish_key: char,
}

/// Connect the caller to a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransferSpec {
    pub step: String,
    pub seq: u32,
    pub target: Target,
    /// How long to ring (`<Dial timeout>`), or to hold in a queue before
    /// the caller leaves it (see [`Hold`]).
    pub max_wait_secs: u32,
}

/// What a caller waiting in a queue gets next, each time the provider asks
/// (a queue's wait URL is requested again whenever its document ends).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hold {
    /// Hear these prompts, then silence for `pause_secs`, then ask again.
    Wait {
        prompts: Vec<Prompt>,
        pause_secs: u32,
    },
    /// The wait is over (or the call is no longer queued): leave the queue,
    /// so that the queue's action runs the flow on.
    Leave,
}

/// Why a handoff did or did not connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    Connected,
    OutsideHours,
    Busy,
    NoAnswer,
    Failed,
    CallerHungUp,
}

impl HandoffReason {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffReason::Connected => "connected",
            HandoffReason::OutsideHours => "outside_hours",
            HandoffReason::Busy => "busy",
            HandoffReason::NoAnswer => "no_answer",
            HandoffReason::Failed => "failed",
            HandoffReason::CallerHungUp => "caller_hung_up",
        }
    }
}

/// A handoff to a person happened or was attempted. When not connected,
/// the caller's issue is still open: someone must follow it up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Handoff {
    pub step: String,
    pub target: Target,
    pub reason: HandoffReason,
}

impl Handoff {
    pub fn connected(&self) -> bool {
        self.reason == HandoffReason::Connected
    }
}

/// One answer, as it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub question: String,
    pub value: Value,
    /// What the caller literally pressed or said.
    pub raw: Option<String>,
    pub confidence: Option<f32>,
    /// 1 for the first try.
    pub attempt: u8,
}

/// What the machine asks its adapter to do, in order. The last output of
/// every `handle` is a wait (`Listen`, `Record`, `Transfer`) or `End`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Output {
    Prompt(Prompt),
    Listen(Listen),
    Record(RecordSpec),
    Transfer(TransferSpec),
    /// Store this answer.
    Answer(Answer),
    /// The caller opted out: never call this number again.
    OptOut,
    Handoff(Handoff),
    End {
        outcome: Outcome,
    },
}

impl Output {
    /// Is this the output the adapter waits on?
    pub fn is_wait(&self) -> bool {
        matches!(
            self,
            Output::Listen(_) | Output::Record(_) | Output::Transfer(_) | Output::End { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_in_a_log_never_shows_its_text() {
        let say = Prompt::Say {
            text: "王小明您好，这里是示例钱包".into(),
            language: "zh-CN".into(),
        };
        assert_eq!(say.for_log(), "say (zh-CN, 13 characters)");
        let play = Prompt::Play {
            file: "greeting.wav".into(),
        };
        assert_eq!(play.for_log(), "play greeting.wav");
    }
}
