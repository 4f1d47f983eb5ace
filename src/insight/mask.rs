//! Names and numbers out of quotes.
//!
//! A quote shows analysts how callers put a problem, not who they are:
//! "我叫张伟，卡号6222 0200 1234 5678 转账失败" becomes "我叫**，卡号*** 转账失败".
//! Masking is deliberately greedy: a masked amount costs a quote a detail, a
//! missed card number is a leak.

/// How a masked name or number is shown.
const MASK: &str = "***";

/// Digits a caller or recogniser may write for a number: ASCII, full width,
/// and Mandarin numerals (a phone number read out is "一三八…").
fn digit(c: char) -> bool {
    c.is_ascii_digit() || ('０'..='９').contains(&c) || "零〇一二三四五六七八九幺两".contains(c)
}

/// Separators people put inside long numbers: "138-0013-8000", "6222 0200".
fn separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '\u{3000}')
}

/// A run of this many digits or more is a phone, card, account or ID number.
const LONG_RUN: usize = 4;

/// Mandarin words after which the next two or three characters are a name.
const NAME_AFTER: &[&str] = &["我叫", "我姓", "名字是", "名字叫", "客服叫", "联系人"];

/// Mandarin titles before which the character is a surname: "王先生". Not
/// 小姐 or 经理: "客服小姐姐", "客户经理" have no name in them.
const NAME_BEFORE: &[&str] = &["先生", "女士"];

/// English words after which the next capitalised word (or two) is a name.
const NAME_AFTER_EN: &[&str] = &[
    "my name is",
    "name's",
    "this is",
    "mr",
    "mr.",
    "mrs",
    "mrs.",
    "ms",
    "ms.",
    "miss",
    "dr",
    "dr.",
];

/// Replaces names and long numbers in a text with `***`.
pub fn mask(text: &str) -> String {
    let numbers = mask_numbers(text);
    let named = mask_mandarin_names(&numbers);
    mask_english_names(&named)
}

fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !digit(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // A run of digits with single separators between them.
        let start = i;
        let mut end = i;
        let mut digits = 0;
        let mut j = i;
        while j < chars.len() {
            if digit(chars[j]) {
                digits += 1;
                j += 1;
                end = j;
            } else if separator(chars[j]) && chars.get(j + 1).is_some_and(|&c| digit(c)) {
                j += 1;
            } else {
                break;
            }
        }
        // "+86 138…": the plus belongs to the number.
        if digits >= LONG_RUN {
            if out.ends_with('+') {
                out.pop();
            }
            out.push_str(MASK);
        } else {
            out.extend(&chars[start..end]);
        }
        i = end;
    }
    out
}

fn mask_mandarin_names(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut masked = vec![false; chars.len()];
    let cjk = |c: char| ('\u{4E00}'..='\u{9FFF}').contains(&c);
    for (at, _) in text.char_indices() {
        let i = text[..at].chars().count();
        let rest = &text[at..];
        if let Some(word) = NAME_AFTER.iter().find(|w| rest.starts_with(**w)) {
            let from = i + word.chars().count();
            // A given name is one or two characters after the surname.
            for k in from..(from + 3).min(chars.len()) {
                if !cjk(chars[k]) {
                    break;
                }
                masked[k] = true;
            }
        }
        if NAME_BEFORE.iter().any(|t| rest.starts_with(t)) && i > 0 && cjk(chars[i - 1]) {
            masked[i - 1] = true;
        }
    }
    let mut out = String::new();
    let mut in_mask = false;
    for (c, m) in chars.iter().zip(&masked) {
        match (m, in_mask) {
            (true, false) => out.push_str(MASK),
            (true, true) => {}
            (false, _) => out.push(*c),
        }
        in_mask = *m;
    }
    out
}

fn mask_english_names(text: &str) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        out.push(words[i].to_string());
        let follows_lead = NAME_AFTER_EN.iter().any(|lead| {
            let n = lead.split(' ').count();
            i + 1 >= n && words[i + 1 - n..=i].join(" ").eq_ignore_ascii_case(lead)
        });
        i += 1;
        if !follows_lead {
            continue;
        }
        // Up to two capitalised words: "John", "John Smith,".
        let mut taken = 0;
        while taken < 2 && words.get(i).is_some_and(|w| capitalised(w)) {
            i += 1;
            taken += 1;
        }
        if taken > 0 {
            // Keep the punctuation after the name: "John," → "***,".
            let trailing =
                words[i - 1].trim_start_matches(|c: char| c.is_alphabetic() || c == '\'');
            out.push(format!("{MASK}{trailing}"));
        }
    }
    out.join(" ")
}

/// "John" or "O'Brien", not "I" (the caller) or "The".
fn capitalised(word: &str) -> bool {
    let letters = word.trim_end_matches(|c: char| !c.is_alphabetic());
    let mut chars = letters.chars();
    chars.next().is_some_and(|c| c.is_uppercase())
        && letters.chars().count() > 1
        && !matches!(
            letters,
            "The" | "A" | "An" | "My" | "It" | "Is" | "Not" | "Your"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_numbers_are_masked_however_they_are_written() {
        let cases = [
            ("卡号6222020012345678转不出去", "卡号***转不出去"),
            ("我手机号是138 0013 8000", "我手机号是***"),
            (
                "call me on +86-138-0013-8000 please",
                "call me on *** please",
            ),
            ("尾号１２３４的卡", "尾号***的卡"),
            ("我的电话是一三八零零一三八零零零", "我的电话是***"),
            ("订单号2024-11-30-8812", "订单号***"),
        ];
        for (text, want) in cases {
            assert_eq!(mask(text), want, "{text:?}");
        }
    }

    #[test]
    fn short_numbers_keep_their_meaning() {
        for text in [
            "等了3天才到账",
            "扣了5块钱手续费",
            "打了一两次电话",
            "waited 45 minutes",
            "rated it 2 out of 5",
            "一二三",
        ] {
            assert_eq!(mask(text), text);
        }
    }

    #[test]
    fn names_are_masked() {
        let cases = [
            ("我叫张伟，转账一直失败", "我叫***，转账一直失败"),
            ("我姓王", "我姓***"),
            ("客服王先生态度很好", "客服***先生态度很好"),
            ("感谢李女士的耐心", "感谢***女士的耐心"),
            (
                "Hi, my name is John Smith, the fee is too high",
                "Hi, my name is ***, the fee is too high",
            ),
            (
                "Mr. Chen on the phone was great",
                "Mr. *** on the phone was great",
            ),
            ("this is Anna.", "this is ***."),
        ];
        for (text, want) in cases {
            assert_eq!(mask(text), want, "{text:?}");
        }
    }

    #[test]
    fn ordinary_words_are_not_names() {
        for text in [
            "this is not fixed",
            "this is the third time",
            "Mr nobody",
            "先生您好",
            "服务很好",
        ] {
            assert_eq!(mask(text), text);
        }
    }
}
