//! The servers under test, each its own process: `dialback serve` (the
//! release build cargo made for this bench) on a fresh SQLite file or a
//! fresh PostgreSQL database, or this binary in its static-TwiML role.
//! And the CPU they spend, read from `/proc`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{PUBLIC_URL, TOKEN};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Static,
    Sqlite,
    Postgres,
    /// The durable floors (see [`crate::durable_floor`]).
    FloorSqlx,
    FloorThread,
    FloorPostgres,
}

impl Kind {
    /// What the matrix runs unless `--servers` says otherwise.
    pub(crate) const ALL: [Kind; 6] = [
        Kind::Static,
        Kind::FloorSqlx,
        Kind::FloorThread,
        Kind::FloorPostgres,
        Kind::Sqlite,
        Kind::Postgres,
    ];

    /// Whether the server keeps calls that can be read back (dialback).
    pub(crate) fn is_dialback(self) -> bool {
        matches!(self, Kind::Sqlite | Kind::Postgres)
    }

    /// Whether it needs a PostgreSQL database of its own for the run.
    fn on_postgres(self) -> bool {
        matches!(self, Kind::Postgres | Kind::FloorPostgres)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Static => "static",
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
            Kind::FloorSqlx => "floor-sqlite",
            Kind::FloorThread => "floor-sqlite-thread",
            Kind::FloorPostgres => "floor-postgres",
        }
    }

    pub(crate) fn title(self) -> &'static str {
        match self {
            Kind::Static => "static ceiling",
            Kind::Sqlite => "dialback SQLite",
            Kind::Postgres => "dialback PostgreSQL",
            Kind::FloorSqlx => "durable floor, sqlx SQLite",
            Kind::FloorThread => "durable floor, SQLite on its own thread",
            Kind::FloorPostgres => "durable floor, PostgreSQL",
        }
    }
}

pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
    /// The PostgreSQL database made for this run, dropped with the server.
    pub(crate) pg_database: Option<String>,
    pg_admin: String,
    _dir: tempfile::TempDir,
}

/// PostgreSQL for the server and for the database made per run.
fn pg_admin_url() -> String {
    std::env::var("DIALBACK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

async fn pg_admin(url: &str, sql: &str) -> Result<(), String> {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| format!("PostgreSQL at {url}: {e}"))?;
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await
        .map_err(|e| format!("{sql}: {e}"))?;
    Ok(())
}

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("its address")
}

impl Server {
    /// `db_options` is appended to the database URL (`?synchronous=normal`
    /// for SQLite); each of `pg_settings` (`name=value`) is set on the
    /// PostgreSQL database made for the run (`ALTER DATABASE … SET`), as
    /// isolating experiments do.
    pub(crate) async fn start(
        kind: Kind,
        run: u32,
        db_options: &str,
        pg_settings: &[String],
    ) -> Result<Server, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let addr = free_addr();
        let log =
            std::fs::File::create(dir.path().join("server.log")).map_err(|e| e.to_string())?;
        let admin = pg_admin_url();
        let mut pg_database = None;
        let url = if kind.on_postgres() {
            let db = format!("loadgen_{}_{run}", std::process::id());
            pg_admin(&admin, &format!("CREATE DATABASE {db}")).await?;
            pg_database = Some(db.clone());
            for setting in pg_settings {
                let (name, value) = setting
                    .split_once('=')
                    .ok_or_else(|| format!("--pg-setting {setting}: write name=value"))?;
                let sql = format!("ALTER DATABASE {db} SET {name} = '{value}'");
                pg_admin(&admin, &sql).await?;
            }
            match admin.rsplit_once('/') {
                Some((base, _)) => format!("{base}/{db}"),
                None => return Err("DIALBACK_TEST_POSTGRES_URL names no database".into()),
            }
        } else {
            format!("sqlite:{}", dir.path().join("bench.db").display())
        };
        let this = || std::env::current_exe().map_err(|e| e.to_string());
        let listen = addr.to_string();
        let mut cmd = match kind {
            Kind::Static => {
                let mut c = Command::new(this()?);
                c.args(["static", "--listen", &listen]);
                c
            }
            Kind::FloorSqlx | Kind::FloorThread | Kind::FloorPostgres => {
                let store = match kind {
                    Kind::FloorSqlx => format!("sqlx-{url}"),
                    Kind::FloorThread => format!("thread-{url}"),
                    _ => url,
                };
                let mut c = Command::new(this()?);
                c.args(["static", "--listen", &listen, "--durable", &store]);
                c
            }
            Kind::Sqlite | Kind::Postgres => {
                let url = format!("{url}{db_options}");
                let root = Path::new(env!("CARGO_MANIFEST_DIR"));
                // LOADGEN_DIALBACK: another build to compare (a before/after).
                let exe = std::env::var_os("LOADGEN_DIALBACK")
                    .unwrap_or_else(|| env!("CARGO_BIN_EXE_dialback").into());
                let mut c = Command::new(exe);
                c.arg("serve")
                    .args(["--listen", &listen])
                    .args(["--database-url", &url])
                    .arg("--flows")
                    .arg(root.join("call-flows"))
                    .arg("--audio")
                    .arg(root.join("audio"))
                    .arg("--recordings")
                    .arg(dir.path().join("recordings"))
                    .args(["--public-url", PUBLIC_URL])
                    .args(["--auth-token", TOKEN])
                    .args(["--tts", "none"]);
                // Only what is set here configures the server.
                for (k, _) in std::env::vars() {
                    if k.starts_with("DIALBACK_") {
                        c.env_remove(k);
                    }
                }
                c
            }
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting the {} server: {e}", kind.name()))?;
        let mut server = Server {
            child,
            addr,
            pg_database,
            pg_admin: admin,
            _dir: dir,
        };
        server.wait_ready().await?;
        Ok(server)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn log_path(&self) -> PathBuf {
        self._dir.path().join("server.log")
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                return Err(format!("the server exited ({status}):\n{log}"));
            }
            if crate::check::get(self.addr, "/healthz").await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("the server did not answer /healthz within 60 s".into())
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(db) = self.pg_database.take()
            && let Err(e) = pg_admin(
                &self.pg_admin,
                &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            )
            .await
        {
            eprintln!("loadgen: {e}");
        }
    }
}

/// utime + stime of a process, in seconds (`/proc/<pid>/stat`, fields 14
/// and 15, in clock ticks of 1/100 s on Linux).
pub(crate) fn cpu_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let u: f64 = fields.get(11)?.parse().ok()?;
    let s: f64 = fields.get(12)?.parse().ok()?;
    Some((u + s) / 100.0)
}

/// The CPU of every PostgreSQL backend serving `database`, by pid: a
/// backend's process title (`/proc/<pid>/cmdline`) names its database.
/// The shared background processes (WAL writer, checkpointer) are not
/// counted: other sessions on this machine use them too.
pub(crate) fn pg_backends(database: &str) -> std::collections::HashMap<u32, f64> {
    let needle = format!(" {database} ");
    let mut found = std::collections::HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let title = String::from_utf8_lossy(&cmdline);
        if title.starts_with("postgres: ")
            && title.contains(&needle)
            && let Some(cpu) = cpu_of(&pid.to_string())
        {
            found.insert(pid, cpu);
        }
    }
    found
}

/// The CPU the backends spent between two readings; a backend that
/// appeared in between counts whole (it began inside the window).
pub(crate) fn pg_spent(
    before: &std::collections::HashMap<u32, f64>,
    after: &std::collections::HashMap<u32, f64>,
) -> f64 {
    after
        .iter()
        .map(|(pid, cpu)| cpu - before.get(pid).copied().unwrap_or(0.0))
        .sum()
}
