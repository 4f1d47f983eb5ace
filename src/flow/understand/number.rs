//! Numbers in spoken answers: ratings, NPS scores, option numbers.
//!
//! [`hear`] finds every number-like thing a caller said, and what kind it is;
//! [`number`] and the menu reader then decide what counts. The hard part is
//! what is *not* a number: Mandarin builds ordinary words from numerals (一下
//! "a moment", 一般 "so-so", 十分 "very"), and English uses "one" as a pronoun.
//! Those live in tables below, next to the words that mark a number as a scale
//! ("满分十分", "out of ten") or as inexact ("四点五", "三四分", "十几").

use std::sync::LazyLock;

use super::numerals::{Cardinal, cardinal_at, cardinal_word, ordinal_at};
use super::phrases::{Phrases, ends_with};
use super::text::{half_width, normalise, tokens};

/// A number-like thing the caller said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Said {
    /// A cardinal: "五", "5", "twenty three".
    Number(i64),
    /// An ordinal: "第一个", "the second one", "3rd".
    Ordinal(i64),
    /// The top of the scale, however many points that is: "满分", "full marks".
    Top,
    /// The bottom of the scale: "最低分", "the lowest".
    Bottom,
    /// "满分十分": either the scale's size or "full marks, ten points".
    TopOrScale(i64),
}

/// One [`Said`] and where it was said, in tokens.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mention {
    pub(super) said: Said,
    pub(super) start: usize,
    pub(super) end: usize,
    /// Followed by a measure word ("两个", "三条"): a count of things, not a choice.
    pub(super) counted: bool,
    /// Joined to the mention before by "到" / "to": the end of a range.
    pub(super) ends_range: bool,
}

/// Everything number-like in an utterance.
#[derive(Debug, Default)]
pub(super) struct Heard {
    pub(super) mentions: Vec<Mention>,
    /// Something was a fraction or an estimate ("四点五", "四分半", "十几", "eight or so").
    pub(super) inexact: bool,
}

/// Reads the one whole number a caller gave, within `min..=max`.
///
/// A number that has to be guessed at is `None`: two different numbers ("三到四分"),
/// a fraction ("4.5"), an estimate ("十几分"), or a number outside the scale
/// (never clamped: "eleven" on a 0–10 question is a mishearing, not a ten).
/// Mentions of the scale itself do not count ("8 out of 10", "满分十分我给八分",
/// "from one to ten, eight"), and "满分" / "full marks" mean `max`.
pub fn number(text: &str, min: i64, max: i64) -> Option<i64> {
    if min > max {
        return None;
    }
    let text = spell_out_symbols(text);
    let normalised = normalise(&text);
    let heard = hear(&tokens(&normalised));
    if heard.inexact {
        return None;
    }
    // Callers read a 0–10 question back as "1到10", so a range from 0 or 1 to the top is the scale too.
    let is_scale_range = |from: Option<&Mention>, to: Option<&Mention>| {
        from.zip(to).is_some_and(|(from, to)| {
            let from_bottom =
                [Said::Number(min), Said::Number(0), Said::Number(1)].contains(&from.said);
            from_bottom && to.said == Said::Number(max) && to.ends_range
        })
    };
    let mut values = Vec::new();
    let mut top_scale = false;
    for (k, mention) in heard.mentions.iter().enumerate() {
        // "从一到十，我给八分": a range across the whole scale is the question read back.
        if is_scale_range(Some(mention), heard.mentions.get(k + 1))
            || is_scale_range(
                k.checked_sub(1).and_then(|p| heard.mentions.get(p)),
                Some(mention),
            )
        {
            continue;
        }
        match mention.said {
            Said::Number(value) => values.push(value),
            Said::Top => values.push(max),
            Said::Bottom => values.push(min),
            Said::TopOrScale(size) => top_scale |= size == max,
            Said::Ordinal(_) => {}
        }
    }
    values.sort_unstable();
    values.dedup();
    match values[..] {
        [value] if (min..=max).contains(&value) => Some(value),
        // "满分十分" alone, on a ten-point question, is "full marks: ten".
        [] if top_scale => Some(max),
        _ => None,
    }
}

/// Spells out the two symbols that matter to a number before normalising drops them:
/// "8/10" is how recognisers write "eight out of ten", and "-1" is "minus one", not one.
fn spell_out_symbols(text: &str) -> String {
    let chars: Vec<char> = text.chars().map(half_width).collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|k| chars.get(k));
        let next_is_digit = chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c == '/' && prev.is_some_and(char::is_ascii_digit) && next_is_digit {
            out.push_str(" out of ");
        } else if c == '-' && !prev.is_some_and(|p| p.is_alphanumeric()) && next_is_digit {
            out.push_str(" minus ");
        } else {
            out.push(c);
        }
    }
    out
}

/// Finds every number-like thing in normalised tokens.
pub(super) fn hear(toks: &[&str]) -> Heard {
    let mut heard = Heard::default();
    let mut i = 0;
    while i < toks.len() {
        i = heard.hear_at(toks, i).max(i + 1);
    }
    heard
}

/// Words built from numerals, or containing number words, that are not numbers.
#[rustfmt::skip]
const NOT_NUMBERS: &[&str] = &[
    "一下", "一下子", "一些", "一般", "一样", "一直", "一起", "一定", "一会", "一会儿", "一切",
    "一共", "一边", "一旦", "一致", "一向", "一再", "一半", "一路", "一开始", "一方面", "一口气",
    "一模一样", "一次性", "一时", "一阵", "一早", "一个", "一块儿", "一心", "一塌糊涂", "一无是处",
    "一言难尽", "一丁点", "统一", "唯一", "万一", "之一", "一分都", "一分也", "二维码", "十足",
    "十全十美", "三心二意", "乱七八糟", "第一时间",
    //
    "no one", "one of", "one more", "one moment", "one sec", "one another", "one thing", "one way",
    "one by one", "at one point", "first of all", "at first", "first time", "the first time",
    "in the first place", "a second",
];

/// Words that name the scale rather than an answer on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Marker {
    Top,
    Bottom,
    /// Introduces the scale's size: "out of ten".
    Scale,
    /// The top, or the scale's size when a number follows: "满分" vs "满分十分".
    TopOrScale,
}

#[rustfmt::skip]
const TOP: &[&str] = &[
    "最高分", "full marks", "full score", "top marks", "top score", "perfect score", "highest",
];
const BOTTOM: &[&str] = &["最低分", "lowest"];
const TOP_OR_SCALE: &[&str] = &["满分", "满分是", "满分为", "满分有", "max", "maximum"];
const SCALE_BEFORE: &[&str] = &["out of", "总分", "总分是", "scale of", "scale from", "总共"];

/// What may follow a number and changes what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum After {
    /// A fraction or estimate: "四分半", "十几", "eight or so".
    Inexact,
    /// A unit of time or money: "等了两天", "two weeks" — not an answer.
    Unit,
    /// The number was the scale: "十分里给八分", "a 10 point scale".
    Scale,
    /// A measure word: "两个" counts things.
    Counted,
    /// Looks like one of the above but is not ("五分，多谢").
    Plain,
}

#[rustfmt::skip]
const INEXACT_AFTER: &[&str] = &[
    "半", "分半", "个半", "颗半", "星半", "多", "分多", "几", "来", "来分", "出头", "and a half",
    "and half", "or so", "ish", "something", "odd", "plus",
];
#[rustfmt::skip]
const UNITS_AFTER: &[&str] = &[
    "天", "次", "年", "个月", "月", "周", "星期", "个星期", "礼拜", "个礼拜", "小时", "个小时",
    "钟头", "个钟头", "分钟", "秒", "秒钟", "块", "块钱", "元", "毛", "岁", "遍", "趟", "点",
    "点钟", "时间",
    //
    "day", "days", "week", "weeks", "month", "months", "year", "years", "hour", "hours", "minute",
    "minutes", "min", "mins", "second", "seconds", "sec", "secs", "time", "times", "dollar",
    "dollars", "buck", "bucks", "cent", "cents", "yuan", "call", "calls", "oclock", "am", "pm",
];
#[rustfmt::skip]
const SCALE_AFTER: &[&str] = &[
    "分制", "分里", "分里面", "分中", "分之中", "分当中", "分的话", "分之", "point scale", "scale",
];
const COUNTED_AFTER: &[&str] = &["个", "位", "项", "条", "种", "样"];
const PLAIN_AFTER: &[&str] = &["多谢", "分多谢"];

/// What 十分 ("very") modifies; followed by anything else, 十分 is ten points.
#[rustfmt::skip]
const VERY_WHAT: &[&str] = &[
    "满意", "不", "好", "感谢", "感激", "抱歉", "认可", "同意", "愿意", "方便", "开心", "高兴",
    "专业", "耐心", "及时", "重要", "需要", "清楚", "喜欢", "失望", "糟糕", "差", "棒", "优秀",
    "到位", "周到", "热情", "友好", "快", "慢", "麻烦", "简单", "满足", "肯定", "确定", "有", "没",
    "难", "生气", "着急", "感动", "赞同", "配合", "理解", "准确", "迅速", "给力", "靠谱", "贴心",
    "细心", "礼貌", "客气", "辛苦", "严重", "可以", "推荐", "值得", "不错",
];

/// Before English "one", these make it a pronoun: "this one", "the blue one".
#[rustfmt::skip]
const DETERMINERS: &[&str] = &[
    "the", "this", "that", "these", "which", "each", "every", "any", "another", "other", "no",
    "some", "last", "next", "same",
];

/// Between two numbers, these make a range.
const RANGE_WORDS: &[&str] = &["到", "至", "to", "through", "till", "until"];

/// What may stand between a number and a range word: "三分到四分".
const SCORE_WORDS: &[&str] = &["分", "星", "points", "point", "stars", "star"];

/// Day names are numbered in Mandarin: 星期一 is Monday.
const DAY_PREFIXES: &[&[&str]] = &[&["星", "期"], &["礼", "拜"], &["周"]];

static NOT_NUMBER: LazyLock<Phrases<()>> = LazyLock::new(|| Phrases::new(&[(NOT_NUMBERS, ())]));
static MARKERS: LazyLock<Phrases<Marker>> = LazyLock::new(|| {
    Phrases::new(&[
        (TOP, Marker::Top),
        (BOTTOM, Marker::Bottom),
        (TOP_OR_SCALE, Marker::TopOrScale),
        (SCALE_BEFORE, Marker::Scale),
    ])
});
static AFTER: LazyLock<Phrases<After>> = LazyLock::new(|| {
    Phrases::new(&[
        (INEXACT_AFTER, After::Inexact),
        (UNITS_AFTER, After::Unit),
        (SCALE_AFTER, After::Scale),
        (COUNTED_AFTER, After::Counted),
        (PLAIN_AFTER, After::Plain),
    ])
});
static VERY: LazyLock<Phrases<()>> = LazyLock::new(|| Phrases::new(&[(VERY_WHAT, ())]));

impl Heard {
    /// Reads whatever starts at token `i`; returns where to go on from.
    fn hear_at(&mut self, toks: &[&str], i: usize) -> usize {
        if let Some((len, ())) = NOT_NUMBER.longest_at(toks, i) {
            return i + len;
        }
        if let Some((len, marker)) = MARKERS.longest_at(toks, i) {
            return self.hear_marker(toks, i, i + len, marker);
        }
        if let Some((value, end)) = ordinal_at(toks, i) {
            return self.finish(toks, i, end, Said::Ordinal(value));
        }
        match cardinal_at(toks, i) {
            Some(Cardinal::Exact(value, end)) => self.hear_cardinal(toks, i, end, value),
            Some(Cardinal::Fraction(end)) => {
                self.inexact = true;
                end
            }
            None => i + 1,
        }
    }

    fn hear_marker(&mut self, toks: &[&str], start: usize, end: usize, marker: Marker) -> usize {
        let push = |heard: &mut Self, said| heard.push(toks, start, end, said, false);
        match marker {
            Marker::Top => push(self, Said::Top),
            Marker::Bottom => push(self, Said::Bottom),
            Marker::Scale | Marker::TopOrScale => match cardinal_at(toks, end) {
                Some(Cardinal::Exact(size, mut after)) => {
                    if marker == Marker::TopOrScale {
                        push(self, Said::TopOrScale(size));
                    }
                    // "on a scale of one to ten": the whole range is the scale.
                    while toks.get(after).is_some_and(|t| SCORE_WORDS.contains(t)) {
                        after += 1;
                    }
                    if toks.get(after).is_some_and(|t| RANGE_WORDS.contains(t))
                        && let Some(Cardinal::Exact(_, range_end)) = cardinal_at(toks, after + 1)
                    {
                        after = range_end;
                    }
                    return after;
                }
                _ if marker == Marker::TopOrScale => push(self, Said::Top),
                _ => {}
            },
        }
        end
    }

    /// The checks only a cardinal needs, before the ones every number needs.
    fn hear_cardinal(&mut self, toks: &[&str], start: usize, end: usize, value: i64) -> usize {
        let before = start.checked_sub(1).and_then(|b| toks.get(b)).copied();
        if before == Some("几") {
            // "几十分"
            self.inexact = true;
            return end;
        }
        if DAY_PREFIXES.iter().any(|day| ends_with(toks, start, day)) {
            return end;
        }
        let value = if matches!(before, Some("minus" | "负")) {
            -value
        } else {
            value
        };
        // 十分满意 is "very satisfied"; 十分 alone is ten points.
        if toks.get(start..end) == Some(&["十"][..]) && toks.get(end) == Some(&"分") {
            let modifies = VERY.longest_at(toks, end + 1).is_some()
                || (toks.get(end + 1) == Some(&"的") && end + 2 < toks.len());
            if modifies {
                return end + 1;
            }
        }
        if toks.get(start..end) == Some(&["one"][..]) && is_pronoun_one(toks, start) {
            return end;
        }
        self.finish(toks, start, end, Said::Number(value))
    }

    /// What follows a number decides whether it is one.
    fn finish(&mut self, toks: &[&str], start: usize, end: usize, said: Said) -> usize {
        if toks.get(end).is_some_and(|t| matches!(*t, "点" | "point"))
            && let Some(fraction) = cardinal_at(toks, end + 1)
        {
            self.inexact = true;
            return fraction.end();
        }
        match AFTER.longest_at(toks, end) {
            Some((len, After::Inexact)) => {
                self.inexact = true;
                end + len
            }
            Some((len, After::Unit | After::Scale)) => end + len,
            Some((len, After::Counted)) => {
                self.push(toks, start, end, said, true);
                end + len
            }
            Some((len, After::Plain)) => {
                self.push(toks, start, end, said, false);
                end + len
            }
            None => {
                self.push(toks, start, end, said, false);
                end
            }
        }
    }

    fn push(&mut self, toks: &[&str], start: usize, end: usize, said: Said, counted: bool) {
        let ends_range = start
            .checked_sub(1)
            .is_some_and(|r| toks.get(r).is_some_and(|t| RANGE_WORDS.contains(t)))
            && self.mentions.last().is_some_and(|last| {
                toks.get(last.end..start - 1)
                    .is_some_and(|between| between.iter().all(|t| SCORE_WORDS.contains(t)))
            });
        self.mentions.push(Mention {
            said,
            start,
            end,
            counted,
            ends_range,
        });
    }
}

/// "One" is a pronoun after a determiner ("this one"), or after a determiner and
/// an adjective ("the blue one", "a good one"); "a one" is a rating.
fn is_pronoun_one(toks: &[&str], at: usize) -> bool {
    let before = |back: usize| at.checked_sub(back).and_then(|b| toks.get(b)).copied();
    before(1).is_some_and(|t| DETERMINERS.contains(&t))
        || (before(2).is_some_and(|t| DETERMINERS.contains(&t) || t == "a" || t == "an")
            && before(1).is_some_and(|t| cardinal_word(t).is_none()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::understand::assert_table;

    fn rating(text: &str) -> Option<i64> {
        number(text, 1, 5)
    }

    fn nps(text: &str) -> Option<i64> {
        number(text, 0, 10)
    }

    #[test]
    fn a_rating_is_read_from_how_callers_say_it() {
        assert_table(
            &[
                ("5", Some(5)),
                ("5.", Some(5)),
                ("５分", Some(5)),
                ("五", Some(5)),
                ("五分", Some(5)),
                ("打五分吧", Some(5)),
                ("我给四分", Some(4)),
                ("嗯，给个三分吧", Some(3)),
                ("两分", Some(2)),
                ("一分", Some(1)),
                ("一星", Some(1)),
                ("五星好评！", Some(5)),
                ("给一个五分", Some(5)),
                ("我想一下，四分吧", Some(4)),
                ("一般般吧，三分", Some(3)),
                ("等了三天才解决，给两分", Some(2)),
                ("满分", Some(5)),
                ("给满分！", Some(5)),
                ("满分吧", Some(5)),
                ("满分五分", Some(5)),
                ("Five.", Some(5)),
                ("I'd give it a three", Some(3)),
                ("probably a four", Some(4)),
                ("Four stars", Some(4)),
                ("give it one star", Some(1)),
                ("a one", Some(1)),
                ("Full marks!", Some(5)),
                ("five out of five", Some(5)),
                ("4 out of 5", Some(4)),
                ("4/5", Some(4)),
                ("I'd give this one a five", Some(5)),
                ("they took two weeks, so a two", Some(2)),
                ("星期一打的电话，给四分", Some(4)),
                ("最低分", Some(1)),
                ("the lowest", Some(1)),
                ("五分五分", Some(5)),
                ("four, yeah, four", Some(4)),
            ],
            rating,
        );
    }

    #[test]
    fn an_nps_score_is_read_from_how_callers_say_it() {
        assert_table(
            &[
                ("10", Some(10)),
                ("十", Some(10)),
                ("十分", Some(10)),
                ("打十分", Some(10)),
                ("零", Some(0)),
                ("零分", Some(0)),
                ("〇", Some(0)),
                ("zero", Some(0)),
                ("ten", Some(10)),
                ("probably an eight", Some(8)),
                ("8 out of 10", Some(8)),
                ("8/10", Some(8)),
                ("eight out of ten", Some(8)),
                ("ten out of ten", Some(10)),
                ("十分里给八分", Some(8)),
                ("满分十分，我给八分", Some(8)),
                ("满分是十分的话，七分", Some(7)),
                ("十分制的话九分", Some(9)),
                ("十分之八", Some(8)),
                ("从零到十，我给九分", Some(9)),
                ("on a scale of one to ten, a seven", Some(7)),
                ("从1到10，我打9分", Some(9)),
                ("1到10分我给9分", Some(9)),
                ("十分钟就解决了，九分", Some(9)),
                ("给个十分", Some(10)),
                ("就十分吧", Some(10)),
                ("满分十分", Some(10)),
                ("Nine, definitely.", Some(9)),
                ("I'd say a solid eight", Some(8)),
                ("six I guess", Some(6)),
            ],
            nps,
        );
    }

    #[test]
    fn bigger_numbers_are_read_in_both_languages() {
        let any = |text: &str| number(text, 0, 1000);
        assert_table(
            &[
                ("十五", Some(15)),
                ("二十", Some(20)),
                ("二十三", Some(23)),
                ("一百", Some(100)),
                ("一百分", Some(100)),
                ("一百零五", Some(105)),
                ("一百二", Some(120)),
                ("一百二十", Some(120)),
                ("两百", Some(200)),
                ("一十五", Some(15)),
                ("twenty three", Some(23)),
                ("twenty-three", Some(23)),
                ("thirty-five", Some(35)),
                ("ninety", Some(90)),
                ("a hundred", Some(100)),
                ("one hundred and five", Some(105)),
                ("two hundred fifty", Some(250)),
                ("seventeen", Some(17)),
                ("100", Some(100)),
                ("a hundred percent", Some(100)),
                ("百分之八十", Some(80)),
            ],
            any,
        );
    }

    #[test]
    fn two_different_numbers_are_no_answer() {
        assert_table(
            &[
                ("三到四分", None),
                ("三四分", None),
                ("两三分", None),
                ("4 or 5", None),
                ("four or five", None),
                ("3-4", None),
                ("四分，不对，五分", None),
                ("not a five, a four", None),
                ("between 3 and 4", None),
                ("一到五", None),
            ],
            rating,
        );
    }

    #[test]
    fn a_fraction_or_estimate_is_no_answer() {
        assert_table(
            &[
                ("四点五", None),
                ("4.5", None),
                ("４．５分", None),
                ("四分半", None),
                ("三个半", None),
                ("four and a half", None),
                ("three point five", None),
                ("十几分", None),
                ("几十分", None),
                ("eight or so", None),
                ("一半一半", None),
            ],
            nps,
        );
        assert_eq!(
            nps("4.0"),
            Some(4),
            "a whole number written with a decimal point"
        );
    }

    #[test]
    fn a_number_outside_the_scale_is_not_clamped() {
        assert_table(
            &[
                ("六分", None),
                ("6", None),
                ("零分", None),
                ("十分", None),
                ("eleven", None),
                ("a hundred", None),
                ("13800138000", None),
                ("99999999999999999999999", None),
            ],
            rating,
        );
        assert_eq!(nps("eleven"), None);
        assert_eq!(nps("-1"), None, "minus one is not one");
        assert_eq!(nps("minus one"), None);
        assert_eq!(nps("负一分"), None);
        assert_eq!(number("-1", -5, 5), Some(-1));
        assert_eq!(nps("3-4"), None, "a range, not minus four");
    }

    #[test]
    fn words_containing_numerals_are_not_numbers() {
        assert_table(
            &[
                ("", None),
                ("我想问一下", None),
                ("好一点了", None),
                ("一般", None),
                ("一般般", None),
                ("十分满意", None),
                ("十分感谢", None),
                ("十分不满意", None),
                ("我一直在等", None),
                ("一起解决了", None),
                ("someone helped me", None),
                ("I call often", None),
                ("this one", None),
                ("which one?", None),
                ("no one answered", None),
                ("wait a second", None),
                ("at first it was bad", None),
                ("one of the best", None),
                ("一个都没有", None),
                ("万一呢", None),
                ("三点见", None),
                ("two weeks", None),
                ("weight", None),
                ("Hello?", None),
                ("满意", None),
                ("out of ten", None),
                ("一到十", None),
                ("八到十", None),
                ("我等了十分钟", None),
                ("十分好", None),
            ],
            nps,
        );
    }

    #[test]
    fn a_minimum_above_the_maximum_understands_nothing() {
        assert_eq!(number("5", 10, 1), None);
    }

    #[test]
    fn mentions_carry_their_kind() {
        let said = |text: &str| -> Vec<Said> {
            let text = normalise(text);
            hear(&tokens(&text))
                .mentions
                .iter()
                .map(|m| m.said)
                .collect()
        };
        assert_eq!(said("第一个"), [Said::Ordinal(1)]);
        assert_eq!(said("the second one"), [Said::Ordinal(2)]);
        assert_eq!(said("3rd"), [Said::Ordinal(3)]);
        assert_eq!(said("第一次"), []);
        assert_eq!(said("满分"), [Said::Top]);
        assert_eq!(said("满分十分"), [Said::TopOrScale(10)]);
        assert_eq!(said("两个"), [Said::Number(2)]);
        let text = normalise("两个");
        assert!(hear(&tokens(&text)).mentions[0].counted);
    }

    #[test]
    fn the_tables_are_written_in_normalised_form() {
        for group in [
            NOT_NUMBERS,
            TOP,
            BOTTOM,
            TOP_OR_SCALE,
            SCALE_BEFORE,
            INEXACT_AFTER,
            UNITS_AFTER,
            SCALE_AFTER,
            COUNTED_AFTER,
            PLAIN_AFTER,
            VERY_WHAT,
        ] {
            for phrase in group {
                assert_eq!(normalise(phrase), *phrase, "table phrase is not normalised");
            }
        }
    }
}
