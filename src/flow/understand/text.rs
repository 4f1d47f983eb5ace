//! Clean-up shared by every understanding function.
//!
//! Recognisers differ in what they hand back for the same words: full-width or
//! half-width characters, with or without punctuation, with the caller's
//! hesitations written out or not. Everything downstream compares against
//! hand-written tables, so the text is first brought into one canonical shape,
//! and tables and transcripts meet there.

/// Mandarin hesitation sounds and sentence-final mood particles: they colour an
/// answer ("对啊", "好吧", "还没呢") but never change it.
const FILLER_CHARS: &[char] = &[
    '嗯', '啊', '呃', '哦', '额', '吧', '呢', '啦', '呀', '嘛', '哈', '诶', '欸', '唉', '哎', '喔',
    '噢',
];

/// Mandarin filler words ("um, like, I mean").
const FILLER_WORDS: &[&str] = &["那个", "就是"];

/// 额 also spells "amount" (余额 balance, 额度 limit): a menu about balances must keep it.
const AMOUNT_BEFORE: &[char] = &[
    '余', '金', '限', '名', '份', '面', '数', '总', '差', '定', '超', '全', '税', '配',
];
const AMOUNT_AFTER: &[char] = &['度', '外'];

/// 吧 is also a bar (酒吧, 网吧, 吧台), which a caller may name.
const BAR_BEFORE: &[char] = &['酒', '网'];
const BAR_AFTER: &[char] = &['台'];

/// Brings a transcript into the one shape all tables are written in.
///
/// Lower-case and half-width, because recognisers switch between the two; no
/// punctuation, because some recognisers add it and some do not; no fillers,
/// because "嗯，是的" and "是的" are the same answer. Apostrophes inside words are
/// dropped rather than turned into spaces, so "don't" and a recogniser's "dont"
/// meet as `dont`. A decimal point between digits is kept: "4.5" is one
/// (non-integer) number, not the two numbers 4 and 5.
pub fn normalise(text: &str) -> String {
    clauses(text).join(" ")
}

/// [`normalise`], but keeping the caller's clause breaks apart.
///
/// A comma or full stop is the one hint a recogniser gives that "没有，解决了"
/// is two statements, not the single "没有解决了"; yes/no reading and request
/// spotting look at one clause at a time so that a negation never reaches
/// across it.
pub fn clauses(text: &str) -> Vec<String> {
    let chars: Vec<char> = text
        .chars()
        .map(half_width)
        .flat_map(char::to_lowercase)
        .collect();
    let mut clauses = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        let between = |test: fn(&char) -> bool| {
            prev.is_some_and(|p| test(&p)) && next.is_some_and(|n| test(&n))
        };
        if is_word_char(c) {
            word.push(c);
        } else if is_apostrophe(c) && between(|c| c.is_alphabetic()) {
            // "don't" → "dont": joined, not split.
        } else if c == '.' && between(char::is_ascii_digit) {
            word.push('.');
        } else {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            if ends_clause(c) {
                push_clause(&mut clauses, std::mem::take(&mut words));
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    push_clause(&mut clauses, words);
    clauses
}

/// Splits normalised text into the units tables are matched on.
///
/// Each CJK character is a token, because Mandarin is written without spaces
/// and a recogniser's spacing inside it is arbitrary; runs of Latin letters and
/// runs of digits are tokens, so "someone" never contains "one" and "5分" is
/// "5" then "分". Matching whole tokens is what gives English its word
/// boundaries and Mandarin its substring matching, with one rule.
pub fn tokens(text: &str) -> Vec<&str> {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Digits,
        Letters,
    }
    let mut out = Vec::new();
    for word in text.split_whitespace() {
        let mut run: Option<(usize, Class)> = None;
        for (i, c) in word.char_indices() {
            let class = if is_cjk(c) {
                None
            } else if c.is_ascii_digit() || c == '.' {
                Some(Class::Digits)
            } else if is_word_char(c) {
                Some(Class::Letters)
            } else {
                None
            };
            if let Some((start, current)) = run
                && class != Some(current)
            {
                out.push(&word[start..i]);
                run = None;
            }
            match class {
                Some(class) if run.is_none() => run = Some((i, class)),
                Some(_) => {}
                None if is_cjk(c) => out.push(&word[i..i + c.len_utf8()]),
                None => {}
            }
        }
        if let Some((start, _)) = run {
            out.push(&word[start..]);
        }
    }
    out
}

/// Full-width forms are how many Chinese input paths spell ASCII ("ＹＥＳ", "５分").
pub(super) fn half_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// CJK ideographs (and kana, which a recogniser may emit by mistake) are one token each.
pub(super) fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x3007 // 〇, the ideographic zero
        | 0x3040..=0x30FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0x20000..=0x2FA1F)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_cjk(c) || ('\u{0300}'..='\u{036F}').contains(&c)
}

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' | '\u{2032}'
    )
}

/// Marks after which a caller has finished one statement.
fn ends_clause(c: char) -> bool {
    matches!(
        c,
        ',' | '.'
            | '!'
            | '?'
            | ';'
            | ':'
            | '\n'
            | '\r'
            | '。'
            | '、'
            | '…'
            | '｡'
            | '､'
            | '—'
            | '¿'
            | '¡'
    )
}

fn push_clause(clauses: &mut Vec<String>, words: Vec<String>) {
    let mut pieces = Vec::new();
    for word in &words {
        split_mandarin_fillers(word, &mut pieces);
    }
    let clause = drop_english_fillers(&pieces).join(" ");
    if !clause.is_empty() {
        clauses.push(clause);
    }
}

/// Cuts Mandarin fillers out of a word, leaving the pieces around them.
fn split_mandarin_fillers(word: &str, pieces: &mut Vec<String>) {
    let chars: Vec<char> = word.chars().collect();
    let mut piece = String::new();
    let mut j = 0;
    while j < chars.len() {
        let filler_word = FILLER_WORDS.iter().find(|f| {
            let f: Vec<char> = f.chars().collect();
            chars.get(j..j + f.len()) == Some(&f[..])
        });
        let skip = match filler_word {
            Some(f) => f.chars().count(),
            None if is_filler_char(&chars, j) => 1,
            None => 0,
        };
        if skip > 0 {
            if !piece.is_empty() {
                pieces.push(std::mem::take(&mut piece));
            }
            j += skip;
        } else {
            piece.extend(chars.get(j));
            j += 1;
        }
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
}

fn is_filler_char(chars: &[char], j: usize) -> bool {
    let Some(&c) = chars.get(j) else { return false };
    let prev = j.checked_sub(1).and_then(|p| chars.get(p));
    let next = chars.get(j + 1);
    let word_part = |before: &[char], after: &[char]| {
        prev.is_some_and(|p| before.contains(p)) || next.is_some_and(|n| after.contains(n))
    };
    FILLER_CHARS.contains(&c)
        && !(c == '额' && word_part(AMOUNT_BEFORE, AMOUNT_AFTER))
        && !(c == '吧' && word_part(BAR_BEFORE, BAR_AFTER))
}

/// Drops English hesitations ("um", "uh", "er", "hmm", "well", "like", "you know"),
/// but keeps "uh huh" and "mm hmm", which are answers rather than hesitation.
///
/// Repeats until nothing changes, so "you, uh, know" goes too, and normalising
/// normalised text changes nothing.
fn drop_english_fillers(pieces: &[String]) -> Vec<&str> {
    let mut kept: Vec<&str> = pieces.iter().map(String::as_str).collect();
    loop {
        let fewer = drop_english_fillers_once(&kept);
        if fewer.len() == kept.len() {
            return fewer;
        }
        kept = fewer;
    }
}

fn drop_english_fillers_once<'a>(pieces: &[&'a str]) -> Vec<&'a str> {
    let mut kept = Vec::new();
    let mut k = 0;
    while let Some(&piece) = pieces.get(k) {
        let next = pieces.get(k + 1).copied();
        let squeezed = squeeze(piece);
        let next_squeezed = next.map(squeeze);
        let backchannel = (squeezed == "uh" && next == Some("huh"))
            || (squeezed == "m" && next_squeezed.as_deref() == Some("hm"));
        if backchannel {
            kept.push(piece);
            kept.extend(next);
            k += 2;
        } else if piece == "you" && next == Some("know") {
            k += 2;
        } else if matches!(piece, "like" | "well")
            || matches!(
                squeezed.as_str(),
                "um" | "uh" | "uhm" | "er" | "erm" | "hm" | "ah"
            )
        {
            k += 1;
        } else {
            kept.push(piece);
            k += 1;
        }
    }
    kept
}

/// "ummm" → "um", "hmmm" → "hm": hesitations are spelt with any number of repeats.
fn squeeze(word: &str) -> String {
    let mut out = String::new();
    for c in word.chars() {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::understand::assert_table;

    #[test]
    fn transcripts_are_brought_into_one_shape() {
        assert_table(
            &[
                ("Yes.", "yes"),
                ("ＹＥＳ！", "yes"),
                ("  Yes,   sure  ", "yes sure"),
                ("是的。", "是的"),
                ("嗯，是的，已经解决了。", "是的 已经解决了"),
                ("对啊！", "对"),
                ("好吧", "好"),
                ("还没呢", "还没"),
                ("呃……那个，就是还没解决", "还没解决"),
                ("我想查一下余额", "我想查一下余额"),
                ("额度是多少", "额度是多少"),
                ("额，我要转人工", "我要转人工"),
                ("附近的酒吧", "附近的酒吧"),
                ("“不要”", "不要"),
                ("（不是）", "不是"),
                ("打５分", "打5分"),
                ("４．５分", "4.5分"),
                ("4.5", "4.5"),
                ("Four. Five.", "four five"),
                ("Don't", "dont"),
                ("That’s right", "thats right"),
                ("I'd give it a three", "id give it a three"),
                ("Um, well, you know, like, no", "no"),
                ("Ummm... hmmm, errr yes", "yes"),
                ("Uh-huh", "uh huh"),
                ("Mm-hmm.", "mm hmm"),
                ("thirty-five", "thirty five"),
                ("Yes\tNo\nMaybe", "yes no maybe"),
                ("", ""),
                ("。，！？", ""),
                ("嗯嗯", ""),
                ("GREAT 👍", "great"),
            ],
            normalise,
        );
    }

    #[test]
    fn clause_breaks_are_kept_apart() {
        assert_eq!(clauses("没有，解决了"), ["没有", "解决了"]);
        assert_eq!(clauses("No. Yes!"), ["no", "yes"]);
        assert_eq!(clauses("嗯，，，好的"), ["好的"]);
        assert_eq!(clauses("4.5 and 3"), ["4.5 and 3"]);
    }

    #[test]
    fn mandarin_splits_per_character_and_english_per_word() {
        assert_eq!(tokens("打5分"), ["打", "5", "分"]);
        assert_eq!(tokens("someone 说 okay"), ["someone", "说", "okay"]);
        assert_eq!(tokens("1st 4.5 mp3"), ["1", "st", "4.5", "mp", "3"]);
        assert_eq!(tokens("没有 解决"), ["没", "有", "解", "决"]);
        assert!(tokens("").is_empty());
    }
}
