use super::*;
use crate::common::fixtures::*;

pub(crate) use super::recording_cases::*;

pub(crate) async fn a_created_call_loads_back_identical(store: &Db) {
    start_call(store, "CA-created").await;

    let row = store.load_call(&sid_for("CA-created")).await.unwrap();

    let c = new_call("CA-created");
    let expected = CallRow {
        call_sid: c.call_sid,
        flow: c.flow,
        flow_hash: c.flow_hash,
        direction: c.direction,
        from: c.from,
        to: c.to,
        status: c.status,
        outcome: None,
        state: c.state,
        seq: c.seq,
        response: c.response,
        started_at: c.started_at,
        ended_at: None,
        follows: None,
    };
    assert_eq!(row, Some(expected));
    assert_eq!(store.load_call(&sid_for("CA-unknown")).await.unwrap(), None);
}

pub(crate) async fn creating_an_existing_call_sid_changes_nothing(store: &Db) {
    start_call(store, "CA-twice").await;
    let before = store.load_call(&sid_for("CA-twice")).await.unwrap();

    let mut again = new_call("CA-twice");
    again.state = r#"{"step":"other"}"#.to_owned();
    again.status = CallStatus::InProgress;
    again.seq = 7;
    let created = store.create_call(again).await.unwrap();

    assert!(!created);
    assert_eq!(store.load_call(&sid_for("CA-twice")).await.unwrap(), before);
}

pub(crate) async fn a_call_must_name_a_saved_flow_version(store: &Db) {
    let mut call = new_call("CA-no-flow");
    call.flow_hash = "sha256:never-saved".to_owned();

    assert!(store.create_call(call).await.is_err());
    assert_eq!(store.load_call(&sid_for("CA-no-flow")).await.unwrap(), None);
}

pub(crate) async fn an_advance_at_the_right_seq_applies_state_response_and_answers_together(
    store: &Db,
) {
    start_call(store, "CA-advance").await;
    let mut a = advance("CA-advance", 0, 1);
    a.status = Some(CallStatus::InProgress);
    a.answers = vec![answer("resolved", json!(true)), answer("csat", json!(4))];

    let result = store.advance_call(a.clone()).await.unwrap();

    assert_eq!(result, Advanced::Applied);
    let call = store
        .load_call(&sid_for("CA-advance"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (call.seq, call.state.as_str(), call.response.as_str()),
        (1, a.state.as_str(), a.response.as_str())
    );
    assert_eq!(call.status, CallStatus::InProgress);
    assert_eq!((call.outcome, call.ended_at), (None, None));
    let answers = store.answers(&sid_for("CA-advance")).await.unwrap();
    let got: Vec<_> = answers
        .iter()
        .map(|r| (r.seq, r.question.as_str(), r.value.clone()))
        .collect();
    assert_eq!(
        got,
        vec![(1, "resolved", json!(true)), (1, "csat", json!(4))]
    );
}

pub(crate) async fn an_advance_at_a_stale_seq_writes_nothing_and_returns_stale(store: &Db) {
    start_call(store, "CA-stale").await;
    let mut first = advance("CA-stale", 0, 1);
    first.answers = vec![answer("resolved", json!(true))];
    assert_eq!(
        store.advance_call(first.clone()).await.unwrap(),
        Advanced::Applied
    );
    let before = store.load_call(&sid_for("CA-stale")).await.unwrap();

    // The same webhook again, one from the future, and one for no call.
    let mut replay = advance("CA-stale", 0, 1);
    replay.state = r#"{"replayed":true}"#.to_owned();
    replay.answers = vec![answer("resolved", json!(false)), answer("csat", json!(1))];
    replay.opt_out = Some(NewOptOut {
        phone: "+8613800138000".to_owned(),
        call_sid: Some(sid_for("CA-stale")),
        at: t(20),
    });
    replay.handoff = Some(handoff(HandoffStatus::Open, t(20)));
    replay.outcome = Some(Outcome::OptedOut);
    replay.ended_at = Some(t(20));
    let mut ahead = replay.clone();
    ahead.from_seq = 5;
    ahead.to_seq = 6;
    let mut unknown = replay.clone();
    unknown.call_sid = sid_for("CA-nobody");

    for a in [replay, ahead, unknown] {
        assert_eq!(store.advance_call(a).await.unwrap(), Advanced::Stale);
    }

    assert_eq!(store.load_call(&sid_for("CA-stale")).await.unwrap(), before);
    let answers = store.answers(&sid_for("CA-stale")).await.unwrap();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].value, json!(true));
    assert!(!store.is_opted_out("+8613800138000").await.unwrap());
    assert!(store.handoffs(None).await.unwrap().is_empty());
}

pub(crate) async fn two_concurrent_advances_from_the_same_seq_apply_exactly_once(store: &Db) {
    const CALLS: usize = 10;
    const RACERS: usize = 6;
    for c in 0..CALLS {
        start_call(store, &format!("CA-race-{c}")).await;
    }

    let mut tasks = Vec::new();
    for c in 0..CALLS {
        for r in 0..RACERS {
            let store = Arc::clone(store);
            tasks.push(tokio::spawn(async move {
                let sid = format!("CA-race-{c}");
                let mut a = advance(&sid, 0, 1);
                a.state = format!(r#"{{"racer":{r}}}"#);
                a.answers = vec![answer("csat", json!(r))];
                (c, r, store.advance_call(a).await.unwrap())
            }));
        }
    }
    let mut winners = vec![Vec::new(); CALLS];
    for task in tasks {
        let (c, r, result) = task.await.unwrap();
        if result == Advanced::Applied {
            winners[c].push(r);
        }
    }

    for (c, won) in winners.iter().enumerate() {
        let sid = format!("CA-race-{c}");
        assert_eq!(won.len(), 1, "{sid}: applied by racers {won:?}");
        let call = store.load_call(&sid_for(&sid)).await.unwrap().unwrap();
        assert_eq!(call.state, format!(r#"{{"racer":{}}}"#, won[0]));
        let answers = store.answers(&sid_for(&sid)).await.unwrap();
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].value, json!(won[0]));
    }
}

pub(crate) async fn an_answers_json_value_round_trips(store: &Db) {
    start_call(store, "CA-json").await;
    let values = vec![
        json!(true),
        json!(false),
        json!(null),
        json!(0),
        json!(-7),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(4.5),
        json!(0.1),
        json!("退款 \"quoted\" \\ back"),
        json!(""),
        json!([]),
        json!({}),
        json!({"choice": "refund", "scores": [1, 2.5, {"deep": null}], "ok": true}),
    ];
    let mut a = advance("CA-json", 0, 1);
    a.answers = values
        .iter()
        .enumerate()
        .map(|(i, v)| answer(&format!("q{i:02}"), v.clone()))
        .collect();
    assert_eq!(store.advance_call(a).await.unwrap(), Advanced::Applied);

    let stored: Vec<_> = store
        .answers(&sid_for("CA-json"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.value)
        .collect();

    assert_eq!(stored, values);
}

pub(crate) async fn confidence_and_raw_nulls_round_trip(store: &Db) {
    start_call(store, "CA-nulls").await;
    let mut a = advance("CA-nulls", 0, 1);
    let keyed = NewAnswer {
        raw: None,
        confidence: None,
        attempt: 3,
        ..answer("csat", json!(5))
    };
    let spoken = NewAnswer {
        raw: Some("已经解决了".to_owned()),
        confidence: Some(0.8125),
        ..answer("resolved", json!(true))
    };
    a.answers = vec![keyed.clone(), spoken.clone()];
    assert_eq!(store.advance_call(a).await.unwrap(), Advanced::Applied);

    let stored = store.answers(&sid_for("CA-nulls")).await.unwrap();

    let expected: Vec<AnswerRow> = [keyed, spoken]
        .into_iter()
        .map(|n| AnswerRow {
            call_sid: sid_for("CA-nulls"),
            seq: 1,
            question: n.question,
            value: n.value,
            raw: n.raw,
            confidence: n.confidence,
            attempt: n.attempt,
            answered_at: n.answered_at,
        })
        .collect();
    assert_eq!(stored, expected);
}

pub(crate) async fn answers_come_back_in_the_order_they_were_given(store: &Db) {
    start_call(store, "CA-order").await;
    for (seq, q) in [(1, "zeta"), (2, "alpha"), (3, "mid")] {
        let mut a = advance("CA-order", seq - 1, seq);
        a.answers = vec![answer(q, json!(seq))];
        assert_eq!(store.advance_call(a).await.unwrap(), Advanced::Applied);
    }

    let order: Vec<_> = store
        .answers(&sid_for("CA-order"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.seq, r.question))
        .collect();

    assert_eq!(
        order,
        vec![
            (1, "zeta".to_owned()),
            (2, "alpha".to_owned()),
            (3, "mid".to_owned())
        ]
    );
    assert!(
        store
            .answers(&sid_for("CA-nobody"))
            .await
            .unwrap()
            .is_empty()
    );
}

pub(crate) async fn an_opt_out_is_idempotent_and_queryable(store: &Db) {
    start_call(store, "CA-optout").await;
    let phone = "+8613800138000";
    assert!(!store.is_opted_out(phone).await.unwrap());

    store
        .add_opt_out(NewOptOut {
            phone: phone.to_owned(),
            call_sid: Some(sid_for("CA-optout")),
            at: t(5),
        })
        .await
        .unwrap();
    store
        .add_opt_out(NewOptOut {
            phone: phone.to_owned(),
            call_sid: None,
            at: t(50),
        })
        .await
        .unwrap();
    // And once more inside an advance, as the "press 9" webhook does.
    let mut a = advance("CA-optout", 0, 1);
    a.opt_out = Some(NewOptOut {
        phone: phone.to_owned(),
        call_sid: Some(sid_for("CA-optout")),
        at: t(60),
    });
    a.outcome = Some(Outcome::OptedOut);
    assert_eq!(store.advance_call(a).await.unwrap(), Advanced::Applied);

    assert!(store.is_opted_out(phone).await.unwrap());
    assert!(!store.is_opted_out("+8613900000000").await.unwrap());
}

pub(crate) async fn handoffs_list_newest_first_filter_by_status_and_resolve(store: &Db) {
    for (i, status) in [
        HandoffStatus::Open,
        HandoffStatus::Connected,
        HandoffStatus::Open,
    ]
    .into_iter()
    .enumerate()
    {
        let sid = format!("CA-handoff-{i}");
        start_call(store, &sid).await;
        let mut a = advance(&sid, 0, 1);
        a.handoff = Some(handoff(status, t(100 + i as i64)));
        a.outcome = Some(Outcome::Handoff);
        assert_eq!(store.advance_call(a).await.unwrap(), Advanced::Applied);
    }

    let all = store.handoffs(None).await.unwrap();
    let sids: Vec<_> = all.iter().map(|h| h.call_sid.clone()).collect();
    assert_eq!(
        sids,
        ["CA-handoff-2", "CA-handoff-1", "CA-handoff-0"].map(sid_for)
    );
    let newest = &all[0];
    assert_eq!(newest.flow, FLOW);
    assert_eq!(newest.step, "handoff");
    assert_eq!(newest.target, "queue:wallet-support");
    assert_eq!(newest.reason, "not_resolved");
    assert_eq!(newest.summary, json!({"resolved": false, "csat": 2}));
    assert_eq!(newest.created_at, t(102));
    assert_eq!(newest.resolved_at, None);

    let open = store.handoffs(Some(HandoffStatus::Open)).await.unwrap();
    let sids: Vec<_> = open.iter().map(|h| h.call_sid.clone()).collect();
    assert_eq!(sids, ["CA-handoff-2", "CA-handoff-0"].map(sid_for));

    let id = open[1].id;
    let resolve = |id: i64, at| Resolve {
        id: HandoffId(id),
        at,
        confirmation: None,
    };
    let log = store.handoff_log();
    assert_eq!(
        log.resolve(resolve(id, t(200))).await.unwrap(),
        Resolved::Resolved { contact: None }
    );
    assert_eq!(
        log.resolve(resolve(id, t(300))).await.unwrap(),
        Resolved::Unchanged
    );
    assert_eq!(
        log.resolve(resolve(i64::MAX, t(300))).await.unwrap(),
        Resolved::Unchanged
    );

    let open = store.handoffs(Some(HandoffStatus::Open)).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].call_sid, sid_for("CA-handoff-2"));
    let resolved = store.handoffs(Some(HandoffStatus::Resolved)).await.unwrap();
    assert_eq!(resolved.len(), 1);
    assert_eq!(
        (resolved[0].id, resolved[0].resolved_at),
        (id, Some(t(200)))
    );
}

pub(crate) async fn a_final_status_sets_ended_at_once_and_keeps_the_outcome(store: &Db) {
    start_call(store, "CA-status").await;
    assert!(
        store
            .update_status(&sid_for("CA-status"), CallStatus::InProgress, t(1))
            .await
            .unwrap()
    );
    let call = store
        .load_call(&sid_for("CA-status"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((call.status, call.ended_at), (CallStatus::InProgress, None));

    let mut a = advance("CA-status", 0, 1);
    a.outcome = Some(Outcome::Completed);
    assert_eq!(store.advance_call(a).await.unwrap(), Advanced::Applied);

    assert!(
        store
            .update_status(&sid_for("CA-status"), CallStatus::Completed, t(30))
            .await
            .unwrap()
    );
    assert!(
        store
            .update_status(&sid_for("CA-status"), CallStatus::Completed, t(40))
            .await
            .unwrap()
    );
    // A late, out-of-order callback does not reopen the call.
    assert!(
        store
            .update_status(&sid_for("CA-status"), CallStatus::InProgress, t(41))
            .await
            .unwrap()
    );

    let call = store
        .load_call(&sid_for("CA-status"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.status, CallStatus::Completed);
    assert_eq!(call.ended_at, Some(t(30)));
    assert_eq!(call.outcome, Some(Outcome::Completed));
    assert!(
        !store
            .update_status(&sid_for("CA-nobody"), CallStatus::Completed, t(30))
            .await
            .unwrap()
    );
}

pub(crate) async fn an_advance_that_ends_the_call_keeps_an_earlier_ended_at(store: &Db) {
    start_call(store, "CA-ended").await;
    assert!(
        store
            .update_status(&sid_for("CA-ended"), CallStatus::Completed, t(30))
            .await
            .unwrap()
    );
    let mut a = advance("CA-ended", 0, 1);
    a.outcome = Some(Outcome::Completed);
    a.ended_at = Some(t(35));
    assert_eq!(store.advance_call(a).await.unwrap(), Advanced::Applied);

    let call = store
        .load_call(&sid_for("CA-ended"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.ended_at, Some(t(30)));
    assert_eq!(call.outcome, Some(Outcome::Completed));
}

pub(crate) async fn calls_hung_up_without_an_outcome_are_listed_once_their_status_is_old_enough(
    store: &Db,
) {
    for sid in ["CA-late", "CA-early", "CA-live", "CA-done"] {
        start_call(store, sid).await;
    }
    store
        .update_status(&sid_for("CA-late"), CallStatus::Completed, t(40))
        .await
        .unwrap();
    store
        .update_status(&sid_for("CA-early"), CallStatus::NoAnswer, t(30))
        .await
        .unwrap();
    store
        .update_status(&sid_for("CA-live"), CallStatus::InProgress, t(20))
        .await
        .unwrap();
    store
        .update_status(&sid_for("CA-done"), CallStatus::Completed, t(10))
        .await
        .unwrap();
    let mut a = advance("CA-done", 0, 1);
    a.outcome = Some(Outcome::Abandoned);
    assert_eq!(store.advance_call(a).await.unwrap(), Advanced::Applied);

    let listed =
        |before, limit| async move { store.hung_up_unfinished(before, limit).await.unwrap() };
    assert_eq!(listed(t(29), 10).await, vec![]);
    assert_eq!(listed(t(30), 10).await, vec![(sid_for("CA-early"), 0)]);
    assert_eq!(
        listed(t(60), 10).await,
        vec![(sid_for("CA-early"), 0), (sid_for("CA-late"), 0)]
    );
    assert_eq!(listed(t(60), 1).await, vec![(sid_for("CA-early"), 0)]);
}

pub(crate) async fn a_failing_statement_inside_an_advance_rolls_back_everything(store: &Db) {
    start_call(store, "CA-rollback").await;
    let before = store.load_call(&sid_for("CA-rollback")).await.unwrap();
    let mut a = advance("CA-rollback", 0, 1);
    a.status = Some(CallStatus::InProgress);
    a.outcome = Some(Outcome::Handoff);
    a.opt_out = Some(NewOptOut {
        phone: "+8613700000000".to_owned(),
        call_sid: Some(sid_for("CA-rollback")),
        at: t(5),
    });
    a.handoff = Some(handoff(HandoffStatus::Open, t(5)));
    a.recording = Some(NewRecording {
        call_sid: sid_for("CA-rollback"),
        question: "suggestion".to_owned(),
        url: "https://example.invalid/r.wav".to_owned(),
        duration_secs: Some(12),
        recording_sid: None,
        at: t(5),
    });
    // The same (call_sid, seq, question) twice: the second insert fails.
    a.answers = vec![answer("csat", json!(5)), answer("csat", json!(1))];

    assert!(store.advance_call(a.clone()).await.is_err());

    assert_eq!(
        store.load_call(&sid_for("CA-rollback")).await.unwrap(),
        before
    );
    assert!(
        store
            .answers(&sid_for("CA-rollback"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!store.is_opted_out("+8613700000000").await.unwrap());
    assert!(store.handoffs(None).await.unwrap().is_empty());

    // Nothing was left locked or half-open: the corrected advance applies.
    a.answers.pop();
    assert_eq!(store.advance_call(a).await.unwrap(), Advanced::Applied);
    assert_eq!(
        store.answers(&sid_for("CA-rollback")).await.unwrap().len(),
        1
    );
    assert!(store.is_opted_out("+8613700000000").await.unwrap());
    assert_eq!(
        store
            .handoffs(Some(HandoffStatus::Open))
            .await
            .unwrap()
            .len(),
        1
    );
}

pub(crate) async fn a_failing_advance_does_not_fail_others_running_at_the_same_time(store: &Db) {
    const CALLS: usize = 40;
    for c in 0..CALLS {
        start_call(store, &format!("CA-mixed-{c}")).await;
    }

    let tasks: Vec<_> = (0..CALLS)
        .map(|c| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                let mut a = advance(&format!("CA-mixed-{c}"), 0, 1);
                a.answers = vec![answer("csat", json!(c))];
                if c % 7 == 3 {
                    a.answers.push(answer("csat", json!(0)));
                }
                (c, store.advance_call(a).await)
            })
        })
        .collect();

    for task in tasks {
        let (c, result) = task.await.unwrap();
        let sid = format!("CA-mixed-{c}");
        let call = store.load_call(&sid_for(&sid)).await.unwrap().unwrap();
        let answers = store.answers(&sid_for(&sid)).await.unwrap();
        if c % 7 == 3 {
            assert!(result.is_err(), "{sid}");
            assert_eq!((call.seq, answers.len()), (0, 0), "{sid}");
        } else {
            assert_eq!(result.unwrap(), Advanced::Applied, "{sid}");
            assert_eq!((call.seq, answers.len()), (1, 1), "{sid}");
        }
    }
}

pub(crate) async fn new_calls_advances_and_statuses_arriving_together_each_get_their_own_result(
    store: &Db,
) {
    // Under load the store commits writes of many calls together; each
    // webhook must still get its own answer, and a write that fails
    // (here a call naming no saved flow version) must fail alone.
    const N: usize = 20;
    for c in 0..N {
        start_call(store, &format!("CA-adv-{c}")).await;
        start_call(store, &format!("CA-sta-{c}")).await;
    }

    let mut tasks: Vec<tokio::task::JoinHandle<(String, Result<bool, String>)>> = Vec::new();
    let spawn = |sid: String, write: futures_util::future::BoxFuture<'static, _>| {
        tokio::spawn(async move { (sid, write.await) })
    };
    let create = |call: dialback::store::NewCall| {
        let s = Arc::clone(store);
        spawn(
            call.call_sid.to_string(),
            Box::pin(async move { s.create_call(call).await.map_err(|e| e.to_string()) }),
        )
    };
    let status = |sid: String| {
        let s = Arc::clone(store);
        spawn(
            sid.clone(),
            Box::pin(async move {
                s.update_status(&sid_for(&sid), CallStatus::Completed, t(60))
                    .await
                    .map_err(|e| e.to_string())
            }),
        )
    };
    for c in 0..N {
        tasks.push(create(new_call(&format!("CA-new-{c}"))));
        let s = Arc::clone(store);
        let sid = format!("CA-adv-{c}");
        let mut a = advance(&sid, 0, 1);
        a.answers = vec![answer("csat", json!(c))];
        tasks.push(spawn(
            sid,
            Box::pin(async move {
                s.advance_call(a)
                    .await
                    .map(|r| r == Advanced::Applied)
                    .map_err(|e| e.to_string())
            }),
        ));
        tasks.push(status(format!("CA-sta-{c}")));
    }
    for c in 0..3 {
        tasks.push(status(format!("CA-gone-{c}")));
    }
    let mut orphan = new_call("CA-orphan");
    orphan.flow_hash = "no-such-version".to_owned();
    tasks.push(create(orphan));

    for task in tasks {
        let (sid, result) = task.await.unwrap();
        if sid == sid_for("CA-orphan").as_str() {
            assert!(result.is_err(), "{sid}: {result:?}");
        } else if sid.starts_with("CA-gone-") {
            assert_eq!(result, Ok(false), "{sid}");
        } else {
            assert_eq!(result, Ok(true), "{sid}");
        }
    }
    for c in 0..N {
        let created = store
            .load_call(&sid_for(&format!("CA-new-{c}")))
            .await
            .unwrap();
        assert_eq!(created.map(|r| r.seq), Some(new_call("x").seq));
        let advanced = store
            .load_call(&sid_for(&format!("CA-adv-{c}")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(advanced.seq, 1);
        let answers = store
            .answers(&sid_for(&format!("CA-adv-{c}")))
            .await
            .unwrap();
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].value, json!(c));
        let ended = store
            .load_call(&sid_for(&format!("CA-sta-{c}")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (ended.status.as_str(), ended.ended_at),
            ("completed", Some(t(60)))
        );
    }
    assert_eq!(store.load_call(&sid_for("CA-orphan")).await.unwrap(), None);
    assert_eq!(store.load_call(&sid_for("CA-gone-0")).await.unwrap(), None);
}

pub(crate) async fn recordings_are_stored_for_known_calls_only(store: &Db) {
    start_call(store, "CA-rec").await;
    let rec = NewRecording {
        call_sid: sid_for("CA-rec"),
        question: "suggestion".to_owned(),
        url: "https://example.invalid/r.wav".to_owned(),
        duration_secs: None,
        recording_sid: None,
        at: t(9),
    };

    store.add_recording(rec.clone()).await.unwrap();
    let orphan = NewRecording {
        call_sid: sid_for("CA-nobody"),
        ..rec
    };
    assert!(store.add_recording(orphan).await.is_err());
}

pub(crate) async fn flow_versions_are_idempotent(store: &Db) {
    store
        .save_flow_version(FLOW, "h1", "[flow]\n")
        .await
        .unwrap();
    store
        .save_flow_version(FLOW, "h1", "[flow]\n")
        .await
        .unwrap();
    // Same hash, same content by definition: a second save is a no-op.
    store.save_flow_version("renamed", "h1", "x").await.unwrap();
    store
        .save_flow_version(FLOW, "h2", "[flow]\n# v2\n")
        .await
        .unwrap();

    let mut call = new_call("CA-h2");
    call.flow_hash = "h2".to_owned();
    assert!(store.create_call(call).await.unwrap());
}

pub(crate) async fn timestamps_keep_microseconds(store: &Db) {
    store
        .save_flow_version(FLOW, FLOW_HASH, "[flow]\n")
        .await
        .unwrap();
    let mut call = new_call("CA-micros");
    call.started_at = t(0) + chrono::Duration::nanoseconds(789);
    assert!(store.create_call(call).await.unwrap());

    let row = store
        .load_call(&sid_for("CA-micros"))
        .await
        .unwrap()
        .unwrap();

    assert_eq!(row.started_at, t(0));
}

pub(crate) async fn health_works(store: &Db) {
    store.health().await.unwrap();
    assert!(["sqlite", "postgres"].contains(&store.backend()));
}

pub(crate) async fn a_handoffs_life_cycle_is_kept_as_history_and_a_resolve_schedules_its_confirmation_once(
    store: &Db,
) {
    let sid = "CA-lifecycle";
    start_call(store, sid).await;
    let mut a = advance(sid, 0, 1);
    a.handoff = Some(handoff(HandoffStatus::Open, t(100)));
    a.outcome = Some(Outcome::Ticket);
    assert_eq!(store.advance_call(a).await.unwrap(), Advanced::Applied);
    let id = HandoffId(store.handoffs(None).await.unwrap()[0].id);
    let log = store.handoff_log();
    let opened = log.history(id).await.unwrap();
    let follows = FollowUp {
        call: sid_for(sid),
        handoff: Some(id),
    };
    let confirmation = Confirmation {
        flow: "fix-confirmation".into(),
        plan: json!({"window": "09:00-20:00"}),
        contact: NewContact {
            phone: "+8613800138000".into(),
            vars: json!({"previous.csat": "2"}),
            timezone: Some("Asia/Shanghai".into()),
            next_at: Some(t(7400)),
            follows: Some(follows.clone()),
        },
    };
    let resolve = Resolve {
        id,
        at: t(200),
        confirmation: Some(confirmation.clone()),
    };

    let first = log.resolve(resolve.clone()).await.unwrap();
    let second = log.resolve(resolve.clone()).await.unwrap();
    let confirm_call = sid_for("CA-confirm");
    // A call that began before the resolve confirms nothing.
    let too_early = log
        .customer_answered(id, HandoffStatus::Confirmed, &confirm_call, t(199), t(7490))
        .await
        .unwrap();
    let answered = log
        .customer_answered(id, HandoffStatus::Reopened, &confirm_call, t(7400), t(7500))
        .await
        .unwrap();
    let answered_again = log
        .customer_answered(
            id,
            HandoffStatus::Confirmed,
            &confirm_call,
            t(7400),
            t(7501),
        )
        .await
        .unwrap();
    let again = log
        .resolve(Resolve {
            at: t(8000),
            ..resolve
        })
        .await
        .unwrap();

    assert_eq!(
        opened,
        [HandoffEvent {
            status: HandoffStatus::Open,
            actor: HandoffActor::Caller,
            call_sid: Some(sid_for(sid)),
            at: t(100),
        }]
    );
    let Resolved::Resolved {
        contact: Some(contact),
    } = first
    else {
        panic!("{first:?}");
    };
    assert_eq!(second, Resolved::Unchanged);
    assert!(!too_early && answered && !answered_again);
    // Reopened, then resolved again: the same contact is armed again.
    assert_eq!(
        again,
        Resolved::Resolved {
            contact: Some(contact)
        }
    );
    let history: Vec<_> = log
        .history(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.status, e.actor, e.at))
        .collect();
    assert_eq!(
        history,
        [
            (HandoffStatus::Open, HandoffActor::Caller, t(100)),
            (HandoffStatus::Resolved, HandoffActor::Support, t(200)),
            (HandoffStatus::Reopened, HandoffActor::Customer, t(7500)),
            (HandoffStatus::Resolved, HandoffActor::Support, t(8000)),
        ]
    );
    let h = log.handoff(id).await.unwrap().unwrap();
    assert_eq!(
        (h.status, h.resolved_at),
        (HandoffStatus::Resolved, Some(t(8000)))
    );
    // One confirmations campaign, running, holding the one contact.
    let start = store
        .campaigns()
        .contact_start(contact)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(start.follows, Some(follows));
    assert_eq!(start.vars, json!({"previous.csat": "2"}));
    let due = store
        .campaigns()
        .claim_due(t(7399), t(9000), 10)
        .await
        .unwrap();
    assert!(due.is_empty(), "not due before next_at: {due:?}");
    let due = store
        .campaigns()
        .claim_due(t(7400), t(9000), 10)
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].id, due[0].flow.as_str(), due[0].phone.as_str()),
        (contact, "fix-confirmation", "+8613800138000")
    );
}
