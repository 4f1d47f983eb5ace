//! Whether a text mentions a topic.
//!
//! Texts and phrases are brought into the shape the yes/no tables use
//! (`flow::understand`): lower case, half width, no punctuation, then one token
//! per CJK character and one per English word or digit run. A phrase matches
//! a run of whole tokens, which is Mandarin substring matching and English
//! word boundaries at once: "手续费" is found in "扣了手续费啊", and "fee" is
//! not found in "feedback". A phrase never spans a clause break: in
//! "app闪退，钱也没转过去" there is no 退钱.

use crate::flow::model::Topic;
use crate::flow::understand::{clauses, tokens};

/// A flow's topics, tokenised once for matching many texts.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Per topic, its phrases as token lists.
    topics: Vec<Vec<Vec<String>>>,
}

impl Matcher {
    pub fn new(topics: &[Topic]) -> Self {
        let topics = topics
            .iter()
            .map(|t| {
                t.phrases
                    .iter()
                    .map(|p| words(p).concat())
                    .filter(|p| !p.is_empty())
                    .collect()
            })
            .collect();
        Matcher { topics }
    }

    /// Indexes of the topics the text mentions, in the flow's order.
    pub fn topics_of(&self, text: &str) -> Vec<usize> {
        let clauses = words(text);
        self.topics
            .iter()
            .enumerate()
            .filter(|(_, phrases)| {
                phrases
                    .iter()
                    .any(|p| clauses.iter().any(|clause| contains(clause, p)))
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// Tokens, clause by clause.
fn words(text: &str) -> Vec<Vec<String>> {
    clauses(text)
        .iter()
        .map(|clause| tokens(clause).into_iter().map(str::to_string).collect())
        .collect()
}

fn contains(text: &[String], phrase: &[String]) -> bool {
    text.windows(phrase.len())
        .any(|w| w.iter().zip(phrase).all(|(t, p)| same_word(t, p)))
}

/// Equal, or an English plural of the phrase's word: a topic listing "fee"
/// or "transfer" should not need "fees" and "transfers" too.
fn same_word(text: &str, phrase: &str) -> bool {
    if text == phrase {
        return true;
    }
    let english = phrase.chars().all(|c| c.is_ascii_alphabetic());
    english
        && text
            .strip_prefix(phrase)
            .is_some_and(|rest| rest == "s" || rest == "es")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str, phrases: &[&str]) -> Topic {
        Topic {
            name: name.to_string(),
            phrases: phrases.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn matcher() -> Matcher {
        Matcher::new(&[
            topic("手续费", &["手续费", "费用", "收费", "fee", "charges"]),
            topic("转账失败", &["转账失败", "transfer failed"]),
            topic("充值", &["top-up", "充值"]),
        ])
    }

    #[test]
    fn texts_are_matched_whatever_their_case_width_and_punctuation() {
        let m = matcher();
        let cases: &[(&str, &[usize])] = &[
            ("扣了手续费啊！", &[0]),
            ("手 续 费太高", &[0]),
            ("手续费，转账失败", &[0, 1]),
            ("转账，失败了", &[]),
            ("app闪退，钱也没转过去", &[]),
            ("The FEE is too high", &[0]),
            ("ＦＥＥ", &[0]),
            ("Fees, fees, fees!", &[0]),
            ("hidden charges", &[0]),
            ("My transfer failed.", &[1]),
            ("Transfer... failed?", &[]),
            ("top up is slow", &[2]),
            ("Top-Up failed", &[2]),
            ("充值不到账", &[2]),
            ("", &[]),
            ("很好用", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(m.topics_of(text), *want, "{text:?}");
        }
    }

    #[test]
    fn an_english_phrase_matches_whole_words_only() {
        let m = matcher();
        for text in [
            "feedback is welcome",
            "coffee",
            "feeling fine",
            "surcharges?",
        ] {
            assert_eq!(m.topics_of(text), Vec::<usize>::new(), "{text:?}");
        }
    }

    #[test]
    fn a_topic_with_no_phrases_matches_nothing() {
        let m = Matcher::new(&[topic("空", &[]), topic("标点", &["！！"])]);
        assert!(m.topics_of("！！ anything").is_empty());
    }
}
