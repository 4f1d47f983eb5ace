//! `dialback campaign …`: create a campaign from a flow and a contacts CSV,
//! and start, pause, resume, cancel it or show where its contacts stand.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};

use crate::dialer::contacts::{CsvOptions, read_contacts};
use crate::dialer::plan::PlanSpec;
use crate::store::Store;
use crate::store::campaigns::NewCampaign;

#[derive(clap::Args)]
pub(super) struct Args {
    /// `sqlite:PATH` or `postgres://…`.
    #[arg(
        long,
        global = true,
        env = "DIALBACK_DATABASE_URL",
        default_value = "sqlite:data/dialback.db"
    )]
    database_url: String,
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Create a campaign (a draft) from a flow file and a contacts CSV.
    Create {
        #[arg(long)]
        flow: PathBuf,
        #[arg(long)]
        contacts: PathBuf,
        /// Calling window in each contact's own time zone: `09:00-20:00`, `Mon-Fri 09:00-18:00`.
        #[arg(long, default_value = "09:00-20:00")]
        window: String,
        #[arg(long, default_value_t = 3)]
        max_attempts: u32,
        /// Time zone of contacts whose row has no `timezone`.
        #[arg(long, default_value = "Asia/Shanghai")]
        timezone: String,
        /// Country calling code for numbers written without one.
        #[arg(long, default_value = "86")]
        country: String,
        /// The CSV column holding the phone number.
        #[arg(long, default_value = "phone")]
        phone_column: String,
        /// Answering-machine detection.
        #[arg(long)]
        machine_detection: bool,
        #[arg(long)]
        name: Option<String>,
    },
    /// Start dialling a draft campaign.
    Start {
        id: i64,
    },
    Pause {
        id: i64,
    },
    Resume {
        id: i64,
    },
    Cancel {
        id: i64,
    },
    /// Contacts counted by state.
    Status {
        id: i64,
    },
    /// Closed loop: call one contact again, from `--at` on (still within its window).
    Recall {
        contact: i64,
        /// The flow's name; the campaign's when absent.
        #[arg(long)]
        flow: Option<String>,
        /// RFC 3339, e.g. 2026-11-24T02:00:00Z.
        #[arg(long)]
        at: chrono::DateTime<Utc>,
    },
}

pub(super) fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let store = match crate::store::connect(&args.database_url).await {
            Ok(store) => store,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        match execute(&store, args.action).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn execute(store: &Arc<dyn Store>, action: Action) -> Result<(), String> {
    let campaigns = store.campaigns();
    let moved = |ok: bool, id: i64, what: &str| {
        if ok {
            println!("campaign {id} {what}");
            Ok(())
        } else {
            Err(format!(
                "campaign {id} is unknown or cannot be {what} from its current status"
            ))
        }
    };
    let e = |e: crate::store::StoreError| e.to_string();
    match action {
        Action::Create {
            flow,
            contacts,
            window,
            max_attempts,
            timezone,
            country,
            phone_column,
            machine_detection,
            name,
        } => {
            let Some(flow) = super::check::load_one(&flow, None) else {
                return Err("the flow has errors (above)".into());
            };
            let spec = PlanSpec {
                window,
                timezone,
                max_attempts,
                machine_detection,
                ..PlanSpec::default()
            };
            spec.plan()?;
            let file = std::fs::File::open(&contacts)
                .map_err(|e| format!("cannot open {}: {e}", contacts.display()))?;
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            let bar = ProgressBar::new(size);
            if let Ok(style) = ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
            {
                bar.set_style(style);
            }
            let options = CsvOptions {
                phone_column,
                country_code: country,
                required_vars: flow.vars.iter().map(|v| v.name.clone()).collect(),
            };
            let imported = read_contacts(std::io::BufReader::new(file), &options, |at| {
                bar.set_position(at);
            })
            .map_err(|e| e.to_string())?;
            bar.finish_and_clear();
            for error in &imported.errors {
                eprintln!("{}: {error}", contacts.display());
            }
            let id = campaigns
                .create_campaign(NewCampaign {
                    name: name.unwrap_or_else(|| flow.name.clone()),
                    flow: flow.name.clone(),
                    plan: spec.to_json(),
                    created_at: Utc::now(),
                })
                .await
                .map_err(e)?;
            let rows: Vec<_> = imported
                .contacts
                .iter()
                .map(|c| c.to_new_contact(None))
                .collect();
            campaigns.add_contacts(id, &rows).await.map_err(e)?;
            println!(
                "campaign {id}: {} contacts imported, {} duplicates merged, {} rows refused",
                rows.len(),
                imported.duplicates,
                imported.errors.len()
            );
            Ok(())
        }
        Action::Start { id } => moved(
            campaigns.start_campaign(id, Utc::now()).await.map_err(e)?,
            id,
            "started",
        ),
        Action::Pause { id } => moved(
            campaigns
                .set_campaign_status(id, &["running"], "paused")
                .await
                .map_err(e)?,
            id,
            "paused",
        ),
        Action::Resume { id } => moved(
            campaigns.start_campaign(id, Utc::now()).await.map_err(e)?,
            id,
            "resumed",
        ),
        Action::Cancel { id } => moved(
            campaigns
                .set_campaign_status(id, &["draft", "running", "paused"], "cancelled")
                .await
                .map_err(e)?,
            id,
            "cancelled",
        ),
        Action::Recall { contact, flow, at } => {
            if campaigns
                .recall(contact, flow.as_deref(), at)
                .await
                .map_err(e)?
            {
                println!("contact {contact} will be called again from {at}");
                Ok(())
            } else {
                Err(format!(
                    "contact {contact} is unknown, in a call now, or opted out"
                ))
            }
        }
        Action::Status { id } => {
            let Some(row) = campaigns.campaign(id).await.map_err(e)? else {
                return Err(format!("campaign {id} is unknown"));
            };
            println!(
                "campaign {id} ({}, flow {}): {}",
                row.name, row.flow, row.status
            );
            for (state, n) in campaigns.contact_counts(id).await.map_err(e)? {
                println!("  {state:<12} {n}");
            }
            Ok(())
        }
    }
}
