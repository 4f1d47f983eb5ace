//! The SQLite store: the default, one file and nothing to install.
//!
//! SQLite lets one connection write at a time, so this store has exactly one
//! writing connection ([`writer`]), which applies advances in group-committed
//! batches ([`super::group_commit`]), and a few read-only connections beside
//! it. In WAL mode readers never block the writer nor each other, so
//! `load_call` does not queue behind `advance_call`; a checkpointer on a
//! connection of its own copies the WAL back into the file, so the writer
//! never stops to do it.
//!
//! Measured on a 2-core machine (see `tests/it/store_throughput.rs`): a
//! one-writer mutex with a statement per trip managed ~3,400 webhooks/s;
//! the group commit ~9,000; off-writer checkpoints and mutex-held readers
//! (no pool pings) ~13,600, with p99 latency ~3 ms at 2,000 webhooks/s.
//!
//! Every other query is the one SQL layer's (see [`super::sql`]); this file
//! adds how a connection is lent (a reader, or the writer), how a time is
//! bound (fixed-width text), the dialer's claim and its pacing.

mod writer;

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::ConnectOptions;
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteQueryResult,
    SqliteSynchronous,
};
use tokio::sync::{Mutex, MutexGuard};

use super::db_url::{has_param, take_count_param, take_param};
use super::group_commit::{GroupCommit, advanced};
use super::sql::{Backend, Dialect, Lent, ProviderStatus, Stmt};
use super::{Advance, Advanced, NewCall, StoreResult};
use writer::{SqliteBatches, StatusUpdate, Write, Writer};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for another process's write lock (the CLI
/// importing contacts while the server runs, say) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite implementation of [`Store`](super::Store).
pub struct SqliteStore {
    /// The only connection that writes.
    ///
    /// Why one writer: SQLite serialises writers on a file lock anyway; several
    /// writing connections would only take turns through `busy_timeout`
    /// sleeps and retries, which is slower and less fair than queueing on an
    /// async mutex. Why a mutex and not a pool of one: a pool pings every
    /// connection as it is returned, one more trip to SQLite's worker thread.
    writer: Arc<Mutex<Writer>>,
    /// Where new calls, advances and statuses queue for the group commit,
    /// one batch at a time (see [`super::group_commit`]).
    writes: GroupCommit<Write>,
    /// Read-only connections; `None` for an in-memory database, which only
    /// its own connection can see, and for `?readers=0`.
    readers: Option<Readers>,
    /// The checkpointer stops when this is dropped with the store.
    _alive: Arc<()>,
}

impl SqliteStore {
    /// Read connections when the URL does not say (`?readers=N`): one per
    /// core, at least 2 and at most 8. Reads are short; more connections than
    /// cores only add thread wake-ups.
    pub fn default_readers() -> u32 {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        cores.clamp(2, 8) as u32
    }

    /// Opens (creating the file and its folder if missing) and migrates.
    /// See [`super::connect`] for the URL forms. Starts the writer task, so
    /// it must be called inside a tokio runtime, which the store then needs
    /// to live as long as it does.
    ///
    /// `?synchronous=full` (the default) makes each commit wait until the
    /// WAL is on disk, so an answer the caller was told is saved survives
    /// a power cut too; group commit pays that once per batch, not once
    /// per webhook. `?synchronous=normal` syncs at checkpoints only: a
    /// power cut (not a crash of dialback) can then lose the last commits,
    /// never the file. That trade is ops' to make.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let (url, readers) = take_count_param(url, "readers")?;
        let readers = readers.unwrap_or_else(Self::default_readers);
        let (url, synchronous) = take_param(&url, "synchronous")?;
        let synchronous = match synchronous
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("full") => SqliteSynchronous::Full,
            Some("normal") => SqliteSynchronous::Normal,
            Some(other) => {
                return Err(sqlx::Error::Configuration(
                    format!("synchronous must be full or normal, not {other:?}").into(),
                )
                .into());
            }
        };
        let in_memory = is_in_memory(&url);

        let base = SqliteConnectOptions::from_str(&url)?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .synchronous(synchronous)
            // Statement journals (each statement of a batch can be undone
            // alone) and sorts stay in memory instead of temporary files.
            .pragma("temp_store", "MEMORY");

        if let Some(parent) = base.get_filename().parent()
            && !in_memory
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
        }

        // WAL lets readers work while the writer writes. It is a property of
        // the file, so only the writer sets it (the readers then find it).
        let writer_options = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // The checkpointer task copies the WAL back into the file (see
            // `checkpoints`), so the writer's commits never do it.
            .pragma("wal_autocheckpoint", if in_memory { "1000" } else { "0" })
            // Room for the prepared batches (one per batch shape in use, see
            // `writer::batch_sql`) and the rest.
            .statement_cache_capacity(256);
        let mut conn = writer_options.connect().await?;
        MIGRATOR.run(&mut conn).await?;

        let readers = if in_memory || readers == 0 {
            None
        } else {
            Some(Readers::open(base.clone().pragma("query_only", "ON"), readers).await?)
        };

        let alive = Arc::new(());
        if !in_memory {
            let conn = base.clone().connect().await?;
            tokio::spawn(checkpoints(conn, Arc::downgrade(&alive)));
        }

        let writer = Arc::new(Mutex::new(Writer::new(conn, writer_options)));
        Ok(Self {
            _alive: alive,
            writes: GroupCommit::spawn(
                Arc::new(SqliteBatches {
                    writer: Arc::clone(&writer),
                }),
                1,
            ),
            writer,
            readers,
        })
    }

    async fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        writer::lock(&self.writer).await
    }
}

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Copies committed pages from the WAL back into the database file, on a
/// connection (and so a thread) of its own.
///
/// Why not SQLite's automatic checkpoint: it runs inside whichever commit
/// pushes the WAL past 1000 pages, so every so often one of the writer's
/// batches also copies ~4 MB, and every webhook queued behind it waits
/// (measured: p99 latency ~18 ms at 2,000 webhooks/s with it, see the
/// report). A PASSIVE checkpoint runs beside the writer without blocking it.
async fn checkpoints(mut conn: SqliteConnection, alive: std::sync::Weak<()>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if alive.upgrade().is_none() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await
        {
            tracing::warn!(error = %e, "SQLite checkpoint failed; will retry");
        }
    }
}

/// `sqlite::memory:`, `sqlite://:memory:` or `mode=memory`.
fn is_in_memory(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = rest.split_once('?').map_or(rest, |(path, _)| path);
    path == ":memory:" || has_param(url, "mode", "memory")
}

/// Read-only connections, each behind its own mutex.
///
/// Why not a sqlx pool: a pool pings every connection as it is returned, a
/// trip to its worker thread that costs as much as the read itself, and a
/// local file needs none of a pool's reconnecting. Why several: reads (and
/// later, reports) run beside the writer, not queued behind its batches.
struct Readers {
    conns: Vec<Mutex<SqliteConnection>>,
    next: AtomicUsize,
    options: SqliteConnectOptions,
}

impl Readers {
    async fn open(options: SqliteConnectOptions, n: u32) -> StoreResult<Self> {
        let mut conns = Vec::new();
        for _ in 0..n {
            conns.push(Mutex::new(options.connect().await?));
        }
        Ok(Self {
            conns,
            next: AtomicUsize::new(0),
            options,
        })
    }

    /// A free connection if there is one, else the next in turn.
    async fn acquire(&self) -> MutexGuard<'_, SqliteConnection> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.conns.len();
        for i in 0..n {
            if let Ok(conn) = self.conns[(start + i) % n].try_lock() {
                return conn;
            }
        }
        self.conns[start % n].lock().await
    }
}

/// A connection lent for one operation: a reader, or the writer itself.
pub(super) enum Conn<'a> {
    Reader(MutexGuard<'a, SqliteConnection>, &'a SqliteConnectOptions),
    Writer(MutexGuard<'a, Writer>),
}

impl Lent for Conn<'_> {
    /// Turns a statement's result into the store's, first reopening the
    /// connection if its worker thread died.
    async fn finish<T: Send>(&mut self, result: Result<T, sqlx::Error>) -> StoreResult<T> {
        if let Err(sqlx::Error::WorkerCrashed) = &result {
            self.reopen().await;
        }
        Ok(result?)
    }
}

impl Conn<'_> {
    async fn reopen(&mut self) {
        match self {
            Conn::Reader(conn, options) => match options.connect().await {
                Ok(fresh) => {
                    tracing::warn!("SQLite reader reopened after its worker thread crashed");
                    **conn = fresh;
                }
                Err(e) => tracing::error!(error = %e, "could not reopen a SQLite reader"),
            },
            Conn::Writer(w) => {
                let _ = w.finish::<()>(Err(sqlx::Error::WorkerCrashed)).await;
            }
        }
    }
}

impl Deref for Conn<'_> {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        match self {
            Conn::Reader(c, _) => c,
            Conn::Writer(w) => w.conn_ref(),
        }
    }
}

impl DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            Conn::Reader(c, _) => &mut *c,
            Conn::Writer(w) => w.conn(),
        }
    }
}

/// Fixed-width UTC text, microseconds: text order is time order, and the
/// precision matches PostgreSQL's so both backends hand back the same value.
pub(super) fn ts(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Claims due contacts for [`Backend::CLAIM_DUE`]. No row locks: every
/// claim runs on the one writer, so two claims never see the same contact.
const CLAIM_DUE: &str = "UPDATE contacts SET state = 'calling', lease_until = $2 \
    WHERE id IN ( \
        SELECT d.id FROM contacts d JOIN campaigns m ON m.id = d.campaign_id \
        WHERE m.status = 'running' \
          AND ((d.state = 'pending' AND d.next_at <= $1) \
            OR (d.state = 'calling' AND d.lease_until < $1)) \
        ORDER BY d.next_at, d.id LIMIT $3) \
    RETURNING id, campaign_id, \
        COALESCE(flow, (SELECT k.flow FROM campaigns k WHERE k.id = campaign_id)) AS flow, \
        (SELECT plan FROM campaigns k WHERE k.id = campaign_id) AS plan, \
        phone, timezone, attempts";

/// Claims due recording jobs for [`Backend::CLAIM_RECORDINGS`]; like
/// [`CLAIM_DUE`], on the one writer.
const CLAIM_RECORDINGS: &str = "UPDATE recording_media SET lease_until = $2, \
        attempts = attempts + 1 \
    WHERE recording_sid IN ( \
        SELECT d.recording_sid FROM recording_media d \
        WHERE d.stage IN ($4, $5, $6) \
          AND d.next_at <= $1 AND (d.lease_until IS NULL OR d.lease_until < $1) \
        ORDER BY d.next_at LIMIT $3) \
    RETURNING recording_sid, call_sid, source_url, stage, attempts, \
        (SELECT c.flow FROM calls c WHERE c.call_sid = recording_media.call_sid) AS flow";

/// Call pacing on the process's clock (one process writes this file): the
/// next free slot of an account, in microseconds since the epoch.
const RESERVE_DIAL_SLOT: &str = "INSERT INTO dial_pacing (account, next_at_us) \
    VALUES ($1, $2 + $3) \
    ON CONFLICT (account) DO UPDATE SET next_at_us = max(next_at_us, $2) + $3 \
    RETURNING next_at_us - $3 AS slot";

impl Dialect for Sqlite {
    fn bind_time<'q>(query: Stmt<'q, Self>, at: Option<DateTime<Utc>>) -> Stmt<'q, Self> {
        query.bind(at.as_ref().map(ts))
    }

    /// Times are fixed-width RFC 3339 text: the day is its first ten
    /// characters. `weekday 0` moves on to the next Sunday (or stays on
    /// one), six days back is that week's Monday.
    fn period_start(by: super::trends::Period) -> &'static str {
        match by {
            super::trends::Period::Day => "substr(c.started_at, 1, 10)",
            super::trends::Period::Week => {
                "date(substr(c.started_at, 1, 10), 'weekday 0', '-6 days')"
            }
        }
    }

    fn rows_affected(done: &SqliteQueryResult) -> u64 {
        done.rows_affected()
    }
}

impl Backend for SqliteStore {
    type Db = Sqlite;
    type Conn<'a> = Conn<'a>;

    const NAME: &'static str = "sqlite";
    const CLAIM_DUE: &'static str = CLAIM_DUE;
    const CLAIM_RECORDINGS: &'static str = CLAIM_RECORDINGS;

    async fn read(&self) -> StoreResult<Conn<'_>> {
        Ok(match &self.readers {
            Some(readers) => Conn::Reader(readers.acquire().await, &readers.options),
            None => Conn::Writer(self.lock_writer().await),
        })
    }

    async fn write(&self) -> StoreResult<Conn<'_>> {
        Ok(Conn::Writer(self.lock_writer().await))
    }

    async fn create_call(&self, c: NewCall) -> StoreResult<bool> {
        self.writes.write(Write::Create(c)).await
    }

    async fn advance_call(&self, a: Advance) -> StoreResult<Advanced> {
        Ok(advanced(
            self.writes.write(Write::Advance(Box::new(a))).await?,
        ))
    }

    async fn update_status(&self, s: ProviderStatus<'_>) -> StoreResult<bool> {
        let update = StatusUpdate {
            call_sid: s.call_sid.clone(),
            status: s.status,
            at: s.at,
        };
        self.writes.write(Write::Status(update)).await
    }

    async fn reserve_dial_slot(&self, account: &str, interval: Duration) -> StoreResult<Duration> {
        let step = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX);
        let mut w = self.lock_writer().await;
        // Read under the writer's lock, so no other reservation comes between.
        let now = Utc::now().timestamp_micros();
        let result = sqlx::query_scalar::<_, i64>(RESERVE_DIAL_SLOT)
            .bind(account)
            .bind(now)
            .bind(step)
            .fetch_one(w.conn())
            .await;
        let slot = w.finish(result).await?;
        Ok(Duration::from_micros(
            u64::try_from(slot - now).unwrap_or(0),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::SqliteStore;
    use crate::store::sql::{Backend, ColExt, StmtExt};

    /// The one SQL layer writes `$N` parameters for both databases; on
    /// SQLite they must bind by number, reused and in any order, as on
    /// PostgreSQL.
    #[tokio::test]
    async fn numbered_parameters_bind_by_number_on_sqlite() {
        let store = SqliteStore::connect("sqlite::memory:")
            .await
            .expect("opens");
        let mut conn = store.read().await.expect("a connection");
        let row = sqlx::query("SELECT $2 AS a, $1 AS b, $2 AS c")
            .arg(1_i64)
            .arg(2_i64)
            .fetch_one(&mut *conn)
            .await
            .expect("runs");
        let got: (i64, i64, i64) = (
            row.col("a").expect("a"),
            row.col("b").expect("b"),
            row.col("c").expect("c"),
        );
        assert_eq!(got, (2, 1, 2));
    }

    async fn synchronous_of(url: &str) -> i64 {
        let store = SqliteStore::connect(url).await.expect("opens");
        let mut w = store.lock_writer().await;
        sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(w.conn())
            .await
            .expect("reads the pragma")
    }

    #[tokio::test]
    async fn commits_wait_for_the_disk_unless_ops_choose_normal() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite:{}", dir.path().join("s.db").display());

        // SQLite's codes: 1 NORMAL, 2 FULL.
        assert_eq!(synchronous_of(&url).await, 2);
        assert_eq!(
            synchronous_of(&format!("{url}?synchronous=normal")).await,
            1
        );
    }
}
