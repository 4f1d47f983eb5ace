//! The exact text ops staff see for broken flows, pinned by snapshots.
//! Review changes with `cargo insta review` (or INSTA_UPDATE=always).

use std::path::Path;

use dialback::flow::load;

fn broken_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir("tests/flows/broken")
        .expect("the broken flows folder")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_broken_flow_renders_its_exact_diagnostics() {
    let files = broken_files();
    assert!(
        files.len() >= 15,
        "keep at least 15 broken flows, found {}",
        files.len()
    );
    for path in files {
        let loaded = load::load_file(&path, Some(Path::new("tests/flows/audio")));
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        // The snapshots keep the names and folder they had when this file was
        // a test binary of its own (`tests/snapshots/check_snapshots__<name>`),
        // not the `it__check_snapshots__` prefix of its module path here.
        insta::with_settings!({
            snapshot_path => "../snapshots",
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!(format!("check_snapshots__{name}"), loaded.report.render());
        });
    }
}

#[test]
fn broken_flows_are_rejected_and_a_warning_alone_is_not() {
    for path in broken_files() {
        let loaded = load::load_file(&path, Some(Path::new("tests/flows/audio")));
        let only_warnings = ["no-disclosure", "skippable-gate", "inbound-hole"]
            .iter()
            .any(|w| path.to_string_lossy().contains(w));
        assert_eq!(loaded.flow.is_some(), only_warnings, "{}", path.display());
        assert!(!loaded.report.diagnostics.is_empty(), "{}", path.display());
    }
}

#[test]
fn diagnostics_come_in_source_order() {
    for path in broken_files() {
        let loaded = load::load_file(&path, Some(Path::new("tests/flows/audio")));
        let starts: Vec<usize> = loaded
            .report
            .diagnostics
            .iter()
            .map(|d| d.span.start)
            .collect();
        let mut sorted = starts.clone();
        sorted.sort();
        assert_eq!(starts, sorted, "{}", path.display());
    }
}

#[test]
fn every_example_flow_checks_clean() {
    for path in load::flow_files(Path::new("call-flows")).unwrap() {
        let loaded = load::load_file(&path, None);
        assert!(
            loaded.flow.is_some(),
            "{}:\n{}",
            path.display(),
            loaded.report.render()
        );
        assert!(
            loaded.report.diagnostics.is_empty(),
            "{}:\n{}",
            path.display(),
            loaded.report.render()
        );
    }
}

#[test]
fn an_unreadable_file_is_reported_not_panicked_on() {
    let loaded = load::load_file(Path::new("tests/flows/does-not-exist.toml"), None);
    assert!(loaded.flow.is_none());
    assert!(loaded.report.render().contains("cannot read the file"));
}

#[test]
fn a_file_that_is_not_utf8_is_reported_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.toml");
    std::fs::write(&path, b"[flow]\nlanguage = \"zh-CN\"\nname = \"caf\xe9\"\n").unwrap();
    let loaded = load::load_file(&path, None);
    assert!(loaded.flow.is_none());
    let d = &loaded.report.diagnostics[0];
    assert_eq!(d.message, "the file is not UTF-8 text");
    assert_eq!(d.span.start, 37);
}
