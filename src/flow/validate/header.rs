//! The `[flow]` table and `[vars]`.

use super::super::diagnostic::{Code, Diagnostic, did_you_mean};
use super::super::model::{
    Confirm, GlobalKeys, InputMode, Mode, QuestionKind, Speech, Step, StepKind, Var, VarKind,
};
use super::super::syntax::{FlowSyntax, Sp};
use super::Context;

/// The flow-wide settings, with defaults applied.
pub(super) struct Header {
    pub title: Option<String>,
    pub language: String,
    pub voice: Option<String>,
    pub mode: Mode,
    pub input: InputMode,
    pub timeout: u32,
    pub attempts: u8,
    pub confidence: f32,
    pub keys: GlobalKeys,
    pub agent_step: Option<Sp<String>>,
    pub machine_step: Option<Sp<String>>,
    pub opt_out_confirm: Option<Speech>,
    pub opt_out_goodbye: Option<Speech>,
    pub vars: Vec<Var>,
    pub confirm: Option<Confirm>,
}

pub(super) const DEFAULT_TIMEOUT: u32 = 5;
pub(super) const DEFAULT_ATTEMPTS: u8 = 3;
/// Recognisers report 0.0–1.0; below about 0.4 transcripts of short
/// Mandarin answers are wrong more often than right.
pub(super) const DEFAULT_CONFIDENCE: f32 = 0.4;

pub(super) fn check(cx: &mut Context<'_>, flow: &FlowSyntax) -> Header {
    let h = &flow.header;
    if h.span.is_none() {
        cx.push(
            Diagnostic::error(Code::MissingKey, 0..0, "the file has no `[flow]` table")
                .label("expected `[flow]` here")
                .hint("start the file with `[flow]` and `language = \"zh-CN\"`"),
        );
    }
    let language = match &h.language {
        Some(l) => {
            language_tag(cx, l);
            l.value.clone()
        }
        None => {
            cx.push(
                Diagnostic::error(
                    Code::MissingKey,
                    h.span.clone().unwrap_or(0..0),
                    "`[flow]` has no `language`",
                )
                .label("the language of the flow's voice and recogniser")
                .hint("add `language = \"zh-CN\"` or `language = \"en-US\"`"),
            );
            "en-US".to_string()
        }
    };
    let mode = match &h.mode {
        None => Mode::Twiml,
        Some(m) => match m.value.as_str() {
            "twiml" => Mode::Twiml,
            "stream" => Mode::Stream,
            _ => {
                cx.push(one_of(m, "mode", &["twiml", "stream"]));
                Mode::Twiml
            }
        },
    };
    let input = h
        .input
        .as_ref()
        .map_or(InputMode::BOTH, |i| input_mode(cx, i));
    let timeout = h
        .timeout
        .as_ref()
        .map_or(DEFAULT_TIMEOUT, |t| seconds(cx, t, "timeout", 1, 60));
    let attempts = h
        .attempts
        .as_ref()
        .map_or(DEFAULT_ATTEMPTS, |a| seconds(cx, a, "attempts", 1, 5) as u8);
    let confidence = match &h.confidence {
        None => DEFAULT_CONFIDENCE,
        Some(c) if (0.0..=1.0).contains(&c.value) => c.value as f32,
        Some(c) => {
            cx.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    c.span.clone(),
                    "`confidence` must be between 0 and 1",
                )
                .label("out of range")
                .hint("recognisers report confidence from 0.0 to 1.0; 0.4 is a sensible floor"),
            );
            DEFAULT_CONFIDENCE
        }
    };
    let keys = GlobalKeys {
        repeat: Some(
            h.repeat_key
                .as_ref()
                .map_or("*".to_string(), |k| key(cx, k)),
        ),
        opt_out: h.opt_out_key.as_ref().map(|k| key(cx, k)),
        agent: h.agent_key.as_ref().map(|k| key(cx, k)),
    };
    clash_between_global_keys(cx, flow, &keys);
    if h.agent_key.is_some()
        && h.agent_step.is_none()
        && let Some(k) = &h.agent_key
    {
        cx.push(
            Diagnostic::error(
                Code::MissingKey,
                k.span.clone(),
                "`agent_key` needs an `agent_step`",
            )
            .label("where should this key take the caller?")
            .hint("add `agent_step = \"<id of a transfer step>\"` to `[flow]`"),
        );
    }
    let groups: Vec<&str> = flow
        .vars
        .iter()
        .filter_map(|v| v.name.value.split_once('.').map(|(group, _)| group))
        .collect();
    let vars = flow
        .vars
        .iter()
        .filter_map(|v| {
            let name = &v.name;
            if !is_variable_name(&name.value) {
                cx.push(bad_variable_name(name));
                return None;
            }
            if groups.contains(&name.value.as_str()) {
                cx.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        name.span.clone(),
                        format!(
                            "`{0}` is both a variable and the group of `{0}.…` variables",
                            name.value
                        ),
                    )
                    .label("a template could not tell the variable from the group")
                    .hint("rename one of them"),
                );
                return None;
            }
            let kind = match v.kind.as_ref().map(|k| (k, k.value.as_str())) {
                None | Some((_, "text")) => VarKind::Text,
                Some((_, "number")) => VarKind::Number,
                Some((kind, _)) => {
                    cx.push(one_of(kind, "a variable's type", &["text", "number"]));
                    return None;
                }
            };
            if let Some(d) = &v.default
                && kind == VarKind::Number
                && d.value.trim().parse::<i64>().is_err()
            {
                cx.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        d.span.clone(),
                        format!(
                            "the default of number variable `{}` is not a whole number",
                            name.value
                        ),
                    )
                    .label("not a whole number")
                    .hint("write a whole number, like `default = 0`"),
                );
                return None;
            }
            Some(Var {
                name: name.value.clone(),
                kind,
                default: v.default.as_ref().map(|d| d.value.clone()),
            })
        })
        .collect();
    let confirm = confirm(cx, h);
    Header {
        title: h.name.as_ref().map(|n| n.value.clone()),
        language,
        voice: h.voice.as_ref().map(|v| v.value.clone()),
        mode,
        input,
        timeout,
        attempts,
        confidence,
        keys,
        agent_step: h.agent_step.clone(),
        machine_step: h.machine_step.clone(),
        opt_out_confirm: None,
        opt_out_goodbye: None,
        vars,
        confirm,
    }
}

/// `confirm_flow` and `confirm_after`: which flow confirms a resolved
/// handoff of this flow with the customer, and how long after the resolve.
/// Whether that flow exists is checked once every flow is loaded.
fn confirm(cx: &mut Context<'_>, h: &super::super::syntax::HeaderSyntax) -> Option<Confirm> {
    let after = match &h.confirm_after {
        None => std::time::Duration::ZERO,
        Some(a) => match super::super::duration::parse_duration(&a.value) {
            Ok(after) => after,
            Err(e) => {
                cx.push(
                    Diagnostic::error(
                        Code::InvalidValue,
                        a.span.clone(),
                        "`confirm_after` is not a duration",
                    )
                    .label(e)
                    .hint("write a whole number and a unit: \"30m\", \"2h\", \"1d\""),
                );
                return None;
            }
        },
    };
    match (&h.confirm_flow, &h.confirm_after) {
        (Some(flow), _) => Some(Confirm {
            flow: flow.value.clone(),
            flow_span: flow.span.clone(),
            after,
        }),
        (None, Some(a)) => {
            cx.push(
                Diagnostic::error(
                    Code::MissingKey,
                    a.span.clone(),
                    "`confirm_after` needs a `confirm_flow`",
                )
                .label("after what, to run which flow?")
                .hint("add `confirm_flow = \"<name of the confirmation flow>\"` to `[flow]`"),
            );
            None
        }
        (None, None) => None,
    }
}

/// Checks that need the steps: the agent step, the opt-out texts, and menu
/// keys that clash with global keys.
pub(super) fn check_late(
    cx: &mut Context<'_>,
    flow: &FlowSyntax,
    ids: &[Option<Sp<String>>],
    built: &[Option<Step>],
    header: &mut Header,
) {
    let h = &flow.header;
    if let Some(c) = &h.opt_out_confirm {
        header.opt_out_confirm = cx.text("flow.opt_out_confirm", c);
    }
    if let Some(g) = &h.opt_out_goodbye {
        header.opt_out_goodbye = cx.text("flow.opt_out_goodbye", g);
    }
    if let Some(agent) = &h.agent_step {
        let at = ids
            .iter()
            .position(|id| id.as_ref().is_some_and(|id| id.value == agent.value));
        match at {
            None => cx.push(super::graph::unknown_target(agent, ids)),
            Some(i) => {
                if let Some(Some(step)) = built.get(i)
                    && !matches!(step.kind, StepKind::Transfer(_))
                {
                    cx.push(
                        Diagnostic::error(
                            Code::InvalidValue,
                            agent.span.clone(),
                            "`agent_step` must be a transfer step",
                        )
                        .label("this step does not transfer the call")
                        .hint("point it at a step with `transfer = \"queue:…\"`"),
                    );
                }
            }
        }
    }
    if let Some(machine) = &h.machine_step {
        let at = ids
            .iter()
            .position(|id| id.as_ref().is_some_and(|id| id.value == machine.value));
        match at {
            None => cx.push(super::graph::unknown_target(machine, ids)),
            Some(i) => {
                if let Some(Some(step)) = built.get(i)
                    && matches!(step.kind, StepKind::Question(_))
                {
                    cx.push(
                        Diagnostic::error(
                            Code::InvalidValue,
                            machine.span.clone(),
                            "`machine_step` must not ask a question",
                        )
                        .label("an answering machine cannot answer this")
                        .hint(
                            "point it at a message step: `say = \"…\"` and `end = \"no_response\"`",
                        ),
                    );
                }
            }
        }
    }
    for (i, s) in flow.steps.iter().enumerate() {
        let Some(Some(step)) = built.get(i) else {
            continue;
        };
        let StepKind::Question(q) = &step.kind else {
            continue;
        };
        if let (QuestionKind::Menu(choices), Some(options)) = (&q.kind, &s.options) {
            for (choice, syntax) in choices.iter().zip(options.value.iter()) {
                let span = syntax
                    .key
                    .as_ref()
                    .map_or(syntax.span.clone(), |k| k.span.clone());
                for (what, global) in global_keys(&header.keys) {
                    if global == choice.key {
                        cx.push(
                            Diagnostic::error(
                                Code::KeyClash,
                                span.clone(),
                                format!("menu option key {} is also the {what} key", choice.key),
                            )
                            .label(format!(
                                "pressing {} would {}",
                                choice.key,
                                what_it_does(what)
                            ))
                            .hint("give this option another key"),
                        );
                    }
                }
            }
        } else if q.input.keypad {
            for (what, global) in global_keys(&header.keys) {
                if accepts_key(&q.kind, global) {
                    cx.push(
                        Diagnostic::warning(
                            Code::KeyClash,
                            s.ask.as_ref().map_or(s.span.clone(), |a| a.span.clone()),
                            format!("during `{}` the {what} key {global} is an answer", step.id),
                        )
                        .label(format!("pressing {global} here answers the question"))
                        .hint("callers can still say what they want; or choose a key outside the answers"),
                    );
                }
            }
        }
    }
}

fn what_it_does(what: &str) -> &'static str {
    match what {
        "opt-out" => "opt out instead of choosing",
        "agent" => "ask for an agent instead of choosing",
        _ => "repeat the question instead of choosing",
    }
}

fn global_keys(keys: &GlobalKeys) -> Vec<(&'static str, &str)> {
    let mut out = Vec::new();
    if let Some(k) = &keys.opt_out {
        out.push(("opt-out", k.as_str()));
    }
    if let Some(k) = &keys.agent {
        out.push(("agent", k.as_str()));
    }
    if let Some(k) = &keys.repeat {
        out.push(("repeat", k.as_str()));
    }
    out
}

/// Would pressing `key` alone be a valid answer to this question?
fn accepts_key(kind: &QuestionKind, key: &str) -> bool {
    let Ok(n) = key.parse::<i64>() else {
        return false;
    };
    match kind {
        QuestionKind::YesNo => n == 1 || n == 2,
        _ => kind.bounds().is_some_and(|(lo, hi)| (lo..=hi).contains(&n)),
    }
}

fn clash_between_global_keys(cx: &mut Context<'_>, flow: &FlowSyntax, keys: &GlobalKeys) {
    let h = &flow.header;
    let spans = [
        ("repeat", &h.repeat_key, &keys.repeat),
        ("opt-out", &h.opt_out_key, &keys.opt_out),
        ("agent", &h.agent_key, &keys.agent),
    ];
    for (i, (a, _, ka)) in spans.iter().enumerate() {
        for (b, sb, kb) in spans.iter().skip(i + 1) {
            if let (Some(ka), Some(kb), Some(sb)) = (ka, kb, sb)
                && ka == kb
            {
                cx.push(
                    Diagnostic::error(
                        Code::KeyClash,
                        sb.span.clone(),
                        format!("the {b} key is also the {a} key"),
                    )
                    .label(format!("{kb} is already the {a} key"))
                    .hint("give each global key its own button"),
                );
            }
        }
    }
}

fn language_tag(cx: &mut Context<'_>, l: &Sp<String>) {
    let ok = l
        .value
        .split('-')
        .next()
        .is_some_and(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_lowercase()));
    if !ok {
        cx.push(
            Diagnostic::error(
                Code::InvalidValue,
                l.span.clone(),
                format!("`{}` is not a language tag", l.value),
            )
            .label("expected a tag like zh-CN or en-US")
            .hint("use a BCP-47 tag: zh-CN, en-US, en-GB, zh-HK …"),
        );
    }
}

pub(super) fn input_mode(cx: &mut Context<'_>, i: &Sp<String>) -> InputMode {
    InputMode::parse(&i.value).unwrap_or_else(|| {
        cx.push(one_of(i, "input", &["keypad", "speech", "both"]));
        InputMode::BOTH
    })
}

pub(super) fn seconds(cx: &mut Context<'_>, v: &Sp<i64>, key: &str, lo: i64, hi: i64) -> u32 {
    if (lo..=hi).contains(&v.value) {
        v.value as u32
    } else {
        cx.push(
            Diagnostic::error(
                Code::InvalidValue,
                v.span.clone(),
                format!("`{key}` must be from {lo} to {hi}"),
            )
            .label("out of range"),
        );
        lo.max(0) as u32
    }
}

pub(super) fn key(cx: &mut Context<'_>, k: &Sp<String>) -> String {
    let ok = k.value.chars().count() == 1
        && k.value
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#');
    if !ok {
        cx.push(
            Diagnostic::error(
                Code::InvalidValue,
                k.span.clone(),
                format!("`{}` is not a phone key", k.value),
            )
            .label("expected one of 0-9, * or #")
            .hint("write the key as a string, like \"9\""),
        );
    }
    k.value.clone()
}

pub(super) fn one_of(v: &Sp<String>, what: &str, allowed: &[&str]) -> Diagnostic {
    let hint = did_you_mean(&v.value, allowed.iter().copied())
        .unwrap_or_else(|| format!("use one of: {}", allowed.join(", ")));
    Diagnostic::error(
        Code::InvalidValue,
        v.span.clone(),
        format!("`{}` is not a valid {what}", v.value),
    )
    .label(format!("expected one of: {}", allowed.join(", ")))
    .hint(hint)
}

pub(super) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            s,
            "and" | "or" | "not" | "in" | "yes" | "no" | "true" | "false"
        )
}

/// A variable's name: an identifier, or two joined by a dot
/// (`previous.csat`: the earlier call's answers and date, see
/// `dialer::previous`). One level only: templates and conditions read
/// `previous.csat` as the variable `csat` of the group `previous`.
pub(super) fn is_variable_name(s: &str) -> bool {
    match s.split_once('.') {
        Some((group, name)) => is_identifier(group) && is_identifier(name),
        None => is_identifier(s),
    }
}

fn bad_variable_name(s: &Sp<String>) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidValue,
        s.span.clone(),
        format!("`{}` is not a valid variable name", s.value),
    )
    .label("letters, digits and _ only, starting with a letter; one `.` at most")
    .hint(format!(
        "try `{}`, or a group such as `previous.csat`",
        s.value.replace(['-', ' '], "_")
    ))
}

pub(super) fn bad_identifier(s: &Sp<String>, what: &str) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidValue,
        s.span.clone(),
        format!("`{}` is not a valid {what} name", s.value),
    )
    .label("letters, digits and _ only, starting with a letter")
    .hint(format!("try `{}`", s.value.replace(['-', ' ', '.'], "_")))
}
