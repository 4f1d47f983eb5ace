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
#[derive(Debug)]
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
    // Nested: `{{ previous.csat }}` names the variable `previous.csat`
    // (declared as such), not the group `previous`.
    Ok(template.undeclared_variables(true))
}

/// The render context of a call's flat variables: a dotted name
/// (`previous.csat`) becomes the entry `csat` of the group `previous`, which
/// is how the template language reads `{{ previous.csat }}`. Calls without
/// dotted names skip the copy.
fn context_value<V: AsRef<str>>(context: &BTreeMap<impl AsRef<str>, V>) -> minijinja::Value {
    let dotted = context.keys().any(|k| k.as_ref().contains('.'));
    if !dotted {
        return minijinja::Value::from_pairs(
            context
                .iter()
                .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned())),
        );
    }
    let mut groups: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    let mut plain: BTreeMap<&str, minijinja::Value> = BTreeMap::new();
    for (k, v) in context {
        match k.as_ref().split_once('.') {
            Some((group, name)) => {
                groups.entry(group).or_default().insert(name, v.as_ref());
            }
            None => {
                plain.insert(k.as_ref(), minijinja::Value::from(v.as_ref()));
            }
        }
    }
    for (group, entries) in groups {
        // Validation refuses a variable named like a group.
        plain.insert(group, minijinja::Value::from_pairs(entries));
    }
    minijinja::Value::from_pairs(plain.into_iter().map(|(k, v)| (k.to_owned(), v)))
}

/// Renders a compiled text. A failure (which validation should make
/// impossible) falls back to the template's name so the call goes on.
pub fn render(
    env: &Environment<'static>,
    name: &str,
    context: &BTreeMap<String, String>,
) -> String {
    let has_group = context.keys().any(|k| k.contains('.'));
    let rendered = env.get_template(name).and_then(|t| {
        if has_group {
            t.render(context_value(context))
        } else {
            t.render(context)
        }
    });
    match rendered {
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
    let Ok(with_value) = template.render(context_value(&context)) else {
        return false;
    };
    if !with_value.contains(MARK) {
        return false;
    }
    context.insert(var, "");
    template
        .render(context_value(&context))
        .is_ok_and(|without| without == with_value.replace(MARK, ""))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{add, environment, leaves_hole, render};

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
    fn a_dotted_variable_is_named_whole_and_rendered_from_its_group() {
        let mut env = environment();
        let used = add(
            &mut env,
            "t",
            "上次{{ previous.date }}您打了{{previous.csat}}分",
        )
        .unwrap();
        let mut used: Vec<_> = used.into_iter().collect();
        used.sort();

        let context: BTreeMap<String, String> = [
            ("previous.csat".to_string(), "2".to_string()),
            ("previous.date".to_string(), "2026-11-03".to_string()),
            ("name".to_string(), "张三".to_string()),
        ]
        .into();

        assert_eq!(used, ["previous.csat", "previous.date"]);
        assert_eq!(render(&env, "t", &context), "上次2026-11-03您打了2分");
        assert!(leaves_hole(
            &env,
            "t",
            "previous.csat",
            &["previous.date".to_string()]
        ));
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
