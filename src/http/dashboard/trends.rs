//! The Trends page: one flow (and optionally one campaign) period by
//! period — completion, CSAT, NPS and resolution, each a line of points
//! with its 95 % interval drawn as a whisker, and the same figures in a
//! table. The work is `crate::http::trends`'s, shared with the admin API;
//! this file only places numbers on an SVG.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::pages::{flow_names, ser};
use super::session::{SignedIn, html_headers};
use super::{PageError, render};
use crate::http::AppState;
use crate::http::trends::{TrendsError, TrendsParams};
use crate::report::interval::{Nps, Rate};
use crate::report::trends::{Figures, Paired, Trends};

/// The plot area inside each chart's SVG, in SVG units.
const LEFT: f64 = 48.0;
const TOP: f64 = 10.0;
const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 140.0;

/// One chart: a metric over the periods.
#[derive(Debug, Serialize)]
struct Chart {
    /// `completion`, `csat`, `nps` or `resolution`.
    key: &'static str,
    title: String,
    /// The line through the points that have a value (`x,y x,y …`).
    line: String,
    points: Vec<Point>,
    /// Horizontal grid lines and their labels.
    grid: Vec<(f64, String)>,
    /// Labels under the x axis (first day of each period).
    ticks: Vec<(f64, String)>,
    /// The whole range's figure and interval, as text.
    total: Cell,
}

/// One period's point with its interval.
#[derive(Debug, Serialize)]
struct Point {
    period: String,
    x: f64,
    /// `None`: nothing to show for this period (no answers).
    y: Option<f64>,
    y_low: f64,
    y_high: f64,
    cell: Cell,
}

/// A figure as the page prints it: `"60.0%"` and `"23.1–88.2%"`, or
/// `"+20"` and `"−38.7 to +63.7"`, over `n`.
#[derive(Debug, Default, Serialize)]
struct Cell {
    value: String,
    interval: String,
    n: i64,
}

fn rate_cell(r: &Option<Rate>) -> Cell {
    match r {
        Some(r) => Cell {
            value: format!("{:.1}%", r.value * 100.0),
            interval: format!("{:.1}–{:.1}%", r.low * 100.0, r.high * 100.0),
            n: r.of,
        },
        None => Cell {
            value: "–".into(),
            ..Cell::default()
        },
    }
}

/// Signed points, with a real minus sign.
fn signed(x: f64, decimals: usize) -> String {
    let text = format!("{x:+.decimals$}");
    text.replacen('-', "−", 1)
}

fn nps_cell(n: &Option<Nps>) -> Cell {
    match n {
        Some(n) => Cell {
            value: signed(n.score, 0),
            interval: format!("{} to {}", signed(n.low, 1), signed(n.high, 1)),
            n: n.answered,
        },
        None => Cell {
            value: "–".into(),
            ..Cell::default()
        },
    }
}

/// A value on the chart's scale (`min..max`) as a y coordinate.
fn y_of(value: f64, min: f64, max: f64) -> f64 {
    let share = ((value - min) / (max - min)).clamp(0.0, 1.0);
    ((TOP + (1.0 - share) * HEIGHT) * 10.0).round() / 10.0
}

/// The x coordinate of the `i`-th of `n` periods.
fn x_of(i: usize, n: usize) -> f64 {
    let step = if n > 1 { WIDTH / (n - 1) as f64 } else { 0.0 };
    let x = if n > 1 {
        LEFT + step * i as f64
    } else {
        LEFT + WIDTH / 2.0
    };
    (x * 10.0).round() / 10.0
}

/// What a chart plots of one period: value, low, high on its scale, and
/// the cell to print.
type Pick = fn(&Figures) -> (Option<(f64, f64, f64)>, Cell);

fn chart(
    trends: &Trends,
    key: &'static str,
    title: String,
    pick: Pick,
    scale: (f64, f64),
) -> Chart {
    let (min, max) = scale;
    let n = trends.periods.len();
    let points: Vec<Point> = trends
        .periods
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (figure, cell) = pick(&p.figures);
            let (y, y_low, y_high) = match figure {
                Some((v, lo, hi)) => (
                    Some(y_of(v, min, max)),
                    y_of(lo, min, max),
                    y_of(hi, min, max),
                ),
                None => (None, 0.0, 0.0),
            };
            Point {
                period: p.start.to_string(),
                x: x_of(i, n),
                y,
                // The whisker runs from the low bound (bottom) to the high.
                y_low,
                y_high,
                cell,
            }
        })
        .collect();
    let line = points
        .iter()
        .filter_map(|p| p.y.map(|y| format!("{},{}", p.x, y)))
        .collect::<Vec<_>>()
        .join(" ");
    let grid = [0.0, 0.25, 0.5, 0.75, 1.0]
        .into_iter()
        .map(|s| {
            let v = min + s * (max - min);
            let label = if min < 0.0 {
                signed(v, 0)
            } else {
                format!("{:.0}%", v * 100.0)
            };
            (y_of(v, min, max), label)
        })
        .collect();
    // At most about eight labels, so they never overlap.
    let every = n.div_ceil(8).max(1);
    let ticks = points
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(_, p)| (p.x, p.period[5..].to_owned()))
        .collect();
    let (_, total) = pick(&trends.total);
    Chart {
        key,
        title,
        line,
        points,
        grid,
        ticks,
        total,
    }
}

fn rate_pick(r: &Option<Rate>) -> (Option<(f64, f64, f64)>, Cell) {
    (r.map(|r| (r.value, r.low, r.high)), rate_cell(r))
}

/// Completion always; CSAT, NPS and resolution when the flow asks them.
fn charts(trends: &Trends) -> Vec<Chart> {
    let q = &trends.questions;
    let mut charts = vec![chart(
        trends,
        "completion",
        "Completion (completed of reached calls)".into(),
        |f| rate_pick(&f.completion),
        (0.0, 1.0),
    )];
    if let Some(id) = &q.csat {
        charts.push(chart(
            trends,
            "csat",
            format!("CSAT, share of 4–5 (question {id})"),
            |f| rate_pick(&f.csat),
            (0.0, 1.0),
        ));
    }
    if let Some(id) = &q.nps {
        charts.push(chart(
            trends,
            "nps",
            format!("NPS (question {id})"),
            |f| (f.nps.map(|n| (n.score, n.low, n.high)), nps_cell(&f.nps)),
            (-100.0, 100.0),
        ));
    }
    if let Some(id) = &q.resolved {
        charts.push(chart(
            trends,
            "resolution",
            format!("Resolution, share of yes (question {id})"),
            |f| rate_pick(&f.resolution),
            (0.0, 1.0),
        ));
    }
    charts
}

/// One line of the table under the charts.
#[derive(Serialize)]
struct Row {
    period: String,
    calls: i64,
    reached: i64,
    completion: Cell,
    csat: Cell,
    nps: Cell,
    resolution: Cell,
}

fn row(period: String, f: &Figures) -> Row {
    Row {
        period,
        calls: f.calls,
        reached: f.reached,
        completion: rate_cell(&f.completion),
        csat: rate_cell(&f.csat),
        nps: nps_cell(&f.nps),
        resolution: rate_cell(&f.resolution),
    }
}

/// One metric of before and after, as the page prints and draws it.
#[derive(Serialize)]
struct PairedView {
    key: &'static str,
    title: &'static str,
    pairs: i64,
    before: Cell,
    after: Cell,
    /// Bar widths (of 300) and whisker ends for before and after.
    bars: [(f64, f64, f64); 2],
    changed_up: i64,
    changed_down: i64,
}

fn paired_view(key: &'static str, title: &'static str, p: &Paired) -> PairedView {
    let w = |x: f64| (x * 3000.0).round() / 10.0;
    let bar = |r: &Rate| (w(r.value), w(r.low), w(r.high));
    PairedView {
        key,
        title,
        pairs: p.pairs,
        before: rate_cell(&Some(p.before)),
        after: rate_cell(&Some(p.after)),
        bars: [bar(&p.before), bar(&p.after)],
        changed_up: p.changed_up,
        changed_down: p.changed_down,
    }
}

fn before_after(trends: &Trends) -> Vec<PairedView> {
    let Some(ba) = &trends.before_after else {
        return Vec::new();
    };
    let mut views = Vec::new();
    if let Some(p) = &ba.resolution {
        views.push(paired_view("resolution", "Resolution (yes)", p));
    }
    if let Some(p) = &ba.csat {
        views.push(paired_view("csat", "CSAT (4–5)", p));
    }
    views
}

/// `GET /trends`: the page.
pub(super) async fn page(
    State(state): State<AppState>,
    _: SignedIn,
    Query(mut params): Query<TrendsParams>,
) -> Result<Response, PageError> {
    if params.flow.trim().is_empty() {
        params.flow = flow_names(&state).into_iter().next().unwrap_or_default();
    }
    let now = state.settings().clock.now();
    let base = minijinja::context! {
        page => "trends",
        filters => ser(&params),
        flow_names => flow_names(&state),
    };
    let trends = match params.load(&state, now).await {
        Ok(trends) => trends,
        Err(TrendsError::Bad(why)) => {
            let html = render("trends.html", minijinja::context! { error => why, ..base })?;
            return Ok((StatusCode::BAD_REQUEST, html_headers(), html).into_response());
        }
        Err(TrendsError::NoFlow) => {
            return Err(PageError::BadRequest(format!(
                "There is no flow {:?}.",
                params.flow
            )));
        }
        Err(TrendsError::Store(e)) => return Err(e.into()),
    };
    let mut query: Vec<(&str, String)> = vec![
        (
            "since",
            trends.since.map(|t| t.to_rfc3339()).unwrap_or_default(),
        ),
        (
            "until",
            trends.until.map(|t| t.to_rfc3339()).unwrap_or_default(),
        ),
        ("by", trends.by.as_str().to_owned()),
    ];
    if let Some(c) = trends.campaign {
        query.push(("campaign", c.to_string()));
    }
    let query = serde_urlencoded::to_string(&query).unwrap_or_default();
    let day = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default()
    };
    // The periods, then the whole range as the last line.
    let rows: Vec<Row> = trends
        .periods
        .iter()
        .map(|p| row(p.start.to_string(), &p.figures))
        .chain([row("all".into(), &trends.total)])
        .collect();
    let html = render(
        "trends.html",
        minijinja::context! {
            flow => trends.flow.clone(),
            campaign => trends.campaign,
            by => trends.by.as_str(),
            range => format!("{} – {}", day(trends.since), day(trends.until)),
            charts => ser(&charts(&trends)),
            rows => ser(&rows),
            before_after => ser(&before_after(&trends)),
            csv_url => format!("/api/trends/{}.csv?{query}", trends.flow),
            json_url => format!("/api/trends/{}?{query}", trends.flow),
            ..base
        },
    )?;
    Ok((html_headers(), html).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_on_the_chart_scale() {
        assert_eq!(y_of(1.0, 0.0, 1.0), TOP);
        assert_eq!(y_of(0.0, 0.0, 1.0), TOP + HEIGHT);
        assert_eq!(y_of(0.0, -100.0, 100.0), TOP + HEIGHT / 2.0);
        assert_eq!(x_of(0, 3), LEFT);
        assert_eq!(x_of(2, 3), LEFT + WIDTH);
        assert_eq!(x_of(0, 1), LEFT + WIDTH / 2.0);
    }

    #[test]
    fn an_nps_is_printed_with_a_real_minus_sign() {
        assert_eq!(signed(-38.7445, 1), "−38.7");
        assert_eq!(signed(20.0, 0), "+20");
    }
}
