//! 95 % intervals for the shares and scores Trends shows, so that ops can
//! tell a change from noise. Pure arithmetic on counts.
//!
//! - A share (completion, CSAT's 4–5, resolution's *yes*): the Wilson score
//!   interval. Unlike the textbook p ± z·√(p(1−p)/n) (Wald) it never leaves
//!   0–1 and does not shrink to a point at 0 % or 100 %, which a week of
//!   five calls often shows.
//! - NPS: the adjusted Wald interval for a difference of two shares of one
//!   multinomial sample, var = (p_P + p_D − (p_P − p_D)²)/n, computed after
//!   adding ¾ to the promoters, ¾ to the detractors and 3 to n. Rocks (2016,
//!   *The American Statistician*, "Interval estimation for the net promoter
//!   score") found this adjusted Wald the best of six methods for coverage;
//!   Lewis and Sauro reached the same on real data
//!   (<https://measuringu.com/nps-three-confidence-intervals/>). Without
//!   the adjustment a week whose three answers are all 10 would show
//!   "NPS +100, interval +100 to +100". The interval is centred on the
//!   adjusted score, so it is not symmetric around the plain NPS shown
//!   beside it; both are clamped to −100…+100.

use serde::Serialize;

/// z for a two-sided 95 % interval (the 97.5th percentile of N(0, 1)).
pub const Z95: f64 = 1.959_963_984_540_054;

/// A share `count / of` with its 95 % Wilson interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    pub count: i64,
    pub of: i64,
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

impl Rate {
    /// `None` when there is nothing to divide by.
    pub fn wilson(count: i64, of: i64) -> Option<Rate> {
        if of <= 0 || count < 0 || count > of {
            return None;
        }
        let n = of as f64;
        let p = count as f64 / n;
        let z2 = Z95 * Z95;
        let denominator = 1.0 + z2 / n;
        let centre = (p + z2 / (2.0 * n)) / denominator;
        let half = Z95 / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
        Some(Rate {
            count,
            of,
            value: p,
            low: (centre - half).max(0.0),
            high: (centre + half).min(1.0),
        })
    }
}

/// An NPS with its parts and its 95 % interval, in points (−100 to 100).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Nps {
    pub answered: i64,
    pub promoters: i64,
    pub passives: i64,
    pub detractors: i64,
    pub score: f64,
    pub low: f64,
    pub high: f64,
}

impl Nps {
    /// `None` with no answers.
    pub fn adjusted_wald(promoters: i64, passives: i64, detractors: i64) -> Option<Nps> {
        let answered = promoters + passives + detractors;
        if answered <= 0 || promoters < 0 || passives < 0 || detractors < 0 {
            return None;
        }
        let n = answered as f64;
        let score = (promoters - detractors) as f64 / n;
        let adjusted_n = n + 3.0;
        let p = (promoters as f64 + 0.75) / adjusted_n;
        let d = (detractors as f64 + 0.75) / adjusted_n;
        let centre = p - d;
        let variance = (p + d - centre * centre) / adjusted_n;
        let half = Z95 * variance.sqrt();
        Some(Nps {
            answered,
            promoters,
            passives,
            detractors,
            score: score * 100.0,
            low: (centre - half).max(-1.0) * 100.0,
            high: (centre + half).min(1.0) * 100.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn wilson_matches_the_hand_computed_interval_for_three_of_five() {
        // p = 0.6, n = 5, z² = 3.841459.
        // denominator = 1 + z²/n = 1.768292
        // centre = (0.6 + z²/10) / 1.768292 = 0.984146 / 1.768292 = 0.556551
        // half = z / 1.768292 · √(0.6·0.4/5 + z²/100)
        //      = 1.108393 · √(0.048 + 0.038415) = 1.108393 · 0.293964 = 0.325828
        // interval = 0.556551 ± 0.325828 = [0.230723, 0.882379]
        let r = Rate::wilson(3, 5).unwrap();
        assert!(close(r.value, 0.6));
        assert!(close(r.low, 0.230723), "{r:?}");
        assert!(close(r.high, 0.882379), "{r:?}");
    }

    #[test]
    fn wilson_keeps_a_width_at_none_and_at_all() {
        // 0 of 4: centre = (0 + z²/8)/(1 + z²/4) = 0.480182/1.960365 = 0.244945,
        // half = z/1.960365 · √(0 + z²/64) = 0.999794 · 0.244991 = 0.244945:
        // [0, 0.489891]. 4 of 4 mirrors it: [0.510109, 1].
        let none = Rate::wilson(0, 4).unwrap();
        assert!(
            close(none.low, 0.0) && close(none.high, 0.489891),
            "{none:?}"
        );
        let all = Rate::wilson(4, 4).unwrap();
        assert!(close(all.low, 0.510109) && close(all.high, 1.0), "{all:?}");
    }

    #[test]
    fn a_share_of_nothing_has_no_interval() {
        assert_eq!(Rate::wilson(0, 0), None);
        assert_eq!(Rate::wilson(3, 2), None);
    }

    #[test]
    fn nps_matches_the_hand_computed_adjusted_wald_interval() {
        // 2 promoters, 2 passives, 1 detractor: NPS = (2 − 1)/5 = +20.
        // Adjusted: n' = 8, p_P = 2.75/8 = 0.34375, p_D = 1.75/8 = 0.21875,
        // centre = 0.125, var = (0.5625 − 0.125²)/8 = 0.546875/8 = 0.068359,
        // half = z · √0.068359 = 1.959964 · 0.261456 = 0.512444,
        // interval = [−0.387445, 0.637445] → −38.74 to +63.74 points.
        let n = Nps::adjusted_wald(2, 2, 1).unwrap();
        assert!(close(n.score, 20.0));
        assert!(close(n.low, -38.7445), "{n:?}");
        assert!(close(n.high, 63.7445), "{n:?}");
    }

    #[test]
    fn an_all_promoter_nps_still_has_an_interval_and_stays_within_bounds() {
        // 3 promoters: n' = 6, p_P = 3.75/6 = 0.625, p_D = 0.75/6 = 0.125,
        // centre = 0.5, var = (0.75 − 0.25)/6 = 0.083333, half = z · 0.288675
        // = 0.565794: [−0.065793, 1.065794] → clamped high to +100.
        let n = Nps::adjusted_wald(3, 0, 0).unwrap();
        assert!(close(n.score, 100.0));
        assert!(close(n.low, -6.5793), "{n:?}");
        assert!(close(n.high, 100.0), "{n:?}");
        assert_eq!(Nps::adjusted_wald(0, 0, 0), None);
    }
}
