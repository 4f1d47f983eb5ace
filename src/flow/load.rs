//! Reading flow files from disk: the I/O edge of the flow module.

use std::path::{Path, PathBuf};

use super::diagnostic::{Code, Diagnostic, FileDiagnostics};
use super::model::Flow;
use super::validate::{self, Resources};

/// One file's result: the flow (when valid) and its diagnostics.
#[derive(Debug)]
pub struct Loaded {
    pub flow: Option<Flow>,
    pub report: FileDiagnostics,
}

/// Audio files live in `audio/` beside the flows folder
/// (`call-flows/x.toml` → `audio/`), unless configured otherwise.
pub fn default_audio_dir(flow_path: &Path) -> PathBuf {
    let dir = flow_path.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    dir.join("..").join("audio")
}

struct Disk<'a> {
    audio_dir: &'a Path,
}

impl Resources for Disk<'_> {
    fn audio_exists(&self, path: &str) -> bool {
        self.audio_dir.join(path).is_file()
    }
}

/// Loads and validates one flow file. Never fails: an unreadable file is
/// reported as a diagnostic like any other problem.
pub fn load_file(path: &Path, audio_dir: Option<&Path>) -> Loaded {
    let shown = path.display().to_string();
    let default_audio = default_audio_dir(path);
    let audio_dir = audio_dir.unwrap_or(&default_audio);
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| shown.clone());
    let source = match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                return Loaded {
                    flow: None,
                    report: FileDiagnostics {
                        path: shown,
                        diagnostics: vec![
                            Diagnostic::error(
                                Code::Syntax,
                                at..at + 1,
                                "the file is not UTF-8 text",
                            )
                            .label("invalid byte")
                            .hint("save the file as UTF-8"),
                        ],
                        source: text,
                    },
                };
            }
        },
        Err(e) => {
            return Loaded {
                flow: None,
                report: FileDiagnostics {
                    path: shown,
                    source: String::new(),
                    diagnostics: vec![Diagnostic::error(
                        Code::Syntax,
                        0..0,
                        format!("cannot read the file: {e}"),
                    )],
                },
            };
        }
    };
    let (flow, diagnostics) = validate::validate(&name, &source, &Disk { audio_dir });
    Loaded {
        flow,
        report: FileDiagnostics {
            path: shown,
            source,
            diagnostics,
        },
    }
}

/// The numbers file (called number → flow, and the default flow) a flows
/// folder may hold beside its flows; it is not a flow. `dialback serve`
/// reads it from its flows folder unless `--numbers` names another.
pub const NUMBERS_FILE: &str = "numbers.toml";

/// The flow files (`*.toml`) of a folder, sorted by name; a file path is
/// returned as is.
pub fn flow_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .filter(|p| p.file_name().is_none_or(|name| name != NUMBERS_FILE))
        .collect();
    files.sort();
    Ok(files)
}

/// The check across files: a flow's `confirm_flow` must name a flow of the
/// same set (`loaded`, or `others`: names of flow files beside them that
/// were not loaded, e.g. when `check` is given one file) and, when that flow
/// was loaded, one with a question marked `confirms`. A flow that fails is
/// taken out (its `flow` becomes `None`), with the error in its report at
/// the `confirm_flow` value.
pub fn check_confirm_flows(loaded: &mut [Loaded], others: &[String]) {
    // Name → whether it has a confirming question (`None`: not known, the
    // file was not loaded or did not validate).
    let mut known: std::collections::BTreeMap<String, Option<bool>> =
        others.iter().map(|name| (name.clone(), None)).collect();
    for l in loaded.iter() {
        if let Some(flow) = &l.flow {
            known.insert(flow.name.clone(), Some(flow.confirms.is_some()));
        } else if let Some(stem) = Path::new(&l.report.path).file_stem() {
            known.insert(stem.to_string_lossy().into_owned(), None);
        }
    }
    for l in loaded.iter_mut() {
        let Some(confirm) = l.flow.as_ref().and_then(|f| f.confirm.clone()) else {
            continue;
        };
        let problem = match known.get(&confirm.flow) {
            None => {
                let hint = super::diagnostic::did_you_mean(
                    &confirm.flow,
                    known.keys().map(String::as_str),
                )
                .unwrap_or_else(|| {
                    "name a flow file of this folder without `.toml`, like \"fix-confirmation\""
                        .to_owned()
                });
                Diagnostic::error(
                    Code::UnknownFlow,
                    confirm.flow_span.clone(),
                    format!("there is no flow called `{}`", confirm.flow),
                )
                .label("no such flow file beside this one")
                .hint(hint)
            }
            Some(Some(false)) => Diagnostic::error(
                Code::UnknownFlow,
                confirm.flow_span.clone(),
                format!("flow `{}` has no question that confirms", confirm.flow),
            )
            .label("its calls could not confirm or reopen a handoff")
            .hint("mark its yes/no question \"is it fixed now?\" with `confirms = true`"),
            Some(_) => continue,
        };
        l.report.diagnostics.push(problem);
        l.report
            .diagnostics
            .sort_by_key(|d| (d.span.start, d.span.end));
        l.flow = None;
    }
}
