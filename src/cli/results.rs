//! `dialback export` and `dialback purge`: results and retention from the
//! command line, against the same database the server uses.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum;
use futures_util::StreamExt;

use crate::flow::Flow;
use crate::flow::load;
use crate::report::export::{ExportOptions, Format, export};
use crate::report::privacy::{parse_age, personal_questions, purge};
use crate::report::{QuestionSpec, parse_bound};
use crate::store::{self, ReportFilter};

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    Csv,
    /// JSON Lines: one object per call.
    Json,
}

#[derive(clap::Args)]
pub(super) struct ExportArgs {
    /// The flow's name (its file stem in the flows folder).
    #[arg(long)]
    flow: String,
    /// Calls started on or after this date (2026-03-01) or RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    /// Calls started up to this date (inclusive) or before this RFC 3339 time.
    #[arg(long)]
    until: Option<String>,
    /// Only calls placed for this campaign (its id, as `dialback campaign create` printed).
    #[arg(long)]
    campaign: Option<i64>,
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    format: ExportFormat,
    /// Full phone numbers instead of masked ones (personal data: handle with care).
    #[arg(long)]
    unmasked: bool,
    #[arg(
        long,
        env = "DIALBACK_DATABASE_URL",
        default_value = "sqlite:data/dialback.db"
    )]
    database_url: String,
    /// Folder of call-flow files (the questions give the columns).
    #[arg(long, env = "DIALBACK_FLOWS", default_value = "call-flows")]
    flows: PathBuf,
}

#[derive(clap::Args)]
pub(super) struct PurgeArgs {
    /// Erase personal data of calls started longer ago than this (90d, 12h, 2w).
    #[arg(long)]
    older_than: String,
    #[arg(
        long,
        env = "DIALBACK_DATABASE_URL",
        default_value = "sqlite:data/dialback.db"
    )]
    database_url: String,
    /// Folder of call-flow files (says which answers are free speech or recordings).
    #[arg(long, env = "DIALBACK_FLOWS", default_value = "call-flows")]
    flows: PathBuf,
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Runtime::new() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            None
        }
    }
}

fn load_flow(dir: &Path, name: &str) -> Option<Flow> {
    let loaded = load::load_file(&dir.join(format!("{name}.toml")), None);
    if loaded.flow.is_none() {
        eprint!("{}", loaded.report.render());
    }
    loaded.flow
}

pub(super) fn run_export(args: ExportArgs) -> ExitCode {
    let Some(flow) = load_flow(&args.flows, &args.flow) else {
        return ExitCode::FAILURE;
    };
    let bound = |t: &Option<String>, until| t.as_deref().map(|t| parse_bound(t, until)).transpose();
    let (since, until) = match (bound(&args.since, false), bound(&args.until, true)) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let filter = ReportFilter {
        flow: flow.name.clone(),
        flow_hash: None,
        since,
        until,
        campaign: args.campaign,
    };
    let options = ExportOptions {
        format: match args.format {
            ExportFormat::Csv => Format::Csv,
            ExportFormat::Json => Format::Json,
        },
        unmasked: args.unmasked,
    };
    let Some(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    rt.block_on(async {
        let store = match store::connect(&args.database_url).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut chunks = Box::pin(export(store, QuestionSpec::of(&flow), filter, options));
        let mut out = std::io::stdout().lock();
        while let Some(chunk) = chunks.next().await {
            let written = match chunk {
                Ok(bytes) => out.write_all(&bytes),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            if let Err(e) = written {
                eprintln!("error: cannot write the export: {e}");
                return ExitCode::FAILURE;
            }
        }
        ExitCode::SUCCESS
    })
}

pub(super) fn run_purge(args: PurgeArgs) -> ExitCode {
    let age = match parse_age(&args.older_than) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let files = match load::flow_files(&args.flows) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "error: cannot read the flows folder {}: {e}",
                args.flows.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let flows: Vec<Flow> = files
        .iter()
        .filter_map(|f| load::load_file(f, None).flow)
        .collect();
    if flows.len() < files.len() {
        // Without every flow we cannot tell which answers are free speech.
        eprintln!(
            "error: some flows in {} do not load; run `dialback check`",
            args.flows.display()
        );
        return ExitCode::FAILURE;
    }
    let personal = personal_questions(&flows);
    let Some(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    rt.block_on(async {
        let store = match store::connect(&args.database_url).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        match purge(store.as_ref(), &personal, chrono::Utc::now(), age).await {
            Ok(p) => {
                println!(
                    "purged {} calls, {} answer fields, {} recordings",
                    p.calls,
                    p.answers,
                    p.recordings.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

#[derive(clap::Args)]
pub(super) struct OptOutsArgs {
    #[arg(
        long,
        env = "DIALBACK_DATABASE_URL",
        default_value = "sqlite:data/dialback.db"
    )]
    database_url: String,
}

/// Prints the do-not-call list as CSV (full numbers: it is for whoever dials).
pub(super) fn run_opt_outs(args: OptOutsArgs) -> ExitCode {
    let Some(rt) = runtime() else {
        return ExitCode::FAILURE;
    };
    rt.block_on(async {
        let csv = match store::connect(&args.database_url).await {
            Ok(store) => crate::report::privacy::opt_outs_csv(store.as_ref()).await,
            Err(e) => Err(e),
        };
        match csv.map(|bytes| std::io::stdout().lock().write_all(&bytes)) {
            Ok(Ok(())) => ExitCode::SUCCESS,
            Ok(Err(e)) => {
                eprintln!("error: cannot write the list: {e}");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
