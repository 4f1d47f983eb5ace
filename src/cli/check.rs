//! `dialback check`: every problem in every file, then a one-line summary.

use std::path::Path;
use std::process::ExitCode;

use crate::flow::load::{self, Loaded};
use crate::flow::model::Flow;

pub(super) fn run(paths: &[std::path::PathBuf], audio: Option<&Path>) -> ExitCode {
    let mut files = Vec::new();
    for p in paths {
        match load::flow_files(p) {
            Ok(found) if found.is_empty() => {
                eprintln!("error: no flow files (*.toml) in {}", p.display());
                return ExitCode::FAILURE;
            }
            Ok(found) => files.extend(found),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", p.display());
                return ExitCode::FAILURE;
            }
        }
    }
    let (mut errors, mut warnings, mut bad_files) = (0, 0, 0);
    let mut loaded: Vec<Loaded> = files.iter().map(|f| load::load_file(f, audio)).collect();
    load::check_confirm_flows(&mut loaded, &siblings(&files));
    for Loaded { flow, report } in loaded {
        eprint!("{}", report.render());
        let e = report.diagnostics.iter().filter(|d| d.is_error()).count();
        errors += e;
        warnings += report.diagnostics.len() - e;
        if flow.is_none() {
            bad_files += 1;
        }
    }
    let ok = files.len() - bad_files;
    if bad_files == 0 {
        println!(
            "ok: {} flow{} checked, {warnings} warning{}",
            files.len(),
            plural(files.len()),
            plural(warnings)
        );
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "{errors} error{} and {warnings} warning{} in {bad_files} file{} ({ok} ok)",
            plural(errors),
            plural(warnings),
            plural(bad_files)
        );
        ExitCode::FAILURE
    }
}

/// The names of the flow files beside `files` (in their folders), which a
/// `confirm_flow` may name even when only one file is checked.
fn siblings(files: &[std::path::PathBuf]) -> Vec<String> {
    let mut names = Vec::new();
    for file in files {
        let dir = file.parent().filter(|d| !d.as_os_str().is_empty());
        let beside = load::flow_files(dir.unwrap_or(Path::new("."))).unwrap_or_default();
        names.extend(
            beside
                .iter()
                .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned())),
        );
    }
    names
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Loads one flow for a command that needs it, printing diagnostics.
pub(super) fn load_one(path: &Path, audio: Option<&Path>) -> Option<Flow> {
    let Loaded { flow, report } = load::load_file(path, audio);
    eprint!("{}", report.render());
    flow
}
