//! Reading numerals: Mandarin (五, 二十三, 一百零五, 两百) and English ("seven",
//! "twenty three", "a hundred and five"), as cardinals and as ordinals.
//!
//! Only the grammar of numerals lives here; deciding whether a numeral in a
//! sentence is a number the caller meant is [`super::number()`]'s job.

/// A cardinal as read from the tokens at some position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cardinal {
    /// A whole number, and the token after it.
    Exact(i64, usize),
    /// "4.5": not a whole number; the token after it.
    Fraction(usize),
}

impl Cardinal {
    pub(super) fn end(self) -> usize {
        match self {
            Cardinal::Exact(_, end) | Cardinal::Fraction(end) => end,
        }
    }
}

pub(super) fn cardinal_at(toks: &[&str], i: usize) -> Option<Cardinal> {
    let first = *toks.get(i)?;
    if first.starts_with(|c: char| c.is_ascii_digit()) {
        let (whole, fraction) = first.split_once('.').unwrap_or((first, ""));
        if !fraction.chars().all(|c| c == '0') {
            return Some(Cardinal::Fraction(i + 1));
        }
        // Too many digits to be a score is still a number, just out of range.
        let value = whole.parse::<i64>().unwrap_or(i64::MAX);
        return Some(Cardinal::Exact(value, i + 1));
    }
    chinese_at(toks, i)
        .or_else(|| english_at(toks, i))
        .map(|(value, end)| Cardinal::Exact(value, end))
}

pub(super) fn ordinal_at(toks: &[&str], i: usize) -> Option<(i64, usize)> {
    let first = *toks.get(i)?;
    let (value, mut end) = if first == "第" {
        match cardinal_at(toks, i + 1)? {
            Cardinal::Exact(value, end) => (value, end),
            Cardinal::Fraction(_) => return None,
        }
    } else if let Some(value) = english_ordinal(first) {
        (value, i + 1)
    } else if first.starts_with(|c: char| c.is_ascii_digit())
        && toks
            .get(i + 1)
            .is_some_and(|t| matches!(*t, "st" | "nd" | "rd" | "th"))
    {
        (first.parse::<i64>().unwrap_or(i64::MAX), i + 2)
    } else {
        return None;
    };
    // "第一个", "the second one", "the third option" name one thing.
    if toks.get(end).is_some_and(|t| {
        matches!(
            *t,
            "个" | "项" | "种" | "条" | "位" | "号" | "名" | "one" | "option" | "choice" | "item"
        )
    }) {
        end += 1;
    }
    Some((value, end))
}

fn chinese_digit(t: &str) -> Option<i64> {
    Some(match t {
        "零" | "〇" => 0,
        "一" | "幺" => 1,
        "二" | "两" => 2,
        "三" => 3,
        "四" => 4,
        "五" => 5,
        "六" => 6,
        "七" => 7,
        "八" => 8,
        "九" => 9,
        _ => return None,
    })
}

fn chinese_unit(t: &str) -> Option<i64> {
    Some(match t {
        "十" => 10,
        "百" => 100,
        "千" => 1000,
        _ => return None,
    })
}

/// Reads a Mandarin numeral: 五, 十五, 二十三, 一百零五, 两百, and the colloquial 一百二 (120).
///
/// Stops where the numeral stops being well formed, so "三四" is read as 三 and
/// then 四 — two numbers, as the caller meant ("three or four").
fn chinese_at(toks: &[&str], i: usize) -> Option<(i64, usize)> {
    let first = *toks.get(i)?;
    if chinese_digit(first).is_none() && first != "十" {
        return None;
    }
    let mut total = 0i64;
    let mut pending: Option<i64> = None;
    let mut last_unit: Option<i64> = None;
    let mut zero_gap = false;
    let mut j = i;
    while let Some(&t) = toks.get(j) {
        if let Some(digit) = chinese_digit(t) {
            if pending.is_some() {
                break;
            }
            if digit == 0 {
                if j == i {
                    return Some((0, j + 1));
                }
                if last_unit.is_none() || zero_gap {
                    break;
                }
                zero_gap = true;
            } else {
                pending = Some(digit);
            }
        } else if let Some(unit) = chinese_unit(t) {
            if last_unit.is_some_and(|last| unit >= last) {
                break;
            }
            let multiplier = match pending.take() {
                Some(digit) => digit,
                None if j == i => 1,
                None => break,
            };
            total += multiplier * unit;
            last_unit = Some(unit);
        } else {
            break;
        }
        j += 1;
    }
    if let Some(digit) = pending {
        total += match last_unit {
            // 一百二 is 120 and 两千五 is 2500: a bare digit after 百/千 is the next place down.
            Some(unit) if unit >= 100 && !zero_gap => digit * (unit / 10),
            _ => digit,
        };
    }
    Some((total, j))
}

fn english_unit(t: &str) -> Option<i64> {
    Some(match t {
        "zero" | "nought" => 0,
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        _ => return None,
    })
}

fn english_teen(t: &str) -> Option<i64> {
    Some(match t {
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        _ => return None,
    })
}

fn english_tens(t: &str) -> Option<i64> {
    Some(match t {
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "seventy" => 70,
        "eighty" => 80,
        "ninety" => 90,
        _ => return None,
    })
}

fn english_ordinal(t: &str) -> Option<i64> {
    Some(match t {
        "first" => 1,
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "fifth" => 5,
        "sixth" => 6,
        "seventh" => 7,
        "eighth" => 8,
        "ninth" => 9,
        "tenth" => 10,
        "eleventh" => 11,
        "twelfth" => 12,
        _ => return None,
    })
}

pub(super) fn cardinal_word(t: &str) -> Option<i64> {
    english_unit(t)
        .or_else(|| english_teen(t))
        .or_else(|| english_tens(t))
}

/// Reads an English numeral: "seven", "twenty three", "a hundred", "one hundred and five".
fn english_at(toks: &[&str], i: usize) -> Option<(i64, usize)> {
    let below_hundred = |k: usize| -> Option<(i64, usize)> {
        let t = *toks.get(k)?;
        if let Some(tens) = english_tens(t) {
            match toks.get(k + 1).copied().and_then(english_unit) {
                Some(unit) if unit > 0 => Some((tens + unit, k + 2)),
                _ => Some((tens, k + 1)),
            }
        } else {
            english_unit(t)
                .or_else(|| english_teen(t))
                .map(|value| (value, k + 1))
        }
    };
    let (mut value, mut end) = if toks.get(i) == Some(&"hundred") {
        (1, i)
    } else {
        below_hundred(i)?
    };
    if toks.get(end) == Some(&"hundred") && (1..=9).contains(&value) {
        value *= 100;
        end += 1;
        let rest = if toks.get(end) == Some(&"and") {
            end + 1
        } else {
            end
        };
        if let Some((tail, tail_end)) = below_hundred(rest) {
            value += tail;
            end = tail_end;
        }
    }
    Some((value, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::understand::assert_table;
    use crate::flow::understand::text::tokens;

    fn read(text: &str) -> Option<(i64, usize)> {
        match cardinal_at(&tokens(text), 0)? {
            Cardinal::Exact(value, end) => Some((value, end)),
            Cardinal::Fraction(_) => None,
        }
    }

    #[test]
    fn a_numeral_is_read_as_far_as_it_is_well_formed() {
        assert_table(
            &[
                ("零", Some((0, 1))),
                ("〇", Some((0, 1))),
                ("两", Some((2, 1))),
                ("十", Some((10, 1))),
                ("十五", Some((15, 2))),
                ("二十", Some((20, 2))),
                ("二十三", Some((23, 3))),
                ("一百", Some((100, 2))),
                ("一百零五", Some((105, 4))),
                ("一百二", Some((120, 3))),
                ("两千五", Some((2500, 3))),
                ("一千零二十", Some((1020, 5))),
                ("三四", Some((3, 1))),
                ("十十", Some((10, 1))),
                ("零五", Some((0, 1))),
                ("百", None),
                ("分", None),
                ("seven", Some((7, 1))),
                ("twenty three", Some((23, 2))),
                ("twenty zero", Some((20, 1))),
                ("hundred", Some((100, 1))),
                ("one hundred and five", Some((105, 4))),
                ("one hundred and", Some((100, 2))),
                ("five twenty", Some((5, 1))),
                ("42", Some((42, 1))),
                ("4.0", Some((4, 1))),
                ("4.5", None),
                ("someone", None),
            ],
            read,
        );
    }

    #[test]
    fn ordinals_take_the_thing_they_count() {
        assert_eq!(ordinal_at(&tokens("第一个"), 0), Some((1, 3)));
        assert_eq!(ordinal_at(&tokens("第二十项"), 0), Some((20, 4)));
        assert_eq!(ordinal_at(&tokens("second one"), 0), Some((2, 2)));
        assert_eq!(ordinal_at(&tokens("3rd option"), 0), Some((3, 3)));
        assert_eq!(ordinal_at(&tokens("第"), 0), None);
        assert_eq!(ordinal_at(&tokens("第四点五"), 0), Some((4, 2)));
    }
}
