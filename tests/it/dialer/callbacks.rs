//! Calls the dialer placed, answered by the fake provider and reported back
//! through its signed status callbacks: greetings, retries, answering machines.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_call_greets_the_contact_by_name_and_a_busy_callback_schedules_a_retry() {
    for (backend, db) in each_backend().await {
        let now = utc("2026-11-23T03:00:00Z");
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(now)).await;
        let store = db.store().clone();
        let fake = FakeProvider::start().await;
        let config = ProviderConfig {
            base_url: fake.base_url.clone(),
            account_sid: "AC0".into(),
            auth_token: "secret".into(),
            from: "+861000000001".into(),
            public_url: PUBLIC_URL.into(),
        };
        let worker = Worker::new(store.clone(), Provider::new(config), Pacer::new(1000.0));
        let spec = PlanSpec {
            window: "09:00-20:00".into(),
            ..PlanSpec::default()
        };
        let id = campaign(&store, &spec, &[contact("+8613812348000", None)], now).await;

        let outcomes = drain(&worker, now).await;
        let Some(Outcome::Placed { call_sid, .. }) = outcomes.first() else {
            panic!("{backend}: {outcomes:?}");
        };
        let requests = fake.requests();
        let url = requests[0].param("Url").expect("Url");
        let (status, twiml) = server
            .post(
                url,
                &[
                    ("CallSid", call_sid),
                    ("AccountSid", "AC0"),
                    ("From", "+861000000001"),
                    ("To", "+8613812348000"),
                    ("CallStatus", "in-progress"),
                    ("Direction", "outbound-api"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{backend}: {twiml}");
        assert!(twiml.contains("王芳您好"), "{backend}: {twiml}");

        let busy = r#"dialback_dialer_attempts_total{result="busy"}"#;
        let busy_before = server.metric(busy).await;
        let (status, _) = server
            .post(
                "/twilio/status",
                &[
                    ("CallSid", call_sid),
                    ("AccountSid", "AC0"),
                    ("CallStatus", "busy"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{backend}");
        let counts = store.campaigns().contact_counts(id).await.expect("counts");
        assert_eq!(counts.get("pending"), Some(&1), "{backend}: {counts:?}");
        assert!(
            server.metric(busy).await >= busy_before + 1.0,
            "{backend}: the busy attempt is counted on /metrics"
        );
        let retry = drain(&worker, now + chrono::Duration::minutes(16)).await;
        assert!(
            matches!(retry.as_slice(), [Outcome::Placed { .. }]),
            "{backend}: {retry:?}"
        );
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_pauses_resumes_cancels_and_counts_a_campaign() {
    for (backend, db) in each_backend().await {
        let now = utc("2026-11-23T03:00:00Z");
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(now)).await;
        let store = db.store().clone();
        let spec = PlanSpec::default();
        let id = campaign(&store, &spec, &[contact("+8613812348000", None)], now).await;

        let (status, body) = server.admin_get(&format!("/api/campaigns/{id}")).await;
        assert_eq!(
            (status, &body["status"], &body["contacts"]["pending"]),
            (200, &json!("running"), &json!(1)),
            "{backend}: {body}"
        );
        for (action, code, after) in [
            ("pause", 200, "paused"),
            ("resume", 200, "running"),
            ("cancel", 200, "cancelled"),
            ("resume", 404, "cancelled"),
        ] {
            let (status, _) = server
                .post_admin(&format!("/api/campaigns/{id}/{action}"))
                .await;
            assert_eq!(status, code, "{backend}: {action}");
            let (_, body) = server.admin_get(&format!("/api/campaigns/{id}")).await;
            assert_eq!(body["status"], after, "{backend}: {action}");
        }
        let (status, _) = server.admin_get("/api/campaigns/999").await;
        assert_eq!(status, 404, "{backend}");
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reached_contact_is_called_again_with_another_flow_at_the_chosen_time() {
    for (backend, db) in each_backend().await {
        let now = utc("2026-11-23T03:00:00Z");
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(now)).await;
        let store = db.store().clone();
        let fake = FakeProvider::start().await;
        let worker = Worker::new(store.clone(), provider(&fake), Pacer::new(1000.0));
        let spec = PlanSpec {
            window: "09:00-20:00".into(),
            ..PlanSpec::default()
        };
        campaign(&store, &spec, &[contact("+8613812348000", None)], now).await;
        let placed = drain(&worker, now).await;
        let Some(Outcome::Placed {
            contact_id,
            call_sid,
        }) = placed.first()
        else {
            panic!("{backend}: {placed:?}");
        };
        on_status(
            store.as_ref(),
            &Metrics::new(),
            &sid_for(call_sid),
            CallStatus::Completed,
            None,
            now,
        )
        .await
        .expect("status");

        // Asked for 23:00 Shanghai time: the call waits for 09:00 the next day.
        let response = reqwest::Client::new()
            .post(format!(
                "http://{}/api/contacts/{contact_id}/recall",
                server.addr
            ))
            .bearer_auth(crate::common::phone::ADMIN_TOKEN)
            .json(&json!({"flow": "nps-survey", "at": "2026-11-23T15:00:00Z"}))
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status().as_u16(), 200, "{backend}");

        let at_night = drain(&worker, utc("2026-11-23T15:00:00Z")).await;
        assert!(
            matches!(at_night.as_slice(), [Outcome::Rescheduled { at, .. }] if *at == utc("2026-11-24T01:00:00Z")),
            "{backend}: {at_night:?}"
        );
        let morning = drain(&worker, utc("2026-11-24T01:00:00Z")).await;
        assert!(
            matches!(morning.as_slice(), [Outcome::Placed { .. }]),
            "{backend}: {morning:?}"
        );
        // The first call's final status again, late, while the contact is
        // in its second call: a copy — the second call's own status decides.
        let [
            Outcome::Placed {
                call_sid: second, ..
            },
        ] = morning.as_slice()
        else {
            unreachable!()
        };
        let status = |sid: &str, status| {
            let (store, sid) = (store.clone(), sid_for(sid));
            async move {
                on_status(
                    store.as_ref(),
                    &Metrics::new(),
                    &sid,
                    status,
                    None,
                    utc("2026-11-24T01:01:00Z"),
                )
                .await
                .expect("status")
            }
        };
        let late = status(call_sid, CallStatus::Completed).await;
        assert_eq!(
            late,
            dialback::dialer::worker::StatusEffect::None,
            "{backend}"
        );
        let own = status(second, CallStatus::Busy).await;
        assert!(
            matches!(own, dialback::dialer::worker::StatusEffect::Retry(_)),
            "{backend}: {own:?}"
        );
        let url = fake
            .requests()
            .last()
            .and_then(|r| r.param("Url").map(str::to_owned));
        assert!(
            url.is_some_and(|u| u.contains("flow=nps-survey&")),
            "{backend}"
        );
        server.stop().await;
        db.cleanup().await;
    }
}

/// Runs a campaign to its end with the fake provider reporting every call
/// through signed status callbacks to a real server: created and started
/// through the admin API, dialled by `replicas` workers (each with a store
/// of its own), in rounds five minutes apart on controlled time.
async fn closed_loop(backend: &str, db: &TestDb, replicas: usize) {
    use fake_provider::CallEnd;
    let t0 = utc("2026-11-23T03:00:00Z"); // 11:00 in Shanghai
    let fake = FakeProvider::start().await;
    let phone = |n: u32| format!("+86137000000{n:02}");
    fake.script(&phone(2), &[CallEnd::Busy]);
    fake.script(&phone(3), &[CallEnd::NoAnswer; 3]);
    fake.script(&phone(5), &[CallEnd::Busy]);
    fake.script(&phone(6), &[CallEnd::Machine]);
    fake.script(&phone(7), &[CallEnd::Failed; 3]);
    let store = db.store().clone();
    store
        .add_opt_out(NewOptOut {
            phone: phone(4),
            call_sid: None,
            at: t0,
        })
        .await
        .expect("opt-out");
    let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(t0)).await;
    let csv: String = std::iter::once("phone,name\n".to_owned())
        .chain((1..=7).map(|n| format!("{},客户{n}\n", phone(n))))
        .collect();
    let created = reqwest::Client::new()
        .post(format!(
            "http://{}/api/campaigns?flow=wallet-followup&window=09:00-20:00&max_attempts=3\
             &backoff=busy%3D10m,no-answer%3D20m,failed%3D5m,machine%3D30m&machine=retry",
            server.addr
        ))
        .bearer_auth(crate::common::phone::ADMIN_TOKEN)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("answers");
    assert_eq!(created.status().as_u16(), 201, "{backend}");
    let created: serde_json::Value = created.json().await.expect("json");
    let id = created["id"].as_i64().expect("id");
    let (status, _) = server
        .post_admin(&format!("/api/campaigns/{id}/start"))
        .await;
    assert_eq!(status, 200, "{backend}");
    server.stop().await;

    let mut stores = vec![store.clone()];
    for _ in 1..replicas {
        stores.push(dialback::store::connect(db.url()).await.expect("replica"));
    }
    let config = ProviderConfig {
        base_url: fake.base_url.clone(),
        account_sid: "AC0".into(),
        auth_token: "secret".into(),
        from: "+861000000001".into(),
        public_url: PUBLIC_URL.into(),
    };
    let workers: Vec<_> = stores
        .iter()
        .map(|s| {
            Arc::new(Worker::new(
                s.clone(),
                Provider::new(config.clone()),
                Pacer::new(1000.0),
            ))
        })
        .collect();
    for round in 0..=10 {
        let now = t0 + chrono::Duration::minutes(5 * round);
        if round == 2 {
            // The fifth contact opts out between its busy call and its retry.
            store
                .add_opt_out(NewOptOut {
                    phone: phone(5),
                    call_sid: None,
                    at: now,
                })
                .await
                .expect("opt-out");
        }
        let tasks: Vec<_> = workers
            .iter()
            .map(|w| {
                let w = w.clone();
                tokio::spawn(async move { drain(&w, now).await })
            })
            .collect();
        for task in tasks {
            task.await.expect("worker");
        }
        // The provider reports the calls at this round's time.
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(now)).await;
        deliver_callbacks(&fake, &server).await;
        server.stop().await;
    }

    let requests = fake.requests();
    let calls_to = |n: u32| {
        requests
            .iter()
            .filter(|r| r.param("To") == Some(phone(n).as_str()))
            .count()
    };
    assert_eq!(
        (1..=7).map(calls_to).collect::<Vec<_>>(),
        [1, 2, 3, 0, 1, 2, 3],
        "{backend}: calls per contact"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.param("MachineDetection") == Some("Enable")),
        "{backend}"
    );
    let counts = store.campaigns().contact_counts(id).await.expect("counts");
    let expected: std::collections::BTreeMap<String, i64> = [
        ("completed", 3),
        ("no_answer", 1),
        ("opted_out", 2),
        ("failed", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(counts, expected, "{backend}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_runs_to_its_end_on_the_providers_own_callbacks_with_retries_and_opt_outs() {
    let db = TestDb::sqlite().await;
    closed_loop("sqlite", &db, 1).await;
    db.cleanup().await;
    let db = TestDb::postgres().await;
    closed_loop("postgres with two replicas", &db, 2).await;
    db.cleanup().await;
}

/// Creates and starts a campaign of one contact through the admin API,
/// with the settings in `query`; returns its id.
async fn api_campaign(server: &Server, query: &str, phone: &str) -> i64 {
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{}/api/campaigns?{query}", server.addr))
        .bearer_auth(crate::common::phone::ADMIN_TOKEN)
        .header("content-type", "text/csv")
        .body(format!("phone,name\n{phone},王芳\n"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    let id = created["id"].as_i64().expect("id");
    let (status, _) = server
        .post_admin(&format!("/api/campaigns/{id}/start"))
        .await;
    assert_eq!(status, 200);
    id
}

/// A worker dialling through `fake`, with links to the test server's URL.
fn worker_for(db: &TestDb, fake: &FakeProvider) -> Worker {
    Worker::new(
        db.store().clone(),
        Provider::new(ProviderConfig {
            base_url: fake.base_url.clone(),
            account_sid: "AC0".into(),
            auth_token: "secret".into(),
            from: "+861000000001".into(),
            public_url: PUBLIC_URL.into(),
        }),
        Pacer::new(1000.0),
    )
}

/// The fake provider sends the status callbacks it owes, signed, to `server`.
async fn deliver_callbacks(fake: &FakeProvider, server: &Server) {
    fake.send_callbacks_to(fake_provider::Callbacks {
        public_url: PUBLIC_URL.into(),
        real_url: format!("http://{}", server.addr),
        auth_token: crate::common::phone::AUTH_TOKEN.into(),
    });
    fake.deliver_callbacks().await;
}

/// Twilio answering the voice URL of a placed call, with `AnsweredBy`.
async fn answer_by(server: &Server, voice_url: &str, sid: &str, to: &str, by: &str) -> String {
    let (status, twiml) = server
        .post(
            voice_url,
            &[
                ("CallSid", sid),
                ("From", "+861000000001"),
                ("To", to),
                ("Direction", "outbound-api"),
                ("AnsweredBy", by),
            ],
        )
        .await;
    assert_eq!(status, 200, "{twiml}");
    twiml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answering_machine_gets_the_flows_message_and_the_contact_is_done() {
    use fake_provider::CallEnd;
    for (backend, db) in each_backend().await {
        let t0 = utc("2026-11-23T03:00:00Z"); // 11:00 in Shanghai
        let fake = FakeProvider::start().await;
        let phone = "+8613700000001";
        fake.script(phone, &[CallEnd::Machine]);
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(t0)).await;
        // A flow without a machine step cannot leave a message: said at once.
        let refused = reqwest::Client::new()
            .post(format!(
                "http://{}/api/campaigns?flow=nps-survey&window=09:00-20:00&machine=message",
                server.addr
            ))
            .bearer_auth(crate::common::phone::ADMIN_TOKEN)
            .header("content-type", "text/csv")
            .body(format!("phone,name\n{phone},Alex\n"))
            .send()
            .await
            .expect("answers");
        assert_eq!(refused.status().as_u16(), 400, "{backend}");
        let why = refused.text().await.expect("text");
        assert!(why.contains("machine_step"), "{backend}: {why}");

        let id = api_campaign(
            &server,
            "flow=wallet-followup&window=09:00-20:00&machine=message",
            phone,
        )
        .await;
        let worker = worker_for(&db, &fake);
        drain(&worker, t0).await;
        // The message waits for the machine's beep.
        let voice_url = the_one_call_placed(&fake, backend, "DetectMessageEnd", "message");

        // Twilio answers after the beep with AnsweredBy: the machine hears
        // the voicemail step, not the survey, and the call ends.
        let twiml = answer_by(
            &server,
            &voice_url,
            "CA0123456789abcdef0123456789abcdef",
            phone,
            "machine_end_beep",
        )
        .await;
        assert!(twiml.contains("服务回访电话"), "{backend}: {twiml}");
        assert!(!twiml.contains("<Gather"), "{backend}: {twiml}");
        assert!(twiml.contains("<Hangup"), "{backend}: {twiml}");
        let call = db
            .store()
            .load_call(&sid_for("CA0123456789abcdef0123456789abcdef"))
            .await
            .expect("load")
            .expect("stored");
        assert_eq!(call.outcome, Some(CallOutcome::NoResponse), "{backend}");

        deliver_callbacks(&fake, &server).await;
        let counts = db
            .store()
            .campaigns()
            .contact_counts(id)
            .await
            .expect("counts");
        assert_eq!(counts.get("machine"), Some(&1), "{backend}: {counts:?}");
        assert!(
            drain(&worker, t0 + chrono::Duration::hours(5))
                .await
                .is_empty()
        );
        assert_eq!(fake.requests().len(), 1, "{backend}: never called again");
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_final_status_that_outruns_the_workers_record_still_schedules_the_retry() {
    for (backend, db) in each_backend().await {
        let store = db.store().clone();
        let now = utc("2026-11-23T03:00:00Z"); // 11:00 in Shanghai
        let spec = PlanSpec {
            window: "09:00-20:00".into(),
            ..PlanSpec::default()
        };
        let id = campaign(&store, &spec, &[contact("+8613700000001", None)], now).await;
        let campaigns = store.campaigns();
        let claimed = campaigns
            .claim_due(now, now + chrono::Duration::minutes(2), 1)
            .await
            .expect("claim");
        let contact_id = claimed[0].id;
        let sid = "CA00000000000000000000000000000fa5";
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(now)).await;

        // The provider reports "busy" before the worker has written the
        // CallSid down (its REST answer and the callback raced).
        let (status, _) = server
            .post(
                &format!("/twilio/status?contact={contact_id}"),
                &[("CallSid", sid), ("CallStatus", "busy")],
            )
            .await;
        assert_eq!(status, 200, "{backend}");
        campaigns
            .record_placed(contact_id, sid, now, now + chrono::Duration::hours(2))
            .await
            .expect("placed");

        let page = dialback::store::campaigns::ContactPage {
            state: None,
            after: None,
            limit: 10,
        };
        let (campaigns, page) = (&campaigns, &page);
        let row = eventually(
            Duration::from_secs(10),
            format!("{backend}: the contact is still calling"),
            || async move {
                let rows = campaigns.list_contacts(id, page).await.expect("contacts");
                (rows[0].state != ContactState::Calling).then(|| rows[0].clone())
            },
        )
        .await;
        assert_eq!(
            (row.state.as_str(), row.last_result.as_deref()),
            ("pending", Some("busy")),
            "{backend}: the busy result counted, a retry is due by the back-off"
        );
        server.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answering_machine_on_a_retrying_campaign_hears_nothing_and_is_called_again() {
    use fake_provider::CallEnd;
    for (backend, db) in each_backend().await {
        let t0 = utc("2026-11-23T03:00:00Z"); // 11:00 in Shanghai
        let fake = FakeProvider::start().await;
        let phone = "+8613700000001";
        fake.script(phone, &[CallEnd::Machine]);
        let server = Server::start_at(db.url(), dialback::config::Clock::Fixed(t0)).await;
        let id = api_campaign(
            &server,
            "flow=wallet-followup&window=09:00-20:00&machine=retry",
            phone,
        )
        .await;
        let worker = worker_for(&db, &fake);
        drain(&worker, t0).await;
        let voice_url = the_one_call_placed(&fake, backend, "Enable", "retry");

        let twiml = answer_by(
            &server,
            &voice_url,
            "CA0123456789abcdef0123456789abcdee",
            phone,
            "machine_start",
        )
        .await;
        assert!(
            !twiml.contains("<Say") && !twiml.contains("王芳") && twiml.contains("<Hangup"),
            "{backend}: a machine must not record the survey or the name: {twiml}"
        );
        let call = db
            .store()
            .load_call(&sid_for("CA0123456789abcdef0123456789abcdee"))
            .await
            .expect("load")
            .expect("stored");
        assert_eq!(call.outcome, Some(CallOutcome::NoResponse), "{backend}");

        deliver_callbacks(&fake, &server).await;
        let page = dialback::store::campaigns::ContactPage {
            state: None,
            after: None,
            limit: 10,
        };
        let rows = db
            .store()
            .campaigns()
            .list_contacts(id, &page)
            .await
            .expect("contacts");
        assert_eq!(
            (rows[0].state.as_str(), rows[0].last_result.as_deref()),
            ("pending", Some("machine")),
            "{backend}: called again after the machine back-off"
        );
        server.stop().await;
        db.cleanup().await;
    }
}
