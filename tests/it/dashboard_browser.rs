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
    browser
        .submit(
            &format!(
                "document.querySelector('#token').value = '{ADMIN_TOKEN}'; \
                 document.querySelector('form[action=\"/login\"]').submit(); true"
            ),
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
