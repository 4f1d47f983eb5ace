//! The `[topics]` table: named themes of what callers say, each with the
//! Mandarin and English words and phrases that mean it.
//!
//! Topics never change a call, but a mistake in one silently skews every
//! count built on it, so they get the same spanned diagnostics as steps.
//! Phrases are compared as matching sees them (normalised, tokenised):
//! "Fee" and "fee", or "手续费" and "手续费。", are the same phrase.

use std::collections::HashMap;

use super::super::diagnostic::{Code, Diagnostic};
use super::super::model::Topic;
use super::super::syntax::TopicSyntax;
use super::super::understand::{normalise, tokens};
use super::Context;

pub(super) fn check(cx: &mut Context<'_>, topics: &[TopicSyntax]) -> Vec<Topic> {
    // Normalised phrase → the topic that listed it first.
    let mut owner: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    for topic in topics {
        let name = topic.name.value.trim();
        if name.is_empty() {
            cx.push(
                Diagnostic::error(
                    Code::InvalidValue,
                    topic.name.span.clone(),
                    "a topic needs a name",
                )
                .label("empty name")
                .hint("name it as analysts should read it, e.g. `手续费`"),
            );
            continue;
        }
        if topic.phrases.is_empty() {
            cx.push(
                Diagnostic::error(
                    Code::EmptyTopic,
                    topic.span.clone(),
                    format!("topic `{name}` has no words or phrases"),
                )
                .label("an empty list matches nothing")
                .hint(format!(
                    "list the words and phrases callers use for it: `\"{name}\" = [\"{name}\", …]`"
                )),
            );
        }
        let mut phrases = Vec::new();
        for phrase in &topic.phrases {
            let key = tokens(&normalise(&phrase.value)).join(" ");
            if key.is_empty() {
                cx.push(
                    Diagnostic::error(
                        Code::EmptyTopic,
                        phrase.span.clone(),
                        format!("a phrase of topic `{name}` has nothing to match"),
                    )
                    .label("no letters, digits or characters")
                    .hint("write the word itself; punctuation and spaces are ignored"),
                );
                continue;
            }
            match owner.get(&key) {
                Some(first) if first == name => cx.push(
                    Diagnostic::warning(
                        Code::DuplicatePhrase,
                        phrase.span.clone(),
                        format!("`{}` is listed twice in topic `{name}`", phrase.value),
                    )
                    .label("already in this list")
                    .hint("case, width and punctuation do not matter: remove one"),
                ),
                Some(first) => cx.push(
                    Diagnostic::warning(
                        Code::DuplicatePhrase,
                        phrase.span.clone(),
                        format!("`{}` is also a phrase of topic `{first}`", phrase.value),
                    )
                    .label("every text that says it counts for both topics")
                    .hint("keep it in one topic, unless it truly means both"),
                ),
                None => {
                    owner.insert(key, name.to_string());
                }
            }
            phrases.push(phrase.value.clone());
        }
        out.push(Topic {
            name: name.to_string(),
            phrases,
        });
    }
    out
}
