//! Each `[[step]]`: what kind it is, whether its keys belong together, and
//! its texts, question settings, routes and transfer target.

use super::super::condition::{self};
use super::super::diagnostic::{Code, Diagnostic, did_you_mean};
use super::super::model::{
    AnswerType, MenuChoice, OnFail, Outcome, Question, QuestionKind, Speech, Step, StepIdx,
    StepKind,
};
use super::super::syntax::{Sp, StepSyntax};
use super::Context;
use super::header::{self, Header};

const ASK_KINDS: &[&str] = &[
    "yes_no", "rating", "nps", "number", "menu", "speech", "record",
];

/// Keys that only make sense on a question.
const QUESTION_ONLY: &[&str] = &[
    "prompt",
    "input",
    "timeout",
    "attempts",
    "no_input",
    "no_match",
    "on_fail",
    "scale",
    "min",
    "max",
    "options",
    "max_length",
    "barge_in",
    "on",
];

/// Keys that only make sense on a transfer.
const TRANSFER_ONLY: &[&str] = &[
    "hours",
    "unavailable",
    "max_wait",
    "hold",
    "hold_play",
    "announce_position",
];

/// Step ids, checked for presence, form and uniqueness. `None` where a
/// step has no usable id.
pub(super) fn collect_ids(cx: &mut Context<'_>, steps: &[StepSyntax]) -> Vec<Option<Sp<String>>> {
    let mut ids: Vec<Option<Sp<String>>> = Vec::new();
    for s in steps {
        let id = match &s.id {
            None => {
                cx.push(
                    Diagnostic::error(Code::MissingKey, s.span.clone(), "this step has no `id`")
                        .label("every step needs an id")
                        .hint("add `id = \"…\"`: other steps and the results use it"),
                );
                None
            }
            Some(id) if !header::is_identifier(&id.value) => {
                cx.push(header::bad_identifier(id, "step"));
                None
            }
            Some(id) => {
                if let Some(first) = ids.iter().flatten().find(|f| f.value == id.value) {
                    let line = line_of(cx.source, first.span.start);
                    cx.push(
                        Diagnostic::error(
                            Code::DuplicateStep,
                            id.span.clone(),
                            format!("step id `{}` is used twice", id.value),
                        )
                        .label("second use")
                        .hint(format!(
                            "the first `{}` is on line {line}; rename one of them",
                            id.value
                        )),
                    );
                    None
                } else {
                    Some(id.clone())
                }
            }
        };
        ids.push(id);
    }
    ids
}

pub(super) fn line_of(source: &str, offset: usize) -> usize {
    source
        .get(..offset)
        .map_or(1, |s| s.matches('\n').count() + 1)
}

/// The answer type a step produces, if it is a question.
pub(super) fn answer_type(s: &StepSyntax) -> Option<AnswerType> {
    let ask = s.ask.as_ref()?;
    Some(match ask.value.as_str() {
        "yes_no" => AnswerType::YesNo,
        "rating" | "nps" | "number" => AnswerType::Number,
        "menu" | "speech" => AnswerType::Text,
        "record" => AnswerType::Recording,
        _ => return None,
    })
}

/// Position of a step id among the steps, if it exists.
pub(super) fn resolve(ids: &[Option<Sp<String>>], target: &str) -> Option<StepIdx> {
    ids.iter()
        .position(|id| id.as_ref().is_some_and(|id| id.value == target))
}

fn present(s: &StepSyntax, key: &str) -> Option<std::ops::Range<usize>> {
    let span = |o: &Option<Sp<String>>| o.as_ref().map(|v| v.span.clone());
    match key {
        "prompt" => span(&s.prompt),
        "input" => span(&s.input),
        "timeout" => s.timeout.as_ref().map(|v| v.span.clone()),
        "attempts" => s.attempts.as_ref().map(|v| v.span.clone()),
        "no_input" => s.no_input.first().map(|v| v.span.clone()),
        "no_match" => s.no_match.first().map(|v| v.span.clone()),
        "on_fail" => span(&s.on_fail),
        "scale" => s.scale.as_ref().map(|v| v.span.clone()),
        "min" => s.min.as_ref().map(|v| v.span.clone()),
        "max" => s.max.as_ref().map(|v| v.span.clone()),
        "options" => s.options.as_ref().map(|v| v.span.clone()),
        "max_length" => s.max_length.as_ref().map(|v| v.span.clone()),
        "barge_in" => s.barge_in.as_ref().map(|v| v.span.clone()),
        "on" => s.on.first().map(|(k, _)| k.span.clone()),
        "hours" => span(&s.hours),
        "unavailable" => span(&s.unavailable),
        "max_wait" => span(&s.max_wait),
        "hold" => span(&s.hold),
        "hold_play" => span(&s.hold_play),
        "announce_position" => s.announce_position.as_ref().map(|v| v.span.clone()),
        _ => None,
    }
}

fn conflict(span: std::ops::Range<usize>, message: String, hint: &str) -> Diagnostic {
    Diagnostic::error(Code::ConflictingKeys, span, message)
        .label("does not belong on this step")
        .hint(hint.to_string())
}

pub(super) fn check(
    cx: &mut Context<'_>,
    s: &StepSyntax,
    ids: &[Option<Sp<String>>],
    index: usize,
    header: &Header,
) -> Option<Step> {
    let id = ids[index].clone();
    let name = id
        .as_ref()
        .map_or_else(|| format!("step{index}"), |i| i.value.clone());
    let language = match &s.language {
        Some(l) => l.value.clone(),
        None => header.language.clone(),
    };
    let is_question = s.ask.is_some();
    let is_transfer = s.transfer.is_some();
    if let (Some(ask), Some(_)) = (&s.ask, &s.transfer) {
        cx.push(conflict(
            ask.span.clone(),
            "a step cannot both `ask` and `transfer`".into(),
            "split it into a question step and a transfer step",
        ));
    }
    if !is_question {
        for key in QUESTION_ONLY {
            if let Some(span) = present(s, key) {
                let hint = if *key == "prompt" {
                    "a message speaks with `say`; add `ask = \"…\"` to make this a question"
                } else {
                    "add `ask = \"…\"` to make this a question, or remove the key"
                };
                cx.push(conflict(
                    span,
                    format!("`{key}` only applies to questions"),
                    hint,
                ));
            }
        }
    }
    if !is_transfer {
        for key in TRANSFER_ONLY {
            if let Some(span) = present(s, key) {
                cx.push(conflict(
                    span,
                    format!("`{key}` only applies to transfer steps"),
                    "add `transfer = \"queue:…\"`, or remove the key",
                ));
            }
        }
    }
    if let (Some(say), Some(_)) = (&s.say, &s.play) {
        cx.push(conflict(
            say.span.clone(),
            "a step cannot have both `say` and `play`".into(),
            "keep the text or the audio file, not both",
        ));
    }
    if let (true, Some(say)) = (is_question, &s.say) {
        cx.push(conflict(
            say.span.clone(),
            "a question speaks its `prompt`, not `say`".into(),
            "rename `say` to `prompt`, or put the message in a step of its own",
        ));
    }
    if let (Some(end), true) = (&s.end, is_question || is_transfer) {
        cx.push(conflict(
            end.span.clone(),
            "only a message step can `end` the call".into(),
            "add a message step after this one with `end = \"…\"`",
        ));
    }
    if let (Some(end), Some(_)) = (&s.end, &s.next) {
        cx.push(conflict(
            end.span.clone(),
            "a step cannot both `end` the call and go `next`".into(),
            "remove `next` or `end`",
        ));
    }

    let speech = if is_question {
        None
    } else {
        match (&s.say, &s.play) {
            (Some(t), _) => cx.text(&format!("{name}.say"), t),
            (None, Some(p)) => cx.audio(p),
            (None, None) => None,
        }
    };

    let kind = if let Some(ask) = &s.ask {
        StepKind::Question(question(cx, s, ask, &name, header, ids)?)
    } else if let Some(target) = &s.transfer {
        StepKind::Transfer(super::transfer::transfer(cx, s, target, ids, &name)?)
    } else {
        let end = match &s.end {
            None => None,
            Some(e) => match Outcome::parse(&e.value).ok() {
                Some(o) => Some(o),
                None => {
                    let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
                    cx.push(header::one_of(e, "outcome", &names));
                    return None;
                }
            },
        };
        if s.say.is_none() && s.play.is_none() && s.end.is_none() {
            cx.push(
                Diagnostic::error(
                    Code::MissingKey,
                    s.span.clone(),
                    format!("step `{name}` does nothing"),
                )
                .label("no `say`, `play`, `ask`, `transfer` or `end`")
                .hint("give it a message to say, a question to ask, a transfer, or an `end`"),
            );
            return None;
        }
        StepKind::Message { end }
    };

    let on = routes_on(cx, s, &kind, ids);
    let branches = branches(cx, s, ids);
    let next = match (&s.next, &kind) {
        (Some(n), _) => Some(resolve(ids, &n.value)?),
        (None, StepKind::Message { end: Some(_) }) | (None, StepKind::Transfer(_)) => None,
        (None, _) => (index + 1 < ids.len()).then_some(index + 1),
    };
    Some(Step {
        id: id?.value,
        language,
        speech: if is_question { None } else { speech },
        kind,
        on: on?,
        branches: branches?,
        next,
    })
}

fn question(
    cx: &mut Context<'_>,
    s: &StepSyntax,
    ask: &Sp<String>,
    name: &str,
    header: &Header,
    ids: &[Option<Sp<String>>],
) -> Option<Question> {
    let kind = match ask.value.as_str() {
        "yes_no" => QuestionKind::YesNo,
        "nps" => {
            if let Some(scale) = &s.scale {
                cx.push(conflict(
                    scale.span.clone(),
                    "an NPS question is always 0–10".into(),
                    "remove `scale`, or use `ask = \"rating\"` for another scale",
                ));
            }
            QuestionKind::Nps
        }
        "rating" => {
            let Some(scale) = &s.scale else {
                cx.push(
                    Diagnostic::error(
                        Code::MissingKey,
                        ask.span.clone(),
                        "a rating question needs a `scale`",
                    )
                    .label("on what scale?")
                    .hint("add `scale = [1, 5]`"),
                );
                return None;
            };
            match scale.value.as_slice() {
                [lo, hi] if 0 <= lo.value && lo.value < hi.value && hi.value <= 10 => {
                    QuestionKind::Rating {
                        min: lo.value,
                        max: hi.value,
                    }
                }
                _ => {
                    cx.push(
                        Diagnostic::error(
                            Code::InvalidValue,
                            scale.span.clone(),
                            "`scale` must be [low, high] within 0–10",
                        )
                        .label("a phone keypad can enter 0 to 10")
                        .hint("for example `scale = [1, 5]`"),
                    );
                    return None;
                }
            }
        }
        "number" => match (&s.min, &s.max) {
            (Some(lo), Some(hi)) if 0 <= lo.value && lo.value <= hi.value => QuestionKind::Number {
                min: lo.value,
                max: hi.value,
            },
            (Some(lo), Some(_)) => {
                cx.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        lo.span.clone(),
                        "`min` must be at least 0 and not above `max`",
                    )
                    .label("a keypad cannot enter negative numbers"),
                );
                return None;
            }
            _ => {
                cx.push(
                    Diagnostic::error(
                        Code::MissingKey,
                        ask.span.clone(),
                        "a number question needs `min` and `max`",
                    )
                    .label("between what bounds?")
                    .hint("add `min = 0` and `max = 100`"),
                );
                return None;
            }
        },
        "menu" => QuestionKind::Menu(menu(cx, s, ask)?),
        "speech" => QuestionKind::Speech,
        "record" => QuestionKind::Record {
            max_secs: s
                .max_length
                .as_ref()
                .map_or(60, |m| header::seconds(cx, m, "max_length", 1, 600)),
        },
        _ => {
            cx.push(header::one_of(ask, "question kind", ASK_KINDS));
            return None;
        }
    };
    if let (Some(m), false) = (&s.max_length, matches!(kind, QuestionKind::Record { .. })) {
        cx.push(conflict(
            m.span.clone(),
            "`max_length` only applies to recordings".into(),
            "remove it",
        ));
    }
    let input = s
        .input
        .as_ref()
        .map_or(header.input, |i| header::input_mode(cx, i));
    let input = match kind {
        QuestionKind::Speech if !input.speech => {
            if let Some(i) = &s.input {
                cx.push(conflict(
                    i.span.clone(),
                    "a free-speech question cannot take keypad input only".into(),
                    "use `input = \"speech\"` or remove `input`",
                ));
            }
            return None;
        }
        QuestionKind::Speech => super::super::model::InputMode {
            keypad: false,
            speech: true,
        },
        _ => input,
    };
    let prompt = match (&s.prompt, &s.play) {
        (Some(p), _) => cx.text(&format!("{name}.prompt"), p),
        (None, Some(p)) => cx.audio(p),
        (None, None) => {
            cx.push(
                Diagnostic::error(
                    Code::MissingKey,
                    ask.span.clone(),
                    format!("question `{name}` has no `prompt`"),
                )
                .label("what does the caller hear?")
                .hint("add `prompt = \"…\"` (or `play = \"file.wav\"`)"),
            );
            None
        }
    };
    let no_input: Vec<Option<Speech>> = s
        .no_input
        .iter()
        .enumerate()
        .map(|(i, t)| cx.text(&format!("{name}.no_input.{i}"), t))
        .collect();
    let no_match: Vec<Option<Speech>> = s
        .no_match
        .iter()
        .enumerate()
        .map(|(i, t)| cx.text(&format!("{name}.no_match.{i}"), t))
        .collect();
    let on_fail = match &s.on_fail {
        None => OnFail::Skip,
        Some(f) => match f.value.as_str() {
            "skip" => OnFail::Skip,
            "end" => OnFail::End,
            "handoff" => match &header.agent_step {
                Some(agent) => OnFail::Goto(resolve(ids, &agent.value)?),
                None => {
                    cx.push(
                        Diagnostic::error(
                            Code::MissingKey,
                            f.span.clone(),
                            "`on_fail = \"handoff\"` needs an agent step",
                        )
                        .label("hand off to which step?")
                        .hint("set `agent_step = \"…\"` in `[flow]`, or name a step here"),
                    );
                    return None;
                }
            },
            // Unknown step ids are reported by `graph`.
            other => OnFail::Goto(resolve(ids, other)?),
        },
    };
    Some(Question {
        kind,
        prompt: prompt?,
        input,
        timeout_secs: s
            .timeout
            .as_ref()
            .map_or(header.timeout, |t| header::seconds(cx, t, "timeout", 1, 60)),
        attempts: s.attempts.as_ref().map_or(header.attempts, |a| {
            header::seconds(cx, a, "attempts", 1, 5) as u8
        }),
        no_input: no_input.into_iter().collect::<Option<Vec<_>>>()?,
        no_match: no_match.into_iter().collect::<Option<Vec<_>>>()?,
        on_fail,
        barge_in: s.barge_in.as_ref().is_none_or(|b| b.value),
    })
}

fn menu(cx: &mut Context<'_>, s: &StepSyntax, ask: &Sp<String>) -> Option<Vec<MenuChoice>> {
    let Some(options) = &s.options else {
        cx.push(
            Diagnostic::error(
                Code::MissingKey,
                ask.span.clone(),
                "a menu question needs `options`",
            )
            .label("what can the caller choose?")
            .hint("add `[[step.options]]` tables with `key`, `value` and `words`"),
        );
        return None;
    };
    if options.value.len() < 2 {
        cx.push(
            Diagnostic::error(
                Code::InvalidValue,
                options.span.clone(),
                "a menu needs at least two options",
            )
            .label("only one option")
            .hint("with one option, ask a yes/no question instead"),
        );
    }
    let mut choices: Vec<MenuChoice> = Vec::new();
    let mut ok = true;
    for o in &options.value {
        let (Some(key), Some(value)) = (&o.key, &o.value) else {
            cx.push(
                Diagnostic::error(
                    Code::MissingKey,
                    o.span.clone(),
                    "a menu option needs a `key` and a `value`",
                )
                .label("incomplete option")
                .hint("e.g. `{ key = \"1\", value = \"useful\", words = [\"有用\", \"useful\"] }`"),
            );
            ok = false;
            continue;
        };
        if !(key.value.len() == 1 && key.value.chars().all(|c| c.is_ascii_digit())) {
            cx.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    key.span.clone(),
                    format!("`{}` is not a menu key", key.value),
                )
                .label("expected one digit, \"0\" to \"9\""),
            );
            ok = false;
        }
        if !header::is_identifier(&value.value) {
            cx.push(header::bad_identifier(value, "option value"));
            ok = false;
        }
        if let Some(dup) = choices.iter().find(|c| c.key == key.value) {
            cx.push(
                Diagnostic::error(
                    Code::KeyClash,
                    key.span.clone(),
                    format!("key {} is used by two options", key.value),
                )
                .label(format!("already the key of `{}`", dup.value))
                .hint("give each option its own key"),
            );
            ok = false;
        }
        if choices.iter().any(|c| c.value == value.value) {
            cx.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    value.span.clone(),
                    format!("value `{}` is used by two options", value.value),
                )
                .label("the results could not tell them apart"),
            );
            ok = false;
        }
        choices.push(MenuChoice {
            key: key.value.clone(),
            value: value.value.clone(),
            words: o.words.iter().map(|w| w.value.clone()).collect(),
        });
    }
    ok.then_some(choices)
}

fn routes_on(
    cx: &mut Context<'_>,
    s: &StepSyntax,
    kind: &StepKind,
    ids: &[Option<Sp<String>>],
) -> Option<Vec<(String, StepIdx)>> {
    let StepKind::Question(q) = kind else {
        return Some(Vec::new());
    };
    let allowed: Vec<String> = match &q.kind {
        QuestionKind::YesNo => vec!["yes".into(), "no".into()],
        QuestionKind::Menu(choices) => choices.iter().map(|c| c.value.clone()).collect(),
        k => match k.bounds() {
            Some((lo, hi)) => (lo..=hi).map(|n| n.to_string()).collect(),
            None => Vec::new(),
        },
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (value, target) in &s.on {
        if !allowed.contains(&value.value) {
            let hint = if allowed.is_empty() {
                "free answers cannot be routed by value; use `[[step.branch]]` or `next`"
                    .to_string()
            } else {
                did_you_mean(&value.value, allowed.iter().map(String::as_str)).unwrap_or_else(
                    || format!("this question's answers are: {}", short_list(&allowed)),
                )
            };
            cx.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    value.span.clone(),
                    format!(
                        "`{}` is not an answer of this {} question",
                        value.value,
                        q.kind.name()
                    ),
                )
                .label("no such answer")
                .hint(hint),
            );
            ok = false;
            continue;
        }
        match resolve(ids, &target.value) {
            Some(i) => out.push((value.value.clone(), i)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn short_list(items: &[String]) -> String {
    if items.len() > 6 {
        format!("{} … {}", items[0], items[items.len() - 1])
    } else {
        items.join(", ")
    }
}

fn branches(
    cx: &mut Context<'_>,
    s: &StepSyntax,
    ids: &[Option<Sp<String>>],
) -> Option<Vec<(condition::Condition, StepIdx)>> {
    let mut out = Vec::new();
    let mut ok = true;
    for b in &s.branch {
        let (Some(when), Some(goto)) = (&b.when, &b.goto) else {
            cx.push(
                Diagnostic::error(
                    Code::MissingKey,
                    b.span.clone(),
                    "a branch needs `when` and `goto`",
                )
                .label("incomplete branch")
                .hint("e.g. `{ when = \"csat <= 2\", goto = \"sorry\" }`"),
            );
            ok = false;
            continue;
        };
        match condition::parse(&when.value, &cx.names) {
            Ok(c) => {
                if let Some(i) = resolve(ids, &goto.value) {
                    out.push((c, i));
                } else {
                    ok = false;
                }
            }
            Err(e) => {
                let span = cx.inner_span(when, e.at.clone());
                let code = if e.type_mismatch {
                    Code::TypeMismatch
                } else {
                    Code::BadCondition
                };
                let mut d =
                    Diagnostic::error(code, span, e.message.clone()).label(if e.type_mismatch {
                        "these cannot be compared"
                    } else {
                        "here"
                    });
                if let Some(h) = e.hint {
                    d = d.hint(h);
                }
                cx.push(d);
                ok = false;
            }
        }
    }
    ok.then_some(out)
}
