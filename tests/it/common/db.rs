//! Throw-away databases for tests, on every backend.
//!
//! SQLite: a file in a fresh temporary folder. PostgreSQL: a fresh database
//! `dialback_test_<unix time>_<pid>_<n>` created through the server named by
//! `DIALBACK_TEST_POSTGRES_URL` (default [`DEFAULT_POSTGRES_URL`]) and dropped
//! when the [`TestDb`] is cleaned up or dropped, even by a failing test.
//! Databases such a run left behind (a killed process) are dropped by the next
//! run once they are a day old.
//!
//! If PostgreSQL cannot be reached the tests FAIL, naming the URL: a CI that
//! silently skipped them would pass without ever testing that backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dialback::store::{self, Store};
use sqlx::{Connection, PgConnection};

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const PREFIX: &str = "dialback_test_";
const LEFTOVER_AGE: Duration = Duration::from_secs(24 * 60 * 60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL server the tests use, as an admin URL (any existing database).
pub fn postgres_admin_url() -> String {
    std::env::var("DIALBACK_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// A migrated store on a database of its own.
pub struct TestDb {
    store: Option<Arc<dyn Store>>,
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
    Done,
}

impl TestDb {
    /// A fresh SQLite file in a temporary folder.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("create a temporary folder");
        let url = format!("sqlite:{}", dir.path().join("dialback.db").display());
        let store = store::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("open SQLite store {url}: {e}"));
        TestDb {
            store: Some(store),
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    /// A fresh PostgreSQL database; panics (fails the test) if the server
    /// cannot be reached.
    pub async fn postgres() -> TestDb {
        let mut db = TestDb::empty_postgres().await;
        let store = store::connect(&db.url)
            .await
            .unwrap_or_else(|e| panic!("open PostgreSQL store {}: {e}", db.url));
        db.store = Some(store);
        db
    }

    /// A fresh PostgreSQL database, not yet connected nor migrated (to test
    /// what `connect` does to an empty database); [`TestDb::store`] panics.
    pub async fn empty_postgres() -> TestDb {
        let admin_url = postgres_admin_url();
        let mut admin = admin_connection(&admin_url).await;
        sweep_leftovers_once(&mut admin).await;

        let name = unique_name();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {admin_url}: {e}"));
        let _ = admin.close().await;

        // From here on the database exists: dropping the TestDb drops it.
        TestDb {
            store: None,
            url: with_database(&admin_url, &name),
            cleanup: Cleanup::Postgres { admin_url, name },
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.store
            .as_ref()
            .expect("the store is open until cleanup")
    }

    /// The URL the store was opened with, to open it again.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Closes the store and deletes the database.
    pub async fn cleanup(mut self) {
        self.store = None;
        match std::mem::replace(&mut self.cleanup, Cleanup::Done) {
            Cleanup::Postgres { admin_url, name } => drop_database(&admin_url, &name).await,
            Cleanup::Sqlite(dir) => drop(dir),
            Cleanup::Done => {}
        }
    }
}

impl Drop for TestDb {
    /// For a test that panicked before `cleanup`: drop the database from a
    /// thread with its own runtime (Drop cannot await).
    fn drop(&mut self) {
        self.store = None;
        if let Cleanup::Postgres { admin_url, name } =
            std::mem::replace(&mut self.cleanup, Cleanup::Done)
        {
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(drop_database(&admin_url, &name));
                }
            })
            .join();
        }
    }
}

/// One fresh database per backend, for a scenario to run on each:
/// `for (backend, db) in each_backend().await { … db.cleanup().await }`.
pub async fn each_backend() -> Vec<(&'static str, TestDb)> {
    vec![
        ("sqlite", TestDb::sqlite().await),
        ("postgres", TestDb::postgres().await),
    ]
}

async fn admin_connection(admin_url: &str) -> PgConnection {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(admin_url)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!("{}", unreachable_message(admin_url, &e.to_string())),
        Err(_) => panic!(
            "{}",
            unreachable_message(admin_url, "no answer within 10 seconds")
        ),
    }
}

fn unreachable_message(admin_url: &str, why: &str) -> String {
    format!(
        "PostgreSQL tests cannot reach {admin_url}: {why}.\n\
         Start PostgreSQL or point DIALBACK_TEST_POSTGRES_URL at a server where this user \
         may CREATE DATABASE. These tests fail instead of skipping, so that CI never passes \
         without testing the PostgreSQL store."
    )
}

async fn drop_database(admin_url: &str, name: &str) {
    let Ok(Ok(mut admin)) =
        tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(admin_url)).await
    else {
        eprintln!("could not reach {admin_url} to drop test database {name}");
        return;
    };
    // FORCE ends the store's pooled connections, which may still be closing.
    if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    {
        eprintln!("could not drop test database {name}: {e}");
    }
    let _ = admin.close().await;
}

/// Drops test databases at least a day old, once per test process: what a
/// killed run could not clean up. Younger ones may belong to a run in progress.
async fn sweep_leftovers_once(admin: &mut PgConnection) {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'dialback\\_test\\_%'",
    )
    .fetch_all(&mut *admin)
    .await
    .unwrap_or_default();
    let now = unix_secs();
    for name in names {
        let created = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|c| now.saturating_sub(c) > LEFTOVER_AGE.as_secs()) {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut *admin)
            .await;
        }
    }
}

fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{PREFIX}{}_{}_{}",
        unix_secs(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `postgres://u@h:5432/test?x=y` with the database `test` replaced by `name`.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}
