//! The "What callers said" page: one flow's topics with caller counts,
//! shares, the change against the previous period and masked quotes; the
//! phrases no topic names yet; and, one click further, the calls behind
//! each. The work is `crate::http::said`'s, shared with the admin API.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::pages::{customer, flow_names, outcome_label, ser, time};
use super::session::{SignedIn, html_headers};
use super::{PageError, render};
use crate::http::AppState;
use crate::http::said::{SaidError, SaidParams, SaidReport};
use crate::store::CallSid;

/// Calls listed behind one topic at most; the JSON API has them all (the
/// CSV counts them).
const CALLS_SHOWN: usize = 200;

/// The page's parameters: the shared ones, and on the calls list which
/// topic or phrase to list the calls of.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub(super) struct PageParams {
    #[serde(flatten)]
    said: SaidParams,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    phrase: String,
}

/// One bar of the page: a topic or a phrase.
#[derive(Serialize)]
struct Line {
    name: String,
    callers: usize,
    /// "16.8%"; empty for a phrase.
    share: String,
    /// Bar width out of 300, by share of the period's callers.
    width: u32,
    /// "+60%", "−50%", "±0%", "new", or empty (nobody now or before).
    change: String,
    previous: Option<usize>,
    quotes: Vec<String>,
    /// The click-through to the calls behind it.
    calls_url: String,
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

fn change(previous: usize, ratio: Option<f64>, callers: usize) -> String {
    match ratio {
        Some(r) if r > 0.0 => format!("+{:.0}%", r * 100.0),
        Some(r) if r < 0.0 => format!("−{:.0}%", -r * 100.0),
        Some(_) => "±0%".to_owned(),
        None if callers > 0 && previous == 0 => "new".to_owned(),
        None => String::new(),
    }
}

fn width(callers: usize, total: usize) -> u32 {
    (300 * callers).checked_div(total).unwrap_or(0) as u32
}

/// The query string that selects exactly the page's calls: the period
/// written out, so a link means the same days whenever it is followed.
fn selection_query(report: &SaidReport, extra: &[(&str, &str)]) -> String {
    let since = report.since.to_rfc3339();
    let until = report.until.to_rfc3339();
    let campaign = report.campaign.map(|c| c.to_string()).unwrap_or_default();
    let condition = report.condition.clone().unwrap_or_default();
    let mut pairs: Vec<(&str, &str)> = vec![
        ("flow", report.flow.as_str()),
        ("from", since.as_str()),
        ("to", until.as_str()),
    ];
    if !campaign.is_empty() {
        pairs.push(("campaign", campaign.as_str()));
    }
    if !condition.is_empty() {
        pairs.push(("when", condition.as_str()));
    }
    pairs.extend_from_slice(extra);
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

fn day(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The flow shown when none is chosen: the first with topics.
fn default_flow(state: &AppState) -> String {
    let flows = &state.inner.flows;
    flows
        .iter()
        .find(|(_, f)| !f.topics.is_empty())
        .or_else(|| flows.iter().next())
        .map(|(name, _)| name.clone())
        .unwrap_or_default()
}

fn html(status: StatusCode, name: &str, context: minijinja::Value) -> Result<Response, PageError> {
    Ok((status, html_headers(), render(name, context)?).into_response())
}

/// Reads the selection and its report; a bad filter is shown on the page
/// (`Ok(Err(message))`), anything else fails the request.
async fn load(
    state: &AppState,
    params: &mut PageParams,
) -> Result<Result<SaidReport, String>, PageError> {
    if params.said.flow.trim().is_empty() {
        params.said.flow = default_flow(state);
    }
    let now = state.settings().clock.now();
    let selection = match params.said.read(state, now) {
        Ok(s) => s,
        Err(SaidError::Bad(why)) => return Ok(Err(why)),
        Err(SaidError::NoFlow) => {
            return Err(PageError::BadRequest(format!(
                "There is no flow {:?}.",
                params.said.flow
            )));
        }
    };
    Ok(Ok(selection.report(state.store()).await?))
}

/// `GET /said`: the page.
pub(super) async fn page(
    State(state): State<AppState>,
    _: SignedIn,
    Query(mut params): Query<PageParams>,
) -> Result<Response, PageError> {
    let report = load(&state, &mut params).await?;
    let clear =
        serde_urlencoded::to_string([("flow", params.said.flow.as_str())]).unwrap_or_default();
    let base = minijinja::context! {
        page => "said",
        clear_url => format!("/said?{clear}"),
        filters => ser(&params.said),
        flow_names => flow_names(&state),
    };
    let report = match report {
        Ok(report) => report,
        Err(why) => {
            return html(
                StatusCode::BAD_REQUEST,
                "said.html",
                minijinja::context! { error => why, ..base },
            );
        }
    };
    let topics: Vec<Line> = report
        .topics
        .iter()
        .map(|t| Line {
            name: t.name.clone(),
            callers: t.callers,
            share: percent(t.share),
            width: width(t.callers, report.callers),
            change: change(t.previous, t.change, t.callers),
            previous: Some(t.previous),
            quotes: t.quotes.clone(),
            calls_url: format!(
                "/said/calls?{}",
                selection_query(&report, &[("topic", &t.name)])
            ),
        })
        .collect();
    let unnamed: Vec<Line> = report
        .unnamed
        .iter()
        .map(|p| Line {
            name: p.phrase.clone(),
            callers: p.callers,
            share: String::new(),
            width: width(p.callers, report.callers),
            change: String::new(),
            previous: None,
            quotes: p.quotes.clone(),
            calls_url: format!(
                "/said/calls?{}",
                selection_query(&report, &[("phrase", &p.phrase)])
            ),
        })
        .collect();
    let api_query = selection_query(&report, &[]);
    html(
        StatusCode::OK,
        "said.html",
        minijinja::context! {
            flow => report.flow.clone(),
            period => format!("{} – {}", day(&report.since), day(&report.until)),
            previous => format!("{} – {}", day(&report.previous_since), day(&report.since)),
            questions => report.questions,
            callers => report.callers,
            previous_callers => report.previous_callers,
            condition => report.condition,
            topics => ser(&topics),
            unnamed => ser(&unnamed),
            csv_url => format!("/api/said/{}.csv?{api_query}", report.flow),
            ..base
        },
    )
}

/// `GET /said/calls`: the calls behind one topic or phrase.
pub(super) async fn calls(
    State(state): State<AppState>,
    _: SignedIn,
    Query(mut params): Query<PageParams>,
) -> Result<Response, PageError> {
    let report = load(&state, &mut params)
        .await?
        .map_err(PageError::BadRequest)?;
    let (what, sids) = if !params.topic.is_empty() {
        let topic = report
            .topics
            .iter()
            .find(|t| t.name == params.topic)
            .ok_or(PageError::NotFound("topic"))?;
        (format!("topic {}", topic.name), topic.calls.clone())
    } else {
        // A phrase no longer suggested (the texts changed) has no calls.
        let calls = report
            .unnamed
            .iter()
            .find(|p| p.phrase == params.phrase)
            .map(|p| p.calls.clone())
            .unwrap_or_default();
        (format!("“{}”, not yet named", params.phrase), calls)
    };
    #[derive(Serialize)]
    struct CallLine {
        call_sid: String,
        phone: String,
        outcome: String,
        started_at: String,
    }
    let mut lines = Vec::new();
    for sid in sids.iter().take(CALLS_SHOWN) {
        // The report's sids were read from the calls table: each parses.
        let Ok(sid) = CallSid::parse(sid) else {
            continue;
        };
        if let Some(c) = state.store().load_call(&sid).await? {
            lines.push(CallLine {
                call_sid: c.call_sid.to_string(),
                phone: customer(&c),
                outcome: outcome_label(c.outcome),
                started_at: time(&c.started_at),
            });
        }
    }
    lines.sort_by(|a, b| b.started_at.cmp(&a.started_at));
    html(
        StatusCode::OK,
        "said_calls.html",
        minijinja::context! {
            page => "said",
            flow => report.flow.clone(),
            what => what,
            total => sids.len(),
            calls => ser(&lines),
            back => format!("/said?{}", selection_query(&report, &[])),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_draws_its_topics_phrases_and_an_error() {
        let line = Line {
            name: "手续费".into(),
            callers: 3,
            share: "30.0%".into(),
            width: 90,
            change: "new".into(),
            previous: Some(0),
            quotes: vec!["手续费太高".into()],
            calls_url: "/said/calls?topic=%E6%89%8B".into(),
        };
        let drawn = render(
            "said.html",
            minijinja::context! {
                page => "said",
                clear_url => "/said?flow=wallet-followup",
                filters => ser(&SaidParams::default()),
                flow_names => vec!["wallet-followup"],
                flow => "wallet-followup",
                period => "a – b",
                previous => "c – a",
                questions => vec!["suggestion"],
                callers => 10,
                previous_callers => 0,
                condition => "csat <= 2",
                topics => ser(&[&line]),
                unnamed => ser(&[&line]),
                csv_url => "/api/said/wallet-followup.csv",
            },
        );
        let drawn = drawn.map_err(|e| format!("{e:?}")).unwrap();
        assert!(
            drawn.contains("data-topic=\"手续费\" data-callers=\"3\""),
            "{drawn}"
        );
        assert!(
            drawn.contains("<code data-condition>csat &lt;= 2</code>"),
            "{drawn}"
        );
        let error = render(
            "said.html",
            minijinja::context! {
                page => "said",
                clear_url => "/said?flow=wallet-followup",
                filters => ser(&SaidParams::default()),
                flow_names => vec!["wallet-followup"],
                error => "the condition cannot be read",
            },
        )
        .map_err(|e| format!("{e:?}"))
        .unwrap();
        assert!(
            error.contains("id=\"filter-error\">the condition cannot be read"),
            "{error}"
        );
    }

    #[test]
    fn a_change_reads_as_a_signed_percentage_or_new() {
        assert_eq!(change(25, Some(0.6), 40), "+60%");
        assert_eq!(change(20, Some(-0.5), 10), "−50%");
        assert_eq!(change(3, Some(0.0), 3), "±0%");
        assert_eq!(change(0, None, 12), "new");
        assert_eq!(change(0, None, 0), "");
    }
}
