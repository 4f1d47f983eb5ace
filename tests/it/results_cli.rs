//! `dialback export` and `dialback purge` run as a user runs them.

use std::process::Command;

use dialback::store::Outcome;
use serde_json::json;

use crate::common::db::TestDb;
use crate::common::fixtures::*;

fn dialback(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dialback"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DIALBACK_DATABASE_URL")
        .env_remove("DIALBACK_FLOWS")
        .output()
        .expect("run dialback")
}

/// One finished call of `wallet-followup` that answered consent and csat.
async fn one_call(db: &TestDb) {
    let store = db.store();
    store
        .save_flow_version("wallet-followup", FLOW_HASH, "[flow]\n")
        .await
        .unwrap();
    let mut c = new_call("CA1");
    c.flow = "wallet-followup".into();
    assert!(store.create_call(c).await.unwrap());
    let mut a = advance("CA1", 0, 1);
    a.answers = vec![answer("consent", json!(true)), answer("csat", json!(4))];
    a.outcome = Some(Outcome::Completed);
    a.ended_at = Some(t(60));
    store.advance_call(a).await.unwrap();
}

#[tokio::test]
async fn the_export_command_writes_masked_csv_and_full_numbers_only_on_request() {
    let db = TestDb::sqlite().await;
    one_call(&db).await;
    let url = db.url().to_owned();
    let base = [
        "export",
        "--flow",
        "wallet-followup",
        "--since",
        "2026-03-01",
        "--until",
        "2026-03-01",
        "--database-url",
        &url,
    ];

    let masked = dialback(&base);
    let full = dialback(&[&base[..], &["--unmasked"]].concat());
    let json = dialback(&[&base[..], &["--format", "json"]].concat());

    let text = String::from_utf8_lossy(&masked.stdout);
    assert!(
        masked.status.success(),
        "{}",
        String::from_utf8_lossy(&masked.stderr)
    );
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("call_sid,flow_version,direction,from,to,status,outcome,started_at,ended_at,follows_call_sid,follows_handoff_id,consent,consent_input,resolved,"));
    let row = lines.next().unwrap();
    let row = row
        .strip_prefix(sid_for("CA1").as_str())
        .unwrap_or_else(|| panic!("{row}"));
    assert!(row.starts_with(",sha256:0f1e2d,outbound,+86 ******00,+86 138****8000,ringing,completed,2026-03-01T09:30:00.123456Z,2026-03-01T09:31:00.123456Z,,,yes,1,,,4,1,"), "{row}");
    assert!(String::from_utf8_lossy(&full.stdout).contains(",+8613800138000,"));
    let object: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        (object["csat"].as_str(), object["to"].as_str()),
        (Some("4"), Some("+86 138****8000"))
    );
    db.cleanup().await;
}

#[tokio::test]
async fn the_purge_command_erases_old_calls_and_says_how_many() {
    let db = TestDb::sqlite().await;
    one_call(&db).await;
    let url = db.url().to_owned();

    let out = dialback(&["purge", "--older-than", "90d", "--database-url", &url]);

    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "purged 1 calls, 2 answer fields, 0 recordings\n"
    );
    let call = db
        .store()
        .load_call(&sid_for("CA1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (call.to.as_str(), call.outcome),
        ("", Some(Outcome::Completed))
    );
    db.cleanup().await;
}

#[tokio::test]
async fn the_opt_outs_command_lists_every_number_that_asked_not_to_be_called() {
    let db = TestDb::sqlite().await;
    one_call(&db).await;
    let opt_out = |phone: &str, call: Option<&str>, secs| dialback::store::NewOptOut {
        phone: phone.into(),
        call_sid: call.map(sid_for),
        at: t(secs),
    };
    db.store()
        .add_opt_out(opt_out("+8613800138000", Some("CA1"), 30))
        .await
        .unwrap();
    db.store()
        .add_opt_out(opt_out("+8613900000001", None, 90))
        .await
        .unwrap();
    let url = db.url().to_owned();

    let out = dialback(&["opt-outs", "--database-url", &url]);

    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "phone,call_sid,opted_out_at\r\n\
             +8613800138000,{},2026-03-01T09:30:30.123456Z\r\n\
             +8613900000001,,2026-03-01T09:31:30.123456Z\r\n",
            sid_for("CA1")
        )
    );
    db.cleanup().await;
}

#[tokio::test]
async fn the_export_command_narrows_to_one_campaign() {
    let db = TestDb::sqlite().await;
    let recordings = tempfile::tempdir().unwrap();
    // W1 and W4 were placed for the campaign; W2–W6 were not.
    let campaign = crate::common::dashboard::load(db.store(), recordings.path()).await;
    let url = db.url().to_owned();
    let id = campaign.to_string();

    let out = dialback(&[
        "export",
        "--flow",
        "wallet-followup",
        "--campaign",
        &id,
        "--database-url",
        &url,
    ]);
    let bad = dialback(&[
        "export",
        "--flow",
        "wallet-followup",
        "--campaign",
        "first",
        "--database-url",
        &url,
    ]);

    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let sids: Vec<&str> = text.lines().skip(1).map(|l| &l[..34]).collect();
    let expected = [sid_for("W1"), sid_for("W4")];
    assert_eq!(sids, expected.each_ref().map(|s| s.as_str()), "{text}");
    assert!(!bad.status.success());
    db.cleanup().await;
}

/// `dialback campaign create --from-calls` on the dashboard fixture, where
/// one call (W3, 2026-03-01) answered `resolved` no.
#[tokio::test]
async fn campaign_create_from_calls_dry_runs_with_masked_examples_then_creates() {
    let db = TestDb::sqlite().await;
    let recordings = tempfile::tempdir().unwrap();
    crate::common::dashboard::load(db.store(), recordings.path()).await;
    let url = db.url().to_owned();
    let create = |condition: &'static str, extra: &'static [&'static str]| {
        let mut args = vec![
            "campaign",
            "create",
            "--flow",
            "fix-announcement",
            "--from-calls",
            "wallet-followup",
            "--where",
            condition,
            "--since",
            "2026-03-01",
            "--until",
            "2026-03-02",
            "--database-url",
        ];
        args.push(url.as_str());
        args.extend_from_slice(extra);
        dialback(&args)
    };

    let typo = create("resolvd == no", &["--dry-run"]);
    let dry = create("resolved == no", &["--dry-run"]);
    let made = create("resolved == no", &[]);

    let typo_err = String::from_utf8_lossy(&typo.stderr);
    assert!(!typo.status.success());
    assert!(
        typo_err.contains(
            "--where:1:1: no answer or variable is called `resolvd` in wallet-followup; \
             did you mean `resolved`?"
        ),
        "{typo_err}"
    );
    let dry_out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(
        dry_out.starts_with("1 contacts match `resolved == no` in wallet-followup"),
        "{dry_out}"
    );
    assert!(dry_out.contains("+86 138****8000"), "{dry_out}");
    assert!(!dry_out.contains("+8613800138000"), "never a whole number");
    assert!(dry_out.contains("dry run: nothing created"), "{dry_out}");
    let made_out = String::from_utf8_lossy(&made.stdout);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    // Campaign 1 is the fixture's; the cohort's is the second.
    assert!(
        made_out.contains("campaign 2: 1 contacts from earlier calls of wallet-followup"),
        "{made_out}"
    );
    let contacts = db.store().campaigns().contact_counts(2).await.unwrap();
    assert_eq!(contacts.get("pending"), Some(&1), "{contacts:?}");
    db.cleanup().await;
}
