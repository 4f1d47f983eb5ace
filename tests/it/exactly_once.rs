//! Exactly once, as the provider really delivers webhooks: retried,
//! duplicated, several copies at once, late, and to either of two replicas
//! of one database (PostgreSQL; two servers on one SQLite file are not a
//! supported deployment, so SQLite runs the single-replica cases). Each test
//! asserts what the caller hears (the same complete TwiML the first copy
//! got, never an empty document or the apology) and what is stored (nothing
//! twice, an ended call unchanged).

use crate::common::db::{TestDb, each_backend};
use crate::common::phone::{Server, new_call_sid};
use crate::common::redeliver::{Hook, complete};
use chrono::{TimeZone, Utc};
use dialback::config::Clock;
use sqlx::Connection;

/// Monday 11:00 in Shanghai: agents are at work.
fn office_hours() -> Clock {
    Clock::Fixed(Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0).unwrap())
}

const CALLER: &str = "+8613812348000";
const WALLET_LINE: &str = "+861000000001";

/// Rows of `table` stored for the call.
async fn rows(db: &TestDb, table: &str, sid: &str) -> i64 {
    // The table names are the tests' own literals.
    let sql = || sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table} WHERE call_sid = $1"));
    if db.url().starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(db.url()).await.unwrap();
        sqlx::query_scalar(sql())
            .bind(sid)
            .fetch_one(&mut c)
            .await
            .unwrap()
    } else {
        let mut c = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
        sqlx::query_scalar(sql())
            .bind(sid)
            .fetch_one(&mut c)
            .await
            .unwrap()
    }
}

/// The call's stored row as the admin API shows it.
async fn call_of(server: &Server, sid: &str) -> serde_json::Value {
    let (status, v) = server.admin_get(&format!("/api/calls/{sid}")).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// Observation 4: the webhooks that END a call, retried, get the same
/// goodbye (not `<Response></Response>`) and store nothing again.
#[tokio::test]
async fn retrying_a_webhook_that_ends_the_call_gets_the_same_goodbye() {
    for (backend, db) in each_backend().await {
        eprintln!("-- on {backend}");
        let server = Server::start_at(db.url(), office_hours()).await;

        // The final answer (the record action).
        let sid = new_call_sid();
        let mut twiml = complete(Hook::voice(&sid, CALLER, WALLET_LINE).to(&server).await);
        for key in ["1", "1", "5", "1", "1"] {
            twiml = complete(Hook::press(&twiml, &sid, key).to(&server).await);
        }
        let (action, _) = Hook::recorded(&twiml, &sid, 12);
        let goodbye = complete(action.to(&server).await);
        assert_eq!(complete(action.to(&server).await), goodbye, "{backend}");
        Hook::hung_up(&sid).to(&server).await;
        assert_eq!(complete(action.to(&server).await), goodbye, "{backend}");
        let call = call_of(&server, &sid).await;
        assert_eq!(call["outcome"], "completed", "{backend}");
        assert_eq!(rows(&db, "answers", &sid).await, 6, "{backend}");

        // The opt-out confirmation.
        let sid = new_call_sid();
        let first = complete(Hook::voice(&sid, CALLER, WALLET_LINE).to(&server).await);
        let confirm = complete(Hook::press(&first, &sid, "9").to(&server).await);
        let yes = Hook::press(&confirm, &sid, "9");
        let bye = complete(yes.to(&server).await);
        assert_eq!(complete(yes.to(&server).await), bye, "{backend}");
        assert_eq!(call_of(&server, &sid).await["outcome"], "opted_out");

        // The queue action that leads to the ticket.
        let sid = new_call_sid();
        let mut twiml = complete(Hook::voice(&sid, CALLER, WALLET_LINE).to(&server).await);
        for key in ["1", "2"] {
            twiml = complete(Hook::press(&twiml, &sid, key).to(&server).await);
        }
        let full = Hook::queue_ended(&twiml, &sid, "queue-full");
        let ticket = complete(full.to(&server).await);
        assert_eq!(complete(full.to(&server).await), ticket, "{backend}");
        assert_eq!(call_of(&server, &sid).await["outcome"], "ticket");
        assert_eq!(rows(&db, "handoffs", &sid).await, 1, "{backend}");

        server.stop().await;
        db.cleanup().await;
    }
}

/// The replicas a test drives: two servers on PostgreSQL, one on SQLite.
async fn replicas(db: &TestDb) -> Vec<Server> {
    let n = if db.url().starts_with("postgres") {
        2
    } else {
        1
    };
    let mut servers = Vec::new();
    for _ in 0..n {
        servers.push(Server::start_at(db.url(), office_hours()).await);
    }
    servers
}

async fn stop(servers: Vec<Server>) {
    for s in servers {
        s.stop().await;
    }
}

/// Observation 5: copies of the first voice webhook arriving together (on
/// both replicas) all get the full first TwiML, and the call goes on once.
#[tokio::test]
async fn simultaneous_copies_of_the_first_webhook_all_get_the_first_twiml() {
    for (backend, db) in each_backend().await {
        eprintln!("-- on {backend}");
        let servers = replicas(&db).await;
        let targets: Vec<&Server> = (0..6).map(|i| &servers[i % servers.len()]).collect();
        for _ in 0..5 {
            let sid = new_call_sid();
            let bodies: Vec<String> = Hook::voice(&sid, CALLER, WALLET_LINE)
                .at_once(&targets)
                .await
                .into_iter()
                .map(complete)
                .collect();
            assert!(bodies.iter().all(|b| *b == bodies[0]), "{bodies:#?}");
            // Whichever copy Twilio used, the call goes on from it, once.
            let press = Hook::press(&bodies[5], &sid, "1");
            let next = press.at_once(&targets).await;
            let next: Vec<String> = next.into_iter().map(complete).collect();
            assert!(next.iter().all(|b| *b == next[0] && *b != bodies[0]));
            assert_eq!(rows(&db, "answers", &sid).await, 1, "{backend}");
        }
        stop(servers).await;
        db.cleanup().await;
    }
}

/// Observation 6: on two PostgreSQL replicas, the in-memory cache is never
/// the arbiter. A retry of a call's last webhook on the replica whose cache
/// still holds the call gets the goodbye (not the apology) and stores
/// nothing; a late answer after the hang-up reached the other replica is
/// not stored and does not move the ended call.
#[tokio::test]
async fn a_replica_whose_cache_is_behind_changes_nothing_and_answers_as_the_first_copy_got() {
    let db = TestDb::postgres().await;
    let servers = replicas(&db).await;
    let (a, b) = (&servers[0], &servers[1]);

    // The last webhook, retried on the replica that cached the call.
    let sid = new_call_sid();
    let mut twiml = complete(Hook::voice(&sid, CALLER, WALLET_LINE).to(a).await);
    for key in ["1", "1", "5", "1", "1"] {
        // B takes the last answer before the recording: its cache holds
        // the call waiting for the recording.
        twiml = complete(Hook::press(&twiml, &sid, key).to(b).await);
    }
    let (action, _) = Hook::recorded(&twiml, &sid, 12);
    let goodbye = complete(action.to(a).await);
    assert_eq!(complete(action.to(b).await), goodbye);
    assert_eq!(complete(action.to(a).await), goodbye);
    assert_eq!(rows(&db, "answers", &sid).await, 6);
    assert_eq!(call_of(a, &sid).await["outcome"], "completed");

    // A late answer on A after the hang-up reached B.
    let sid = new_call_sid();
    let first = complete(Hook::voice(&sid, CALLER, WALLET_LINE).to(a).await);
    let resolved = complete(Hook::press(&first, &sid, "1").to(a).await);
    Hook::hung_up(&sid).to(b).await;
    let ended = call_of(b, &sid).await;
    assert_eq!(ended["outcome"], "abandoned");
    let late = Hook::press(&resolved, &sid, "2");
    assert_eq!(complete(late.to(a).await), resolved);
    assert_eq!(complete(late.to(b).await), resolved);
    Hook::hung_up(&sid).to(a).await;
    assert_eq!(call_of(a, &sid).await, ended, "an ended call never changes");
    assert_eq!(rows(&db, "answers", &sid).await, 1);
    assert_eq!(rows(&db, "handoffs", &sid).await, 0);

    stop(servers).await;
    db.cleanup().await;
}

/// Observation 7: a recording is stored once, whichever of the `<Record>`
/// action and the recording status callback comes first, however often the
/// callback is retried, and on whichever replica.
#[tokio::test]
async fn a_recording_is_stored_once_per_recording_sid() {
    for (backend, db) in each_backend().await {
        eprintln!("-- on {backend}");
        let servers = replicas(&db).await;
        let last = &servers[servers.len() - 1];
        for callback_first in [false, true] {
            let sid = new_call_sid();
            let mut twiml = complete(Hook::voice(&sid, CALLER, WALLET_LINE).to(&servers[0]).await);
            for key in ["1", "1", "5", "1", "1"] {
                twiml = complete(Hook::press(&twiml, &sid, key).to(&servers[0]).await);
            }
            let (action, callback) = Hook::recorded(&twiml, &sid, 12);
            if callback_first {
                assert_eq!(callback.to(last).await.0, 200);
            }
            let goodbye = complete(action.to(&servers[0]).await);
            for _ in 0..2 {
                assert_eq!(callback.to(last).await.0, 200);
                assert_eq!(callback.to(&servers[0]).await.0, 200);
            }
            assert_eq!(complete(action.to(last).await), goodbye);
            assert_eq!(rows(&db, "recordings", &sid).await, 1, "{backend}");
            // Its fetch is queued once too (see `recordings.rs`).
            assert_eq!(rows(&db, "recording_media", &sid).await, 1, "{backend}");
            let call = call_of(&servers[0], &sid).await;
            assert_eq!(call["answers"]["suggestion"]["duration_secs"], 12);
        }
        stop(servers).await;
        db.cleanup().await;
    }
}

/// Every webhook of a call, from the first to the hang-up, arrives as two
/// copies at the same moment (one per replica on PostgreSQL): as a proxy
/// duplicate would, or a Twilio retry (`#rc=`) of a request whose answer
/// was lost after dialback applied it. Both copies get the same complete
/// TwiML, and the call is applied once: six answers, one recording, one
/// outcome. A retry of the last webhook after the hang-up still gets the
/// goodbye, and any older webhook arriving late changes nothing.
#[tokio::test]
async fn every_webhook_delivered_twice_at_once_is_applied_once_and_answered_alike() {
    for (backend, db) in each_backend().await {
        eprintln!("-- on {backend}");
        let servers = replicas(&db).await;
        let both: Vec<&Server> = (0..2).map(|i| &servers[i % servers.len()]).collect();
        let sid = new_call_sid();
        let twice = |copies: Vec<(u16, String)>| {
            let bodies: Vec<String> = copies.into_iter().map(complete).collect();
            assert_eq!(bodies[0], bodies[1], "{backend}");
            bodies[0].clone()
        };
        let mut hooks = vec![Hook::voice(&sid, CALLER, WALLET_LINE)];
        let mut twiml = twice(hooks[0].at_once(&both).await);
        for key in ["1", "1", "5", "1", "1"] {
            let press = Hook::press(&twiml, &sid, key);
            twiml = twice(press.at_once(&both).await);
            hooks.push(press);
        }
        let (action, callback) = Hook::recorded(&twiml, &sid, 12);
        let goodbye = twice(action.at_once(&both).await);
        for copy in callback.at_once(&both).await {
            assert_eq!(copy.0, 200, "{backend}");
        }
        for copy in Hook::hung_up(&sid).at_once(&both).await {
            assert_eq!(copy.0, 200, "{backend}");
        }
        let ended = call_of(both[0], &sid).await;
        assert_eq!(ended["outcome"], "completed", "{backend}");

        assert_eq!(complete(action.to(both[1]).await), goodbye, "{backend}");
        for late in &hooks {
            for server in &both {
                complete(late.to(server).await);
            }
        }
        assert_eq!(call_of(both[1], &sid).await, ended, "{backend}");
        assert_eq!(rows(&db, "answers", &sid).await, 6, "{backend}");
        assert_eq!(rows(&db, "recordings", &sid).await, 1, "{backend}");
        stop(servers).await;
        db.cleanup().await;
    }
}

/// Out of order: the caller hangs up during the `<Record>`; Twilio's final
/// status callback reaches one replica before the record action reaches
/// the other. The call ends `abandoned` with the five answers it had; the
/// late action is not stored as an answer and gets a complete document;
/// the recording the provider made is still stored, once; retried and
/// late status callbacks change nothing.
#[tokio::test]
async fn a_record_action_after_the_final_status_does_not_move_the_ended_call() {
    for (backend, db) in each_backend().await {
        eprintln!("-- on {backend}");
        let servers = replicas(&db).await;
        let (a, b) = (&servers[0], &servers[servers.len() - 1]);
        let sid = new_call_sid();
        let mut twiml = complete(Hook::voice(&sid, CALLER, WALLET_LINE).to(a).await);
        for key in ["1", "1", "5", "1", "1"] {
            twiml = complete(Hook::press(&twiml, &sid, key).to(a).await);
        }
        let (action, callback) = Hook::recorded(&twiml, &sid, 3);
        assert_eq!(Hook::hung_up(&sid).to(b).await.0, 200);
        let ended = call_of(b, &sid).await;
        assert_eq!(ended["outcome"], "abandoned", "{backend}");

        complete(action.to(a).await);
        complete(action.to(b).await);
        assert_eq!(callback.to(a).await.0, 200);
        assert_eq!(callback.to(b).await.0, 200);
        assert_eq!(Hook::hung_up(&sid).to(a).await.0, 200);
        let mut late = Hook::hung_up(&sid);
        late.form[1].1 = "in-progress".into();
        assert_eq!(late.to(b).await.0, 200);

        let mut now = call_of(a, &sid).await;
        // The recording's fetch is queued, once: the recording is the
        // provider's and outlives the call; the call itself is unchanged.
        let queued = now["recordings"].take();
        assert_eq!(queued.as_array().map(Vec::len), Some(1), "{backend}");
        assert_eq!(queued[0]["stage"], "fetch", "{backend}");
        let mut ended = ended;
        ended["recordings"] = serde_json::Value::Null;
        assert_eq!(now, ended, "{backend}: an ended call never changes");
        assert_eq!(rows(&db, "answers", &sid).await, 5, "{backend}");
        assert_eq!(rows(&db, "recordings", &sid).await, 1, "{backend}");
        assert_eq!(rows(&db, "recording_media", &sid).await, 1, "{backend}");
        stop(servers).await;
        db.cleanup().await;
    }
}
