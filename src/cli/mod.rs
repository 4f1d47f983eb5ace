//! The `dialback` command line. `main.rs` only calls [`run`].

mod campaign;
mod check;
mod log_writer;
mod prompts;
mod results;
mod serve;
mod simulate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "dialback",
    version,
    about = "Automated follow-up calls: call flows, simulation and the IVR server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check flow files (or folders of them) and report every problem.
    Check {
        /// Flow files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Folder that `play = "…"` paths are relative to (default: `audio/` beside the flows folder).
        #[arg(long)]
        audio: Option<PathBuf>,
    },
    /// Play a call in the terminal, interactively or from `--input` actions.
    Simulate(simulate::Args),
    /// Draw a flow as a Mermaid or Graphviz diagram.
    Graph {
        flow: PathBuf,
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
        #[arg(long)]
        audio: Option<PathBuf>,
    },
    /// Print the JSON Schema of flow files (for editor completion).
    Schema,
    /// Run the IVR server (TwiML webhooks, media streams, admin API).
    Serve(Box<serve::Args>),
    /// Prompt audio for Media Streams calls.
    #[command(subcommand)]
    Prompts(prompts::Command),
    /// Export a flow's calls, one row per call (phone numbers masked unless --unmasked).
    Export(results::ExportArgs),
    /// Erase personal data of old calls (keeps outcomes and anonymous answers).
    Purge(results::PurgeArgs),
    /// Print the do-not-call list (opt-outs) as CSV, for compliance.
    OptOuts(results::OptOutsArgs),
    /// Outbound campaigns: create from a contacts CSV, start, pause, resume, cancel, status.
    Campaign(campaign::Args),
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Mermaid,
    Dot,
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { paths, audio } => check::run(&paths, audio.as_deref()),
        Command::Simulate(args) => simulate::run(args),
        Command::Graph {
            flow,
            format,
            audio,
        } => {
            let Some(flow) = check::load_one(&flow, audio.as_deref()) else {
                return ExitCode::FAILURE;
            };
            let text = match format {
                GraphFormat::Mermaid => crate::flow::diagram::mermaid(&flow),
                GraphFormat::Dot => crate::flow::diagram::dot(&flow),
            };
            print!("{text}");
            ExitCode::SUCCESS
        }
        Command::Serve(args) => {
            init_tracing();
            serve::run(*args)
        }
        Command::Prompts(command) => prompts::run(command),
        Command::Export(args) => results::run_export(args),
        Command::Purge(args) => results::run_purge(args),
        Command::OptOuts(args) => results::run_opt_outs(args),
        Command::Campaign(args) => campaign::run(args),
        Command::Schema => {
            println!("{}", crate::flow::schema::json());
            ExitCode::SUCCESS
        }
    }
}

/// Logs to stderr; `RUST_LOG` overrides the default `info`.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(log_writer::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
