//! What callers said, understood: free-text answers grouped into the topics
//! ops staff named, frequent phrases no topic covers yet, and the change
//! against an earlier period.
//!
//! Pure computations, like the call machine: texts and a flow's topics in,
//! counts and masked quotes out. No store, no clock, no I/O: whoever reads the
//! stored answers (the dashboard, the API) hands them here, and nothing here
//! keeps a copy of what anyone said.
//!
//! - `topics`: robust matching of a text against the `[topics]` phrases;
//! - `phrases`: discovery of frequent key phrases among uncovered texts;
//! - `mask`: names and numbers taken out of quotes;
//! - `compare`: the change in callers against a previous period.

mod compare;
mod mask;
mod phrases;
mod topics;

#[cfg(test)]
mod fixture_tests;

use std::collections::{BTreeMap, BTreeSet};

use crate::flow::Value;
use crate::flow::condition::{Condition, Lookup};
use crate::flow::model::Topic;

pub use compare::{Change, compare};
pub use mask::mask;
pub use phrases::Discovery;
pub use topics::Matcher;

/// One free-text answer, with who gave it and (optionally) their other answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Said {
    /// Whoever said it: a contact or call id. Counts are of distinct callers,
    /// so a caller who says "fees" in three answers counts once.
    pub caller: String,
    pub text: String,
    /// The caller's other answers in the same call, for filters such as `csat <= 2`.
    pub answers: BTreeMap<String, Value>,
}

impl Said {
    pub fn new(caller: impl Into<String>, text: impl Into<String>) -> Self {
        Said {
            caller: caller.into(),
            text: text.into(),
            answers: BTreeMap::new(),
        }
    }

    /// Whether the caller's answers meet a condition in the flow's own language.
    pub fn satisfies(&self, condition: &Condition) -> bool {
        condition.eval(self)
    }
}

impl Lookup for Said {
    fn value(&self, name: &str) -> Option<Value> {
        self.answers.get(name).cloned()
    }
}

/// How much to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Quotes per topic or phrase.
    pub quotes: usize,
    /// Unnamed phrases to suggest.
    pub phrases: usize,
    /// A phrase fewer callers used is not suggested: one caller is an anecdote.
    pub min_callers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            quotes: 3,
            phrases: 10,
            min_callers: 2,
        }
    }
}

/// The themes behind a set of answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Insight {
    /// Distinct callers among the texts.
    pub callers: usize,
    /// Every topic of the flow, most callers first (file order on ties).
    pub topics: Vec<TopicCount>,
    /// Frequent phrases in texts no topic covers: "new, not yet named".
    pub unnamed: Vec<PhraseCount>,
}

/// One topic: how many callers mentioned it and what some of them said.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicCount {
    pub name: String,
    pub callers: usize,
    /// `callers` over all distinct callers, 0.0–1.0.
    pub share: f64,
    /// Masked quotes, from distinct callers, in the order given.
    pub quotes: Vec<String>,
}

/// One discovered phrase.
#[derive(Debug, Clone, PartialEq)]
pub struct PhraseCount {
    pub phrase: String,
    /// Distinct callers who used it in a text no topic covers.
    pub callers: usize,
    /// Callers weighted by how rare the phrase is across all texts.
    pub weight: f64,
    pub quotes: Vec<String>,
}

/// Groups texts into the flow's topics and discovers unnamed phrases.
///
/// A text can count for several topics; a text that matches none is where
/// phrases are discovered. `discovery` is built once and reused: it holds
/// the Mandarin dictionary.
pub fn analyse(said: &[Said], topics: &[Topic], discovery: &Discovery, limits: Limits) -> Insight {
    let matcher = Matcher::new(topics);
    let callers: BTreeSet<&str> = said.iter().map(|s| s.caller.as_str()).collect();
    let mut per_topic: Vec<(BTreeSet<&str>, Vec<String>)> = vec![Default::default(); topics.len()];
    let mut uncovered = Vec::new();
    for s in said {
        let found = matcher.topics_of(&s.text);
        if found.is_empty() {
            uncovered.push(s);
        }
        for t in found {
            let (who, quotes) = &mut per_topic[t];
            if who.insert(&s.caller) && quotes.len() < limits.quotes {
                quotes.push(mask(&s.text));
            }
        }
    }
    let share = |n: usize| {
        if callers.is_empty() {
            0.0
        } else {
            n as f64 / callers.len() as f64
        }
    };
    let mut counts: Vec<TopicCount> = topics
        .iter()
        .zip(per_topic)
        .map(|(topic, (who, quotes))| TopicCount {
            name: topic.name.clone(),
            callers: who.len(),
            share: share(who.len()),
            quotes,
        })
        .collect();
    // Stable: ties keep the flow's order.
    counts.sort_by_key(|t| std::cmp::Reverse(t.callers));
    Insight {
        callers: callers.len(),
        topics: counts,
        unnamed: discovery.discover(&uncovered, said, limits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::condition;
    use crate::flow::model::AnswerType;

    fn fees() -> Vec<Topic> {
        vec![Topic {
            name: "手续费".to_string(),
            phrases: vec!["手续费".to_string(), "fee".to_string()],
        }]
    }

    fn rated(caller: &str, text: &str, csat: i64) -> Said {
        let mut said = Said::new(caller, text);
        said.answers.insert("csat".to_string(), Value::Number(csat));
        said
    }

    #[test]
    fn quotes_are_masked_and_come_from_distinct_callers() {
        let said = [
            Said::new("a", "手续费太高，我手机13800138000"),
            Said::new("a", "手续费真的太高"),
            Said::new("b", "my name is Anna Lee, the fee is silly"),
        ];
        let insight = analyse(&said, &fees(), &Discovery::new(), Limits::default());
        assert_eq!(insight.callers, 2);
        assert_eq!(insight.topics[0].callers, 2);
        assert_eq!(insight.topics[0].share, 1.0);
        assert_eq!(
            insight.topics[0].quotes,
            ["手续费太高，我手机***", "my name is ***, the fee is silly"]
        );
    }

    #[test]
    fn answers_filter_texts_in_the_flows_condition_language() {
        let names = BTreeMap::from([("csat".to_string(), AnswerType::Number)]);
        let unhappy = condition::parse("csat <= 2", &names).expect("a valid condition");
        let said = [
            rated("a", "手续费太高", 1),
            rated("b", "fee is fine", 5),
            rated("c", "app很好用", 2),
            Said::new("d", "手续费"),
        ];
        let chosen: Vec<Said> = said
            .iter()
            .filter(|s| s.satisfies(&unhappy))
            .cloned()
            .collect();
        let insight = analyse(&chosen, &fees(), &Discovery::new(), Limits::default());
        assert_eq!(insight.callers, 2);
        assert_eq!(insight.topics[0].callers, 1);
        assert_eq!(insight.topics[0].share, 0.5);
    }

    #[test]
    fn no_texts_give_no_callers_and_no_division_by_zero() {
        let insight = analyse(&[], &fees(), &Discovery::new(), Limits::default());
        assert_eq!(insight.callers, 0);
        assert_eq!(insight.topics[0].share, 0.0);
        assert!(insight.unnamed.is_empty());
    }
}
