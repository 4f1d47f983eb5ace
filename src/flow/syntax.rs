//! The first phase: TOML text → raw, spanned flow syntax.
//!
//! We walk `toml`'s spanned document tree by hand instead of deriving serde
//! `Deserialize`, because serde stops at the first problem and ops staff
//! should see every unknown key, wrong type and missing key in one run.
//! Nothing here knows what a step *means*; that is `validate`'s job.

use toml::de::{DeTable, DeValue};

use super::diagnostic::{Code, Diagnostic, Span, did_you_mean};

/// A value with the byte span it was written at.
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Span) -> Self {
        Sp { value, span }
    }
}

impl Sp<String> {
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

/// Keys of the `[flow]` table. Also checked against the JSON Schema.
pub const FLOW_KEYS: &[&str] = &[
    "name",
    "language",
    "voice",
    "mode",
    "input",
    "timeout",
    "attempts",
    "confidence",
    "repeat_key",
    "opt_out_key",
    "opt_out_confirm",
    "opt_out_goodbye",
    "agent_key",
    "agent_step",
    "machine_step",
    "confirm_flow",
    "confirm_after",
];

/// Keys of a `[[step]]` table.
pub const STEP_KEYS: &[&str] = &[
    "id",
    "say",
    "play",
    "prompt",
    "language",
    "ask",
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
    "branch",
    "next",
    "end",
    "transfer",
    "hours",
    "unavailable",
    "max_wait",
    "hold",
    "hold_play",
    "announce_position",
    "confirms",
];

/// Keys of one menu option.
pub const OPTION_KEYS: &[&str] = &["key", "value", "words"];

/// Keys of one branch.
pub const BRANCH_KEYS: &[&str] = &["when", "goto"];

/// Keys of a variable written as a table: `name = { type = "text", default = "" }`.
pub const VAR_KEYS: &[&str] = &["type", "default"];

/// Top-level tables.
pub const TOP_KEYS: &[&str] = &["flow", "vars", "topics", "step"];

#[derive(Debug, Default)]
pub struct FlowSyntax {
    pub header: HeaderSyntax,
    pub vars: Vec<VarSyntax>,
    pub topics: Vec<TopicSyntax>,
    pub steps: Vec<StepSyntax>,
    /// Span of the whole document, for problems with no better place.
    pub span: Span,
}

#[derive(Debug, Default)]
pub struct HeaderSyntax {
    pub span: Option<Span>,
    pub name: Option<Sp<String>>,
    pub language: Option<Sp<String>>,
    pub voice: Option<Sp<String>>,
    pub mode: Option<Sp<String>>,
    pub input: Option<Sp<String>>,
    pub timeout: Option<Sp<i64>>,
    pub attempts: Option<Sp<i64>>,
    pub confidence: Option<Sp<f64>>,
    pub repeat_key: Option<Sp<String>>,
    pub opt_out_key: Option<Sp<String>>,
    pub opt_out_confirm: Option<Sp<String>>,
    pub opt_out_goodbye: Option<Sp<String>>,
    pub agent_key: Option<Sp<String>>,
    pub agent_step: Option<Sp<String>>,
    pub machine_step: Option<Sp<String>>,
    /// The flow of the call that confirms a fix with the customer once
    /// support resolves a handoff of this flow.
    pub confirm_flow: Option<Sp<String>>,
    /// How long after the resolve that call is due: "2h".
    pub confirm_after: Option<Sp<String>>,
}

#[derive(Debug, Default)]
pub struct StepSyntax {
    pub span: Span,
    pub id: Option<Sp<String>>,
    pub say: Option<Sp<String>>,
    pub play: Option<Sp<String>>,
    pub prompt: Option<Sp<String>>,
    pub language: Option<Sp<String>>,
    pub ask: Option<Sp<String>>,
    pub input: Option<Sp<String>>,
    pub timeout: Option<Sp<i64>>,
    pub attempts: Option<Sp<i64>>,
    pub no_input: Vec<Sp<String>>,
    pub no_match: Vec<Sp<String>>,
    pub on_fail: Option<Sp<String>>,
    pub scale: Option<Sp<Vec<Sp<i64>>>>,
    pub min: Option<Sp<i64>>,
    pub max: Option<Sp<i64>>,
    pub options: Option<Sp<Vec<OptionSyntax>>>,
    pub max_length: Option<Sp<i64>>,
    pub barge_in: Option<Sp<bool>>,
    pub on: Vec<(Sp<String>, Sp<String>)>,
    pub branch: Vec<BranchSyntax>,
    pub next: Option<Sp<String>>,
    pub end: Option<Sp<String>>,
    pub transfer: Option<Sp<String>>,
    pub hours: Option<Sp<String>>,
    pub unavailable: Option<Sp<String>>,
    /// How long a transfer may ring or queue: "90s", "2m".
    pub max_wait: Option<Sp<String>>,
    /// What a queued caller hears while waiting: text, or an audio file.
    pub hold: Option<Sp<String>>,
    pub hold_play: Option<Sp<String>>,
    pub announce_position: Option<Sp<bool>>,
    /// This yes/no question's answer decides the handoff a confirmation
    /// call is about: yes confirms it, no reopens it.
    pub confirms: Option<Sp<bool>>,
}

/// One entry of `[vars]`: `name = "text"`, or
/// `name = { type = "text", default = "您" }` with what a call without the
/// contact's value says instead.
#[derive(Debug)]
pub struct VarSyntax {
    pub name: Sp<String>,
    /// `None` in the table form without `type`: text.
    pub kind: Option<Sp<String>>,
    pub default: Option<Sp<String>>,
}

#[derive(Debug, Default)]
pub struct OptionSyntax {
    pub span: Span,
    pub key: Option<Sp<String>>,
    pub value: Option<Sp<String>>,
    pub words: Vec<Sp<String>>,
}

/// One entry of `[topics]`: a name and the words and phrases that mean it.
#[derive(Debug)]
pub struct TopicSyntax {
    pub name: Sp<String>,
    /// Span of the whole value, for an empty list.
    pub span: Span,
    pub phrases: Vec<Sp<String>>,
}

#[derive(Debug, Default)]
pub struct BranchSyntax {
    pub span: Span,
    pub when: Option<Sp<String>>,
    pub goto: Option<Sp<String>>,
}

/// Parses a flow file's text. Returns the syntax found (possibly partial)
/// and every problem met on the way.
pub fn parse(source: &str) -> (FlowSyntax, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut flow = FlowSyntax {
        span: 0..source.len(),
        ..FlowSyntax::default()
    };
    let doc = match DeTable::parse(source) {
        Ok(doc) => doc,
        Err(err) => {
            let span = err.span().unwrap_or(0..0);
            // TOML keys without quotes are ASCII only: a topic named in Mandarin must be quoted.
            let unquoted = source.get(span.clone()).is_some_and(|s| !s.is_ascii())
                && err.message().contains("unquoted key");
            let hint = if unquoted {
                "put a key with Chinese characters or spaces in quotes: `\"手续费\" = [\"手续费\", \"fee\"]`"
            } else {
                "check quotes, brackets and `=` signs near this point"
            };
            diags.push(
                Diagnostic::error(Code::Syntax, span, "this is not valid TOML")
                    .label(first_line(err.message()))
                    .hint(hint),
            );
            return (flow, diags);
        }
    };
    let mut top = Table::new(doc.get_ref(), doc.span());
    if let Some(t) = top.table("flow", &mut diags) {
        flow.header = header(t, &mut diags);
    }
    if let Some(mut t) = top.table("vars", &mut diags) {
        for (key, value) in t.entries() {
            t.used.push(key.value.clone());
            if let Some(group) = var_group(value) {
                // `previous.csat = "number"` is TOML for a table `previous`
                // holding `csat`: each entry is the variable `previous.csat`.
                for (inner, value) in group.entries() {
                    let name = Sp::new(format!("{}.{}", key.value, inner.value), inner.span);
                    if let Some(v) = var(name, value, &mut diags) {
                        flow.vars.push(v);
                    }
                }
            } else if let Some(v) = var(key, value, &mut diags) {
                flow.vars.push(v);
            }
        }
    }
    if let Some(mut t) = top.table("topics", &mut diags) {
        for (name, value) in t.entries() {
            t.used.push(name.value.clone());
            if let Some(phrases) = strings_of(&name.value, value, &mut diags) {
                flow.topics.push(TopicSyntax {
                    name,
                    span: value.span(),
                    phrases,
                });
            }
        }
    }
    if let Some(tables) = top.tables("step", &mut diags) {
        flow.steps = tables.into_iter().map(|t| step(t, &mut diags)).collect();
    }
    top.finish(TOP_KEYS, "a top-level table", &mut diags);
    (flow, diags)
}

/// A `[vars]` entry that groups variables under a prefix (`previous.csat`,
/// `[vars.previous]`, `previous = { csat = "number" }`) rather than
/// declaring one: a table with a key that is not a variable's (`type`,
/// `default`).
fn var_group<'a, 'i>(value: &'a serde_spanned::Spanned<DeValue<'i>>) -> Option<Table<'a, 'i>> {
    let DeValue::Table(table) = value.get_ref() else {
        return None;
    };
    let grouped = table
        .iter()
        .any(|(k, _)| !VAR_KEYS.contains(&k.get_ref().as_ref()));
    grouped.then(|| Table::new(table, value.span()))
}

fn var(
    name: Sp<String>,
    value: &serde_spanned::Spanned<DeValue<'_>>,
    d: &mut Vec<Diagnostic>,
) -> Option<VarSyntax> {
    if let Some(kind) = string_of(value) {
        return Some(VarSyntax {
            name,
            kind: Some(kind),
            default: None,
        });
    }
    let DeValue::Table(table) = value.get_ref() else {
        d.push(wrong_type(
            &name.value,
            value,
            "a type such as \"text\", or a table such as { type = \"text\", default = \"\" }",
        ));
        return None;
    };
    let mut t = Table::new(table, value.span());
    let kind = t.string("type", d);
    // A number variable's default may be written as a number.
    let default = match t.get("default") {
        Some(v) => match (string_of(v), int_of(v)) {
            (Some(s), _) => Some(s),
            (None, Some(n)) => Some(Sp::new(n.value.to_string(), n.span)),
            (None, None) => {
                d.push(wrong_type("default", v, "a string (or a number)"));
                None
            }
        },
        None => None,
    };
    t.finish(VAR_KEYS, "a variable", d);
    Some(VarSyntax {
        name,
        kind,
        default,
    })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

fn header(mut t: Table<'_, '_>, d: &mut Vec<Diagnostic>) -> HeaderSyntax {
    let h = HeaderSyntax {
        span: Some(t.span.clone()),
        name: t.string("name", d),
        language: t.string("language", d),
        voice: t.string("voice", d),
        mode: t.string("mode", d),
        input: t.string("input", d),
        timeout: t.int("timeout", d),
        attempts: t.int("attempts", d),
        confidence: t.float("confidence", d),
        repeat_key: t.string("repeat_key", d),
        opt_out_key: t.string("opt_out_key", d),
        opt_out_confirm: t.string("opt_out_confirm", d),
        opt_out_goodbye: t.string("opt_out_goodbye", d),
        agent_key: t.string("agent_key", d),
        agent_step: t.string("agent_step", d),
        machine_step: t.string("machine_step", d),
        confirm_flow: t.string("confirm_flow", d),
        confirm_after: t.string("confirm_after", d),
    };
    t.finish(FLOW_KEYS, "`[flow]`", d);
    h
}

fn step(mut t: Table<'_, '_>, d: &mut Vec<Diagnostic>) -> StepSyntax {
    let mut s = StepSyntax {
        span: t.span.clone(),
        id: t.string("id", d),
        say: t.string("say", d),
        play: t.string("play", d),
        prompt: t.string("prompt", d),
        language: t.string("language", d),
        ask: t.string("ask", d),
        input: t.string("input", d),
        timeout: t.int("timeout", d),
        attempts: t.int("attempts", d),
        no_input: t.string_list("no_input", d),
        no_match: t.string_list("no_match", d),
        on_fail: t.string("on_fail", d),
        scale: t.int_list("scale", d),
        min: t.int("min", d),
        max: t.int("max", d),
        max_length: t.int("max_length", d),
        barge_in: t.bool("barge_in", d),
        next: t.string("next", d),
        end: t.string("end", d),
        transfer: t.string("transfer", d),
        hours: t.string("hours", d),
        unavailable: t.string("unavailable", d),
        max_wait: t.string("max_wait", d),
        hold: t.string("hold", d),
        hold_play: t.string("hold_play", d),
        announce_position: t.bool("announce_position", d),
        confirms: t.bool("confirms", d),
        ..StepSyntax::default()
    };
    if let Some((span, tables)) = t.tables_spanned("options", d) {
        let options = tables
            .into_iter()
            .map(|mut o| {
                let opt = OptionSyntax {
                    span: o.span.clone(),
                    key: o.string("key", d),
                    value: o.string("value", d),
                    words: o.string_list("words", d),
                };
                o.finish(OPTION_KEYS, "a menu option", d);
                opt
            })
            .collect();
        s.options = Some(Sp::new(options, span));
    }
    if let Some(mut on) = t.table("on", d) {
        for (key, value) in on.entries() {
            on.used.push(key.value.clone());
            match string_of(value) {
                Some(target) => s.on.push((key, target)),
                None => d.push(wrong_type(&key.value, value, "a step id")),
            }
        }
    }
    if let Some(tables) = t.tables("branch", d) {
        s.branch = tables
            .into_iter()
            .map(|mut b| {
                let br = BranchSyntax {
                    span: b.span.clone(),
                    when: b.string("when", d),
                    goto: b.string("goto", d),
                };
                b.finish(BRANCH_KEYS, "a branch", d);
                br
            })
            .collect();
    }
    t.finish(STEP_KEYS, "a step", d);
    s
}

type Entry<'i> = (
    serde_spanned::Spanned<std::borrow::Cow<'i, str>>,
    serde_spanned::Spanned<DeValue<'i>>,
);

/// A TOML table being read: remembers which keys were used so that the
/// rest can be reported as unknown, with a suggestion.
struct Table<'a, 'i> {
    table: &'a DeTable<'i>,
    span: Span,
    used: Vec<String>,
}

impl<'a, 'i> Table<'a, 'i> {
    fn new(table: &'a DeTable<'i>, span: Span) -> Self {
        Table {
            table,
            span,
            used: Vec::new(),
        }
    }

    fn entries(&self) -> Vec<(Sp<String>, &'a serde_spanned::Spanned<DeValue<'i>>)> {
        self.table
            .iter()
            .map(|(k, v): (&_, &'a _)| {
                let (k, v): (&serde_spanned::Spanned<std::borrow::Cow<'i, str>>, _) = (k, v);
                (Sp::new(k.get_ref().to_string(), k.span()), v)
            })
            .collect()
    }

    fn get(&mut self, key: &str) -> Option<&'a serde_spanned::Spanned<DeValue<'i>>> {
        let found = self
            .table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v);
        if found.is_some() {
            self.used.push(key.to_string());
        }
        found
    }

    fn string(&mut self, key: &str, d: &mut Vec<Diagnostic>) -> Option<Sp<String>> {
        let v = self.get(key)?;
        let s = string_of(v);
        if s.is_none() {
            d.push(wrong_type(key, v, "a string"));
        }
        s
    }

    fn int(&mut self, key: &str, d: &mut Vec<Diagnostic>) -> Option<Sp<i64>> {
        let v = self.get(key)?;
        let n = int_of(v);
        if n.is_none() {
            d.push(wrong_type(key, v, "a whole number"));
        }
        n
    }

    fn float(&mut self, key: &str, d: &mut Vec<Diagnostic>) -> Option<Sp<f64>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Float(f) => match f.as_str().parse::<f64>() {
                Ok(x) => Some(Sp::new(x, v.span())),
                Err(_) => {
                    d.push(wrong_type(key, v, "a number between 0 and 1"));
                    None
                }
            },
            DeValue::Integer(_) => int_of(v).map(|n| Sp::new(n.value as f64, v.span())),
            _ => {
                d.push(wrong_type(key, v, "a number between 0 and 1"));
                None
            }
        }
    }

    fn bool(&mut self, key: &str, d: &mut Vec<Diagnostic>) -> Option<Sp<bool>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(Sp::new(*b, v.span())),
            _ => {
                d.push(wrong_type(key, v, "true or false"));
                None
            }
        }
    }

    /// A string or a list of strings (one string is a list of one).
    fn string_list(&mut self, key: &str, d: &mut Vec<Diagnostic>) -> Vec<Sp<String>> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        if let Some(s) = string_of(v) {
            return vec![s];
        }
        match v.get_ref() {
            DeValue::Array(items) => items
                .iter()
                .filter_map(|item| {
                    let s = string_of(item);
                    if s.is_none() {
                        d.push(wrong_type(key, item, "a string"));
                    }
                    s
                })
                .collect(),
            _ => {
                d.push(wrong_type(key, v, "a string or a list of strings"));
                Vec::new()
            }
        }
    }

    fn int_list(&mut self, key: &str, d: &mut Vec<Diagnostic>) -> Option<Sp<Vec<Sp<i64>>>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    match int_of(item) {
                        Some(n) => out.push(n),
                        None => {
                            d.push(wrong_type(key, item, "a whole number"));
                            return None;
                        }
                    }
                }
                Some(Sp::new(out, v.span()))
            }
            _ => {
                d.push(wrong_type(key, v, "a list of two numbers, like [1, 5]"));
                None
            }
        }
    }

    fn table(&mut self, key: &str, d: &mut Vec<Diagnostic>) -> Option<Table<'a, 'i>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some(Table::new(t, v.span())),
            _ => {
                d.push(wrong_type(key, v, "a table"));
                None
            }
        }
    }

    fn tables(&mut self, key: &str, d: &mut Vec<Diagnostic>) -> Option<Vec<Table<'a, 'i>>> {
        self.tables_spanned(key, d).map(|(_, t)| t)
    }

    fn tables_spanned(
        &mut self,
        key: &str,
        d: &mut Vec<Diagnostic>,
    ) -> Option<(Span, Vec<Table<'a, 'i>>)> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::Table(t) => out.push(Table::new(t, item.span())),
                        _ => d.push(wrong_type(key, item, "a table")),
                    }
                }
                Some((v.span(), out))
            }
            _ => {
                d.push(
                    wrong_type(key, v, "an array of tables")
                        .hint(format!("write each one as `[[{key}]]`")),
                );
                None
            }
        }
    }

    /// Reports every key that was not read as unknown.
    fn finish(self, known: &[&str], what: &str, d: &mut Vec<Diagnostic>) {
        let entries: Vec<Entry<'i>> = self
            .table
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, _) in entries {
            let name = k.get_ref().as_ref();
            if self.used.iter().any(|u| u == name) {
                continue;
            }
            let mut diag = Diagnostic::error(
                Code::UnknownKey,
                k.span(),
                format!("unknown key `{name}` in {what}"),
            )
            .label("not a key of this table");
            diag = match did_you_mean(name, known.iter().copied()) {
                Some(hint) => diag.hint(hint),
                None => diag.hint(format!("known keys: {}", known.join(", "))),
            };
            d.push(diag);
        }
    }
}

fn string_of(v: &serde_spanned::Spanned<DeValue<'_>>) -> Option<Sp<String>> {
    match v.get_ref() {
        DeValue::String(s) => Some(Sp::new(s.to_string(), v.span())),
        _ => None,
    }
}

/// A topic's phrases: a list of strings, or one string as a list of one.
fn strings_of(
    key: &str,
    v: &serde_spanned::Spanned<DeValue<'_>>,
    d: &mut Vec<Diagnostic>,
) -> Option<Vec<Sp<String>>> {
    if let Some(s) = string_of(v) {
        return Some(vec![s]);
    }
    match v.get_ref() {
        DeValue::Array(items) => Some(
            items
                .iter()
                .filter_map(|item| {
                    let s = string_of(item);
                    if s.is_none() {
                        d.push(wrong_type(key, item, "a word or phrase in quotes"));
                    }
                    s
                })
                .collect(),
        ),
        _ => {
            d.push(
                wrong_type(key, v, "a list of words and phrases").hint(format!(
                    "for example `\"{key}\" = [\"{key}\"]`, with more words as callers say them"
                )),
            );
            None
        }
    }
}

fn int_of(v: &serde_spanned::Spanned<DeValue<'_>>) -> Option<Sp<i64>> {
    match v.get_ref() {
        DeValue::Integer(n) => i64::from_str_radix(n.as_str(), n.radix())
            .ok()
            .map(|n| Sp::new(n, v.span())),
        _ => None,
    }
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "a whole number",
        DeValue::Float(_) => "a decimal number",
        DeValue::Boolean(_) => "true/false",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

fn wrong_type(key: &str, v: &serde_spanned::Spanned<DeValue<'_>>, expected: &str) -> Diagnostic {
    Diagnostic::error(
        Code::InvalidValue,
        v.span(),
        format!("`{key}` must be {expected}, not {}", type_name(v.get_ref())),
    )
    .label(format!("expected {expected}"))
}
