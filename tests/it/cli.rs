//! The command line as ops staff use it: `check`, `graph`, `schema`.

use std::process::Command;

fn dialback(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dialback"))
        .args(args)
        .output()
        .expect("the dialback binary runs")
}

#[test]
fn check_passes_on_the_example_flows() {
    let out = dialback(&["check", "call-flows/"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok: 7 flows checked, 0 warnings\n"
    );
}

#[test]
fn check_fails_with_every_diagnostic_and_a_summary() {
    let out = dialback(&[
        "check",
        "--audio",
        "tests/flows/audio",
        "tests/flows/broken/04-unknown-target.toml",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("error[E006]").count(), 3, "{err}");
    assert!(
        err.contains("tests/flows/broken/04-unknown-target.toml:7:8"),
        "{err}"
    );
    assert!(
        err.ends_with("5 errors and 0 warnings in 1 file (0 ok)\n"),
        "{err}"
    );
}

/// A flow whose resolved tickets are confirmed by another: the other must
/// be a flow beside it (checked even when one file is given) with a
/// question that `confirms`, and the delay a duration; each problem at its
/// file:line:col.
#[test]
fn check_reports_a_confirm_flow_that_is_missing_or_cannot_confirm() {
    let dir = tempfile::tempdir().unwrap();
    let flow = |confirm: &str| {
        format!(
            "[flow]\nlanguage = \"zh-CN\"\n{confirm}\n\n[[step]]\nid = \"hi\"\nsay = \"您好，通话可能会被录音。\"\nend = \"completed\"\n"
        )
    };
    let write = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let typo = write("typo.toml", flow("confirm_flow = \"fix-confirmaton\""));
    let mute = write("mute.toml", flow("confirm_flow = \"plain\""));
    write("plain.toml", flow(""));
    write("fix-confirmation.toml", flow(""));
    let late = write(
        "late.toml",
        flow("confirm_flow = \"fix-confirmation\"\nconfirm_after = \"2 hours\""),
    );

    let one = dialback(&["check", &typo]);
    let all = dialback(&["check", dir.path().to_str().unwrap()]);

    assert_eq!(one.status.code(), Some(1));
    let err = String::from_utf8_lossy(&one.stderr);
    assert!(
        err.contains("error[E023]: there is no flow called `fix-confirmaton`"),
        "{err}"
    );
    assert!(err.contains(&format!("{typo}:3:16")), "{err}");
    assert!(err.contains("did you mean `fix-confirmation`?"), "{err}");
    let err = String::from_utf8_lossy(&all.stderr);
    assert!(
        err.contains("error[E023]: flow `plain` has no question that confirms"),
        "{err}"
    );
    assert!(err.contains(&format!("{mute}:3:16")), "{err}");
    assert!(
        err.contains("error[E004]: `confirm_after` is not a duration"),
        "{err}"
    );
    assert!(err.contains(&format!("{late}:4:17")), "{err}");
    assert!(
        err.ends_with("3 errors and 0 warnings in 3 files (2 ok)\n"),
        "{err}"
    );
}

#[test]
fn check_of_a_folder_without_flows_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dialback(&["check", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no flow files"));
}

#[test]
fn graph_draws_every_step_and_route_in_mermaid_and_dot() {
    let out = dialback(&["graph", "call-flows/wallet-followup.toml"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("flowchart TD\n"));
    assert!(text.contains("resolved -->|\"no\"| unresolved"), "{text}");
    assert!(
        text.contains("handoff -->|\"unavailable\"| ticket"),
        "{text}"
    );
    let out = dialback(&["graph", "--format", "dot", "call-flows/nps-survey.toml"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"route\" -> \"reason\" [label=\"if nps <= 6\"]"),
        "{text}"
    );
}

#[test]
fn schema_is_json_describing_every_step_key() {
    let out = dialback(&["schema"]);
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let step = &schema["$defs"]["Step"]["properties"];
    for key in dialback::flow::syntax::STEP_KEYS {
        assert!(step.get(key).is_some(), "schema lacks step key `{key}`");
    }
    let header = &schema["$defs"]["Header"]["properties"];
    for key in dialback::flow::syntax::FLOW_KEYS {
        assert!(header.get(key).is_some(), "schema lacks flow key `{key}`");
    }
    assert_eq!(
        step.as_object().unwrap().len(),
        dialback::flow::syntax::STEP_KEYS.len()
    );
}

/// `prompts render` speaks every fixed text of a flow with espeak-ng into
/// `audio/tts/`, and a second run keeps what is there.
#[test]
fn prompts_render_pre_renders_every_fixed_text_of_a_flow() {
    let audio = tempfile::tempdir().unwrap();
    let audio_dir = audio.path().to_str().unwrap();
    let out = dialback(&[
        "prompts",
        "render",
        "call-flows/feature-feedback-stream.toml",
        "--audio",
        audio_dir,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("per call (names a variable)"), "{stdout}");
    let files: Vec<_> = std::fs::read_dir(audio.path().join("tts"))
        .unwrap()
        .collect();
    assert!(files.len() >= 10, "{} files", files.len());
    for f in files {
        let path = f.unwrap().path();
        let prompt = dialback::media::load_prompt(&path).expect("a playable WAV");
        assert!(prompt.duration.as_millis() > 300, "{}", path.display());
    }
    let again = dialback(&[
        "prompts",
        "render",
        "call-flows/feature-feedback-stream.toml",
        "--audio",
        audio_dir,
    ]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 rendered"));
}
