//! The language tags and voices the provider accepts, from the flow's
//! language. A flow says `language = "zh-CN"` or `"en-US"` (what its
//! authors know); the provider's tables say something narrower:
//!
//! - `<Say>`: the default voice (`man`) speaks only English, Spanish,
//!   French and German, so Mandarin needs a named voice, and a named voice
//!   takes its language's tag from the provider's text-to-speech table:
//!   `cmn-CN` for Mandarin (Amazon Polly's `Zhiyu`), `en-US` for American
//!   English (Polly's `Joanna`). An invalid voice/language pair makes the
//!   provider fail the `<Say>`, so the two always go together here.
//! - `<Gather>` speech recognition takes the tag of its speech-to-text
//!   language table: `cmn-Hans-CN` for Mandarin (Simplified, China),
//!   `en-US` for English.
//!
//! Tags other than these pass through unchanged, with the flow's own
//! `voice` if it sets one.

/// The voice a Mandarin `<Say>` gets when the flow names none.
pub(super) const MANDARIN_VOICE: &str = "Polly.Zhiyu";
/// The voice an English `<Say>` gets when the flow names none.
pub(super) const ENGLISH_VOICE: &str = "Polly.Joanna";

/// `language` and `voice` of a `<Say>` speaking text in `language` (a
/// flow's tag), in a flow whose own language is `flow_language` and whose
/// `voice` is `flow_voice`. The flow's voice speaks only the flow's
/// language: a step in another language gets that language's default.
pub(super) fn say<'a>(
    language: &'a str,
    flow_language: &str,
    flow_voice: Option<&'a str>,
) -> (&'a str, Option<&'a str>) {
    let own = flow_voice.filter(|_| same_language(language, flow_language));
    match known(language) {
        Some(Known::Mandarin) => ("cmn-CN", own.or(Some(MANDARIN_VOICE))),
        Some(Known::AmericanEnglish) => ("en-US", own.or(Some(ENGLISH_VOICE))),
        None => (language, own),
    }
}

/// The `<Gather language>` for speech in `language` (a flow's tag).
pub(super) fn gather(language: &str) -> &str {
    match known(language) {
        Some(Known::Mandarin) => "cmn-Hans-CN",
        Some(Known::AmericanEnglish) => "en-US",
        None => language,
    }
}

/// Do two flow tags name the same language (`zh-CN` and `cmn-Hans-CN` do)?
fn same_language(a: &str, b: &str) -> bool {
    match (known(a), known(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a.eq_ignore_ascii_case(b),
    }
}

#[derive(PartialEq)]
enum Known {
    Mandarin,
    AmericanEnglish,
}

/// The tags a flow may use for the two languages dialback speaks (see
/// `flow::phrases`); Taiwanese or Hong Kong variants are not these.
/// Compared without case and without allocating: this runs for every
/// `<Say>` of every answer.
fn known(language: &str) -> Option<Known> {
    const MANDARIN: [&str; 7] = [
        "zh",
        "zh-cn",
        "zh-hans",
        "zh-hans-cn",
        "cmn",
        "cmn-cn",
        "cmn-hans-cn",
    ];
    const ENGLISH: [&str; 2] = ["en", "en-us"];
    let is = |tags: &[&str]| tags.iter().any(|t| t.eq_ignore_ascii_case(language));
    if is(&MANDARIN) {
        Some(Known::Mandarin)
    } else if is(&ENGLISH) {
        Some(Known::AmericanEnglish)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mandarin_is_said_by_a_mandarin_voice_with_its_tts_tag_and_heard_with_its_stt_tag() {
        for tag in ["zh-CN", "zh", "cmn-Hans-CN", "cmn-CN"] {
            assert_eq!(say(tag, "zh-CN", None), ("cmn-CN", Some(MANDARIN_VOICE)));
            assert_eq!(gather(tag), "cmn-Hans-CN");
        }
    }

    #[test]
    fn english_gets_an_english_voice_and_keeps_en_us() {
        assert_eq!(say("en-US", "en-US", None), ("en-US", Some(ENGLISH_VOICE)));
        assert_eq!(say("en", "zh-CN", None), ("en-US", Some(ENGLISH_VOICE)));
        assert_eq!(gather("en-US"), "en-US");
    }

    #[test]
    fn the_flows_voice_speaks_only_the_flows_language() {
        let zh = Some("Google.cmn-CN-Standard-A");
        assert_eq!(say("zh-CN", "zh-CN", zh), ("cmn-CN", zh));
        assert_eq!(say("en-US", "zh-CN", zh), ("en-US", Some(ENGLISH_VOICE)));
    }

    #[test]
    fn other_languages_pass_through_with_the_flows_voice_or_none() {
        assert_eq!(say("fr-FR", "fr-FR", None), ("fr-FR", None));
        assert_eq!(
            say("fr-FR", "fr-FR", Some("Polly.Lea")),
            ("fr-FR", Some("Polly.Lea"))
        );
        assert_eq!(
            say("en-US", "fr-FR", Some("Polly.Lea")),
            ("en-US", Some(ENGLISH_VOICE))
        );
        assert_eq!(gather("zh-TW"), "zh-TW");
    }
}
