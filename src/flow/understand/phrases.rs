//! Matching token sequences against hand-written tables.
//!
//! Understanding is table-driven so that a linguist can read and extend it: a
//! phrase table says what each phrase means, and the longest phrase wins where
//! several start at the same place ("没有解决" over "没有" over "没"). Requests
//! need a little more: a few interchangeable slots in order ("不要 … 打电话"),
//! which [`Pattern`] spells out.

use super::text::tokens;

/// One table phrase found in a token sequence, at `start..end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Found<T> {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) what: T,
}

/// Phrases, each with what it means, ready to match against tokens.
pub(super) struct Phrases<T> {
    entries: Vec<(Vec<&'static str>, T)>,
}

impl<T: Copy> Phrases<T> {
    /// Builds a table from groups of phrases that share one meaning.
    ///
    /// Phrases are written in normalised form (a test checks each table), so
    /// they only need splitting into tokens.
    pub(super) fn new(groups: &[(&[&'static str], T)]) -> Self {
        let entries = groups
            .iter()
            .flat_map(|&(phrases, what)| phrases.iter().map(move |phrase| (tokens(phrase), what)))
            .filter(|(phrase, _)| !phrase.is_empty())
            .collect();
        Self { entries }
    }

    /// The longest phrase starting exactly at `at`: its length in tokens and its meaning.
    pub(super) fn longest_at(&self, toks: &[&str], at: usize) -> Option<(usize, T)> {
        let mut best: Option<(usize, T)> = None;
        for (phrase, what) in &self.entries {
            if phrase.len() > best.map_or(0, |(len, _)| len) && starts_with(toks, at, phrase) {
                best = Some((phrase.len(), *what));
            }
        }
        best
    }

    /// Leftmost-longest, non-overlapping matches across the whole sequence.
    pub(super) fn scan(&self, toks: &[&str]) -> Vec<Found<T>> {
        let mut found = Vec::new();
        let mut at = 0;
        while at < toks.len() {
            match self.longest_at(toks, at) {
                Some((len, what)) => {
                    found.push(Found {
                        start: at,
                        end: at + len,
                        what,
                    });
                    at += len;
                }
                None => at += 1,
            }
        }
        found
    }

    #[cfg(test)]
    pub(super) fn phrases(&self) -> impl Iterator<Item = (String, T)> + '_ {
        self.entries
            .iter()
            .map(|(phrase, what)| (phrase.join(" "), *what))
    }
}

/// Whether a phrase meaning `true` starts anywhere in `from..at`, among phrases
/// [`Phrases::scan`] found.
///
/// Negator tables list their look-alikes as `false` ("不好意思", "能不能"), and
/// the scan is of the whole sequence, so the 不 inside a 能不能 that starts before
/// `from` is never read on its own.
pub(super) fn any_between(found: &[Found<bool>], from: usize, at: usize) -> bool {
    found
        .iter()
        .any(|found| found.what && (from..at).contains(&found.start))
}

/// Whether `phrase` occurs in `toks` starting at `at`.
pub(super) fn starts_with(toks: &[&str], at: usize, phrase: &[&str]) -> bool {
    toks.get(at..at.saturating_add(phrase.len()))
        .is_some_and(|window| window == phrase)
}

/// Whether `phrase` occurs in `toks` ending exactly at `at`.
pub(super) fn ends_with(toks: &[&str], at: usize, phrase: &[&str]) -> bool {
    at.checked_sub(phrase.len())
        .is_some_and(|start| starts_with(toks, start, phrase))
}

/// A request spelt as slots in order, each slot listing interchangeable phrasings.
///
/// Between slots only "glue" words may stand (pronouns, "再", "please" …), so
/// "不要再给我打电话" matches `[不要] [打电话]` while "不要紧，我打电话问过" does not.
/// The phrasing `"^"` stands for the start of the clause and `"$"` for its end,
/// for requests that are only requests when said alone ("agent", "别再打").
pub(super) type Pattern = &'static [&'static [&'static str]];

/// How many glue words may separate two slots of a [`Pattern`].
const MAX_GLUE: usize = 4;

/// [`Pattern`]s split into tokens once, ready to match.
pub(super) struct Patterns {
    patterns: Vec<Vec<Vec<Phrasing>>>,
}

enum Phrasing {
    Start,
    End,
    Words(Vec<&'static str>),
}

impl Patterns {
    pub(super) fn new(patterns: &[Pattern]) -> Self {
        let phrasing = |text: &'static str| match text {
            "^" => Phrasing::Start,
            "$" => Phrasing::End,
            _ => Phrasing::Words(tokens(text)),
        };
        let patterns = patterns
            .iter()
            .map(|pattern| {
                pattern
                    .iter()
                    .map(|slot| slot.iter().map(|&text| phrasing(text)).collect())
                    .collect()
            })
            .collect();
        Self { patterns }
    }

    /// Every place where one of the patterns starts in `toks`, with only `glue` between its slots.
    pub(super) fn starts(&self, toks: &[&str], glue: &Phrases<()>) -> Vec<usize> {
        (0..=toks.len())
            .filter(|&start| {
                self.patterns
                    .iter()
                    .any(|pattern| slots_match(pattern, toks, start, glue))
            })
            .collect()
    }
}

fn slots_match(slots: &[Vec<Phrasing>], toks: &[&str], at: usize, glue: &Phrases<()>) -> bool {
    let Some((slot, rest)) = slots.split_first() else {
        return true;
    };
    slot.iter().any(|phrasing| {
        let end = match phrasing {
            Phrasing::Start => (at == 0).then_some(at),
            Phrasing::End => (at == toks.len()).then_some(at),
            Phrasing::Words(words) => {
                (!words.is_empty() && starts_with(toks, at, words)).then_some(at + words.len())
            }
        };
        end.is_some_and(|end| rest_match(rest, toks, end, glue))
    })
}

/// The remaining slots, right here or after a few glue words.
fn rest_match(rest: &[Vec<Phrasing>], toks: &[&str], mut at: usize, glue: &Phrases<()>) -> bool {
    for _ in 0..=MAX_GLUE {
        if slots_match(rest, toks, at, glue) {
            return true;
        }
        match glue.longest_at(toks, at) {
            Some((len, ())) => at += len,
            None => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_phrase_wins_where_several_start() {
        let table = Phrases::new(&[
            (&["没", "没有"], 'n'),
            (&["没有解决"], 'N'),
            (&["解决"], 'y'),
        ]);
        let toks = tokens("没有解决 解决");
        let found: Vec<_> = table.scan(&toks).iter().map(|f| f.what).collect();
        assert_eq!(found, ['N', 'y']);
    }

    #[test]
    fn a_pattern_allows_only_glue_between_its_slots() {
        const PATTERN: Pattern = &[&["不要", "别"], &["打电话", "打来"]];
        let glue = Phrases::new(&[(&["再", "给", "我"], ())]);
        let patterns = Patterns::new(&[PATTERN]);
        let matches = |text: &str| !patterns.starts(&tokens(text), &glue).is_empty();
        assert!(matches("不要再给我打电话"));
        assert!(matches("别打来"));
        assert!(!matches("不要紧我打电话问过"));
        assert!(!matches("打电话不要"));
    }

    #[test]
    fn anchors_tie_a_pattern_to_the_clause_edges() {
        const ALONE: Pattern = &[&["^"], &["agent"], &["$"]];
        let glue = Phrases::new(&[(&["an", "please"], ())]);
        let patterns = Patterns::new(&[ALONE]);
        let matches = |text: &str| !patterns.starts(&tokens(text), &glue).is_empty();
        assert!(matches("agent"));
        assert!(matches("an agent please"));
        assert!(!matches("the agent said"));
    }
}
