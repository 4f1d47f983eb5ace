//! The JSON Schema of flow files, for editor completion and hover help
//! (`dialback schema > flow.schema.json`; Taplo/Even Better TOML read it).
//!
//! These types exist only to describe the file: parsing is done by
//! `syntax`, which reports every problem with a span. A test checks that
//! the keys here and there are the same.

#![allow(dead_code)]

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// A dialback call flow: one call's script, in TOML.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    flow: Header,
    /// Contact variables the flow uses: their type ("text" or "number"), or
    /// a table with the type and a default for calls without the contact's
    /// value: `name = { type = "text", default = "您" }`. A group of
    /// variables under one prefix, such as the earlier call's answers on a
    /// follow-up call: `previous.csat = "number"`.
    #[serde(default)]
    vars: BTreeMap<String, VarEntry>,
    /// What callers talk about, for the "what callers said" analysis: each
    /// topic's name and the Mandarin and English words and phrases that mean
    /// it, e.g. `手续费 = ["手续费", "费用", "收费", "fee", "charges"]`. Matching
    /// ignores case, full/half width and punctuation; English matches whole
    /// words ("fee" is not in "feedback"), Mandarin anywhere in the text.
    #[serde(default)]
    topics: BTreeMap<String, Vec<String>>,
    /// The steps, in order. The call starts at the first one.
    step: Vec<Step>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum VarKind {
    Text,
    Number,
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum VarEntry {
    /// One variable.
    One(VarDecl),
    /// A group: `previous.csat` is the variable `csat` of `previous`.
    Group(BTreeMap<String, VarDecl>),
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum VarDecl {
    /// Just the type.
    Kind(VarKind),
    /// The type (default "text") and a default value.
    Full(VarWithDefault),
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct VarWithDefault {
    /// "text" (default) or "number".
    #[serde(rename = "type")]
    kind: Option<VarKind>,
    /// What a call says when the contact gives no value (an inbound caller
    /// who is no contact, an empty CSV cell).
    default: Option<DefaultValue>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
enum DefaultValue {
    Text(String),
    Number(i64),
}

/// Settings for the whole flow.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Header {
    /// A human-readable title.
    name: Option<String>,
    /// Language tag for the voice and recogniser, e.g. "zh-CN" or "en-US".
    language: String,
    /// Provider voice name (optional).
    voice: Option<String>,
    /// "twiml" (webhooks; default) or "stream" (media streams).
    mode: Option<Mode>,
    /// Default input for questions: "keypad", "speech" or "both" (default).
    input: Option<Input>,
    /// Default seconds to wait for an answer (1–60, default 5).
    timeout: Option<u32>,
    /// Default tries per question (1–5, default 3).
    attempts: Option<u8>,
    /// Speech recognised below this confidence (0–1, default 0.4) is a no-match.
    confidence: Option<f64>,
    /// Key that repeats the question (default "*").
    repeat_key: Option<String>,
    /// Key that asks never to be called again, with confirmation (e.g. "9").
    opt_out_key: Option<String>,
    /// Text asking the caller to confirm the opt-out.
    opt_out_confirm: Option<String>,
    /// Text said after an opt-out.
    opt_out_goodbye: Option<String>,
    /// Key that reaches a person during any question (e.g. "0").
    agent_key: Option<String>,
    /// The transfer step the agent key (or "转人工") goes to.
    agent_step: Option<String>,
    /// The step an answering machine hears instead of the survey (a message
    /// step, e.g. "we will call again"), for campaigns run with
    /// `--machine message`.
    machine_step: Option<String>,
    /// The flow of the call that asks the customer whether support's fix
    /// works, once a handoff of this flow is resolved (a flow of the same
    /// folder with a `confirms` question), e.g. "fix-confirmation".
    confirm_flow: Option<String>,
    /// How long after the resolve that call is due: "30m", "2h", "1d"
    /// (default: at once); the contact's calling window still applies.
    confirm_after: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Mode {
    Twiml,
    Stream,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Input {
    Keypad,
    Speech,
    Both,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Ask {
    /// Keypad 1 = yes, 2 = no; or speech (是/对/没有/yes/no…).
    YesNo,
    /// A score on `scale`.
    Rating,
    /// Net Promoter Score 0–10 (keypad: digits then #).
    Nps,
    /// A whole number between `min` and `max`.
    Number,
    /// One of `options`.
    Menu,
    /// Free speech, kept as text.
    Speech,
    /// A voice recording of up to `max_length` seconds.
    Record,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Completed,
    Refused,
    OptedOut,
    Handoff,
    Ticket,
    Abandoned,
    NoResponse,
    Failed,
}

/// One step: a message, a question, a transfer, or an ending.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Step {
    /// Unique name (letters, digits, _). Also the answer's name in results.
    id: String,
    /// Text to say (templates: {{name}}).
    say: Option<String>,
    /// Audio file under audio/ to play instead of text.
    play: Option<String>,
    /// A question's text.
    prompt: Option<String>,
    /// Language of this step, if not the flow's.
    language: Option<String>,
    /// Makes the step a question of this kind.
    ask: Option<Ask>,
    /// How the caller may answer.
    input: Option<Input>,
    /// Seconds to wait for an answer.
    timeout: Option<u32>,
    /// Tries before `on_fail`.
    attempts: Option<u8>,
    /// Escalating texts when the caller says nothing (one per retry).
    no_input: Option<Vec<String>>,
    /// Escalating texts when the answer is not understood.
    no_match: Option<Vec<String>>,
    /// After the last failed try: "skip", "end", "handoff" or a step id.
    /// Default: "end" for a gate (a question with an answer that stops the
    /// call, like consent), "skip" otherwise.
    on_fail: Option<String>,
    /// Rating scale, e.g. [1, 5].
    scale: Option<[i64; 2]>,
    /// Lowest accepted number.
    min: Option<i64>,
    /// Highest accepted number.
    max: Option<i64>,
    /// Menu options.
    options: Option<Vec<MenuOption>>,
    /// Longest recording, in seconds (default 60).
    max_length: Option<u32>,
    /// May the caller interrupt the prompt (media streams; default true)?
    barge_in: Option<bool>,
    /// Answer → step: yes/no, a menu value, or a number.
    on: Option<BTreeMap<String, String>>,
    /// Conditional routes, tried in order: `{ when = "csat <= 2", goto = "sorry" }`.
    branch: Option<Vec<Branch>>,
    /// The step after this one (default: the following step).
    next: Option<String>,
    /// End the call here with this outcome.
    end: Option<Outcome>,
    /// Hand the call to a person: "queue:NAME", "client:NAME", "sip:…" or "+8613…".
    transfer: Option<String>,
    /// When people are there: "Mon-Fri 09:00-18:00 Asia/Shanghai".
    hours: Option<String>,
    /// Step to run when nobody is available or outside hours.
    unavailable: Option<String>,
    /// How long to ring the agent or wait in the queue before the
    /// `unavailable` step runs: "90s", "2m" (5s–10m, default 90s).
    max_wait: Option<String>,
    /// What a queued caller hears while waiting (text, may use variables).
    hold: Option<String>,
    /// An audio file under `audio/` played to a queued caller instead.
    hold_play: Option<String>,
    /// Tell a queued caller their place in the queue.
    announce_position: Option<bool>,
    /// On the yes/no question of a confirmation flow: its answer decides
    /// the handoff the call is about (yes confirms it, no reopens it).
    confirms: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct MenuOption {
    /// The keypad key, "0"–"9".
    key: String,
    /// The stored answer (letters, digits, _).
    value: String,
    /// Words that choose this option when spoken.
    words: Option<Vec<String>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Branch {
    /// A condition over answers and variables: `csat <= 2 and resolved == no`.
    when: String,
    /// The step to go to when it holds.
    goto: String,
}

/// The schema as pretty JSON.
pub fn json() -> String {
    let schema = schemars::schema_for!(FlowFile);
    serde_json::to_string_pretty(&schema).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
