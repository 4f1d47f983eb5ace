//! The dashboard in a real headless Chromium (Debian's `chromium`, driven
//! over the DevTools Protocol by `common/browser.rs`): sign in through the
//! form, read the charts' numbers from the rendered page, change a filter,
//! and keep a screenshot under the target folder.

use chrono::{TimeZone, Utc};
use dialback::config::Clock;
use serde_json::json;

use crate::common::browser::Browser;
use crate::common::dashboard as fixture;
use crate::common::db::TestDb;
use crate::common::phone::{ADMIN_TOKEN, AUTH_TOKEN, Options, Server};
use crate::common::said;

/// A figure of one flow's section, as the page shows it.
fn figure(flow: &str, name: &str) -> String {
    format!(
        "document.querySelector('[data-flow=\"{flow}\"] [data-figure=\"{name}\"]').textContent.trim()"
    )
}

fn score(flow: &str, question: &str) -> String {
    format!(
        "document.querySelector('[data-flow=\"{flow}\"] figure[data-question=\"{question}\"] [data-score]').dataset.score"
    )
}

/// Each bar of a question's chart: label, count, and the drawn width of
/// its rectangle (0 when the SVG is not rendered).
fn bars(flow: &str, question: &str) -> String {
    format!(
        "Array.from(document.querySelectorAll('[data-flow=\"{flow}\"] figure[data-question=\"{question}\"] g.bar'))\
         .map(g => [g.dataset.label, Number(g.dataset.count), Math.round(g.querySelector('rect').getBBox().width)])"
    )
}

/// Signs in on the login page `browser` shows, with the admin token, and
/// waits until `until` holds on the page it leads to.
async fn sign_in(browser: &mut Browser, until: &str) {
    let script = format!(
        "document.querySelector('#token').value = '{ADMIN_TOKEN}'; \
         document.querySelector('form[action=\"/login\"]').submit(); true"
    );
    browser.submit(&script, until).await;
}

#[tokio::test]
async fn a_browser_signs_in_and_sees_the_fixture_charts_change_with_a_filter() {
    let db = TestDb::sqlite().await;
    let recordings = tempfile::tempdir().unwrap();
    fixture::load(db.store(), recordings.path()).await;
    let mut settings = Server::settings(Options {
        database_url: db.url().to_owned(),
        crm_webhook: None,
        auth_token: Some(AUTH_TOKEN.into()),
        clock: Clock::Fixed(Utc.with_ymd_and_hms(2026, 3, 5, 12, 0, 0).unwrap()),
    });
    // Plain http, as the browser reaches it (no `Secure` cookie).
    settings.public_url = "http://127.0.0.1".into();
    settings.media.recordings_dir = recordings.path().to_owned();
    let server = Server::start_settings(settings).await;
    let base = format!("http://{}", server.addr);
    let mut browser = Browser::launch().await;

    browser
        .navigate(&format!("{base}/"), "document.querySelector('#token')")
        .await;
    let login_path = browser.eval("location.pathname").await;
    sign_in(
        &mut browser,
        "location.pathname === '/' && document.querySelector('[data-flow]')",
    )
    .await;
    let completion = browser.eval(&figure("wallet-followup", "completion")).await;
    let csat = browser.eval(&score("wallet-followup", "csat")).await;
    let nps = browser.eval(&score("nps-survey", "nps")).await;
    let csat_bars = browser.eval(&bars("wallet-followup", "csat")).await;

    browser
        .submit(
            "const f = document.querySelector('form.filters'); \
             f.querySelector('[name=flow]').value = 'wallet-followup'; \
             f.querySelector('[name=to]').value = '2026-03-01'; f.submit(); true",
            "location.search.includes('to=2026-03-01')",
        )
        .await;
    let filtered_completion = browser.eval(&figure("wallet-followup", "completion")).await;
    let filtered_csat = browser.eval(&score("wallet-followup", "csat")).await;
    let sections = browser
        .eval("document.querySelectorAll('[data-flow]').length")
        .await;
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-overview.png");
    let png = browser.screenshot(&shot).await;
    browser.close().await;
    server.stop().await;
    db.cleanup().await;

    assert_eq!(
        login_path,
        json!("/login"),
        "signed out, / leads to the form"
    );
    assert_eq!(
        (completion, csat, nps),
        (json!("60.0%"), json!("50.0"), json!("+20"))
    );
    // csat 1..5 answered 0, 1, 1, 1, 1 times: a bar of 25 % is 60 units wide.
    assert_eq!(
        csat_bars,
        json!([
            ["1", 0, 0],
            ["2", 1, 60],
            ["3", 1, 60],
            ["4", 1, 60],
            ["5", 1, 60]
        ])
    );
    assert_eq!(
        (filtered_completion, filtered_csat),
        (json!("50.0%"), json!("66.7"))
    );
    assert_eq!(sections, json!(1), "only the chosen flow");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        png.len() > 20_000,
        "a drawn page, not a blank one: {} bytes",
        png.len()
    );
}

/// Callers per topic or phrase on the "What callers said" page.
const THEMES: &str = "Object.fromEntries(Array.from(document.querySelectorAll('li.theme'))\
     .map(li => [li.dataset.topic || li.dataset.phrase, Number(li.dataset.callers)]))";

#[tokio::test]
async fn a_browser_reads_what_callers_said_filters_by_an_answer_and_follows_a_topic_to_its_calls() {
    let db = TestDb::sqlite().await;
    said::load(db.store()).await;
    let flows = said::flows_dir();
    let mut settings = Server::settings(Options {
        database_url: db.url().to_owned(),
        crm_webhook: None,
        auth_token: Some(AUTH_TOKEN.into()),
        clock: Clock::Fixed(said::now()),
    });
    settings.public_url = "http://127.0.0.1".into();
    settings.flows_dir = flows.path().to_owned();
    let server = Server::start_settings(settings).await;
    let base = format!("http://{}", server.addr);
    let mut browser = Browser::launch().await;

    browser
        .navigate(&format!("{base}/said"), "document.querySelector('#token')")
        .await;
    sign_in(&mut browser, "location.pathname === '/'").await;
    browser
        .navigate(
            &format!("{base}/said?flow={}", said::FLOW),
            "document.querySelector('li.theme')",
        )
        .await;
    let themes = browser.eval(THEMES).await;
    let callers = browser
        .eval("document.querySelector('[data-figure=\"callers\"]').textContent.trim()")
        .await;
    let change = browser
        .eval("document.querySelector('li[data-topic=\"转账失败\"] .change').textContent")
        .await;
    let first_unnamed = browser
        .eval("document.querySelector('li.unnamed').dataset.phrase")
        .await;
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-said.png");
    let png = browser.screenshot(&shot).await;

    browser
        .submit(
            "const f = document.querySelector('form.filters'); \
             f.querySelector('[name=when]').value = 'csat <= 2'; f.submit(); true",
            "location.search.includes('when=') && document.querySelector('[data-condition]')",
        )
        .await;
    let unhappy = browser.eval(THEMES).await;
    browser
        .submit(
            "document.querySelector('li[data-topic=\"手续费\"] a.theme-name').click(); true",
            "location.pathname === '/said/calls'",
        )
        .await;
    let fee_calls = browser
        .eval("[document.querySelector('[data-figure=\"total\"]').textContent, document.querySelectorAll('tr[data-call]').length]")
        .await;
    browser
        .submit(
            "history.back(); true",
            "location.pathname === '/said' && document.querySelector('form.filters')",
        )
        .await;
    browser
        .submit(
            "const g = document.querySelector('form.filters'); \
             g.querySelector('[name=when]').value = 'csat = 2'; g.submit(); true",
            "document.querySelector('#filter-error')",
        )
        .await;
    let diagnostic = browser
        .eval("document.querySelector('#filter-error').textContent")
        .await;
    browser.close().await;
    server.stop().await;
    db.cleanup().await;

    for (name, want) in [
        ("转账失败", 35),
        ("手续费", 25),
        ("客服等待", 21),
        ("表扬", 18),
        ("闪退卡顿", 17),
        ("退款", 16),
        ("充值", 13),
        ("指纹支付", 12),
    ] {
        assert_eq!(themes[name], json!(want), "{name} in {themes}");
    }
    assert_eq!((callers, change), (json!("208"), json!("+40%")));
    assert_eq!(first_unnamed, json!("指纹支付"));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    // Only the 35 callers whose transfer failed rated 2 or less.
    assert_eq!(unhappy["转账失败"], json!(35), "{unhappy}");
    let lines = said::lines();
    let unhappy_fees: Vec<&said::Line> = lines
        .iter()
        .filter(|l| said::csat(l) <= 2 && l.topics.contains("手续费"))
        .collect();
    let callers: std::collections::BTreeSet<&str> =
        unhappy_fees.iter().map(|l| l.caller.as_str()).collect();
    assert_eq!(unhappy["手续费"], json!(callers.len()), "{unhappy}");
    assert_eq!(
        fee_calls,
        json!([unhappy_fees.len().to_string(), unhappy_fees.len()])
    );
    assert!(
        diagnostic
            .as_str()
            .is_some_and(|d| d.contains("a single `=` is not a comparison") && d.contains("^")),
        "{diagnostic}"
    );
}

/// Each point of one Trends chart: period, value and interval as drawn,
/// and whether its whisker is drawn (a line taller than zero).
fn trend_points(metric: &str) -> String {
    format!(
        "Array.from(document.querySelectorAll('figure[data-metric=\"{metric}\"] g.point'))\
         .map(g => [g.dataset.period, g.dataset.value, g.dataset.interval, \
                    g.querySelector('line.whisker') ? Math.round(g.querySelector('line.whisker').getBBox().height) > 0 : false])"
    )
}

/// The table's cell for one period and metric: value, interval, n.
fn trend_cell(period: &str, metric: &str) -> String {
    format!(
        "(c => [c.dataset.value, c.dataset.interval, Number(c.dataset.n)])\
         (document.querySelector('tr[data-period=\"{period}\"] td[data-figure=\"{metric}\"]'))"
    )
}

#[tokio::test]
async fn a_browser_reads_the_trends_fixture_figures_and_intervals_off_the_page() {
    use crate::common::trends::{self as trends_fixture, FROM, TO};
    let db = TestDb::sqlite().await;
    trends_fixture::load(db.store()).await;
    let mut settings = Server::settings(Options {
        database_url: db.url().to_owned(),
        crm_webhook: None,
        auth_token: Some(AUTH_TOKEN.into()),
        clock: Clock::Fixed(Utc.with_ymd_and_hms(2026, 4, 30, 12, 0, 0).unwrap()),
    });
    settings.public_url = "http://127.0.0.1".into();
    let server = Server::start_settings(settings).await;
    let base = format!("http://{}", server.addr);
    let mut browser = Browser::launch().await;

    browser
        .navigate(
            &format!("{base}/trends"),
            "document.querySelector('#token')",
        )
        .await;
    sign_in(&mut browser, "location.pathname === '/'").await;
    browser
        .navigate(
            &format!("{base}/trends?flow=wallet-followup&from={FROM}&to={TO}&by=week"),
            "document.querySelector('figure[data-metric]')",
        )
        .await;
    let completion = browser.eval(&trend_points("completion")).await;
    let csat = browser.eval(&trend_points("csat")).await;
    let resolution_total = browser.eval(&trend_cell("all", "resolution")).await;
    let csat_total = browser.eval(&trend_cell("all", "csat")).await;
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-trends.png");
    let png = browser.screenshot(&shot).await;

    // The form: the NPS survey, the same range.
    browser
        .submit(
            "const f = document.querySelector('form.filters'); \
             f.querySelector('[name=flow]').value = 'nps-survey'; f.submit(); true",
            "location.search.includes('flow=nps-survey') && document.querySelector('figure[data-metric=\"nps\"]')",
        )
        .await;
    let nps = browser.eval(&trend_points("nps")).await;
    let nps_total = browser.eval(&trend_cell("all", "nps")).await;
    browser.close().await;
    server.stop().await;
    db.cleanup().await;

    // Hand-computed in common/trends.rs.
    assert_eq!(
        completion,
        json!([
            ["2026-04-06", "60.0%", "23.1–88.2%", true],
            ["2026-04-13", "100.0%", "51.0–100.0%", true]
        ])
    );
    assert_eq!(
        csat,
        json!([
            ["2026-04-06", "66.7%", "20.8–93.9%", true],
            ["2026-04-13", "75.0%", "30.1–95.4%", true]
        ])
    );
    assert_eq!(resolution_total, json!(["77.8%", "45.3–93.7%", 9]));
    assert_eq!(csat_total, json!(["71.4%", "35.9–91.8%", 7]));
    assert_eq!(
        nps,
        json!([
            ["2026-04-06", "+20", "−38.7 to +63.7", true],
            ["2026-04-13", "+100", "−6.6 to +100.0", true]
        ])
    );
    assert_eq!(nps_total, json!(["+50", "−7.4 to +80.2", 8]));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
}
