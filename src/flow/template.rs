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
