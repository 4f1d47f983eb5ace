//! `dialback campaign …`: create a campaign from a flow and a contacts CSV
//! (or, with `--from-calls`, from the people whose earlier call matches a
//! condition: `crate::dialer::cohort`), and start, pause, resume, cancel it or show where its contacts stand.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};

use crate::dialer::cohort::{self, CohortQuery, NewCohortCampaign};
use crate::dialer::contacts::{CsvOptions, read_contacts};
use crate::dialer::settings::PlanSettings;
use crate::report::export::mask;
use crate::store::Store;
use crate::store::campaigns::{
    CANCELLABLE, CampaignStatus, ContactPage, ContactState, NewCampaign,
};

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

// `campaign create`'s flags: boxed in `Action`, being much larger than the others.
#[derive(clap::Args)]
struct CreateArgs {
    /// The flow to call with: a flow file, or a flow's name in --flows.
    #[arg(long)]
    flow: PathBuf,
    /// The contacts CSV.
    #[arg(long, required_unless_present = "from_calls")]
    contacts: Option<PathBuf>,
    /// A cohort instead of a CSV: the people whose earlier call of this flow
    /// (its name in --flows) matches --where.
    #[arg(long, conflicts_with = "contacts", requires_all = ["where_", "since"])]
    from_calls: Option<String>,
    /// With --from-calls: a condition on the earlier call's answers, in the
    /// flow language (`resolved == no`, `csat <= 2 and resolved == no`).
    #[arg(long = "where", requires = "from_calls")]
    where_: Option<String>,
    /// With --from-calls: earlier calls started on or after this date (or RFC 3339 time).
    #[arg(long, requires = "from_calls")]
    since: Option<String>,
    /// With --from-calls: earlier calls started before the end of this date.
    #[arg(long, requires = "from_calls")]
    until: Option<String>,
    /// With --from-calls: print how many people match and a few examples
    /// (numbers masked), and create nothing.
    #[arg(long, requires = "from_calls")]
    dry_run: bool,
    /// The flows folder, where flows named by --flow and --from-calls are found.
    #[arg(long, env = "DIALBACK_FLOWS", default_value = "call-flows")]
    flows: PathBuf,
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
    /// No call before: `2026-11-24`, `2026-11-24 09:00` (in --timezone) or RFC 3339.
    #[arg(long)]
    start: Option<String>,
    /// No call after; a bare date means the end of that day.
    #[arg(long)]
    end: Option<String>,
    /// Wait before calling again, per result: `busy=10m,no-answer=2h,failed=1h,machine=4h`.
    #[arg(long)]
    backoff: Option<String>,
    /// How long the phone rings: `30s`.
    #[arg(long)]
    ring_timeout: Option<String>,
    /// An answering machine: `retry` (after the machine back-off), `continue` (the flow
    /// runs) or `message` (the flow's `machine_step` is left on it; the contact is done).
    #[arg(long)]
    machine: Option<String>,
    #[arg(long)]
    name: Option<String>,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Create a campaign (a draft) from a flow file and a contacts CSV.
    Create(Box<CreateArgs>),
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
    /// The campaign's contacts with their last result (phones masked unless --unmasked).
    Contacts {
        id: i64,
        /// Only contacts in this state: pending, calling, completed, no_answer, busy, failed,
        /// opted_out, handed_off, machine, error, expired.
        #[arg(long)]
        status: Option<String>,
        /// At most this many contacts (default: all).
        #[arg(long)]
        limit: Option<usize>,
        /// Full phone numbers (personal data: for the dialling team only).
        #[arg(long)]
        unmasked: bool,
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
        Action::Create(args) => {
            let CreateArgs {
                flow,
                contacts,
                from_calls,
                where_,
                since,
                until,
                dry_run,
                flows,
                window,
                max_attempts,
                timezone,
                country,
                phone_column,
                machine_detection,
                start,
                end,
                backoff,
                ring_timeout,
                machine,
                name,
            } = *args;
            let path = if flow.is_file() {
                flow
            } else {
                flows.join(format!("{}.toml", flow.display()))
            };
            let Some(flow) = super::check::load_one(&path, None) else {
                return Err("the flow has errors (above)".into());
            };
            let spec = PlanSettings {
                window: Some(window),
                timezone: Some(timezone),
                max_attempts: Some(max_attempts),
                start,
                end,
                backoff,
                ring_timeout,
                machine_detection: machine_detection.then_some(true),
                machine,
            }
            .to_spec()?;
            crate::dialer::settings::check_against_flow(&spec, &flow)?;
            let name = name.unwrap_or_else(|| flow.name.clone());
            let contacts = match (contacts, from_calls) {
                (_, Some(source)) => {
                    let cohort = CohortArgs {
                        source,
                        condition: where_.unwrap_or_default(),
                        since: since.unwrap_or_default(),
                        until,
                        dry_run,
                        flows,
                    };
                    return create_cohort(store, cohort, &flow, name, &spec).await;
                }
                (Some(contacts), None) => contacts,
                (None, None) => return Err("give --contacts or --from-calls".into()),
            };
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
                    name,
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
                .set_campaign_status(id, &[CampaignStatus::Running], CampaignStatus::Paused)
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
                .set_campaign_status(id, CANCELLABLE, CampaignStatus::Cancelled)
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
        Action::Contacts {
            id,
            status,
            limit,
            unmasked,
        } => {
            if campaigns.campaign(id).await.map_err(e)?.is_none() {
                return Err(format!("campaign {id} is unknown"));
            }
            let mut page = ContactPage::new(status, Some(ContactPage::MAX_LIMIT), None)?;
            let mut left = limit.unwrap_or(usize::MAX);
            println!(
                "{:>8}  {:<18} {:<11} {:>8}  {:<16} last call",
                "id", "phone", "status", "attempts", "last result"
            );
            while left > 0 {
                let rows = campaigns.list_contacts(id, &page).await.map_err(e)?;
                for row in rows.iter().take(left) {
                    let phone = if unmasked {
                        row.phone.clone()
                    } else {
                        mask(&row.phone)
                    };
                    let last_call = row
                        .last_call_at
                        .map(|at| at.format("%Y-%m-%d %H:%M:%SZ").to_string())
                        .unwrap_or_else(|| "-".into());
                    println!(
                        "{:>8}  {phone:<18} {:<11} {:>8}  {:<16} {last_call}",
                        row.id,
                        row.state,
                        row.attempts,
                        row.last_result.as_deref().unwrap_or("-"),
                    );
                }
                left = left.saturating_sub(rows.len());
                match rows.last() {
                    Some(last) if i64::try_from(rows.len()).unwrap_or(0) == page.limit => {
                        page.after = Some(last.id);
                    }
                    _ => break,
                }
            }
            Ok(())
        }
        Action::Status { id } => {
            let Some(row) = campaigns.campaign(id).await.map_err(e)? else {
                return Err(format!("campaign {id} is unknown"));
            };
            println!(
                "campaign {id} ({}, flow {}): {}",
                row.name, row.flow, row.status
            );
            let counts = campaigns.contact_counts(id).await.map_err(e)?;
            for state in ContactState::ALL {
                let n = counts.get(state.as_str()).copied().unwrap_or(0);
                println!("  {:<12} {n}", state.label());
            }
            // A state this build does not know (written by a newer one).
            for (state, n) in counts
                .iter()
                .filter(|(s, _)| ContactState::parse(s).is_err())
            {
                println!("  {state:<12} {n}");
            }
            println!("  {:<12} {}", "total", counts.values().sum::<i64>());
            Ok(())
        }
    }
}

/// `campaign create --from-calls`'s own flags.
struct CohortArgs {
    source: String,
    condition: String,
    since: String,
    until: Option<String>,
    dry_run: bool,
    flows: PathBuf,
}

/// A cohort campaign: the people are found, counted and shown (masked)
/// first; then, unless it is a dry run, the campaign is created.
async fn create_cohort(
    store: &Arc<dyn Store>,
    args: CohortArgs,
    target: &crate::flow::Flow,
    name: String,
    spec: &crate::dialer::plan::PlanSpec,
) -> Result<(), String> {
    let zone = spec
        .timezone
        .parse()
        .map_err(|_| format!("timezone: `{}` is not an IANA time zone", spec.timezone))?;
    cohort::check_target(target)?;
    let source_path = args.flows.join(format!("{}.toml", args.source));
    let Some(source) = super::check::load_one(&source_path, None) else {
        return Err(format!(
            "--from-calls: the flow {} does not load (above)",
            source_path.display()
        ));
    };
    let since =
        crate::report::parse_bound(&args.since, false).map_err(|e| format!("--since: {e}"))?;
    let until = args
        .until
        .as_deref()
        .map(|u| crate::report::parse_bound(u, true))
        .transpose()
        .map_err(|e| format!("--until: {e}"))?;
    let query = CohortQuery::parse("--where", &args.condition, &source, since, until)?;
    let found = cohort::find(store.as_ref(), &query)
        .await
        .map_err(|e| e.to_string())?;
    println!("{}", found.summary(&query));
    for example in found.examples(cohort::EXAMPLES) {
        println!(
            "  {:<18} {}  {}  {}",
            example.phone,
            example.called_at.format("%Y-%m-%d %H:%M UTC"),
            example.call_sid,
            example.answers
        );
    }
    if args.dry_run {
        println!("dry run: nothing created");
        return Ok(());
    }
    let id = cohort::create(
        store.as_ref(),
        NewCohortCampaign {
            name,
            target,
            plan: spec.to_json(),
            zone,
            created_at: Utc::now(),
        },
        &found,
    )
    .await
    .map_err(|e| e.to_string())?;
    println!(
        "campaign {id}: {} contacts from earlier calls of {} (a draft: `dialback campaign start {id}`)",
        found.chosen.len(),
        query.flow
    );
    Ok(())
}
