//! Flow reports on a hand-computed set of calls, on every backend.

use chrono::Duration;
use dialback::flow::model::{MenuChoice, QuestionKind};
use dialback::report::aggregate::{Score, Share};
use dialback::report::export::{ExportOptions, Format, export};
use dialback::report::{FlowReport, QuestionSpec};
use dialback::store::{CallStatus, HandoffStatus, NewAnswer, NewOptOut, Outcome, ReportFilter};
use serde_json::{Value, json};

use crate::common::db::each_backend;
use crate::common::fixtures::*;
use crate::common::wait::eventually;

fn questions() -> Vec<QuestionSpec> {
    let choice = |key: &str, value: &str| MenuChoice {
        key: key.into(),
        value: value.into(),
        words: vec![],
    };
    vec![
        QuestionSpec {
            id: "resolved".into(),
            kind: QuestionKind::YesNo,
        },
        QuestionSpec {
            id: "csat".into(),
            kind: QuestionKind::Rating { min: 1, max: 5 },
        },
        QuestionSpec {
            id: "nps".into(),
            kind: QuestionKind::Nps,
        },
        QuestionSpec {
            id: "feature".into(),
            kind: QuestionKind::Menu(vec![choice("1", "wallet"), choice("2", "card")]),
        },
    ]
}

fn ans(q: &str, v: Value) -> NewAnswer {
    answer(q, v)
}

/// One call: created at `start`, picked up, each batch of answers one
/// advance, then ended with `outcome`.
async fn call(
    db: &Db,
    sid: &str,
    start: i64,
    batches: Vec<Vec<NewAnswer>>,
    outcome: Option<&str>,
) -> i64 {
    let mut c = new_call(sid);
    c.started_at = t(start);
    assert!(db.create_call(c).await.unwrap());
    let mut seq = 0;
    let mut first = true;
    for answers in batches {
        let mut a = advance(sid, seq, seq + 1);
        a.answers = answers;
        if first {
            a.status = Some(CallStatus::InProgress);
            first = false;
        }
        db.advance_call(a).await.unwrap();
        seq += 1;
    }
    if let Some(outcome) = outcome {
        let mut a = advance(sid, seq, seq + 1);
        if first {
            a.status = Some(CallStatus::InProgress);
        }
        a.outcome = Some(Outcome::parse(outcome).unwrap());
        a.ended_at = Some(t(start + 60));
        if outcome == "handoff" {
            a.handoff = Some(handoff(HandoffStatus::Connected, t(start + 50)));
        }
        if outcome == "opted_out" {
            a.opt_out = Some(NewOptOut {
                phone: format!("+86138{sid}"),
                call_sid: Some(sid_for(sid)),
                at: t(start + 50),
            });
        }
        db.advance_call(a).await.unwrap();
        seq += 1;
    }
    seq
}

/// The fixture: seven calls in range, one ten days earlier.
async fn fixture(db: &Db) {
    db.save_flow_version(FLOW, FLOW_HASH, "[flow]\n")
        .await
        .unwrap();
    let full = |csat: i64, nps: i64, feature: &str| {
        vec![
            vec![ans("resolved", json!(true))],
            vec![ans("csat", json!(csat))],
            vec![ans("nps", json!(nps))],
            vec![ans("feature", json!(feature))],
        ]
    };
    call(db, "CA1", 0, full(5, 10, "wallet"), Some("completed")).await;
    // Answered csat twice (3, then 4): only the last answer counts.
    let mut second = full(3, 8, "card");
    second.insert(2, vec![ans("csat", json!(4))]);
    call(db, "CA2", 10, second, Some("completed")).await;
    call(
        db,
        "CA3",
        20,
        vec![vec![ans("resolved", json!(false))]],
        Some("handoff"),
    )
    .await;
    call(
        db,
        "CA4",
        30,
        vec![
            vec![ans("resolved", json!(true))],
            vec![ans("csat", json!(2))],
        ],
        Some("abandoned"),
    )
    .await;
    call(db, "CA5", 40, vec![], Some("abandoned")).await;
    // Nobody picked up.
    let mut c = new_call("CA6");
    c.started_at = t(50);
    assert!(db.create_call(c).await.unwrap());
    assert!(
        db.update_status(&sid_for("CA6"), CallStatus::NoAnswer, t(80))
            .await
            .unwrap()
    );
    call(db, "CA7", 60, vec![], Some("opted_out")).await;
    call(
        db,
        "CA8",
        -10 * 86_400,
        full(1, 0, "card"),
        Some("completed"),
    )
    .await;
}

fn share(label: &str, count: i64, share: Option<f64>) -> Share {
    Share {
        label: label.into(),
        count,
        share,
    }
}

#[tokio::test]
async fn a_flow_report_matches_the_hand_computed_figures_on_every_backend() {
    for (backend, db) in each_backend().await {
        let store = db.store().clone();
        fixture(&store).await;
        let filter = ReportFilter {
            since: Some(t(-3600)),
            until: Some(t(3600)),
            ..ReportFilter::flow(FLOW)
        };

        let r = FlowReport::load(store.as_ref(), &questions(), &filter)
            .await
            .unwrap();

        assert_eq!((r.calls, r.reached, r.completed), (7, 6, 2), "{backend}");
        assert_eq!(r.completion_rate, Some(2.0 / 6.0), "{backend}");
        assert_eq!(
            r.outcomes,
            vec![
                share("abandoned", 2, Some(2.0 / 7.0)),
                share("completed", 2, Some(2.0 / 7.0)),
                share("handoff", 1, Some(1.0 / 7.0)),
                share("opted_out", 1, Some(1.0 / 7.0)),
                share("unfinished", 1, Some(1.0 / 7.0)),
            ],
            "{backend}"
        );
        let funnel: Vec<(&str, i64, i64)> = r
            .steps
            .iter()
            .map(|s| (s.question.as_str(), s.answered, s.dropped))
            .collect();
        assert_eq!(
            funnel,
            vec![
                ("resolved", 4, 1),
                ("csat", 3, 0),
                ("nps", 2, 1),
                ("feature", 2, 0)
            ],
            "{backend}"
        );
        assert_eq!(r.dropped_after_last, 0, "{backend}");

        let q = |id: &str| r.questions.iter().find(|q| q.id == id).unwrap();
        assert_eq!(
            q("resolved").distribution,
            vec![share("yes", 3, Some(0.75)), share("no", 1, Some(0.25))],
            "{backend}"
        );
        let csat: Vec<i64> = q("csat").distribution.iter().map(|s| s.count).collect();
        assert_eq!(csat, vec![0, 1, 0, 1, 1], "{backend}");
        assert_eq!(
            q("csat").score,
            Some(Score::Csat {
                satisfied: 2.0 / 3.0,
                mean: 11.0 / 3.0
            }),
            "{backend}"
        );
        assert_eq!(
            q("nps").score,
            Some(Score::Nps {
                score: 50.0,
                promoters: 0.5,
                passives: 0.5,
                detractors: 0.0
            }),
            "{backend}"
        );
        assert_eq!(
            q("feature").distribution,
            vec![share("wallet", 1, Some(0.5)), share("card", 1, Some(0.5))],
            "{backend}"
        );
        assert_eq!((r.handoffs, r.opt_outs), (1, 1), "{backend}");
        assert_eq!(r.handoff_rate, Some(1.0 / 6.0), "{backend}");
        assert_eq!(r.opt_out_rate, Some(1.0 / 6.0), "{backend}");

        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_report_without_dates_covers_every_call_and_a_version_filter_narrows_it() {
    for (backend, db) in each_backend().await {
        let store = db.store().clone();
        fixture(&store).await;

        let all = FlowReport::load(store.as_ref(), &questions(), &ReportFilter::flow(FLOW))
            .await
            .unwrap();
        let other_version = ReportFilter {
            flow_hash: Some("sha256:other".into()),
            ..ReportFilter::flow(FLOW)
        };
        let none = FlowReport::load(store.as_ref(), &questions(), &other_version)
            .await
            .unwrap();
        let before = ReportFilter {
            until: Some(t(0) - Duration::days(1)),
            ..ReportFilter::flow(FLOW)
        };
        let early = FlowReport::load(store.as_ref(), &questions(), &before)
            .await
            .unwrap();

        assert_eq!((all.calls, all.completed), (8, 3), "{backend}");
        assert_eq!((none.calls, none.completion_rate), (0, None), "{backend}");
        assert_eq!((early.calls, early.completed), (1, 1), "{backend}");
        assert_eq!(
            early.questions[2].score,
            Some(Score::Nps {
                score: -100.0,
                promoters: 0.0,
                passives: 0.0,
                detractors: 1.0
            }),
            "{backend}"
        );
        db.cleanup().await;
    }
}

async fn export_text(db: &Db, filter: ReportFilter, unmasked: bool) -> String {
    use futures_util::TryStreamExt;
    let options = ExportOptions {
        format: Format::Csv,
        unmasked,
    };
    let chunks: Vec<bytes::Bytes> = export(db.clone(), questions(), filter, options)
        .try_collect()
        .await
        .unwrap();
    String::from_utf8(chunks.concat()).unwrap()
}

/// The export of `fixture`'s first three calls; `{CA1}` and so on stand
/// for their CallSids.
const EXPECTED_CSV: &str = "\
call_sid,flow_version,direction,from,to,status,outcome,started_at,ended_at,follows_call_sid,follows_handoff_id,resolved,resolved_input,csat,csat_input,nps,nps_input,feature,feature_input\r
{CA1},sha256:0f1e2d,outbound,+86 ******00,+86 138****8000,in-progress,completed,2026-03-01T09:30:00.123456Z,2026-03-01T09:31:00.123456Z,,,yes,1,5,1,10,1,wallet,1\r
{CA2},sha256:0f1e2d,outbound,+86 ******00,+86 138****8000,in-progress,completed,2026-03-01T09:30:10.123456Z,2026-03-01T09:31:10.123456Z,,,yes,1,4,1,8,1,card,1\r
{CA3},sha256:0f1e2d,outbound,+86 ******00,+86 138****8000,in-progress,handoff,2026-03-01T09:30:20.123456Z,2026-03-01T09:31:20.123456Z,,,no,1,,,,,,\r
";

fn expected_csv() -> String {
    ["CA1", "CA2", "CA3"]
        .into_iter()
        .fold(EXPECTED_CSV.to_owned(), |csv, label| {
            csv.replace(&format!("{{{label}}}"), sid_for(label).as_str())
        })
}

#[tokio::test]
async fn a_csv_export_has_one_masked_row_per_call_with_the_last_answers() {
    for (backend, db) in each_backend().await {
        let store = db.store().clone();
        fixture(&store).await;
        let filter = ReportFilter {
            since: Some(t(-3600)),
            until: Some(t(25)),
            ..ReportFilter::flow(FLOW)
        };

        let csv = export_text(&store, filter.clone(), false).await;
        let full = export_text(&store, filter, true).await;

        assert_eq!(csv, expected_csv(), "{backend}");
        assert!(!csv.contains("+8613800138000"), "{backend}");
        assert!(full.contains(",+8610000000,+8613800138000,"), "{backend}");
        db.cleanup().await;
    }
}

#[tokio::test]
async fn an_export_larger_than_a_page_has_every_call_once() {
    let db = crate::common::db::TestDb::sqlite().await;
    let store = db.store().clone();
    store
        .save_flow_version(FLOW, FLOW_HASH, "[flow]\n")
        .await
        .unwrap();
    for i in 0..1203 {
        let mut c = new_call(&format!("CA{i:05}"));
        // Several calls share a start time, to exercise the cursor's tie-break.
        c.started_at = t(i / 3);
        assert!(store.create_call(c).await.unwrap());
    }

    let csv = export_text(&store, ReportFilter::flow(FLOW), false).await;

    let sids: Vec<&str> = csv.lines().skip(1).map(|l| &l[..34]).collect();
    let expected: Vec<String> = (0..1203)
        .map(|i| sid_for(&format!("CA{i:05}")).to_string())
        .collect();
    assert_eq!(sids, expected);
    db.cleanup().await;
}

#[tokio::test]
async fn a_purge_erases_personal_data_of_old_calls_and_nothing_else() {
    for (backend, db) in each_backend().await {
        let store = db.store().clone();
        fixture(&store).await;
        let old = -100 * 86_400;
        let mut c = new_call("CA9");
        c.started_at = t(old);
        assert!(store.create_call(c).await.unwrap());
        let mut a = advance("CA9", 0, 1);
        a.status = Some(CallStatus::InProgress);
        let mut said = ans("suggestion", json!("希望到账更快"));
        said.raw = Some("希望到账更快。".into());
        a.answers = vec![ans("csat", json!(2)), said];
        a.recording = Some(dialback::store::NewRecording {
            call_sid: sid_for("CA9"),
            question: "voice".into(),
            url: "https://api.example.com/Recordings/RE1".into(),
            duration_secs: Some(7),
            recording_sid: Some("RE1".into()),
            at: t(old + 30),
        });
        a.handoff = Some(handoff(HandoffStatus::Open, t(old + 40)));
        a.opt_out = Some(NewOptOut {
            phone: "+8613800138000".into(),
            call_sid: Some(sid_for("CA9")),
            at: t(old + 50),
        });
        a.outcome = Some(Outcome::OptedOut);
        a.ended_at = Some(t(old + 60));
        store.advance_call(a).await.unwrap();
        let personal = vec![(FLOW.to_owned(), "suggestion".to_owned())];
        let age = dialback::report::privacy::parse_age("90d").unwrap();

        let purged = dialback::report::privacy::purge(store.as_ref(), &personal, t(0), age)
            .await
            .unwrap();

        assert_eq!(purged.calls, 1, "{backend}");
        assert_eq!(
            purged.recordings,
            vec!["https://api.example.com/Recordings/RE1"],
            "{backend}"
        );
        let call = store.load_call(&sid_for("CA9")).await.unwrap().unwrap();
        assert_eq!(
            (call.from.as_str(), call.to.as_str(), call.state.as_str()),
            ("", "", ""),
            "{backend}"
        );
        assert_eq!(call.outcome, Some(Outcome::OptedOut), "{backend}");
        let answers = store.answers(&sid_for("CA9")).await.unwrap();
        let kept: Vec<(&str, &Value, Option<&str>)> = answers
            .iter()
            .map(|a| (a.question.as_str(), &a.value, a.raw.as_deref()))
            .collect();
        assert_eq!(
            kept,
            vec![
                ("csat", &json!(2), None),
                ("suggestion", &Value::Null, None)
            ],
            "{backend}"
        );
        let handoffs = store.handoffs(None).await.unwrap();
        let summary = handoffs
            .iter()
            .find(|h| h.call_sid == sid_for("CA9"))
            .unwrap();
        assert_eq!(summary.summary, json!({}), "{backend}");
        assert!(
            handoffs
                .iter()
                .any(|h| h.call_sid == sid_for("CA3") && h.summary != json!({})),
            "{backend}"
        );
        assert!(
            store.is_opted_out("+8613800138000").await.unwrap(),
            "{backend}"
        );
        // Younger calls keep everything.
        let young = store.load_call(&sid_for("CA8")).await.unwrap().unwrap();
        assert_eq!(young.to, "+8613800138000", "{backend}");
        assert!(
            store
                .answers(&sid_for("CA8"))
                .await
                .unwrap()
                .iter()
                .all(|a| a.raw.is_some()),
            "{backend}"
        );
        // Reports still count the purged call and its numeric answer.
        let r = FlowReport::load(store.as_ref(), &questions(), &ReportFilter::flow(FLOW))
            .await
            .unwrap();
        assert_eq!((r.calls, r.opt_outs), (9, 2), "{backend}");
        assert_eq!(r.questions[1].answered, 5, "{backend}");
        // A second purge finds nothing left to erase.
        let again = dialback::report::privacy::purge(store.as_ref(), &personal, t(0), age)
            .await
            .unwrap();
        assert_eq!(
            (again.calls, again.answers, again.recordings.len()),
            (0, 0, 0),
            "{backend}"
        );
        db.cleanup().await;
    }
}

#[test]
fn ages_are_read_in_hours_days_and_weeks() {
    use dialback::report::privacy::parse_age;
    assert_eq!(parse_age("90d"), Ok(Duration::days(90)));
    assert_eq!(parse_age("12h"), Ok(Duration::hours(12)));
    assert_eq!(parse_age("2w"), Ok(Duration::weeks(2)));
    for bad in ["", "d", "90", "-1d", "0d", "90 days"] {
        assert!(parse_age(bad).is_err(), "{bad:?}");
    }
}

#[tokio::test]
async fn a_server_with_retention_purges_calls_past_it_when_it_starts() {
    use crate::common::phone::{AUTH_TOKEN, Options, Server};
    for (backend, db) in each_backend().await {
        let store = db.store().clone();
        fixture(&store).await;
        // CA8 started 95 days before this clock, the others 85 days before.
        let now = t(0) + Duration::days(85);
        let mut settings = Server::settings(Options {
            database_url: db.url().to_owned(),
            crm_webhook: None,
            auth_token: Some(AUTH_TOKEN.into()),
            clock: dialback::config::Clock::Fixed(now),
        });
        settings.retention = Some(Duration::days(90));

        let server = Server::start_settings(settings).await;

        // The first purge runs in the background as the server starts.
        let store_ref = &store;
        eventually(
            std::time::Duration::from_secs(20),
            format!("{backend}: CA8 was not purged"),
            || async move {
                let old = store_ref.load_call(&sid_for("CA8")).await.unwrap().unwrap();
                old.to.is_empty().then_some(())
            },
        )
        .await;
        let young = store.load_call(&sid_for("CA1")).await.unwrap().unwrap();
        assert_eq!(young.to, "+8613800138000", "{backend}");
        assert!(
            store
                .answers(&sid_for("CA8"))
                .await
                .unwrap()
                .iter()
                .all(|a| a.raw.is_none()),
            "{backend}"
        );
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_campaign_filter_counts_only_that_campaigns_calls() {
    use dialback::store::campaigns::{NewCampaign, NewContact};
    for (backend, db) in each_backend().await {
        let store = db.store().clone();
        fixture(&store).await;
        let campaigns = store.campaigns();
        let id = campaigns
            .create_campaign(NewCampaign {
                name: "c".into(),
                flow: FLOW.into(),
                plan: json!({}),
                created_at: t(-100),
            })
            .await
            .unwrap();
        let contacts: Vec<NewContact> = (0..2)
            .map(|i| NewContact {
                phone: format!("+86138001380{i:02}"),
                vars: json!({}),
                timezone: None,
                next_at: None,
                follows: None,
            })
            .collect();
        campaigns.add_contacts(id, &contacts).await.unwrap();
        campaigns.start_campaign(id, t(-50)).await.unwrap();
        let claimed = campaigns.claim_due(t(-50), t(9999), 2).await.unwrap();
        for (c, sid) in claimed.iter().zip(["CA1", "CA4"]) {
            campaigns
                .record_placed(c.id, sid_for(sid).as_str(), t(-40), t(9999))
                .await
                .unwrap();
        }
        let filter = ReportFilter {
            campaign: Some(id),
            ..ReportFilter::flow(FLOW)
        };
        let other = ReportFilter {
            campaign: Some(id + 1),
            ..ReportFilter::flow(FLOW)
        };

        let r = FlowReport::load(store.as_ref(), &questions(), &filter)
            .await
            .unwrap();
        let none = FlowReport::load(store.as_ref(), &questions(), &other)
            .await
            .unwrap();
        let csv = export_text(&store, filter, false).await;

        assert_eq!((r.calls, r.completed), (2, 1), "{backend}");
        assert_eq!(r.steps[2].dropped, 1, "{backend}: CA4 hung up at nps");
        assert_eq!(none.calls, 0, "{backend}");
        let sids: Vec<&str> = csv.lines().skip(1).map(|l| &l[..34]).collect();
        let expected = [sid_for("CA1"), sid_for("CA4")];
        assert_eq!(sids, expected.each_ref().map(|s| s.as_str()), "{backend}");
        db.cleanup().await;
    }
}
