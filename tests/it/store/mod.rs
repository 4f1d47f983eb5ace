//! The store's behaviour, one suite run on every backend.
//!
//! Each case in [`cases`] takes a migrated store on a database of its own;
//! `on_every_backend!` turns it into `sqlite::<case>` and `postgres::<case>`
//! tests. PostgreSQL comes from `DIALBACK_TEST_POSTGRES_URL` (see
//! `common/db.rs`); if it is unreachable those tests fail, never skip.

use std::sync::Arc;

use dialback::store::campaigns::NewContact;
use dialback::store::handoffs::{Confirmation, HandoffActor, HandoffEvent, Resolve, Resolved};
use dialback::store::{
    Advanced, AnswerRow, CallRow, CallStatus, FollowUp, HandoffId, HandoffStatus, NewAnswer,
    NewOptOut, NewRecording, Outcome,
};
use serde_json::json;

use crate::common::db::TestDb;

mod cases;
mod recording_cases;

/// `sqlite::<case>` and `postgres::<case>` for every case named.
macro_rules! on_every_backend {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = super::TestDb::sqlite().await;
                    assert_eq!(db.store().backend(), "sqlite");
                    super::cases::$case(db.store()).await;
                    db.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = super::TestDb::postgres().await;
                    assert_eq!(db.store().backend(), "postgres");
                    super::cases::$case(db.store()).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

on_every_backend!(
    a_created_call_loads_back_identical,
    creating_an_existing_call_sid_changes_nothing,
    a_call_must_name_a_saved_flow_version,
    an_advance_at_the_right_seq_applies_state_response_and_answers_together,
    an_advance_at_a_stale_seq_writes_nothing_and_returns_stale,
    two_concurrent_advances_from_the_same_seq_apply_exactly_once,
    an_answers_json_value_round_trips,
    confidence_and_raw_nulls_round_trip,
    answers_come_back_in_the_order_they_were_given,
    an_opt_out_is_idempotent_and_queryable,
    handoffs_list_newest_first_filter_by_status_and_resolve,
    a_handoffs_life_cycle_is_kept_as_history_and_a_resolve_schedules_its_confirmation_once,
    a_final_status_sets_ended_at_once_and_keeps_the_outcome,
    an_advance_that_ends_the_call_keeps_an_earlier_ended_at,
    calls_hung_up_without_an_outcome_are_listed_once_their_status_is_old_enough,
    a_failing_statement_inside_an_advance_rolls_back_everything,
    a_failing_advance_does_not_fail_others_running_at_the_same_time,
    new_calls_advances_and_statuses_arriving_together_each_get_their_own_result,
    recordings_are_stored_for_known_calls_only,
    flow_versions_are_idempotent,
    timestamps_keep_microseconds,
    health_works,
    a_recording_is_enqueued_once_and_claimed_by_one_worker_until_its_lease_runs_out,
    a_worker_claims_only_the_stages_it_can_do_and_a_retry_waits_its_turn,
    audio_and_transcript_are_stored_and_read_back_with_the_question,
    audio_exists_only_under_its_pipeline_row_and_a_purge_leaves_none_for_good,
);

mod postgres_only {
    use super::*;
    use crate::common::fixtures::*;
    use dialback::store;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_postgres_migration_run_twice_is_fine() {
        let db = TestDb::empty_postgres().await;

        // Replicas starting together on an empty database…
        let (a, b, c) = tokio::join!(
            store::connect(db.url()),
            store::connect(db.url()),
            store::connect(db.url())
        );
        let first = a.unwrap();
        b.unwrap();
        c.unwrap();
        start_call(&first, "CA-migrated").await;
        // …and one restarting later, on a migrated database with data in it.
        let again = store::connect(db.url()).await.unwrap();

        assert!(
            again
                .load_call(&sid_for("CA-migrated"))
                .await
                .unwrap()
                .is_some()
        );
        db.cleanup().await;
    }
}

mod sqlite_only {
    use super::*;
    use crate::common::fixtures::*;
    use dialback::store::{self, StoreError};

    #[tokio::test]
    async fn every_sqlite_url_form_opens_and_creates_missing_folders() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b/one.db");
        let absolute = dir.path().join("c/two.db");
        let urls = [
            format!("sqlite:{}", nested.display()),
            // sqlite:// followed by an absolute path.
            format!("sqlite://{}", absolute.display()),
            format!("sqlite:{}?readers=0", dir.path().join("three.db").display()),
        ];

        for url in &urls {
            let s = store::connect(url).await.unwrap();
            start_call(&s, "CA-file").await;
            drop(s);
            // Opening again finds the data and migrates nothing twice.
            let s = store::connect(url).await.unwrap();
            assert!(
                s.load_call(&sid_for("CA-file")).await.unwrap().is_some(),
                "{url}"
            );
        }
        assert!(nested.exists() && absolute.exists());
    }

    #[tokio::test]
    async fn the_sqlite_commit_mode_in_the_url_is_full_or_normal_and_anything_else_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.db");
        for (query, works) in [
            ("", true),
            ("?synchronous=normal", true),
            ("?synchronous=FULL", true),
        ] {
            let s = store::connect(&format!("sqlite:{}{query}", path.display())).await;
            assert_eq!(s.is_ok(), works, "{query}");
        }

        let refused = store::connect(&format!("sqlite:{}?synchronous=off", path.display())).await;

        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("synchronous must be full or normal, not \"off\""),
            "{message}"
        );
    }

    /// Two stores on one file stand for two processes (the server and a CLI
    /// command): their writers take turns through `BEGIN IMMEDIATE` and the
    /// busy timeout, and each compare-and-swap still holds across them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_stores_on_one_file_take_turns_to_write() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("shared.db").display());
        let a = store::connect(&url).await.unwrap();
        let b = store::connect(&url).await.unwrap();
        for c in 0..20 {
            start_call(&a, &format!("CA-shared-{c}")).await;
        }

        let tasks: Vec<_> = (0..20)
            .flat_map(|c| [(c, Arc::clone(&a)), (c, Arc::clone(&b))])
            .map(|(c, s)| {
                tokio::spawn(async move {
                    let mut adv = advance(&format!("CA-shared-{c}"), 0, 1);
                    adv.answers = vec![answer("csat", json!(c))];
                    (c, s.advance_call(adv).await.unwrap())
                })
            })
            .collect();
        let mut applied = [0; 20];
        for task in tasks {
            let (c, result) = task.await.unwrap();
            applied[c] += usize::from(result == Advanced::Applied);
        }

        assert_eq!(applied, [1; 20]);
        for c in 0..20 {
            let sid = format!("CA-shared-{c}");
            assert_eq!(b.answers(&sid_for(&sid)).await.unwrap().len(), 1);
            assert_eq!(a.load_call(&sid_for(&sid)).await.unwrap().unwrap().seq, 1);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_in_memory_database_works_from_many_tasks() {
        let s = store::connect("sqlite::memory:").await.unwrap();
        s.save_flow_version(FLOW, FLOW_HASH, "").await.unwrap();

        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let s = Arc::clone(&s);
                tokio::spawn(async move {
                    let sid = format!("CA-mem-{i}");
                    assert!(s.create_call(new_call(&sid)).await.unwrap());
                    let mut a = advance(&sid, 0, 1);
                    a.answers = vec![answer("csat", json!(i))];
                    assert_eq!(s.advance_call(a).await.unwrap(), Advanced::Applied);
                    s.load_call(&sid_for(&sid)).await.unwrap().unwrap().seq
                })
            })
            .collect();

        for task in tasks {
            assert_eq!(task.await.unwrap(), 1);
        }
        s.health().await.unwrap();
    }

    #[tokio::test]
    async fn an_unsupported_url_says_which_forms_work_and_hides_the_password() {
        let result = store::connect("mysql://app:s3cret@db/dialback").await;

        let Err(e @ StoreError::UnsupportedUrl(_)) = result else {
            panic!("expected UnsupportedUrl");
        };
        let message = e.to_string();
        assert!(message.contains("sqlite:PATH"), "{message}");
        assert!(message.contains("postgres://"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}
