//! Privacy: retention ("purge what is older than 90 days") and the phone
//! number masking exports use.

use chrono::{DateTime, Duration, Utc};

use crate::flow::Flow;
use crate::store::reports::Purged;
use crate::store::{Store, StoreResult};

/// Reads an age such as `90d`, `12h` or `2w`.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not an age such as 90d, 12h or 2w");
    let split = text.len().checked_sub(1).ok_or_else(bad)?;
    let (n, unit) = text.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let age = match unit {
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        "w" => Duration::try_weeks(n),
        _ => None,
    };
    age.filter(|a| *a > Duration::zero()).ok_or_else(bad)
}

/// The questions whose values are personal data (what a caller said, their
/// voice), as `(flow, question)` pairs for [`crate::store::ReportStore::purge`].
pub fn personal_questions<'a>(flows: impl IntoIterator<Item = &'a Flow>) -> Vec<(String, String)> {
    flows
        .into_iter()
        .flat_map(|flow| {
            flow.spoken_questions()
                .into_iter()
                .map(|q| (flow.name.clone(), q))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Purges personal data of calls started before `now - age` — dialback's
/// stored copies of their recordings and the transcripts included, in the
/// same transaction — then deletes the local files (`file://` URLs) that
/// stream recordings made by older versions left. A file
/// that cannot be deleted is logged, not fatal: the rows are already gone.
pub async fn purge(
    store: &dyn Store,
    personal: &[(String, String)],
    now: DateTime<Utc>,
    age: Duration,
) -> StoreResult<Purged> {
    let purged = store.reports().purge(now - age, personal).await?;
    for url in &purged.recordings {
        if let Some(path) = url.strip_prefix("file://")
            && let Err(e) = std::fs::remove_file(path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, "could not delete a purged recording's file");
        }
    }
    Ok(purged)
}

/// The do-not-call list as CSV (`phone,call_sid,opted_out_at`). Full
/// numbers: the list exists to be honoured by whoever dials, so it is only
/// ever handed to an admin.
pub async fn opt_outs_csv(store: &dyn Store) -> StoreResult<Vec<u8>> {
    let list = store.reports().opt_outs().await?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let mut write = |fields: [&str; 3]| w.write_record(fields);
    let written = write(["phone", "call_sid", "opted_out_at"]).and_then(|()| {
        list.iter().try_for_each(|o| {
            let at = o.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
            write([
                &o.phone,
                o.call_sid.as_ref().map_or("", |s| s.as_str()),
                &at,
            ])
        })
    });
    let to_store = |e: String| crate::store::StoreError::Database(sqlx::Error::Protocol(e));
    written.map_err(|e| to_store(e.to_string()))?;
    w.into_inner().map_err(|e| to_store(e.to_string()))
}
