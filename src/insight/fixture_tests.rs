//! The wallet flow's topics against 200-odd answers as customers give them.
//!
//! Each fixture line says which topics a reader files it under, so a phrase
//! list that misses a paraphrase, or matches what it should not ("fee" in
//! "feedback", "frozen" for an account), fails here line by line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{Discovery, Limits, Matcher, Said, analyse};
use crate::flow::load;
use crate::flow::model::Topic;

struct Line {
    said: Said,
    topics: BTreeSet<String>,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> Vec<Line> {
    let path = root().join("tests/fixtures/insight/answers.txt");
    let text = std::fs::read_to_string(&path).expect("the insight fixture");
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.splitn(3, '\t');
            let (Some(caller), Some(topics), Some(said)) =
                (parts.next(), parts.next(), parts.next())
            else {
                panic!("a fixture line is caller, topics, text: {l:?}");
            };
            Line {
                said: Said::new(caller, said),
                topics: topics
                    .split(',')
                    .filter(|t| *t != "-")
                    .map(str::to_string)
                    .collect(),
            }
        })
        .collect()
}

fn wallet_topics() -> Vec<Topic> {
    let loaded = load::load_file(&root().join("call-flows/wallet-followup.toml"), None);
    loaded.flow.expect("the wallet flow checks clean").topics
}

#[test]
fn the_fixture_is_large_and_mixes_languages() {
    let lines = fixture();
    assert!(lines.len() >= 200, "{} answers", lines.len());
    let english = lines.iter().filter(|l| l.said.text.is_ascii()).count();
    assert!(
        english >= 40 && english < lines.len() / 2,
        "{english} English"
    );
}

#[test]
fn every_answer_gets_the_topics_a_reader_gives_it() {
    let topics = wallet_topics();
    let matcher = Matcher::new(&topics);
    let misfiled: Vec<String> = fixture()
        .iter()
        .filter_map(|line| {
            let got: BTreeSet<String> = matcher
                .topics_of(&line.said.text)
                .into_iter()
                .map(|i| topics[i].name.clone())
                .collect();
            (got != line.topics).then(|| {
                format!(
                    "  {:?}: want {:?}, got {got:?}",
                    line.said.text, line.topics
                )
            })
        })
        .collect();
    assert!(misfiled.is_empty(), "misfiled:\n{}", misfiled.join("\n"));
}

#[test]
fn topics_count_distinct_callers() {
    let lines = fixture();
    let said: Vec<Said> = lines.iter().map(|l| l.said.clone()).collect();
    let insight = analyse(
        &said,
        &wallet_topics(),
        &Discovery::new(),
        Limits::default(),
    );
    let counts: BTreeMap<&str, usize> = insight
        .topics
        .iter()
        .map(|t| (t.name.as_str(), t.callers))
        .collect();
    assert_eq!(insight.callers, 208);
    assert_eq!(
        counts,
        BTreeMap::from([
            ("转账失败", 35),
            ("手续费", 25),
            ("客服等待", 21),
            ("退款", 16),
            ("充值", 13),
            ("闪退卡顿", 17),
            ("表扬", 18),
        ])
    );
    // Most callers first, and each share is of all 208 callers.
    assert_eq!(insight.topics[0].name, "转账失败");
    assert!((insight.topics[0].share - 35.0 / 208.0).abs() < 1e-9);
    assert!(insight.topics.iter().all(|t| t.quotes.len() == 3));
}

#[test]
fn an_unnamed_frequent_phrase_surfaces_with_quotes() {
    let said: Vec<Said> = fixture().into_iter().map(|l| l.said).collect();
    let insight = analyse(
        &said,
        &wallet_topics(),
        &Discovery::new(),
        Limits::default(),
    );
    let first = &insight.unnamed[0];
    assert_eq!(first.phrase, "指纹支付");
    // Twelve callers said it, one of them twice.
    assert_eq!(first.callers, 12);
    assert_eq!(first.quotes.len(), 3);
    assert!(first.quotes.iter().all(|q| q.contains("指纹支付")));
    let rest: Vec<&str> = insight.unnamed.iter().map(|p| p.phrase.as_str()).collect();
    for expected in ["刷脸支付", "夜间模式", "扫码付款"] {
        assert!(rest.contains(&expected), "{expected} not in {rest:?}");
    }
    // Named topics are not suggested again.
    for named in ["转账失败", "手续费", "退款"] {
        assert!(
            !rest.iter().any(|p| p.contains(named)),
            "{named} in {rest:?}"
        );
    }
}
