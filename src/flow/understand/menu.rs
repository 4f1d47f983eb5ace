//! Menu choices: "余额", "the second one", "选二".

use std::collections::BTreeSet;
use std::sync::LazyLock;

use super::number::{Mention, Said, hear};
use super::phrases::{Phrases, any_between, starts_with};
use super::text::{clauses, normalise, tokens};

/// One option of a menu question, as a flow declares it.
#[derive(Clone, Copy, Debug)]
pub struct MenuOption<'a> {
    /// The keypad key of the option ("1", "2" …).
    pub key: &'a str,
    /// Keywords/phrases the flow declares for the option (any language).
    pub words: &'a [String],
}

/// Words that make a bare number a choice: "option one", "选二", "press 3".
#[rustfmt::skip]
const KEY_INTROS: &[&str] = &[
    "option", "number", "press", "pressing", "key", "choice", "choose", "select", "pick", "item",
    "digit", "go with", "选", "选择", "按", "选项", "数字", "按键", "要",
];

/// Words that may surround a bare number said as an answer on its own ("two, please", "我选一").
#[rustfmt::skip]
const AROUND_A_KEY: &[&str] = &[
    "please", "thanks", "thank", "you", "ok", "okay", "yes", "yeah", "its", "it", "is", "i", "the",
    "say", "id", "ill", "im", "would", "lets", "go", "with", "want", "take", "me", "for", "guess",
    "option", "number", "press", "key", "choose", "select", "pick", "选", "择", "按", "项", "号",
    "键", "好", "的", "了", "谢", "请", "我", "是", "就", "那", "要", "数", "字",
];

/// The last option, whatever its key.
#[rustfmt::skip]
const LAST: &[&str] = &[
    "last one", "last option", "the last", "最后一个", "最后那个", "最后一项", "最后一种",
];

/// Words that turn away from the choice after them: "不要退款", "not the first one".
#[rustfmt::skip]
const NEGATORS: &[&str] = &[
    "not", "dont", "do not", "never", "isnt", "不", "不是", "不要", "不用", "别", "不需要", "不想",
    "不选", "不太", "不怎么", "并不", "不算", "没", "没有",
];
/// Look like [`NEGATORS`] but turn away from nothing.
#[rustfmt::skip]
const NOT_NEGATORS: &[&str] = &[
    "不好意思", "不过", "不然", "不管", "不错", "不客气", "不仅", "不知道", "没问题", "没关系",
    "没事", "not sure", "dont know",
];

/// How many tokens before a choice a negator still reaches it.
const NEGATION_REACH: usize = 4;

/// How callers name the two symbol keys.
const STAR_WORDS: &[&str] = &["star", "星号", "星键", "米字", "米字键"];
const HASH_WORDS: &[&str] = &["pound", "hash", "hashtag", "井号", "井号键", "井字键"];

static INTROS: LazyLock<Phrases<()>> = LazyLock::new(|| Phrases::new(&[(KEY_INTROS, ())]));
static LAST_ONE: LazyLock<Phrases<()>> = LazyLock::new(|| Phrases::new(&[(LAST, ())]));
static TURN_AWAY: LazyLock<Phrases<bool>> =
    LazyLock::new(|| Phrases::new(&[(NEGATORS, true), (NOT_NEGATORS, false)]));

/// Something in the answer that points at an option.
#[derive(Clone, Copy, Debug)]
struct Pick {
    /// `None` when it points at a key the menu does not have ("option five" of three).
    option: Option<usize>,
    start: usize,
    end: usize,
}

impl Pick {
    fn covers(&self, other: &Pick) -> bool {
        self.start <= other.start
            && other.end <= self.end
            && self.end - self.start > other.end - other.start
    }
}

/// Reads which option of a menu the caller chose.
///
/// Declared words match on normalised text: Mandarin anywhere in the answer,
/// English as whole words that may carry an ending ("refund" matches
/// "refunds", "refunded"), so "one" never matches inside "someone". A word
/// inside a longer word of another option does not count ("是" inside "不是").
/// Keys count when said as a choice — an ordinal ("第二个", "the second one"),
/// or a number introduced ("option two", "选二", "二号") or said alone ("two,
/// please") — so "I have one question" is not option one. A choice the caller
/// turns away from ("不要退款", "not the first one") does not count.
///
/// `None` when nothing points at an option, or more than one option is pointed
/// at, or the caller names a key the menu does not have.
pub fn menu(text: &str, options: &[MenuOption<'_>]) -> Option<usize> {
    let clauses = clauses(text);
    let toks: Vec<&str> = clauses.iter().flat_map(|clause| tokens(clause)).collect();
    let mut picks = word_picks(text, &toks, options);
    picks.extend(key_picks(&toks, options));
    // A negation does not reach across a comma, so each token knows where its clause starts.
    let clause_starts: Vec<usize> = clauses
        .iter()
        .scan(0, |start, clause| {
            let len = tokens(clause).len();
            let here = *start;
            *start += len;
            Some(std::iter::repeat_n(here, len))
        })
        .flatten()
        .collect();
    let negators = TURN_AWAY.scan(&toks);
    let mut chosen = BTreeSet::new();
    for pick in picks {
        let clause_start = clause_starts.get(pick.start).copied().unwrap_or(0);
        let from = pick.start.saturating_sub(NEGATION_REACH).max(clause_start);
        if any_between(&negators, from, pick.start) {
            continue;
        }
        chosen.insert(pick.option?);
    }
    match chosen.len() {
        1 => chosen.first().copied(),
        _ => None,
    }
}

/// Where the caller said an option's declared words (or spoke a symbol key).
fn word_picks(text: &str, toks: &[&str], options: &[MenuOption<'_>]) -> Vec<Pick> {
    let mut picks = Vec::new();
    for (index, option) in options.iter().enumerate() {
        let key = option.key.trim();
        let symbol_words = match key {
            "*" => STAR_WORDS,
            "#" => HASH_WORDS,
            _ => &[],
        };
        let words = option.words.iter().map(String::as_str);
        for word in words.chain(symbol_words.iter().copied()) {
            let word = normalise(word);
            let word = tokens(&word);
            for start in 0..toks.len() {
                if let Some(end) = word_at(toks, start, &word) {
                    let option = Some(index);
                    picks.push(Pick { option, start, end });
                }
            }
        }
        // "*" and "#" vanish in normalising; a recogniser may hand them back verbatim.
        if !key.is_empty() && text.trim() == key {
            let option = Some(index);
            picks.push(Pick {
                option,
                start: 0,
                end: toks.len(),
            });
        }
    }
    let all = picks.clone();
    picks.retain(|pick| {
        !all.iter()
            .any(|other| other.option != pick.option && other.covers(pick))
    });
    picks
}

/// Where the caller named an option by its key or its place: "二号", "the second one", "最后一个".
fn key_picks(toks: &[&str], options: &[MenuOption<'_>]) -> Vec<Pick> {
    let mut picks = Vec::new();
    for mention in hear(toks).mentions {
        let key = match mention.said {
            Said::Ordinal(n) => n,
            Said::Number(n) if !mention.counted && said_as_key(toks, &mention) => n,
            _ => continue,
        };
        let key = key.to_string();
        let option = options.iter().position(|option| option.key.trim() == key);
        picks.push(Pick {
            option,
            start: mention.start,
            end: mention.end,
        });
    }
    for found in LAST_ONE.scan(toks) {
        let option = options.len().checked_sub(1);
        picks.push(Pick {
            option,
            start: found.start,
            end: found.end,
        });
    }
    picks
}

/// Where a declared word matches at `start`, the token after it.
fn word_at(toks: &[&str], start: usize, word: &[&str]) -> Option<usize> {
    let (last, init) = word.split_last()?;
    if !starts_with(toks, start, init) {
        return None;
    }
    let heard = *toks.get(start + init.len())?;
    (heard == *last || inflects(last, heard)).then_some(start + word.len())
}

/// Whether `heard` is `word` with a regular English ending: refund → refunds,
/// refunded; charge → charging; delivery → deliveries.
fn inflects(word: &str, heard: &str) -> bool {
    if word.len() < 3 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
        return false;
    }
    let ending = |stem: Option<&str>, endings: &[&str]| {
        stem.and_then(|stem| heard.strip_prefix(stem))
            .is_some_and(|ending| endings.contains(&ending))
    };
    ending(Some(word), &["s", "es", "ed", "d", "ing"])
        || ending(word.strip_suffix('e'), &["ing", "ed"])
        || ending(word.strip_suffix('y'), &["ies", "ied"])
}

/// Whether a bare number was said as a choice rather than as a count.
fn said_as_key(toks: &[&str], mention: &Mention) -> bool {
    let introduced = (1..=2).any(|len| {
        mention
            .start
            .checked_sub(len)
            .is_some_and(|start| INTROS.longest_at(toks, start) == Some((len, ())))
    });
    let keyed = toks
        .get(mention.end)
        .is_some_and(|t| matches!(*t, "号" | "键"));
    let alone = toks
        .iter()
        .enumerate()
        .filter(|(i, _)| !(mention.start..mention.end).contains(i))
        .all(|(_, t)| AROUND_A_KEY.contains(t));
    introduced || keyed || alone
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::understand::assert_table;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn a_choice_is_read_from_words_keys_and_ordinals() {
        let balance = words(&["余额", "balance", "查余额"]);
        let refund = words(&["退款", "Refund", "退钱"]);
        let other = words(&["其他", "other", "something else"]);
        let options = [
            MenuOption {
                key: "1",
                words: &balance,
            },
            MenuOption {
                key: "2",
                words: &refund,
            },
            MenuOption {
                key: "3",
                words: &other,
            },
        ];
        assert_table(
            &[
                ("余额", Some(0)),
                ("我想查一下余额。", Some(0)),
                ("Balance, please.", Some(0)),
                ("BALANCE", Some(0)),
                ("I want a refund", Some(1)),
                ("refunds", Some(1)),
                ("I'd like my money refunded", Some(1)),
                ("I'd say two", Some(1)),
                ("I'll go with two", Some(1)),
                ("退款", Some(1)),
                ("嗯，我要退钱", Some(1)),
                ("其他问题", Some(2)),
                ("Something else.", Some(2)),
                ("一", Some(0)),
                ("1", Some(0)),
                ("１", Some(0)),
                ("第一个", Some(0)),
                ("第一个吧", Some(0)),
                ("选二", Some(1)),
                ("二号", Some(1)),
                ("选项一", Some(0)),
                ("按1", Some(0)),
                ("1号键", Some(0)),
                ("我选第三个", Some(2)),
                ("option one", Some(0)),
                ("Option 2 please", Some(1)),
                ("the first one", Some(0)),
                ("The second one, please.", Some(1)),
                ("number three", Some(2)),
                ("Three.", Some(2)),
                ("press 3", Some(2)),
                ("3rd", Some(2)),
                ("最后一个", Some(2)),
                ("the last one", Some(2)),
                ("不是第一个，是第二个", Some(1)),
                ("not the first one, the second", Some(1)),
                ("我不要退款，我要查余额", Some(0)),
                ("I don't want a refund, just the balance", Some(0)),
                ("退款，就是第二个", Some(1)),
            ],
            |text| menu(text, &options),
        );
    }

    #[test]
    fn no_choice_or_two_choices_is_no_answer() {
        let balance = words(&["余额", "balance"]);
        let refund = words(&["退款", "refund"]);
        let other = words(&["其他", "other"]);
        let options = [
            MenuOption {
                key: "1",
                words: &balance,
            },
            MenuOption {
                key: "2",
                words: &refund,
            },
            MenuOption {
                key: "3",
                words: &other,
            },
        ];
        assert_table(
            &[
                ("", None),
                ("嗯", None),
                ("余额和退款", None),
                ("balance or refund", None),
                ("第一个还是第二个", None),
                ("one or two", None),
                ("第四个", None),
                ("option five", None),
                ("退款，第一个", None),
                ("我有一个问题", None),
                ("I have one question", None),
                ("someone told me", None),
                ("我想问一下", None),
                ("两个都要", None),
                ("imbalance", None),
                ("第一次打电话", None),
                ("not the first one", None),
                ("不要退款", None),
                ("没有退款", None),
                ("不太想退款", None),
                ("不好意思，余额", Some(0)),
                ("不好意思余额", Some(0)),
                ("不要，余额", Some(0)),
                ("wait a second", None),
            ],
            |text| menu(text, &options),
        );
    }

    #[test]
    fn a_word_inside_another_options_longer_word_does_not_count() {
        let yes = words(&["是", "满意"]);
        let no = words(&["不是", "不满意"]);
        let options = [
            MenuOption {
                key: "1",
                words: &yes,
            },
            MenuOption {
                key: "2",
                words: &no,
            },
        ];
        assert_table(
            &[
                ("是的", Some(0)),
                ("满意", Some(0)),
                ("不是", Some(1)),
                ("不满意", Some(1)),
                ("我不满意", Some(1)),
                ("不太满意", None),
                ("不是很满意", Some(1)),
                ("没有不满意", None),
            ],
            |text| menu(text, &options),
        );
    }

    #[test]
    fn the_symbol_keys_can_be_spoken() {
        let none: Vec<String> = Vec::new();
        let options = [
            MenuOption {
                key: "1",
                words: &none,
            },
            MenuOption {
                key: "*",
                words: &none,
            },
            MenuOption {
                key: "#",
                words: &none,
            },
        ];
        assert_table(
            &[
                ("星号", Some(1)),
                ("*", Some(1)),
                ("star", Some(1)),
                ("井号键", Some(2)),
                ("pound", Some(2)),
                ("#", Some(2)),
                ("one", Some(0)),
            ],
            |text| menu(text, &options),
        );
    }

    #[test]
    fn an_empty_menu_chooses_nothing() {
        assert_eq!(menu("one", &[]), None);
        assert_eq!(menu("the last one", &[]), None);
    }
}
