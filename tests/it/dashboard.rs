//! The dashboard over HTTP, on the fixture of `common/dashboard.rs`, on
//! SQLite and PostgreSQL: sign-in, the overview's figures and filters, the
//! handoff queue, transcripts, recordings, and the same-origin check.

use chrono::{TimeZone, Utc};
use dialback::config::Clock;
use reqwest::redirect::Policy;

use crate::common::dashboard::{self as fixture, CUSTOMER_MASKED, NPS, WALLET};
use crate::common::db::each_backend;
use crate::common::phone::{ADMIN_TOKEN, AUTH_TOKEN, Options, Server};
use crate::common::sid::sid_for;

struct Dash {
    server: Server,
    base: String,
    http: reqwest::Client,
    cookie: Option<String>,
    campaign: i64,
    _recordings: tempfile::TempDir,
}

struct Page {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The HTML of one flow's section of the overview.
    fn flow(&self, flow: &str) -> &str {
        let start = self
            .body
            .find(&format!("data-flow=\"{flow}\""))
            .unwrap_or_else(|| panic!("no section for {flow}:\n{}", self.body));
        let rest = &self.body[start..];
        &rest[..rest.find("</section>").unwrap_or(rest.len())]
    }
}

impl Dash {
    async fn start(db: &crate::common::db::TestDb) -> Dash {
        let recordings = tempfile::tempdir().unwrap();
        let campaign = fixture::load(db.store(), recordings.path()).await;
        let mut settings = Server::settings(Options {
            database_url: db.url().to_owned(),
            crm_webhook: None,
            auth_token: Some(AUTH_TOKEN.into()),
            clock: Clock::Fixed(Utc.with_ymd_and_hms(2026, 3, 5, 12, 0, 0).unwrap()),
        });
        settings.media.recordings_dir = recordings.path().to_owned();
        let server = Server::start_settings(settings).await;
        Dash {
            base: format!("http://{}", server.addr),
            server,
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            cookie: None,
            campaign,
            _recordings: recordings,
        }
    }

    async fn page(&self, resp: reqwest::Response) -> Page {
        Page {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            // minijinja escapes `/` as `&#x2f;` in HTML; read it back as a browser would.
            body: resp.text().await.unwrap_or_default().replace("&#x2f;", "/"),
        }
    }

    async fn get(&self, path: &str) -> Page {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        self.page(req.send().await.unwrap()).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Page {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        self.page(req.send().await.unwrap()).await
    }

    async fn sign_in(&mut self) -> Page {
        let base = self.base.clone();
        let page = self
            .post("/login", &[("token", ADMIN_TOKEN)], Some(&base))
            .await;
        let set = page.header("set-cookie").to_owned();
        self.cookie = set.split(';').next().map(str::to_owned);
        page
    }

    async fn stop(self) {
        self.server.stop().await;
    }
}

#[tokio::test]
async fn signing_in_is_required_and_a_wrong_token_is_refused() {
    for (backend, db) in each_backend().await {
        let mut d = Dash::start(&db).await;
        let base = d.base.clone();

        let anonymous = d.get("/").await;
        let anonymous_calls = d.get(&format!("/calls/{}", sid_for("W1"))).await;
        let anonymous_wav = d.get("/recordings/W1-suggestion-6.wav").await;
        let anonymous_csv = d.get("/api/results/wallet-followup.csv").await;
        let wrong = d
            .post("/login", &[("token", "not-the-token")], Some(&base))
            .await;
        let signed = d.sign_in().await;
        let overview = d.get("/").await;
        let csv = d.get("/api/results/wallet-followup.csv").await;

        assert_eq!(
            (anonymous.status, anonymous.header("location")),
            (303, "/login"),
            "{backend}"
        );
        assert_eq!(anonymous_calls.status, 303, "{backend}");
        assert_eq!(
            (anonymous_wav.status, anonymous_csv.status),
            (401, 401),
            "{backend}"
        );
        assert_eq!(wrong.status, 401, "{backend}");
        assert!(
            wrong.body.contains("That is not the admin token"),
            "{backend}: {}",
            wrong.body
        );
        assert!(wrong.header("set-cookie").is_empty(), "{backend}");
        let cookie = signed.header("set-cookie");
        assert_eq!(
            (signed.status, signed.header("location")),
            (303, "/"),
            "{backend}"
        );
        for part in ["dialback_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(part), "{backend}: {cookie}");
        }
        assert!(
            !cookie.contains(ADMIN_TOKEN),
            "{backend}: the cookie must not carry the token"
        );
        assert_eq!(overview.status, 200, "{backend}");
        assert!(
            overview
                .header("content-security-policy")
                .contains("default-src 'none'"),
            "{backend}"
        );
        assert_eq!(
            (csv.status, csv.header("content-type")),
            (200, "text/csv; charset=utf-8"),
            "{backend}"
        );
        assert_eq!(
            csv.body.lines().count(),
            7,
            "{backend}: header + 6 wallet calls\n{}",
            csv.body
        );
        // Pages and files holding personal data are never cached.
        for page in [&overview, &csv] {
            assert_eq!(page.header("cache-control"), "no-store", "{backend}");
        }

        d.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn wrong_tokens_are_limited_so_the_token_cannot_be_guessed() {
    let (_, db) = each_backend().await.into_iter().next().unwrap();
    let mut d = Dash::start(&db).await;
    let base = d.base.clone();

    for _ in 0..5 {
        let wrong = d
            .post("/login", &[("token", "not-the-token")], Some(&base))
            .await;
        assert_eq!(wrong.status, 401);
    }
    let limited = d.sign_in().await;

    assert_eq!(limited.status, 429);
    assert!(!limited.header("retry-after").is_empty());
    assert!(limited.header("set-cookie").is_empty());
    d.stop().await;
    db.cleanup().await;
}

#[tokio::test]
async fn the_overview_shows_the_fixture_completion_csat_and_nps() {
    for (backend, db) in each_backend().await {
        let mut d = Dash::start(&db).await;
        d.sign_in().await;

        let page = d.get("/").await;

        assert_eq!(page.status, 200, "{backend}");
        let wallet = page.flow(WALLET);
        for figure in [
            r#"data-figure="calls">6<"#,
            r#"data-figure="reached">5<"#,
            r#"data-figure="completed">3<"#,
            r#"data-figure="completion">60.0%<"#,
            r#"data-score-kind="csat" data-score="50.0""#,
            "mean: <b>3.50</b>",
            // csat: one answer each of 2, 3, 4 and 5, none of 1.
            r#"data-label="1" data-count="0" data-share="0.0%""#,
            r#"data-label="5" data-count="1" data-share="25.0%""#,
            // resolved: 4 yes, 1 no.
            r#"data-label="yes" data-count="4" data-share="80.0%""#,
            r#"data-label="useful" data-count="1" data-share="100.0%""#,
            // The funnel: W4 hung up while `feature` was asked.
            r#"data-question="feature" data-answered="1" data-dropped="1""#,
            r#"href="/api/results/wallet-followup.csv""#,
        ] {
            assert!(
                wallet.contains(figure),
                "{backend}: {figure} not in\n{wallet}"
            );
        }
        let nps = page.flow(NPS);
        for figure in [
            r#"data-score-kind="nps" data-score="+20""#,
            "promoters (9–10): <b>40.0%</b>",
            "passives (7–8): <b>40.0%</b>",
            "detractors (0–6): <b>20.0%</b>",
        ] {
            assert!(nps.contains(figure), "{backend}: {figure} not in\n{nps}");
        }

        d.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn filters_by_flow_campaign_and_dates_change_the_figures() {
    for (backend, db) in each_backend().await {
        let mut d = Dash::start(&db).await;
        d.sign_in().await;
        let campaign = d.campaign;

        let one_flow = d.get("/?flow=wallet-followup").await;
        let by_date = d
            .get("/?flow=wallet-followup&from=2026-03-01&to=2026-03-01")
            .await;
        let by_campaign = d
            .get(&format!("/?flow=wallet-followup&campaign={campaign}"))
            .await;
        let bad_date = d.get("/?to=soon").await;
        let api = d
            .get(&format!("/api/results/wallet-followup?campaign={campaign}"))
            .await;

        assert!(
            !one_flow.body.contains(r#"data-flow="nps-survey""#),
            "{backend}"
        );
        let day = by_date.flow(WALLET);
        for figure in [
            r#"data-figure="calls">5<"#,
            r#"data-figure="reached">4<"#,
            r#"data-figure="completion">50.0%<"#,
            r#"data-score-kind="csat" data-score="66.7""#,
            "mean: <b>3.67</b>",
            r#"href="/api/results/wallet-followup.csv?since=2026-03-01&amp;until=2026-03-01""#,
        ] {
            assert!(day.contains(figure), "{backend}: {figure} not in\n{day}");
        }
        let camp = by_campaign.flow(WALLET);
        for figure in [
            r#"data-figure="calls">2<"#,
            r#"data-figure="reached">2<"#,
            r#"data-figure="completion">50.0%<"#,
            r#"data-score-kind="csat" data-score="50.0""#,
        ] {
            assert!(camp.contains(figure), "{backend}: {figure} not in\n{camp}");
        }
        assert_eq!(bad_date.status, 400, "{backend}");
        let api: serde_json::Value = serde_json::from_str(&api.body).unwrap();
        assert_eq!(
            (api["calls"].as_i64(), api["completed"].as_i64()),
            (Some(2), Some(1)),
            "{backend}"
        );

        d.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn resolving_a_handoff_removes_it_from_the_queue_and_a_cross_origin_post_is_refused() {
    for (backend, db) in each_backend().await {
        let mut d = Dash::start(&db).await;
        d.sign_in().await;
        let base = d.base.clone();
        let queue = d.get("/handoffs").await;
        let start = queue
            .body
            .find("data-handoff=\"")
            .expect("one open handoff")
            + 14;
        let id: String = queue.body[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let resolve = format!("/handoffs/{id}/resolve");

        let forged = d.post(&resolve, &[], Some("https://evil.example")).await;
        let still_open = d.get("/handoffs").await;
        let resolved = d.post(&resolve, &[], Some(&base)).await;
        let after = d.get("/handoffs").await;

        assert!(
            queue.body.contains(CUSTOMER_MASKED),
            "{backend}: {}",
            queue.body
        );
        assert!(
            queue.body.contains("<b>resolved</b>: no"),
            "{backend}: answers shown"
        );
        assert_eq!(forged.status, 403, "{backend}");
        assert!(
            still_open.body.contains(&format!("data-handoff=\"{id}\"")),
            "{backend}"
        );
        assert_eq!(
            (resolved.status, resolved.header("location")),
            (303, "/handoffs"),
            "{backend}"
        );
        assert!(
            !after
                .body
                .contains(&format!("data-handoff=\"{id}\" data-status=\"open\"")),
            "{backend}: {}",
            after.body
        );
        assert!(after.body.contains("No open handoffs."), "{backend}");
        // It waits for the customer's word below the queue, its history
        // saying who did what.
        assert!(
            after
                .body
                .contains(&format!("data-handoff=\"{id}\" data-status=\"resolved\"")),
            "{backend}: {}",
            after.body
        );
        assert!(
            after.body.contains("<li data-event=\"open\">")
                && after.body.contains("resolved · by support"),
            "{backend}: {}",
            after.body
        );

        d.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_transcript_shows_answers_in_order_and_plays_the_recording() {
    for (backend, db) in each_backend().await {
        let mut d = Dash::start(&db).await;
        d.sign_in().await;
        std::fs::write(
            d._recordings.path().parent().unwrap().join("secret.wav"),
            b"RIFF",
        )
        .ok();

        let transcript = d.get(&format!("/calls/{}", sid_for("W1"))).await;
        let recent = d.get("/calls?flow=wallet-followup").await;
        let wav = d.get("/recordings/W1-suggestion-6.wav").await;
        let traversal = d.get("/recordings/..%2Fsecret.wav").await;
        let missing = d.get("/calls/NO-SUCH-CALL").await;

        assert_eq!(transcript.status, 200, "{backend}");
        let order: Vec<usize> = [
            "consent",
            "resolved",
            "csat",
            "feature",
            "has_suggestion",
            "suggestion",
        ]
        .iter()
        .map(|q| {
            transcript
                .body
                .find(&format!("class=\"answer\" data-question=\"{q}\""))
                .unwrap_or_else(|| panic!("{backend}: {q} missing"))
        })
        .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "{backend}: {order:?}"
        );
        assert!(
            transcript.body.contains("请为本次服务打分"),
            "{backend}: the question asked"
        );
        assert!(
            transcript.body.contains("2026-03-01 09:30:30 UTC"),
            "{backend}: csat's time"
        );
        assert!(transcript.body.contains(CUSTOMER_MASKED), "{backend}");
        assert!(
            !transcript.body.contains("13800138000"),
            "{backend}: a full number shown"
        );
        assert!(
            transcript.body.contains(
                r#"<audio controls preload="none" src="/recordings/W1-suggestion-6.wav">"#
            ),
            "{backend}: {}",
            transcript.body
        );
        assert_eq!(
            (wav.status, wav.header("content-type")),
            (200, "audio/wav"),
            "{backend}"
        );
        assert!(
            wav.body.starts_with("RIFF") && wav.body.len() > 16_000,
            "{backend}"
        );
        assert_eq!(traversal.status, 404, "{backend}");
        assert_eq!(missing.status, 404, "{backend}");
        // Newest first: W6 (March 2nd) heads the list, W5 (never reached) is in it.
        let w6 = recent
            .body
            .find(&format!("data-call=\"{}\"", sid_for("W6")))
            .expect("W6 listed");
        let w5 = recent
            .body
            .find(&format!("data-call=\"{}\"", sid_for("W5")))
            .expect("W5 listed");
        assert!(w6 < w5, "{backend}");

        d.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_twiml_recording_links_to_the_provider_and_a_bad_url_links_nowhere() {
    use crate::common::fixtures::{advance, answer, start_call};
    for (backend, db) in each_backend().await {
        let mut d = Dash::start(&db).await;
        d.sign_in().await;
        start_call(db.store(), "CA-twiml-rec").await;
        let mut a = advance("CA-twiml-rec", 0, 1);
        a.answers = vec![
            answer(
                "suggestion",
                serde_json::json!({
                    "url": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
                    "duration_secs": 7
                }),
            ),
            answer(
                "other",
                serde_json::json!({"url": "javascript:alert(1)", "duration_secs": 2}),
            ),
        ];
        db.store().advance_call(a).await.unwrap();

        let transcript = d.get(&format!("/calls/{}", sid_for("CA-twiml-rec"))).await;
        assert_eq!(transcript.status, 200, "{backend}");
        assert!(
            transcript.body.contains(
                r#"href="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1""#
            ),
            "{backend}: {}",
            transcript.body
        );
        assert!(transcript.body.contains("recording, 7 s"), "{backend}");
        assert!(!transcript.body.contains("href=\"javascript"), "{backend}");
        assert_eq!(
            transcript.body.matches("provider-recording").count(),
            1,
            "{backend}"
        );
        d.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn signing_out_ends_the_session_in_the_browser() {
    let db = crate::common::db::TestDb::sqlite().await;
    let mut d = Dash::start(&db).await;
    d.sign_in().await;
    let base = d.base.clone();

    let out = d.post("/logout", &[], Some(&base)).await;

    assert_eq!((out.status, out.header("location")), (303, "/login"));
    assert!(out.header("set-cookie").contains("dialback_session=;"));
    assert!(out.header("set-cookie").contains("Max-Age=0"));
    d.stop().await;
    db.cleanup().await;
}
