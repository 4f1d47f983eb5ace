//! "+60 % on the previous 30 days": one topic's callers now and before.

use super::Insight;

/// A topic's callers in this period and the previous one of the same length.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub name: String,
    pub callers: usize,
    pub previous: usize,
    /// (now − before) / before: 0.6 is +60 %. `None` when nobody mentioned it
    /// before, because a rise from nothing has no ratio (the page says "new").
    pub ratio: Option<f64>,
}

/// Pairs each topic of `now` with the same-named topic of `before`, in `now`'s order.
///
/// A topic missing from `before` (added to the flow since) had no callers then.
pub fn compare(now: &Insight, before: &Insight) -> Vec<Change> {
    now.topics
        .iter()
        .map(|t| {
            let previous = before
                .topics
                .iter()
                .find(|b| b.name == t.name)
                .map_or(0, |b| b.callers);
            let ratio =
                (previous > 0).then(|| (t.callers as f64 - previous as f64) / previous as f64);
            Change {
                name: t.name.clone(),
                callers: t.callers,
                previous,
                ratio,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insight::TopicCount;

    fn insight(topics: &[(&str, usize)]) -> Insight {
        Insight {
            callers: 100,
            topics: topics
                .iter()
                .map(|&(name, callers)| TopicCount {
                    name: name.to_string(),
                    callers,
                    share: callers as f64 / 100.0,
                    quotes: Vec::new(),
                })
                .collect(),
            unnamed: Vec::new(),
        }
    }

    #[test]
    fn a_change_is_a_ratio_of_the_previous_period() {
        let now = insight(&[("转账失败", 40), ("手续费", 10), ("退款", 0)]);
        let before = insight(&[("手续费", 20), ("转账失败", 25), ("退款", 4)]);
        let changes = compare(&now, &before);
        let ratios: Vec<(&str, usize, usize, Option<f64>)> = changes
            .iter()
            .map(|c| (c.name.as_str(), c.callers, c.previous, c.ratio))
            .collect();
        assert_eq!(
            ratios,
            [
                ("转账失败", 40, 25, Some(0.6)),
                ("手续费", 10, 20, Some(-0.5)),
                ("退款", 0, 4, Some(-1.0)),
            ]
        );
    }

    #[test]
    fn a_topic_nobody_mentioned_before_has_no_ratio() {
        let now = insight(&[("指纹支付", 12), ("充值", 3)]);
        let before = insight(&[("充值", 0)]);
        let changes = compare(&now, &before);
        assert_eq!(changes[0].previous, 0);
        assert_eq!(changes[0].ratio, None);
        assert_eq!(changes[1].ratio, None);
    }
}
