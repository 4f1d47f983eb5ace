//! Understanding spoken answers: a recogniser's transcript in, an answer or
//! "no match" out.
//!
//! Callers answer in Mandarin or English, with fillers, with or without
//! punctuation, and recognisers mishear. Every function here is pure and total
//! (no panics on any input), and every one prefers "no match" to a guess: the
//! call machine can ask again, but it cannot un-record a wrong answer.
//!
//! The shape is the same throughout: [`normalise`] the text, split it into
//! tokens (one per CJK character, one per English word or digit run), and match
//! hand-written phrase tables longest-first. The tables are the understanding;
//! the code around them is small on purpose, so that a missed phrase is fixed
//! by adding a line to a table and a test to the table beside it.

mod menu;
mod number;
mod numerals;
mod phrases;
mod requests;
mod text;
mod yes_no;

pub use menu::{MenuOption, menu};
pub use number::number;
pub use requests::{agent_request, opt_out_request};
pub use text::{clauses, normalise, tokens};
pub use yes_no::{yes_no, yes_no_hints};

/// Checks a table of utterances, reporting every one that was misheard.
#[cfg(test)]
#[track_caller]
fn assert_table<W, T>(cases: &[(&str, W)], understand: impl Fn(&str) -> T)
where
    W: std::fmt::Debug,
    T: PartialEq<W> + std::fmt::Debug,
{
    let misheard: Vec<String> = cases
        .iter()
        .filter_map(|(said, want)| {
            let got = understand(said);
            (got != *want).then(|| format!("  {said:?}: want {want:?}, got {got:?}"))
        })
        .collect();
    assert!(
        misheard.is_empty(),
        "{} of {} utterances misheard:\n{}",
        misheard.len(),
        cases.len(),
        misheard.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Pieces that reach the deeper paths: numerals, scale words, negators, punctuation.
    fn answer_like() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "一",
            "二",
            "两",
            "十",
            "百",
            "千",
            "零",
            "〇",
            "点",
            "分",
            "半",
            "几",
            "第",
            "个",
            "到",
            "满分",
            "十分",
            "满意",
            "不",
            "没有",
            "解决",
            "是",
            "嗯",
            "额",
            "吗",
            "人工",
            "打",
            "one",
            "hundred",
            "and",
            "a",
            "half",
            "point",
            "out of",
            "to",
            "first",
            "not",
            "yes",
            "no",
            "minus",
            "4.5",
            "10",
            "9999999999999999999999",
            "-",
            "/",
            ".",
            "。",
            "，",
            " ",
            "'",
            "’",
            "Ｙ",
            "５",
            "uh",
            "huh",
            "mm",
            "hmm",
        ]);
        prop::collection::vec(pieces, 0..16).prop_map(|pieces| pieces.concat())
    }

    fn check_total(text: &str, min: i64, max: i64) {
        let words = vec!["余额".to_string(), "one".to_string(), String::new()];
        let options = [
            MenuOption {
                key: "1",
                words: &words,
            },
            MenuOption {
                key: "*",
                words: &[],
            },
            MenuOption {
                key: "",
                words: &words,
            },
        ];
        let _ = normalise(text);
        let _ = yes_no(text);
        let _ = number(text, min, max);
        let _ = menu(text, &options);
        let _ = menu(text, &[]);
        let _ = opt_out_request(text);
        let _ = agent_request(text);
    }

    proptest! {
        #[test]
        fn no_input_makes_understanding_panic(text in "\\PC*", min in any::<i64>(), max in any::<i64>()) {
            check_total(&text, min, max);
        }

        #[test]
        fn no_answer_like_input_makes_understanding_panic(text in answer_like(), min in -20i64..20, max in -20i64..2000) {
            check_total(&text, min, max);
        }

        #[test]
        fn a_number_is_always_within_the_scale(text in answer_like(), min in -20i64..20, span in 0i64..200) {
            let max = min + span;
            if let Some(value) = number(&text, min, max) {
                prop_assert!((min..=max).contains(&value));
            }
        }

        #[test]
        fn normalising_twice_changes_nothing(text in answer_like()) {
            let once = normalise(&text);
            prop_assert_eq!(normalise(&once), once);
        }
    }
}
