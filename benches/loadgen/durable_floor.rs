//! The durable floor: the static server plus the least a server that keeps
//! its answers must do per webhook — one row committed to the database, and
//! on disk, before the reply. It isolates what a durable write costs on this
//! machine, apart from everything else dialback does (flows, state, TwiML,
//! signatures), so dialback's figures can be read against it as well as
//! against the static ceiling.
//!
//! Three ways to the same write, to tell the database's own cost from the
//! cost of reaching it:
//! - `sqlx-sqlite:PATH`: sqlx's SQLite driver, one connection behind a
//!   mutex, as dialback's writer (each statement a trip to sqlx's worker
//!   thread and back);
//! - `thread-sqlite:PATH`: a thread of our own that owns the connection
//!   (rusqlite) and takes whole jobs from a channel, one hand-off each way;
//! - `postgres://…`: sqlx's PostgreSQL pool, one INSERT in its own
//!   transaction.
//!
//! Each webhook is its own transaction: no batching, so the paced shapes,
//! where webhooks arrive one at a time, are the ones to read.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use tokio::sync::{Mutex, oneshot};

/// One webhook's row: its CallSid and the whole form, about the size of
/// what dialback writes per webhook (state and TwiML).
pub(crate) struct Hit {
    call_sid: String,
    body: String,
}

impl Hit {
    fn of(form: &[u8]) -> Hit {
        let body = String::from_utf8_lossy(form).into_owned();
        let call_sid = body
            .split('&')
            .find_map(|pair| pair.strip_prefix("CallSid="))
            .unwrap_or("")
            .to_string();
        Hit { call_sid, body }
    }
}

type Job = (Hit, oneshot::Sender<Result<(), String>>);

pub(crate) enum Durable {
    SqlxSqlite(Mutex<sqlx::SqliteConnection>),
    ThreadSqlite(std::sync::mpsc::Sender<Job>),
    Postgres(sqlx::PgPool),
}

const SQLITE_TABLE: &str = "CREATE TABLE IF NOT EXISTS hits \
    (id INTEGER PRIMARY KEY, call_sid TEXT NOT NULL, body TEXT NOT NULL)";
const PG_TABLE: &str = "CREATE TABLE IF NOT EXISTS hits \
    (id BIGSERIAL PRIMARY KEY, call_sid TEXT NOT NULL, body TEXT NOT NULL)";
const INSERT_SQLITE: &str = "INSERT INTO hits (call_sid, body) VALUES (?, ?)";
const INSERT_PG: &str = "INSERT INTO hits (call_sid, body) VALUES ($1, $2)";

impl Durable {
    /// Opens the store `spec` names (see the module's documentation), with
    /// the settings dialback's own store uses: WAL and `synchronous = FULL`
    /// on SQLite, so every commit waits for the disk.
    pub(crate) async fn open(spec: &str) -> Result<Durable, String> {
        if let Some(path) = spec.strip_prefix("sqlx-sqlite:") {
            let mut conn = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .connect()
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query(SQLITE_TABLE)
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Durable::SqlxSqlite(Mutex::new(conn)))
        } else if let Some(path) = spec.strip_prefix("thread-sqlite:") {
            let conn = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
            conn.execute_batch(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; {SQLITE_TABLE};"
            ))
            .map_err(|e| e.to_string())?;
            let (jobs, rx) = std::sync::mpsc::channel::<Job>();
            std::thread::spawn(move || {
                for (hit, reply) in rx {
                    let result = conn
                        .prepare_cached(INSERT_SQLITE)
                        .and_then(|mut s| s.execute((&hit.call_sid, &hit.body)))
                        .map(|_| ())
                        .map_err(|e| e.to_string());
                    let _ = reply.send(result);
                }
            });
            Ok(Durable::ThreadSqlite(jobs))
        } else if spec.starts_with("postgres://") {
            let pool = sqlx::PgPool::connect(spec)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query(PG_TABLE)
                .execute(&pool)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Durable::Postgres(pool))
        } else {
            Err(format!(
                "--durable {spec}: write sqlx-sqlite:PATH, thread-sqlite:PATH or postgres://…"
            ))
        }
    }

    async fn write(&self, hit: Hit) -> Result<(), String> {
        match self {
            Durable::SqlxSqlite(conn) => {
                let mut conn = conn.lock().await;
                sqlx::query(INSERT_SQLITE)
                    .bind(&hit.call_sid)
                    .bind(&hit.body)
                    .execute(&mut *conn)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Durable::ThreadSqlite(jobs) => {
                let (reply, answer) = oneshot::channel();
                jobs.send((hit, reply))
                    .map_err(|_| "the writer thread is gone".to_string())?;
                answer
                    .await
                    .map_err(|_| "the writer thread is gone".to_string())?
            }
            Durable::Postgres(pool) => sqlx::query(INSERT_PG)
                .bind(&hit.call_sid)
                .bind(&hit.body)
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }
}

/// The static question, once the webhook's row is stored.
pub(crate) async fn question(State(store): State<Arc<Durable>>, form: Bytes) -> Response {
    match store.write(Hit::of(&form)).await {
        Ok(()) => crate::static_server::question(form).await.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}
