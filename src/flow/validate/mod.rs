//! The second phase: spanned syntax → a validated [`Flow`], collecting every
//! diagnostic instead of stopping at the first.
//!
//! - `header`: the `[flow]` table and `[vars]`;
//! - `steps`: each step's kind, keys and texts;
//! - `graph`: step targets, reachability and loops that take no input;
//! - `gates`: questions whose answer can stop the call, which silence must
//!   not skip;
//! - `topics`: the `[topics]` table of what callers talk about.

mod gates;
mod graph;
mod header;
mod steps;
mod topics;
mod transfer;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::diagnostic::{Code, Diagnostic};
use super::model::{AnswerType, Flow};
use super::syntax::{self, Sp};
use super::template;

/// What validation needs from the outside world.
pub trait Resources {
    /// Does this audio file (relative to the audio folder) exist?
    fn audio_exists(&self, path: &str) -> bool;
}

/// Validates one flow file's text. Returns the flow when there are no
/// errors, and all diagnostics (warnings included) sorted by position.
pub fn validate(
    name: &str,
    source: &str,
    resources: &dyn Resources,
) -> (Option<Flow>, Vec<Diagnostic>) {
    let (syntax, mut diags) = syntax::parse(source);
    if diags.iter().any(|d| d.code == Code::Syntax) {
        return (None, diags);
    }
    let mut cx = Context {
        source,
        diags: Vec::new(),
        env: template::environment(),
        resources,
        names: BTreeMap::new(),
        undefaulted: Vec::new(),
    };
    let header = header::check(&mut cx, &syntax);
    let topics = topics::check(&mut cx, &syntax.topics);
    let ids = steps::collect_ids(&mut cx, &syntax.steps);
    // Names usable in templates and conditions: variables, then answers.
    for v in &header.vars {
        let ty = match v.kind {
            super::model::VarKind::Text => AnswerType::Text,
            super::model::VarKind::Number => AnswerType::Number,
        };
        cx.names.insert(v.name.clone(), ty);
        if v.default.is_none() {
            cx.undefaulted.push(v.name.clone());
        }
    }
    for (i, s) in syntax.steps.iter().enumerate() {
        if let (Some(id), Some(ty)) = (&ids[i], steps::answer_type(s)) {
            cx.names.insert(id.value.clone(), ty);
        }
    }
    let mut built = Vec::new();
    for (i, s) in syntax.steps.iter().enumerate() {
        built.push(steps::check(&mut cx, s, &ids, i, &header));
    }
    let graph_ok = graph::check(&mut cx, &syntax, &ids, &built, &header);
    gates::check(&mut cx, &syntax, &mut built);
    let mut header = header;
    header::check_late(&mut cx, &syntax, &ids, &built, &mut header);
    let confirms = confirms(&mut cx, &syntax, &ids);
    diags.append(&mut cx.diags);
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    if diags.iter().any(Diagnostic::is_error) || !graph_ok {
        return (None, diags);
    }
    let Some(steps) = built.into_iter().collect::<Option<Vec<_>>>() else {
        return (None, diags);
    };
    let flow = Flow {
        name: name.to_string(),
        hash: hex::encode(Sha256::digest(source.as_bytes())),
        title: header.title,
        language: header.language,
        voice: header.voice,
        mode: header.mode,
        confidence: header.confidence,
        vars: header.vars,
        keys: header.keys,
        agent_step: header.agent_step.as_ref().and_then(|s| {
            ids.iter()
                .position(|id| id.as_ref().is_some_and(|id| id.value == s.value))
        }),
        machine_step: header.machine_step.as_ref().and_then(|s| {
            ids.iter()
                .position(|id| id.as_ref().is_some_and(|id| id.value == s.value))
        }),
        opt_out_confirm: header.opt_out_confirm,
        opt_out_goodbye: header.opt_out_goodbye,
        confirm: header.confirm,
        confirms,
        steps,
        topics,
        templates: cx.env,
    };
    (Some(flow), diags)
}

/// The one yes/no question marked `confirms = true`, whose answer decides
/// the handoff a confirmation call is about. Another kind of question, or a
/// second one, is an error: the service must know which answer counts.
fn confirms(
    cx: &mut Context<'_>,
    syntax: &syntax::FlowSyntax,
    ids: &[Option<syntax::Sp<String>>],
) -> Option<String> {
    let mut found: Option<String> = None;
    for (s, id) in syntax.steps.iter().zip(ids) {
        let Some(marker) = s.confirms.as_ref().filter(|c| c.value) else {
            continue;
        };
        if steps::answer_type(s) != Some(AnswerType::YesNo) {
            cx.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    marker.span.clone(),
                    "`confirms` is for a yes/no question",
                )
                .label("this step asks no yes/no question")
                .hint("put `confirms = true` on the `ask = \"yes_no\"` step whose yes means fixed"),
            );
            continue;
        }
        if let Some(first) = &found {
            cx.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    marker.span.clone(),
                    "a second question `confirms` the handoff",
                )
                .label(format!("`{first}` already does"))
                .hint("one answer decides: keep `confirms = true` on one question"),
            );
            continue;
        }
        found = id.as_ref().map(|id| id.value.clone());
    }
    found
}

/// State shared by the checks.
struct Context<'a> {
    source: &'a str,
    diags: Vec<Diagnostic>,
    env: minijinja::Environment<'static>,
    resources: &'a dyn Resources,
    /// Type of every variable and answer name.
    names: BTreeMap<String, AnswerType>,
    /// Variables declared without a default: a call without the contact's
    /// value (an inbound caller) has nothing for them.
    undefaulted: Vec<String>,
}

impl Context<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Span inside a string value: TOML basic and literal strings start
    /// with one quote, so offset `n` of the text is at `span.start + 1 + n`
    /// unless the string uses escapes or triple quotes (then the whole
    /// string is pointed at).
    fn inner_span(&self, s: &Sp<String>, at: std::ops::Range<usize>) -> std::ops::Range<usize> {
        let raw = self.source.get(s.span.clone()).unwrap_or("");
        let simple = (raw.starts_with('"') && !raw.starts_with("\"\"\"") && !raw.contains('\\'))
            || (raw.starts_with('\'') && !raw.starts_with("'''"));
        if simple && at.end < raw.len() {
            s.span.start + 1 + at.start..s.span.start + 1 + at.end
        } else {
            s.span.clone()
        }
    }

    /// Compiles a spoken text, checking the names it uses.
    fn text(&mut self, key: &str, s: &Sp<String>) -> Option<super::model::Speech> {
        match template::add(&mut self.env, key, &s.value) {
            Ok(used) => {
                let mut used: Vec<String> = used.into_iter().collect();
                used.sort();
                let mut ok = true;
                for name in &used {
                    if self.names.contains_key(name) {
                        continue;
                    }
                    ok = false;
                    let at = s
                        .value
                        .find(name.as_str())
                        .map_or(0..s.value.len(), |i| i..i + name.len());
                    let span = self.inner_span(s, at);
                    let known: Vec<String> = self.names.keys().cloned().collect();
                    let hint =
                        super::diagnostic::did_you_mean(name, known.iter().map(String::as_str))
                            .unwrap_or_else(|| {
                                format!("declare it under `[vars]`, e.g. `{name} = \"text\"`")
                            });
                    self.push(
                        Diagnostic::error(
                            Code::UnknownVariable,
                            span,
                            format!("`{name}` is not a declared variable or answer"),
                        )
                        .label("not declared")
                        .hint(hint),
                    );
                }
                if ok {
                    self.holes(key, s, &used);
                }
                ok.then(|| super::model::Speech::Text(key.to_string()))
            }
            Err(e) => {
                let span = match e.at {
                    Some(at) => self.inner_span(s, at),
                    None => s.span.clone(),
                };
                self.push(
                    Diagnostic::error(
                        Code::BadTemplate,
                        span,
                        "this text's `{{ }}` placeholders do not parse",
                    )
                    .label(e.message)
                    .hint("a placeholder looks like {{name}}"),
                );
                None
            }
        }
    }

    /// Warns about each variable without a default that `key`'s text
    /// prints as is: any flow can be reached by an inbound call (a number's
    /// voice URL may name it), and an inbound caller who is no campaign
    /// contact has no value for it ("Hello , this is …").
    fn holes(&mut self, key: &str, s: &Sp<String>, used: &[String]) {
        let undefaulted: Vec<&String> = used
            .iter()
            .filter(|u| self.undefaulted.contains(u))
            .collect();
        for var in undefaulted {
            let others: Vec<String> = used.iter().filter(|u| *u != var).cloned().collect();
            if !template::leaves_hole(&self.env, key, var, &others) {
                continue;
            }
            let at = s
                .value
                .find(var.as_str())
                .map_or(0..s.value.len(), |i| i..i + var.len());
            let span = self.inner_span(s, at);
            self.push(
                Diagnostic::warning(
                    Code::HoleWithoutDefault,
                    span,
                    format!("`{var}` has no default: a call without it leaves a hole here"),
                )
                .label("empty for an inbound caller who is no campaign contact")
                .hint(format!(
                    "give it a default under `[vars]`, e.g. `{var} = {{ type = \"text\", default = \"…\" }}`, or say something else when it is empty: `{{% if {var} %}}…{{% endif %}}`"
                )),
            );
        }
    }

    fn audio(&mut self, s: &Sp<String>) -> Option<super::model::Speech> {
        let path = s.value.as_str();
        let safe = !path.is_empty()
            && !path.starts_with('/')
            && !path.split(['/', '\\']).any(|p| p == "..");
        if !safe {
            self.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    s.span.clone(),
                    "an audio path must be inside the audio folder",
                )
                .label("absolute or leaves the folder")
                .hint("write a path relative to `audio/`, like \"zh/intro.wav\""),
            );
            return None;
        }
        if !self.resources.audio_exists(path) {
            self.push(
                Diagnostic::error(
                    Code::MissingAudio,
                    s.span.clone(),
                    format!("audio file `{path}` does not exist"),
                )
                .label("no such file under the audio folder")
                .hint("add the file to `audio/`, or use `say`/`prompt` text instead"),
            );
            return None;
        }
        Some(super::model::Speech::Audio(path.to_string()))
    }
}
