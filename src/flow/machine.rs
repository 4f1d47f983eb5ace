//! The call machine: a plain state machine that runs a [`Flow`].
//!
//! `Call::handle(flow, input, now)` applies one [`Input`] and returns the
//! [`Output`]s up to the next wait. There is no I/O and no clock inside;
//! `now` only decides business hours. The state is small and serialises, so
//! a call can continue on another replica after any webhook.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::condition::Lookup;
use super::event::{
    Answer, Handoff, HandoffReason, Input, Listen, Output, Prompt, RecordSpec, TransferResult,
    TransferSpec,
};
use super::model::{
    Flow, OnFail, Outcome, Question, QuestionKind, Speech, Step, StepIdx, StepKind,
};
use super::phrases::{self, Lang};
use super::template;
use super::understand;
use super::value::Value;

/// After this many inputs the call ends: no survey needs it, and it bounds
/// a caller (or a broken provider) that keeps pressing `*` forever.
pub const MAX_INPUTS: u32 = 120;

/// How often `*` may replay one question before it counts as a no-match.
const MAX_REPEATS: u8 = 3;

/// Where the call is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "at", rename_all = "snake_case")]
pub enum At {
    /// Not answered yet.
    Start,
    /// Waiting for the answer to a question (or recording).
    Question {
        step: String,
        attempt: u8,
        repeats: u8,
    },
    /// The caller pressed the opt-out key during `step`; waiting for confirmation.
    ConfirmOptOut {
        step: String,
        attempt: u8,
    },
    /// Waiting for the result of a handoff.
    Transfer {
        step: String,
    },
    Ended {
        outcome: Outcome,
    },
}

/// One call's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub vars: BTreeMap<String, String>,
    pub answers: BTreeMap<String, Answer>,
    pub at: At,
    /// Number of transitions so far (each wait opened, and the input that
    /// ended the call). Adapters put it in action URLs so that a replayed or
    /// stale webhook can be recognised.
    pub seq: u32,
    pub inputs: u32,
    /// Whether the caller ever responded to what they were asked: a call
    /// that asked and got nothing back ends `no_response`, never `completed`.
    #[serde(default)]
    pub engagement: Engagement,
}

/// Has the caller responded to the call? Answers alone cannot tell: a
/// caller who talked to a person gave none, yet responded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engagement {
    /// Nothing has been asked yet (a message-only call).
    #[default]
    NotAsked,
    /// Asked, and no usable answer yet.
    Silent,
    /// Gave an answer, or was connected to a person.
    Responded,
}

/// Is the caller still on the line when a transfer ends?
#[derive(Clone, Copy)]
enum Line {
    Open,
    /// The provider's final status came first.
    Gone,
}

enum Failure {
    NoInput,
    NoMatch,
}

impl Call {
    pub fn new(vars: BTreeMap<String, String>) -> Call {
        Call {
            vars,
            answers: BTreeMap::new(),
            at: At::Start,
            seq: 0,
            inputs: 0,
            engagement: Engagement::NotAsked,
        }
    }

    pub fn outcome(&self) -> Option<Outcome> {
        match self.at {
            At::Ended { outcome } => Some(outcome),
            _ => None,
        }
    }

    /// Applies one input; returns what to do up to the next wait.
    ///
    /// Every input a live call takes moves `seq` on, also the one that ends
    /// the call (which opens no new wait): the store's compare-and-swap on
    /// `seq` is what makes a retried or duplicated webhook change nothing,
    /// so a transition that kept `seq` could be applied twice. An ended
    /// call takes no input and keeps its `seq`, as does an input that
    /// changes nothing.
    pub fn handle(&mut self, flow: &Flow, input: Input, now: DateTime<Utc>) -> Vec<Output> {
        if let At::Ended { .. } = self.at {
            return Vec::new();
        }
        let before = self.seq;
        let out = self.transition(flow, input, now);
        // No output: the input did not move the call (answering-machine
        // detection arriving mid-call), and the wait it is in stays open.
        if self.seq == before && !out.is_empty() {
            self.seq += 1;
        }
        out
    }

    fn transition(&mut self, flow: &Flow, input: Input, now: DateTime<Utc>) -> Vec<Output> {
        let mut out = Vec::new();
        self.inputs += 1;
        if self.inputs > MAX_INPUTS {
            let lang = self.current_lang(flow);
            out.push(say(phrases::goodbye(lang), flow, lang));
            self.finish(Outcome::NoResponse, &mut out);
            return out;
        }
        match (self.at.clone(), input) {
            (At::Transfer { step }, Input::HungUp) => self.transfer_ended(
                flow,
                &step,
                TransferResult::CallerHungUp,
                Line::Gone,
                now,
                &mut out,
            ),
            (_, Input::HungUp) => self.finish(Outcome::Abandoned, &mut out),
            // Nothing for a machine to record (a name, a survey) when the
            // campaign will simply call again.
            (
                At::Start,
                Input::Machine {
                    leave_message: false,
                },
            ) => self.finish(Outcome::NoResponse, &mut out),
            // A flow without a machine step talks to the machine as to a person.
            (
                At::Start,
                Input::Machine {
                    leave_message: true,
                },
            ) => {
                flow.fill_defaults(&mut self.vars);
                self.enter(flow, flow.machine_step.unwrap_or(0), now, &mut out)
            }
            (At::Start, _) => {
                flow.fill_defaults(&mut self.vars);
                self.enter(flow, 0, now, &mut out)
            }
            // Detection speaks only when the call is answered.
            (_, Input::Machine { .. }) => {}
            (
                At::Question {
                    step,
                    attempt,
                    repeats,
                },
                input,
            ) => match flow.step_index(&step) {
                Some(i) => self.on_answer(flow, i, attempt, repeats, input, now, &mut out),
                None => self.broken(flow, &mut out),
            },
            (At::ConfirmOptOut { step, attempt }, input) => match flow.step_index(&step) {
                Some(i) => self.on_opt_out_reply(flow, i, attempt, input, &mut out),
                None => self.broken(flow, &mut out),
            },
            (At::Transfer { step }, Input::TransferEnded(result)) => {
                self.transfer_ended(flow, &step, result, Line::Open, now, &mut out)
            }
            (At::Transfer { step }, Input::TransferEndedAfterHangUp(result)) => {
                self.transfer_ended(flow, &step, result, Line::Gone, now, &mut out)
            }
            // Anything else (keys during a transfer…) does not move the call.
            (At::Transfer { step }, _) => match flow.step_index(&step) {
                Some(i) => self.enter(flow, i, now, &mut out),
                None => self.broken(flow, &mut out),
            },
            (At::Ended { .. }, _) => {}
        }
        out
    }

    /// The state references a step the flow does not have (the flow changed
    /// under a live call): apologise and end rather than guess.
    fn broken(&mut self, flow: &Flow, out: &mut Vec<Output>) {
        let lang = Lang::of(&flow.language);
        out.push(say(phrases::technical_problem(lang), flow, lang));
        self.finish(Outcome::Failed, out);
    }

    fn finish(&mut self, outcome: Outcome, out: &mut Vec<Output>) {
        // Going through every question in silence is not completing the
        // survey, whatever ending the flow's path reached.
        let outcome = match (outcome, self.engagement) {
            (Outcome::Completed, Engagement::Silent) => Outcome::NoResponse,
            _ => outcome,
        };
        self.at = At::Ended { outcome };
        out.push(Output::End { outcome });
    }

    fn current_lang(&self, flow: &Flow) -> Lang {
        let step = match &self.at {
            At::Question { step, .. } | At::ConfirmOptOut { step, .. } | At::Transfer { step } => {
                flow.step_index(step)
            }
            _ => None,
        };
        Lang::of(step.map_or(&flow.language, |i| &flow.steps[i].language))
    }

    /// Runs steps from `start` until one waits for the caller or the call ends.
    fn enter(&mut self, flow: &Flow, start: StepIdx, now: DateTime<Utc>, out: &mut Vec<Output>) {
        let mut idx = start;
        // Validation rejects loops without input; this guard keeps a flow
        // that slipped through from spinning the server.
        for _ in 0..=flow.steps.len() * 2 {
            let step = &flow.steps[idx];
            // A transfer's words ("transferring you…") are said only when
            // the transfer is really attempted: see below.
            if let (Some(speech), false) =
                (&step.speech, matches!(step.kind, StepKind::Transfer(_)))
            {
                out.push(Output::Prompt(self.render(flow, step, speech)));
            }
            match &step.kind {
                StepKind::Message { end: Some(outcome) } => return self.finish(*outcome, out),
                StepKind::Message { end: None } => match self.route(step, None) {
                    Some(next) => idx = next,
                    None => return self.finish(Outcome::Completed, out),
                },
                StepKind::Question(q) => {
                    self.at = At::Question {
                        step: step.id.clone(),
                        attempt: 1,
                        repeats: 0,
                    };
                    let prompt = self.render(flow, step, &q.prompt);
                    return self.ask(step, q, vec![prompt], out);
                }
                StepKind::Transfer(t) => {
                    if t.hours.as_ref().is_some_and(|h| !h.is_open(now)) {
                        out.push(Output::Handoff(Handoff {
                            step: step.id.clone(),
                            target: t.target.clone(),
                            reason: HandoffReason::OutsideHours,
                        }));
                        match t.unavailable {
                            Some(u) => idx = u,
                            None => return self.finish(Outcome::Ticket, out),
                        }
                        continue;
                    }
                    if let Some(speech) = &step.speech {
                        out.push(Output::Prompt(self.render(flow, step, speech)));
                    }
                    self.at = At::Transfer {
                        step: step.id.clone(),
                    };
                    self.seq += 1;
                    out.push(Output::Transfer(TransferSpec {
                        step: step.id.clone(),
                        seq: self.seq,
                        target: t.target.clone(),
                        max_wait_secs: t.max_wait_secs,
                    }));
                    return;
                }
            }
        }
        self.broken(flow, out)
    }

    /// Emits the wait for a question, with the given prompts before it.
    fn ask(&mut self, step: &Step, q: &Question, prompts: Vec<Prompt>, out: &mut Vec<Output>) {
        self.seq += 1;
        if self.engagement == Engagement::NotAsked {
            self.engagement = Engagement::Silent;
        }
        if let QuestionKind::Record { max_secs } = q.kind {
            out.push(Output::Record(RecordSpec {
                step: step.id.clone(),
                seq: self.seq,
                prompts,
                max_secs,
                timeout_secs: q.timeout_secs,
                finish_key: '#',
            }));
            return;
        }
        let (num_digits, finish_key) = match &q.kind {
            QuestionKind::YesNo | QuestionKind::Menu(_) => (Some(1), None),
            QuestionKind::Rating { max, .. } if *max <= 9 => (Some(1), None),
            QuestionKind::Speech => (None, None),
            _ => (None, Some('#')),
        };
        let hints = match &q.kind {
            QuestionKind::YesNo => yes_no_hints(&step.language),
            QuestionKind::Menu(choices) => choices
                .iter()
                .flat_map(|c| c.words.iter().cloned())
                .collect(),
            _ => Vec::new(),
        };
        out.push(Output::Listen(Listen {
            step: step.id.clone(),
            seq: self.seq,
            prompts,
            input: q.input,
            timeout_secs: q.timeout_secs,
            num_digits,
            finish_key,
            hints,
            language: step.language.clone(),
            barge_in: q.barge_in,
        }));
    }

    #[allow(clippy::too_many_arguments)]
    fn on_answer(
        &mut self,
        flow: &Flow,
        idx: StepIdx,
        attempt: u8,
        repeats: u8,
        input: Input,
        now: DateTime<Utc>,
        out: &mut Vec<Output>,
    ) {
        let step = &flow.steps[idx];
        let StepKind::Question(q) = &step.kind else {
            return self.broken(flow, out);
        };
        let answered = |value: Value, raw: Option<String>, confidence: Option<f32>| Answer {
            question: step.id.clone(),
            value,
            raw,
            confidence,
            attempt,
        };
        match input {
            Input::Silence => self.failed(flow, idx, attempt, Failure::NoInput, now, out),
            Input::Recorded {
                url,
                duration_secs,
                sid,
            } => match q.kind {
                QuestionKind::Record { .. } if duration_secs > 0 && !url.is_empty() => {
                    let value = Value::Recording {
                        url,
                        duration_secs,
                        sid,
                    };
                    self.accept(flow, idx, answered(value, None, None), now, out)
                }
                _ => self.failed(flow, idx, attempt, Failure::NoInput, now, out),
            },
            Input::Keys(keys) => {
                let keys = keys.trim_end_matches('#').to_string();
                if keys.is_empty() {
                    return self.failed(flow, idx, attempt, Failure::NoInput, now, out);
                }
                if flow.keys.repeat.as_deref() == Some(keys.as_str()) && repeats < MAX_REPEATS {
                    self.at = At::Question {
                        step: step.id.clone(),
                        attempt,
                        repeats: repeats + 1,
                    };
                    let prompt = self.render(flow, step, &q.prompt);
                    return self.ask(step, q, vec![prompt], out);
                }
                if q.input.keypad
                    && let Some(value) = keypad_answer(&q.kind, &keys)
                {
                    return self.accept(flow, idx, answered(value, Some(keys), None), now, out);
                }
                if flow.keys.opt_out.as_deref() == Some(keys.as_str()) {
                    return self.confirm_opt_out(flow, idx, attempt, out);
                }
                if flow.keys.agent.as_deref() == Some(keys.as_str())
                    && let Some(agent) = flow.agent_step
                {
                    return self.enter(flow, agent, now, out);
                }
                self.failed(flow, idx, attempt, Failure::NoMatch, now, out)
            }
            Input::Speech { text, confidence } => {
                if !q.input.speech || confidence < flow.confidence || text.trim().is_empty() {
                    return self.failed(flow, idx, attempt, Failure::NoMatch, now, out);
                }
                if understand::opt_out_request(&text) {
                    return self.confirm_opt_out(flow, idx, attempt, out);
                }
                if let (true, Some(agent)) = (understand::agent_request(&text), flow.agent_step) {
                    return self.enter(flow, agent, now, out);
                }
                match speech_answer(&q.kind, &text) {
                    Some(value) => self.accept(
                        flow,
                        idx,
                        answered(value, Some(text), Some(confidence)),
                        now,
                        out,
                    ),
                    None => self.failed(flow, idx, attempt, Failure::NoMatch, now, out),
                }
            }
            // A stray event for another kind of wait: ask again, uncounted.
            Input::Answered
            | Input::Machine { .. }
            | Input::TransferEnded(_)
            | Input::TransferEndedAfterHangUp(_)
            | Input::HungUp => {
                let prompt = self.render(flow, step, &q.prompt);
                self.ask(step, q, vec![prompt], out)
            }
        }
    }

    fn accept(
        &mut self,
        flow: &Flow,
        idx: StepIdx,
        answer: Answer,
        now: DateTime<Utc>,
        out: &mut Vec<Output>,
    ) {
        let step = &flow.steps[idx];
        let value = answer.value.clone();
        self.engagement = Engagement::Responded;
        self.answers.insert(step.id.clone(), answer.clone());
        out.push(Output::Answer(answer));
        match self.route(step, Some(&value)) {
            Some(next) => self.enter(flow, next, now, out),
            None => self.finish(Outcome::Completed, out),
        }
    }

    fn failed(
        &mut self,
        flow: &Flow,
        idx: StepIdx,
        attempt: u8,
        why: Failure,
        now: DateTime<Utc>,
        out: &mut Vec<Output>,
    ) {
        let step = &flow.steps[idx];
        let StepKind::Question(q) = &step.kind else {
            return self.broken(flow, out);
        };
        let lang = Lang::of(&step.language);
        if attempt >= q.attempts {
            return match &q.on_fail {
                OnFail::Skip => match self.route(step, None) {
                    Some(next) => self.enter(flow, next, now, out),
                    None => self.finish(Outcome::Completed, out),
                },
                OnFail::End => {
                    out.push(say(phrases::goodbye(lang), flow, lang));
                    self.finish(Outcome::NoResponse, out)
                }
                OnFail::Goto(i) => self.enter(flow, *i, now, out),
            };
        }
        let (custom, default) = match why {
            Failure::NoInput => (&q.no_input, phrases::no_input(lang)),
            Failure::NoMatch => (&q.no_match, phrases::no_match(lang)),
        };
        // Escalation: the n-th retry uses the n-th text, the last one after that.
        let lead = match custom.get(usize::from(attempt - 1)).or(custom.last()) {
            Some(speech) => self.render(flow, step, speech),
            None => say_prompt(default, &step.language),
        };
        self.at = At::Question {
            step: step.id.clone(),
            attempt: attempt + 1,
            repeats: 0,
        };
        let prompt = self.render(flow, step, &q.prompt);
        self.ask(step, q, vec![lead, prompt], out);
    }

    fn confirm_opt_out(&mut self, flow: &Flow, idx: StepIdx, attempt: u8, out: &mut Vec<Output>) {
        let step = &flow.steps[idx];
        let lang = Lang::of(&step.language);
        let prompt = match &flow.opt_out_confirm {
            Some(speech) => self.render(flow, step, speech),
            None => say_prompt(
                &phrases::opt_out_confirm(lang, flow.keys.opt_out.as_deref()),
                &step.language,
            ),
        };
        self.at = At::ConfirmOptOut {
            step: step.id.clone(),
            attempt,
        };
        self.seq += 1;
        out.push(Output::Listen(Listen {
            step: step.id.clone(),
            seq: self.seq,
            prompts: vec![prompt],
            input: super::model::InputMode::BOTH,
            timeout_secs: 5,
            num_digits: Some(1),
            finish_key: None,
            hints: yes_no_hints(&step.language),
            language: step.language.clone(),
            barge_in: true,
        }));
    }

    fn on_opt_out_reply(
        &mut self,
        flow: &Flow,
        idx: StepIdx,
        attempt: u8,
        input: Input,
        out: &mut Vec<Output>,
    ) {
        let step = &flow.steps[idx];
        let confirmed = match &input {
            Input::Keys(k) => flow.keys.opt_out.as_deref() == Some(k.trim_end_matches('#')),
            Input::Speech { text, confidence } => *confidence >= flow.confidence && confirms(text),
            _ => false,
        };
        let lang = Lang::of(&step.language);
        if confirmed {
            out.push(Output::OptOut);
            let goodbye = match &flow.opt_out_goodbye {
                Some(speech) => self.render(flow, step, speech),
                None => say_prompt(phrases::opt_out_done(lang), &step.language),
            };
            out.push(Output::Prompt(goodbye));
            return self.finish(Outcome::OptedOut, out);
        }
        // Not confirmed: back to the question, same attempt.
        let StepKind::Question(q) = &step.kind else {
            return self.broken(flow, out);
        };
        self.at = At::Question {
            step: step.id.clone(),
            attempt,
            repeats: 0,
        };
        let lead = say_prompt(phrases::carry_on(lang), &step.language);
        let prompt = self.render(flow, step, &q.prompt);
        self.ask(step, q, vec![lead, prompt], out)
    }

    fn transfer_ended(
        &mut self,
        flow: &Flow,
        step_id: &str,
        result: TransferResult,
        line: Line,
        now: DateTime<Utc>,
        out: &mut Vec<Output>,
    ) {
        let Some(idx) = flow.step_index(step_id) else {
            return self.broken(flow, out);
        };
        let step = &flow.steps[idx];
        let StepKind::Transfer(t) = &step.kind else {
            return self.broken(flow, out);
        };
        let reason = match result {
            TransferResult::Completed => HandoffReason::Connected,
            TransferResult::Busy => HandoffReason::Busy,
            TransferResult::NoAnswer => HandoffReason::NoAnswer,
            TransferResult::Failed => HandoffReason::Failed,
            TransferResult::CallerHungUp => HandoffReason::CallerHungUp,
        };
        out.push(Output::Handoff(Handoff {
            step: step.id.clone(),
            target: t.target.clone(),
            reason,
        }));
        if reason == HandoffReason::Connected {
            self.engagement = Engagement::Responded;
        }
        match reason {
            // A caller who has hung up cannot go on to the step after
            // the conversation: the call ends as the handoff it was.
            HandoffReason::Connected => match (step.next, line) {
                (Some(next), Line::Open) => self.enter(flow, next, now, out),
                _ => self.finish(Outcome::Handoff, out),
            },
            HandoffReason::CallerHungUp => self.finish(Outcome::Abandoned, out),
            _ => match t.unavailable {
                Some(u) => self.enter(flow, u, now, out),
                None => self.finish(Outcome::Ticket, out),
            },
        }
    }

    /// Where to go after `step`, given its answer (if any).
    fn route(&self, step: &Step, value: Option<&Value>) -> Option<StepIdx> {
        if let Some(value) = value {
            let key = value.route_key();
            if let Some((_, to)) = step.on.iter().find(|(k, _)| *k == key) {
                return Some(*to);
            }
        }
        for (condition, to) in &step.branches {
            if condition.eval(self) {
                return Some(*to);
            }
        }
        step.next
    }

    pub(super) fn render(&self, flow: &Flow, step: &Step, speech: &Speech) -> Prompt {
        match speech {
            Speech::Audio(file) => Prompt::Play { file: file.clone() },
            Speech::Text(name) => {
                let mut context = self.vars.clone();
                for (k, a) in &self.answers {
                    context.insert(k.clone(), a.value.to_string());
                }
                Prompt::Say {
                    text: template::render(&flow.templates, name, &context),
                    language: step.language.clone(),
                }
            }
        }
    }
}

impl Lookup for Call {
    fn value(&self, name: &str) -> Option<Value> {
        if let Some(a) = self.answers.get(name) {
            return Some(a.value.clone());
        }
        let v = self.vars.get(name)?;
        Some(match v.parse::<i64>() {
            Ok(n) => Value::Number(n),
            Err(_) => Value::Text(v.clone()),
        })
    }
}

fn say(text: &str, flow: &Flow, lang: Lang) -> Output {
    let language = if Lang::of(&flow.language) == lang {
        flow.language.clone()
    } else {
        match lang {
            Lang::Zh => "zh-CN".into(),
            Lang::En => "en-US".into(),
        }
    };
    Output::Prompt(Prompt::Say {
        text: text.to_string(),
        language,
    })
}

fn say_prompt(text: &str, language: &str) -> Prompt {
    Prompt::Say {
        text: text.to_string(),
        language: language.to_string(),
    }
}

/// Recogniser hints for a yes/no answer in this language.
fn yes_no_hints(language: &str) -> Vec<String> {
    understand::yes_no_hints(language)
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Does this reply confirm the opt-out? The confirmation prompt invites
/// "确认"/"confirm", which is not a plain yes, so it is accepted here too —
/// unless the caller negates it ("不确认", "don't confirm").
fn confirms(text: &str) -> bool {
    match understand::yes_no(text) {
        Some(answer) => answer,
        None => {
            let t = understand::normalise(text);
            understand::opt_out_request(text)
                || ["确认", "确定", "confirm"].iter().any(|w| t.contains(w))
                    && !["不确", "dont", "not"].iter().any(|w| t.contains(w))
        }
    }
}

/// The answer a key sequence gives to a question, if valid.
pub fn keypad_answer(kind: &QuestionKind, keys: &str) -> Option<Value> {
    match kind {
        QuestionKind::YesNo => match keys {
            "1" => Some(Value::Bool(true)),
            "2" => Some(Value::Bool(false)),
            _ => None,
        },
        QuestionKind::Menu(choices) => choices
            .iter()
            .find(|c| c.key == keys)
            .map(|c| Value::Text(c.value.clone())),
        QuestionKind::Speech | QuestionKind::Record { .. } => None,
        k => {
            let (lo, hi) = k.bounds()?;
            if keys.is_empty() || keys.len() > 6 || !keys.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: i64 = keys.parse().ok()?;
            (lo..=hi).contains(&n).then_some(Value::Number(n))
        }
    }
}

/// The answer a transcript gives to a question, if understood.
pub fn speech_answer(kind: &QuestionKind, text: &str) -> Option<Value> {
    match kind {
        QuestionKind::YesNo => understand::yes_no(text).map(Value::Bool),
        QuestionKind::Menu(choices) => {
            let options: Vec<understand::MenuOption<'_>> = choices
                .iter()
                .map(|c| understand::MenuOption {
                    key: &c.key,
                    words: &c.words,
                })
                .collect();
            understand::menu(text, &options).map(|i| Value::Text(choices[i].value.clone()))
        }
        QuestionKind::Speech => {
            let t = text.trim();
            (!t.is_empty()).then(|| Value::Text(t.to_string()))
        }
        QuestionKind::Record { .. } => None,
        k => {
            let (lo, hi) = k.bounds()?;
            understand::number(text, lo, hi).map(Value::Number)
        }
    }
}
