//! Yes or no.
//!
//! Answers are read phrase by phrase against the tables below, longest phrase
//! first, so "没有解决" is read as one no rather than a no (没有) and a yes (解决).
//! The only rule beyond the tables is negation reach: a negator ("not", "不太")
//! turns a positive word a few tokens after it into a no, because callers put
//! adverbs in between ("not really fixed", "不是很满意") that no table can list.
//!
//! A negator before a *no* is a double negation, and the opposite of what
//! either word says alone. Which one it is depends on the negator: "并不是没解决"
//! can only be a yes; "也不是没解决" is a hedge ("not that it isn't…, but");
//! a bare "不是没解决" is also what a recogniser writes for "不是，没解决" with
//! its comma dropped, so it is asked again rather than stored as either.

use std::sync::LazyLock;

use super::phrases::Phrases;
use super::text::{clauses, tokens};

/// What a phrase says about the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sense {
    /// A yes wherever it stands.
    Yes,
    /// A yes that a negator shortly before turns into a no.
    NegatableYes,
    /// A yes only when it opens a clause: mid-sentence 是 is "is" and 对 is "towards".
    OpeningYes,
    /// A yes only when nothing in the answer says no: "ok", "right" and "好" are as
    /// often a caller acknowledging the question before answering it.
    WeakYes,
    No,
    /// A no that also negates the positive word shortly after it. Before a
    /// no it is a doubt: the same words, comma dropped, are two noes.
    Negator,
    /// A negator that cannot stand alone as an answer, so before a no it
    /// denies it: "并不是没解决", "it's not that it isn't fixed" are a yes.
    Litotes,
    /// A negator that hedges before a no: "也不是没解决", "not exactly unhappy".
    Hedge,
    /// The caller does not know, did not hear, or hedges: ask again.
    Unclear,
    /// Contains yes/no characters but means neither ("不好意思", "right now").
    Neutral,
}

/// How many tokens may stand between a negator and the word it negates.
const NEGATION_REACH: usize = 3;

#[rustfmt::skip]
const YES: &[&str] = &[
    "是的", "对的", "没错", "没问题", "没有问题", "没什么问题", "没啥问题", "没毛病", "不错",
    "当然", "当然可以", "肯定", "必须的", "确实", "对头", "也行", "还行", "那行", "都行", "就行",
    "也可以", "还可以", "都可以", "解决了", "已经解决了", "已经解决", "已解决", "解决好了",
    "都解决了", "搞定", "搞定了", "弄好了", "处理好了", "修好了", "没有任何问题", "没任何问题",
    "一点问题都没有", "一点问题也没有", "什么问题都没有", "啥问题都没有",
    //
    "yes", "yeah", "yea", "ya", "yep", "yup", "sure", "sure thing", "for sure", "of course",
    "thats right", "thats correct", "you bet", "absolutely", "definitely", "certainly", "indeed",
    "affirmative", "i think so", "i guess so", "i suppose so", "i believe so", "uh huh", "mm hmm",
    "mhm", "no problem", "not a problem", "no problems", "no issues", "no issue", "no complaints",
    "nothing wrong", "no trouble", "no worries", "not bad", "not too bad", "dont mind",
    "do not mind", "why not", "couldnt be better", "cant complain", "all good", "all set",
    "all sorted", "thats true",
];

#[rustfmt::skip]
const NEGATABLE_YES: &[&str] = &[
    "满意", "同意", "愿意", "正确", "成功", "收到", "到账",
    //
    "solved", "resolved", "fixed", "sorted", "sorted out", "taken care of", "correct", "fine",
    "good", "great", "perfect", "excellent", "satisfied", "happy", "agree", "willing", "working",
    "works", "done", "true", "exactly", "successful", "received",
];

const OPENING_YES: &[&str] = &["是", "对", "行", "可以"];

#[rustfmt::skip]
const WEAK_YES: &[&str] = &[
    "好", "好的", "好了",
    //
    "ok", "okay", "o k", "right", "alright", "all right", "it is", "it was", "it has", "it did",
    "i do", "i did",
];

#[rustfmt::skip]
const NO: &[&str] = &[
    "不对", "没解决", "没有解决", "还没解决", "还没有解决", "未解决", "不行", "不可以", "不用",
    "不要", "不满意", "不同意", "不愿意", "算了", "还是不行", "还有问题", "还是有问题", "问题还在",
    "有点问题", "有些问题", "一点问题", "小问题", "不好", "不能", "不会", "不需要", "不想", "没用",
    "失败", "错了", "否",
    //
    "no", "nope", "nah", "negative", "no way", "not at all", "of course not", "absolutely not",
    "definitely not", "certainly not", "i dont think so", "dont think so", "no thanks",
    "no thank you", "no good", "wrong", "incorrect", "unresolved", "unsolved", "unsatisfied",
    "dissatisfied", "unhappy", "disagree", "broken", "still broken", "failed", "still the same",
    "same problem", "still having", "still have", "still waiting", "nothing changed",
];

#[rustfmt::skip]
const NEGATORS: &[&str] = &[
    "不", "不是", "没", "没有", "还没", "还没有", "并不", "根本没有", "根本没", "根本不",
    "未", "不太", "不怎么", "没怎么", "没那么", "不那么", "不算", "不够", "从来没有", "从没",
    "一直没", "一直没有", "还是没", "还是没有",
    //
    "not", "never", "not yet", "not really", "not quite", "not completely", "not fully",
    "no longer", "still not", "isnt", "wasnt", "hasnt", "havent", "hadnt", "didnt", "doesnt",
    "dont", "cant", "cannot", "wont", "arent", "werent", "aint", "couldnt", "wouldnt", "shouldnt",
];

#[rustfmt::skip]
const LITOTES: &[&str] = &[
    "并不是", "并没有", "倒不是", "倒也不是", "又不是", "不是说", "并非",
    //
    "not that", "its not that", "isnt that", "wasnt that", "its not as if", "not as if",
];

#[rustfmt::skip]
const HEDGES: &[&str] = &[
    "也不是", "也不算", "不能说", "也不能说",
    //
    "not exactly", "wouldnt say",
];

#[rustfmt::skip]
const UNCLEAR: &[&str] = &[
    "不知道", "不知", "不清楚", "不太清楚", "不是很清楚", "不确定", "不太确定", "不是很确定",
    "不一定", "说不好", "不好说", "说不准", "差不多", "不记得", "不太记得", "记不清", "忘了",
    "没听清", "没听清楚", "没听到", "没听见", "听不清", "听不到", "没听懂", "听不懂", "什么意思",
    "再说一遍", "一部分", "部分解决", "一半", "是不是", "对不对", "好不好", "行不行", "可不可以",
    "有没有", "要不要", "是否", "算是", "还好", "也许", "可能", "大概", "或许", "好像", "似乎",
    "问题不大", "没什么",
    //
    "not sure", "i dont know", "dont know", "dunno", "no idea", "maybe", "perhaps", "possibly",
    "probably", "kind of", "kinda", "sort of", "sorta", "partly", "partially", "somewhat",
    "more or less", "half", "mostly", "almost", "nearly", "hard to say", "cant say", "didnt catch",
    "didnt hear", "cant hear", "couldnt hear", "pardon", "come again", "say that again",
    "say again", "repeat", "what do you mean", "depends", "dont remember", "cant remember",
    "forgot", "yes and no", "not that bad", "its not that bad", "not so bad",
];

#[rustfmt::skip]
const NEUTRAL: &[&str] = &[
    "你好", "您好", "不好意思", "对不起", "没关系", "没事", "不客气", "好多", "好几", "好久",
    "好慢", "好烦", "好难", "只好", "最好", "不过", "不然", "不管", "要不", "不少", "不仅", "不断",
    "不同", "不一样", "不久", "不小心", "没想到", "还是", "但是", "可是", "要是", "总是", "老是",
    "只是", "真是", "于是", "对了", "对于", "银行", "行业", "进行", "执行", "运行", "行为", "旅行",
    "可以吗",
    //
    "right now", "right away", "right here", "right there", "no one", "good morning",
    "good afternoon", "good evening", "good night", "make sure", "never mind", "dont worry",
    "no offense", "not only", "if not", "whether or not",
];

static PHRASES: LazyLock<Phrases<Sense>> = LazyLock::new(|| {
    Phrases::new(&[
        (YES, Sense::Yes),
        (NEGATABLE_YES, Sense::NegatableYes),
        (OPENING_YES, Sense::OpeningYes),
        (WEAK_YES, Sense::WeakYes),
        (NO, Sense::No),
        (NEGATORS, Sense::Negator),
        (LITOTES, Sense::Litotes),
        (HEDGES, Sense::Hedge),
        (UNCLEAR, Sense::Unclear),
        (NEUTRAL, Sense::Neutral),
    ])
});

/// Reads a spoken answer to a yes/no question.
///
/// Says `None` rather than guess: when the caller says both ("是，不是"), hedges
/// ("maybe", "差不多"), or says nothing that answers, because asking again costs
/// a few seconds and a wrong answer costs the survey its meaning.
pub fn yes_no(text: &str) -> Option<bool> {
    let clauses = clauses(text);
    if clauses.is_empty() {
        return murmured_assent(text).then_some(true);
    }
    let toks: Vec<Vec<&str>> = clauses.iter().map(|clause| tokens(clause)).collect();
    if bare_you(&toks) {
        return Some(true);
    }
    let mut heard = Heard::default();
    for clause in &toks {
        // "满意吗？" is the caller asking back, not answering.
        if clause.last() == Some(&"吗") {
            continue;
        }
        heard.read(clause)?;
    }
    heard.verdict()
}

/// What the answer has said so far.
#[derive(Default)]
struct Heard {
    yes: bool,
    weak_yes: bool,
    no: bool,
    /// A negator before a no that may be either answer: never a no verdict.
    doubt: bool,
}

impl Heard {
    /// Takes in one clause; `None` when the caller said they are unsure.
    fn read(&mut self, toks: &[&str]) -> Option<()> {
        // A negator waits for the phrase after it: what it means depends on it.
        let mut pending: Option<(usize, Sense)> = None;
        for found in PHRASES.scan(toks) {
            let before = pending
                .take()
                .filter(|&(end, _)| found.start.saturating_sub(end) <= NEGATION_REACH)
                .map(|(_, negator)| negator);
            let double = matches!(
                found.what,
                Sense::No | Sense::Negator | Sense::Litotes | Sense::Hedge
            );
            match (before, found.what) {
                (Some(Sense::Litotes), _) if double => {
                    self.yes = true;
                    continue;
                }
                (Some(Sense::Hedge), _) if double => return None,
                (Some(_), Sense::No) => {
                    self.doubt = true;
                    continue;
                }
                // The negator is the no; the positive word it reaches is void.
                (Some(_), Sense::NegatableYes | Sense::WeakYes) => {
                    self.no = true;
                    continue;
                }
                (Some(_), _) => self.no = true,
                (None, _) => {}
            }
            match found.what {
                Sense::Unclear => return None,
                Sense::Negator | Sense::Litotes | Sense::Hedge => {
                    pending = Some((found.end, found.what));
                }
                Sense::No => self.no = true,
                Sense::Yes | Sense::NegatableYes => self.yes = true,
                Sense::WeakYes => self.weak_yes = true,
                Sense::OpeningYes => self.yes |= found.start == 0,
                Sense::Neutral => {}
            }
        }
        if pending.is_some() {
            self.no = true;
        }
        Some(())
    }

    fn verdict(&self) -> Option<bool> {
        match (self.yes, self.weak_yes, self.no, self.doubt) {
            (true, _, true, _) => None,
            (true, _, false, _) => Some(true),
            // A doubt could be a yes: neither a no nor an acknowledgement decides it.
            (false, _, _, true) => None,
            (false, _, true, false) => Some(false),
            (false, true, false, false) => Some(true),
            _ => None,
        }
    }
}

/// "嗯嗯" alone is assent; a single 嗯, or 嗯 before an answer, is only a hesitation.
fn murmured_assent(text: &str) -> bool {
    let mut murmurs = 0;
    for c in text.chars() {
        match c {
            '嗯' => murmurs += 1,
            c if c.is_alphanumeric() => return false,
            _ => {}
        }
    }
    murmurs >= 2
}

/// "有" ("there is", "I have") is a yes only when it is the whole answer; inside
/// a sentence it is usually "有问题" — "there is a problem".
fn bare_you(clauses: &[Vec<&str>]) -> bool {
    let mut all = clauses.iter().flatten();
    all.clone().any(|&t| t == "有") && all.all(|&t| t == "有" || t == "的")
}

#[rustfmt::skip]
const HINTS_ZH: &[&str] = &[
    "是", "是的", "对", "对的", "好的", "可以", "没错", "没问题", "解决了", "已经解决了", "满意",
    "不", "不是", "不对", "没有", "还没有", "没解决", "没有解决", "不满意", "不用", "不要",
];
#[rustfmt::skip]
const HINTS_EN: &[&str] = &[
    "yes", "yeah", "yep", "sure", "correct", "right", "solved", "resolved", "fixed", "no", "nope",
    "not yet", "not really", "not solved", "still broken",
];
/// [`HINTS_ZH`] then [`HINTS_EN`], for a caller whose language is not known.
#[rustfmt::skip]
const HINTS_BOTH: &[&str] = &[
    "是", "是的", "对", "对的", "好的", "可以", "没错", "没问题", "解决了", "已经解决了", "满意",
    "不", "不是", "不对", "没有", "还没有", "没解决", "没有解决", "不满意", "不用", "不要", "yes",
    "yeah", "yep", "sure", "correct", "right", "solved", "resolved", "fixed", "no", "nope",
    "not yet", "not really", "not solved", "still broken",
];

/// Phrases worth biasing a recogniser towards for a yes/no question.
///
/// Short answers are what recognisers get wrong most ("是" heard as "四"), and
/// they are exactly what a yes/no question expects. Only the language's primary
/// subtag counts ("zh-CN", "zh_TW", "cmn-Hans-CN", "en-GB"); an unknown language
/// gets both lists, since a wasted hint costs little and a missing one costs a retry.
pub fn yes_no_hints(language: &str) -> &'static [&'static str] {
    let primary = language
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match primary.as_str() {
        "zh" | "cmn" => HINTS_ZH,
        "en" => HINTS_EN,
        _ => HINTS_BOTH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::understand::{assert_table, normalise};

    #[test]
    fn plain_mandarin_answers_are_understood() {
        assert_table(
            &[
                ("是", Some(true)),
                ("是的。", Some(true)),
                ("是的是的", Some(true)),
                ("对", Some(true)),
                ("对的", Some(true)),
                ("对啊！", Some(true)),
                ("对对对", Some(true)),
                ("嗯嗯", Some(true)),
                ("嗯嗯。", Some(true)),
                ("好的", Some(true)),
                ("好吧", Some(true)),
                ("可以", Some(true)),
                ("行", Some(true)),
                ("行吧", Some(true)),
                ("没错", Some(true)),
                ("解决了", Some(true)),
                ("已经解决了，谢谢", Some(true)),
                ("嗯，是的，已经解决了", Some(true)),
                ("已解决", Some(true)),
                ("搞定了", Some(true)),
                ("满意", Some(true)),
                ("非常满意！", Some(true)),
                ("同意", Some(true)),
                ("愿意", Some(true)),
                ("有", Some(true)),
                ("有的", Some(true)),
                ("当然", Some(true)),
                ("当然可以", Some(true)),
                ("问题解决了", Some(true)),
                ("早就好了", Some(true)),
                ("收到了", Some(true)),
                ("钱已经到账了", Some(true)),
                ("不", Some(false)),
                ("不是", Some(false)),
                ("不是啊", Some(false)),
                ("不对", Some(false)),
                ("没有", Some(false)),
                ("没有。", Some(false)),
                ("没", Some(false)),
                ("还没", Some(false)),
                ("还没呢", Some(false)),
                ("还没有", Some(false)),
                ("没解决", Some(false)),
                ("未解决", Some(false)),
                ("不行", Some(false)),
                ("不可以", Some(false)),
                ("不用了，谢谢", Some(false)),
                ("不要", Some(false)),
                ("不同意", Some(false)),
                ("不愿意", Some(false)),
                ("算了吧", Some(false)),
                ("没有没有", Some(false)),
            ],
            yes_no,
        );
    }

    #[test]
    fn a_negated_solved_is_a_no() {
        assert_table(
            &[
                ("没有解决", Some(false)),
                ("还没解决", Some(false)),
                ("还没有解决呢", Some(false)),
                ("呃，就是还没有解决", Some(false)),
                ("没有，还没解决", Some(false)),
                ("还是没有解决", Some(false)),
                ("根本没解决", Some(false)),
                ("没有完全解决", Some(false)),
                ("不满意", Some(false)),
                ("不太满意", Some(false)),
                ("不是很满意", Some(false)),
                ("一点也不满意", Some(false)),
                ("还是不行", Some(false)),
                ("还有问题", Some(false)),
                ("还有点问题", Some(false)),
                ("没收到", Some(false)),
                ("还没到账", Some(false)),
                ("I haven't received it", Some(false)),
                ("No.", Some(false)),
                ("nope", Some(false)),
                ("Nah, not yet.", Some(false)),
                ("not solved", Some(false)),
                ("Not really.", Some(false)),
                ("not really fixed", Some(false)),
                ("It's not fixed yet", Some(false)),
                ("No, it hasn't been fixed", Some(false)),
                ("It isn't.", Some(false)),
                ("it wasn't", Some(false)),
                ("It is not working", Some(false)),
                ("Unresolved", Some(false)),
                ("No, it's still broken.", Some(false)),
                ("I don't think so", Some(false)),
                ("I don't", Some(false)),
                ("Not happy at all", Some(false)),
                ("Right, so it's still not working", Some(false)),
                ("Of course not", Some(false)),
                ("Absolutely not!", Some(false)),
                ("Negative", Some(false)),
                ("That's not right", Some(false)),
                ("Well, not really", Some(false)),
            ],
            yes_no,
        );
    }

    #[test]
    fn positive_phrases_built_from_negative_words_are_a_yes() {
        assert_table(
            &[
                ("没问题", Some(true)),
                ("没问题！", Some(true)),
                ("没有问题", Some(true)),
                ("嗯，没什么问题了", Some(true)),
                ("不错", Some(true)),
                ("还不错", Some(true)),
                ("挺不错的", Some(true)),
                ("没毛病", Some(true)),
                ("No problem", Some(true)),
                ("not bad", Some(true)),
                ("Not a problem at all", Some(true)),
                ("I don't mind", Some(true)),
                ("Sure, why not", Some(true)),
                ("Couldn't be better", Some(true)),
            ],
            yes_no,
        );
    }

    #[test]
    fn plain_english_answers_are_understood() {
        assert_table(
            &[
                ("Yes.", Some(true)),
                ("YES!", Some(true)),
                ("yeah", Some(true)),
                ("Yep", Some(true)),
                ("yup.", Some(true)),
                ("Sure", Some(true)),
                ("Of course!", Some(true)),
                ("Correct", Some(true)),
                ("That's correct.", Some(true)),
                ("That's right", Some(true)),
                ("Right.", Some(true)),
                ("It is.", Some(true)),
                ("Yes it was", Some(true)),
                ("It's solved", Some(true)),
                ("It has been resolved, thanks", Some(true)),
                ("fixed", Some(true)),
                ("Yeah, it's all fixed now", Some(true)),
                ("OK", Some(true)),
                ("okay", Some(true)),
                ("Fine", Some(true)),
                ("Absolutely", Some(true)),
                ("definitely", Some(true)),
                ("I do", Some(true)),
                ("Uh-huh", Some(true)),
                ("Mm-hmm.", Some(true)),
                ("Hmm... yes", Some(true)),
                ("Um, yeah, I think so", Some(true)),
                ("You know, it works now", Some(true)),
                ("Yes please", Some(true)),
                ("Yes, I'm happy with it", Some(true)),
                ("all good, thank you", Some(true)),
            ],
            yes_no,
        );
    }

    #[test]
    fn a_denied_no_is_a_yes_where_nothing_else_can_be_meant() {
        assert_table(
            &[
                ("并不是没解决", Some(true)),
                ("我并不是不满意", Some(true)),
                ("并没有不满意", Some(true)),
                ("倒不是没解决，就是处理得太慢了", Some(true)),
                ("又不是没解决", Some(true)),
                ("不是没解决，已经解决了", Some(true)),
                ("不是没有解决，是解决了", Some(true)),
                ("It's not that it isn't fixed", Some(true)),
                ("it's not that it isn't fixed, it's just slow", Some(true)),
                ("It isn't that it's unresolved", Some(true)),
                ("It's not as if it didn't work", Some(true)),
            ],
            yes_no,
        );
    }

    #[test]
    fn a_double_negation_that_could_be_either_is_asked_again() {
        assert_table(
            &[
                // The same words as "不是，没解决" once a recogniser drops the comma.
                ("不是没解决", None),
                ("不是没有解决", None),
                ("没有不满意", None),
                // A hedge: "not that it isn't…", usually followed by a "but".
                ("也不是没解决", None),
                ("也不是没解决，就是还有点慢", None),
                ("也不是不满意吧", None),
                ("不能说没解决吧", None),
                ("不是不满意，就是觉得手续费有点高", None),
                // "It's not that there are no problems", or "no; no problems".
                ("不是没有问题", None),
                ("I'm not unhappy", None),
                ("not unresolved", None),
                ("Not exactly unhappy", None),
                ("It's not that bad", None),
            ],
            yes_no,
        );
    }

    #[test]
    fn a_negator_alone_keeps_its_meaning() {
        assert_table(
            &[
                ("不是，没解决", Some(false)),
                ("并没有解决", Some(false)),
                ("并不满意", Some(false)),
                ("也不是很满意", Some(false)),
                ("Not that I know of", Some(false)),
                ("I'm not that happy", Some(false)),
                ("Not exactly", Some(false)),
            ],
            yes_no,
        );
    }

    #[test]
    fn no_problems_is_a_yes() {
        assert_table(
            &[
                ("yes, no problems", Some(true)),
                ("Yes no problems at all", Some(true)),
                ("No issues, thanks", Some(true)),
                ("No complaints", Some(true)),
                ("Nothing wrong with it now", Some(true)),
                ("是的，没什么问题", Some(true)),
                ("没有任何问题", Some(true)),
                ("对，一点问题都没有了", Some(true)),
                ("现在什么问题都没有了", Some(true)),
                ("No, problems still", Some(false)),
            ],
            yes_no,
        );
    }

    #[test]
    fn an_answer_that_says_both_is_unclear() {
        assert_table(
            &[
                ("yes no", None),
                ("Yes. No.", None),
                ("是 不是", None),
                ("是，不是", None),
                ("不，是的", None),
                ("对，还没解决", None),
                ("No, it's fixed", None),
                ("Yeah, nah", None),
                ("解决了，没解决", None),
                ("yes and no", None),
            ],
            yes_no,
        );
    }

    #[test]
    fn hedges_and_unrelated_talk_are_unclear() {
        assert_table(
            &[
                ("", None),
                ("。", None),
                ("嗯", None),
                ("嗯……", None),
                ("Um", None),
                ("Uh-uh", None),
                ("我想问一下余额", None),
                ("what's the weather", None),
                ("Hello?", None),
                ("你好", None),
                ("喂，你好", None),
                ("不知道", None),
                ("我不太清楚", None),
                ("差不多吧", None),
                ("好像解决了", None),
                ("解决了一部分", None),
                ("可能吧", None),
                ("什么？没听清", None),
                ("满意吗？", None),
                ("是不是", None),
                ("I'm not sure", None),
                ("I don't know", None),
                ("Maybe", None),
                ("sort of", None),
                ("Partially", None),
                ("Yeah, mostly", None),
                ("almost", None),
                ("是的，不过还有点小问题", None),
                ("Sorry, I didn't catch that", None),
                ("Pardon?", None),
                ("I'm busy right now", None),
                ("不好意思", None),
                ("我对你们有意见", None),
                ("这是我第一次打电话", None),
                ("有问题", None),
                ("someone called me", None),
                ("I know", None),
                ("yesterday", None),
                ("not sure it's fixed", None),
            ],
            yes_no,
        );
    }

    #[test]
    fn a_preposition_or_copula_is_not_an_answer() {
        assert_table(
            &[
                ("我对这个结果不满意", Some(false)),
                ("我对你们的服务很满意", Some(true)),
                ("这个问题是解决了", Some(true)),
                ("我可以问个问题", None),
                ("对了，我还想问一下", None),
            ],
            yes_no,
        );
    }

    #[test]
    fn an_acknowledgement_gives_way_to_the_answer_after_it() {
        assert_table(
            &[
                ("好的，还没解决", Some(false)),
                ("OK, no", Some(false)),
                ("ok so it's not fixed", Some(false)),
                ("好的，没问题", Some(true)),
                ("Okay, yes", Some(true)),
            ],
            yes_no,
        );
    }

    #[test]
    fn hints_follow_the_language_tag() {
        assert_eq!(yes_no_hints("zh-CN"), HINTS_ZH);
        assert_eq!(yes_no_hints("zh_TW"), HINTS_ZH);
        assert_eq!(yes_no_hints("cmn-Hans-CN"), HINTS_ZH);
        assert_eq!(yes_no_hints("en-US"), HINTS_EN);
        assert_eq!(yes_no_hints("EN"), HINTS_EN);
        assert_eq!(yes_no_hints("fr-FR"), HINTS_BOTH);
        assert_eq!(yes_no_hints(""), HINTS_BOTH);
        assert_eq!(yes_no_hints("english"), HINTS_BOTH);
    }

    #[test]
    fn the_hints_for_both_languages_are_the_two_lists_together() {
        assert_eq!(HINTS_BOTH, [HINTS_ZH, HINTS_EN].concat());
    }

    #[test]
    fn every_hint_is_understood() {
        for hint in HINTS_BOTH {
            assert!(
                yes_no(hint).is_some(),
                "{hint:?} is offered as a hint but not understood"
            );
        }
    }

    #[test]
    fn the_tables_are_written_in_normalised_form_and_never_disagree() {
        let mut seen = std::collections::HashMap::new();
        for group in [
            YES,
            NEGATABLE_YES,
            OPENING_YES,
            WEAK_YES,
            NO,
            NEGATORS,
            LITOTES,
            HEDGES,
            UNCLEAR,
            NEUTRAL,
        ] {
            for phrase in group {
                assert_eq!(normalise(phrase), *phrase, "table phrase is not normalised");
                let key = tokens(phrase).join(" ");
                assert!(
                    seen.insert(key, *phrase).is_none(),
                    "{phrase:?} is listed twice"
                );
            }
        }
        assert_eq!(PHRASES.phrases().count(), seen.len());
    }
}
