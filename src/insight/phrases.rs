//! Discovering what callers talk about that no topic names yet.
//!
//! Texts no topic covers are cut into words — Mandarin by `jieba-rs`
//! (dictionary word segmentation), English at spaces after the same
//! normalisation topics use — and every word and run of two or three words
//! that neither starts nor ends with a stop word is a candidate phrase. A
//! phrase is ranked by how many *distinct callers* used it (one angry caller
//! repeating "指纹" is not a theme), weighted like TF-IDF by how rare it is
//! across all texts, so that "转账" (everywhere) ranks below "指纹支付".

use std::collections::{BTreeMap, BTreeSet};

use jieba_rs::Jieba;

use super::{Limits, PhraseCount, Said, mask};
use crate::flow::understand::clauses;

/// Longest candidate, in words.
const MAX_WORDS: usize = 3;

/// Words that carry no theme on their own. Short on purpose: the weighting
/// already pushes down what everyone says, so these only need to catch what
/// would otherwise open or close a phrase ("的", "is", "我们").
#[rustfmt::skip]
const STOP_WORDS: &[&str] = &[
    "的", "了", "是", "我", "你", "他", "她", "它", "我们", "你们", "他们", "这", "那", "这个", "那个",
    "就", "都", "也", "还", "又", "在", "有", "没", "没有", "不", "很", "太", "挺", "比较", "非常",
    "一下", "一个", "一些", "有点", "有些", "什么", "怎么", "为什么", "因为", "所以", "但是", "可是",
    "而且", "然后", "如果", "虽然", "还是", "或者", "和", "跟", "与", "把", "被", "给", "让", "对",
    "从", "到", "上", "下", "里", "时候", "现在", "之前", "以后", "已经", "一直", "总是", "每次",
    "感觉", "觉得", "希望", "可以", "能", "会", "要", "想", "说", "问", "用", "次", "个", "们",
    "您", "吗", "呢", "吧", "啊", "嗯", "哦", "呀", "啦", "就是", "然后", "问题", "谢谢", "你们的",
    //
    "a", "an", "the", "and", "or", "but", "so", "if", "then", "of", "to", "in", "on", "at", "for",
    "with", "from", "by", "about", "as", "is", "are", "was", "were", "be", "been", "being", "am",
    "i", "im", "ive", "id", "me", "my", "you", "your", "youre", "we", "our", "us", "they", "them",
    "their", "it", "its", "this", "that", "these", "those", "there", "here", "what", "which",
    "who", "when", "where", "why", "how", "do", "does", "did", "dont", "doesnt", "didnt", "have",
    "has", "had", "not", "no", "yes", "very", "really", "just", "too", "also", "still", "again",
    "some", "any", "all", "more", "most", "much", "can", "could", "would", "should", "will",
    "get", "got", "one", "like", "please", "thanks", "thank", "okay", "ok", "well", "um", "uh",
];

/// Word segmentation and the stop list, built once: the dictionary takes a
/// noticeable moment to load, so the server keeps one and reuses it.
pub struct Discovery {
    jieba: Jieba,
    stop: BTreeSet<&'static str>,
}

impl Default for Discovery {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery").finish_non_exhaustive()
    }
}

impl Discovery {
    pub fn new() -> Self {
        Discovery {
            jieba: Jieba::new(),
            stop: STOP_WORDS.iter().copied().collect(),
        }
    }

    /// The words of a text: segmented, normalised, stop words kept (they
    /// still break phrases), clause by clause so no phrase spans a comma.
    /// The clauses are the ones topic matching and the yes/no reading use
    /// (`flow::understand::clauses`), so discovery and topics agree on
    /// where a clause ends.
    pub fn words(&self, text: &str) -> Vec<Vec<String>> {
        clauses(text)
            .into_iter()
            .map(|clause| {
                self.jieba
                    .cut(&clause, true)
                    .into_iter()
                    .map(|t| t.word.trim())
                    .filter(|w| !w.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|words| !words.is_empty())
            .collect()
    }

    /// The distinct candidate phrases of one text.
    fn candidates(&self, text: &str) -> BTreeSet<Phrase> {
        let mut out = BTreeSet::new();
        for clause in self.words(text) {
            for n in 1..=MAX_WORDS {
                for run in clause.windows(n) {
                    if self.is_candidate(run) {
                        out.insert(Phrase(run.to_vec()));
                    }
                }
            }
        }
        out
    }

    fn is_candidate(&self, run: &[String]) -> bool {
        let (Some(first), Some(last)) = (run.first(), run.last()) else {
            return false;
        };
        // A lone character is rarely a theme, but inside a phrase it often
        // is half of one: jieba cuts 刷脸支付 as 刷 / 脸 / 支付.
        let content = |w: &String| !self.stop.contains(w.as_str()) && !numeric(w);
        content(first) && content(last) && (run.len() > 1 || first.chars().count() > 1)
    }

    /// Frequent phrases among `uncovered`, weighted against `all` texts.
    pub fn discover(&self, uncovered: &[&Said], all: &[Said], limits: Limits) -> Vec<PhraseCount> {
        // Phrase → distinct callers, over the uncovered texts and over all.
        let mut here: BTreeMap<Phrase, Seen> = BTreeMap::new();
        for s in uncovered {
            for phrase in self.candidates(&s.text) {
                let seen = here.entry(phrase).or_default();
                if seen.who.insert(&s.caller) {
                    seen.texts.push(&s.text);
                }
                seen.calls.insert(&s.call);
            }
        }
        here.retain(|_, seen| seen.who.len() >= limits.min_callers.max(1));
        let mut everywhere: BTreeMap<&Phrase, BTreeSet<&str>> = BTreeMap::new();
        for s in all {
            let found = self.candidates(&s.text);
            for phrase in here.keys().filter(|p| found.contains(*p)) {
                everywhere.entry(phrase).or_default().insert(&s.caller);
            }
        }
        let total: BTreeSet<&str> = all.iter().map(|s| s.caller.as_str()).collect();
        let mut ranked: Vec<(&Phrase, usize, f64)> = here
            .iter()
            .map(|(phrase, Seen { who, .. })| {
                let df = everywhere.get(phrase).map_or(who.len(), BTreeSet::len);
                let idf = ((1 + total.len()) as f64 / (1 + df) as f64).ln() + 1.0;
                (phrase, who.len(), who.len() as f64 * idf)
            })
            .collect();
        ranked.sort_by(|a, b| {
            b.2.total_cmp(&a.2)
                .then_with(|| b.0.0.len().cmp(&a.0.0.len()))
        });
        let chosen = prefer_longer(&ranked, limits.phrases);
        chosen
            .into_iter()
            .map(|(phrase, callers, weight)| PhraseCount {
                phrase: phrase.display(),
                callers,
                weight,
                quotes: here[phrase]
                    .texts
                    .iter()
                    .take(limits.quotes)
                    .map(|t| mask(t))
                    .collect(),
                calls: here[phrase].calls.iter().map(|c| c.to_string()).collect(),
            })
            .collect()
    }
}

/// Who used a phrase among the uncovered texts.
#[derive(Default)]
struct Seen<'a> {
    /// Distinct callers.
    who: BTreeSet<&'a str>,
    /// One text per caller, for quotes.
    texts: Vec<&'a str>,
    calls: BTreeSet<&'a str>,
}

/// Keeps the best phrases, one per theme: "指纹支付" rather than "指纹" and
/// "支付" as well, when most callers who said "指纹" said "指纹支付".
fn prefer_longer<'a>(
    ranked: &[(&'a Phrase, usize, f64)],
    limit: usize,
) -> Vec<(&'a Phrase, usize, f64)> {
    let mut chosen: Vec<(&Phrase, usize, f64)> = Vec::new();
    for &(phrase, callers, weight) in ranked {
        if chosen.len() >= limit {
            break;
        }
        // The longest phrase containing this one that at least half its callers used.
        let pick = ranked
            .iter()
            .filter(|(longer, n, _)| longer.contains(phrase) && 2 * n >= callers)
            .max_by(|a, b| a.0.0.len().cmp(&b.0.0.len()).then(a.1.cmp(&b.1)))
            .copied()
            .unwrap_or((phrase, callers, weight));
        let overlaps = chosen
            .iter()
            .any(|(c, _, _)| c.contains(pick.0) || pick.0.contains(c));
        if !overlaps {
            chosen.push(pick);
        }
    }
    chosen
}

/// A candidate phrase: one to three words.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Phrase(Vec<String>);

impl Phrase {
    /// Whether `other`'s words appear in a row inside this phrase.
    fn contains(&self, other: &Phrase) -> bool {
        self.0
            .windows(other.0.len())
            .any(|w| w == other.0.as_slice())
    }

    /// Mandarin words run together, English words with spaces: "指纹支付", "face id".
    fn display(&self) -> String {
        let mut out = String::new();
        for w in &self.0 {
            let ascii_join = out
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric())
                && w.starts_with(|c: char| c.is_ascii_alphanumeric());
            if ascii_join {
                out.push(' ');
            }
            out.push_str(w);
        }
        out
    }
}

/// Amounts, dates and counts are not themes.
fn numeric(word: &str) -> bool {
    word.chars().all(|c| c.is_ascii_digit() || c == '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(pairs: &[(&str, &str)]) -> Vec<Said> {
        pairs.iter().map(|(c, t)| Said::new(*c, *t)).collect()
    }

    #[test]
    fn mandarin_is_segmented_and_english_split_into_words() {
        let d = Discovery::new();
        assert_eq!(
            d.words("指纹支付老是失败，Face ID doesn't work"),
            [
                vec!["指纹", "支付", "老是", "失败"],
                vec!["face", "id", "doesnt", "work"],
            ]
        );
    }

    #[test]
    fn a_phrase_counts_distinct_callers_not_mentions() {
        let d = Discovery::new();
        let all = said(&[
            ("a", "指纹支付用不了"),
            ("a", "指纹支付用不了"),
            ("a", "指纹支付还是用不了"),
            ("b", "指纹支付经常失败"),
            ("c", "指纹支付识别不了"),
            ("d", "页面广告太多"),
            ("e", "页面广告太多了"),
        ]);
        let uncovered: Vec<&Said> = all.iter().collect();
        let found = d.discover(&uncovered, &all, Limits::default());
        let top: Vec<(&str, usize)> = found
            .iter()
            .map(|p| (p.phrase.as_str(), p.callers))
            .take(2)
            .collect();
        assert_eq!(top, [("指纹支付", 3), ("页面广告", 2)]);
        assert_eq!(found[0].quotes.len(), 3);
    }

    #[test]
    fn stop_words_and_single_callers_are_not_suggested() {
        let d = Discovery::new();
        let all = said(&[
            ("a", "the app is the problem"),
            ("b", "the app is fine"),
            ("c", "我觉得还可以"),
            ("d", "我觉得还行"),
            ("e", "余额宝利息太低"),
        ]);
        let uncovered: Vec<&Said> = all.iter().collect();
        let found = d.discover(&uncovered, &all, Limits::default());
        let phrases: Vec<&str> = found.iter().map(|p| p.phrase.as_str()).collect();
        assert_eq!(phrases, ["app"]);
    }

    #[test]
    fn a_phrase_said_everywhere_weighs_less_than_a_rare_one() {
        let d = Discovery::new();
        let mut all = said(&[
            ("a", "刷脸支付不灵"),
            ("b", "刷脸支付不灵敏"),
            ("c", "转账到账慢"),
            ("d", "转账到账很慢"),
        ]);
        // Many covered texts say 转账 as well: common, so it weighs less.
        for i in 0..20 {
            all.push(Said::new(format!("x{i}"), "转账手续费太高"));
        }
        let uncovered: Vec<&Said> = all.iter().take(4).collect();
        let found = d.discover(&uncovered, &all, Limits::default());
        assert_eq!(found[0].phrase, "刷脸支付");
        assert!(found.iter().all(|p| p.weight > 0.0));
    }
}
