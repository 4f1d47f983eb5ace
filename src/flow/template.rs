//! Message templates: `{{name}}您好` over contact variables and earlier answers.
//!
//! minijinja compiles every text once at load time; rendering during a call
//! is then a lookup and a walk. Auto-escaping is off: these are spoken
//! texts, and TwiML escaping is done by the XML writer.

use std::collections::{BTreeMap, HashSet};

use minijinja::{AutoEscape, Environment, UndefinedBehavior};

/// A fresh environment configured for spoken text.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // A contact row without a declared variable renders it as empty rather
    // than failing the call: validation already rejected undeclared names.
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env
}

/// Why a text could not be compiled, with the byte range inside the text.
pub struct TemplateError {
    pub message: String,
    pub at: Option<std::ops::Range<usize>>,
}

/// Compiles `source` under `name` and returns the variables it uses.
pub fn add(
    env: &mut Environment<'static>,
    name: &str,
    source: &str,
) -> Result<HashSet<String>, TemplateError> {
    env.add_template_owned(name.to_string(), source.to_string())
        .map_err(|e| TemplateError {
            message: e
                .detail()
                .unwrap_or("this template does not parse")
                .to_string(),
            at: e.range(),
        })?;
    let template = env.get_template(name).map_err(|e| TemplateError {
        message: e.to_string(),
        at: None,
    })?;
    Ok(template.undeclared_variables(false))
}

/// Renders a compiled text. A failure (which validation should make
/// impossible) falls back to the template's name so the call goes on.
pub fn render(
    env: &Environment<'static>,
    name: &str,
    context: &BTreeMap<String, String>,
) -> String {
    match env.get_template(name).and_then(|t| t.render(context)) {
        Ok(text) => text,
        Err(err) => {
            tracing::error!(template = name, error = %err, "a flow text failed to render");
            String::new()
        }
    }
}

/// Does `var` leave a hole in the compiled text `name` when a call has no
/// value for it? It does when the text prints the value as is: rendered
/// with the variable empty, the text is the same as rendered with a value
/// and that value cut out ("{{name}}您好" → "您好"). A text that says
/// something else instead (`{% if name %}…{% endif %}`, `{{ name or "您" }}`)
/// leaves none. `others` (the other names the text uses) get a fixed value.
pub fn leaves_hole(env: &Environment<'static>, name: &str, var: &str, others: &[String]) -> bool {
    // Private-use characters no flow text contains.
    const MARK: &str = "\u{e000}\u{e001}";
    let Ok(template) = env.get_template(name) else {
        return false;
    };
    let mut context: BTreeMap<&str, &str> = others.iter().map(|o| (o.as_str(), "1")).collect();
    context.insert(var, MARK);
    let Ok(with_value) = template.render(&context) else {
        return false;
    };
    if !with_value.contains(MARK) {
        return false;
    }
    context.insert(var, "");
    template
        .render(&context)
        .is_ok_and(|without| without == with_value.replace(MARK, ""))
}

#[cfg(test)]
mod tests {
    use super::{add, environment, leaves_hole};

    fn hole(source: &str) -> bool {
        let mut env = environment();
        assert!(add(&mut env, "t", source).is_ok(), "the text compiles");
        leaves_hole(&env, "t", "name", &["csat".to_string()])
    }

    #[test]
    fn a_variable_printed_as_is_leaves_a_hole() {
        assert!(hole("{{name}}您好"));
        assert!(hole("Hello {{ name }}, you gave {{csat}}."));
    }

    #[test]
    fn a_variable_guarded_or_given_a_fallback_leaves_none() {
        assert!(!hole(
            "Hello{% if name %} {{ name }}{% endif %}, this is Example Wallet."
        ));
        assert!(!hole("{{ name or \"您\" }}好"));
        assert!(!hole("您好，{{csat}}分"));
    }
}
