//! What the one SQL layer asks of a database: bind these Rust types, decode
//! these, run a statement on a connection, and bind a time the way the
//! database stores it.
//!
//! Why capability traits with blanket impls rather than `where` clauses on
//! each function: a bound such as `i64: Encode<'_, DB>` is about `i64`, not
//! about `DB`, so Rust does not carry it from a trait to its users and every
//! generic function would have to repeat a dozen of them. Written as
//! supertraits of [`Dialect`] (`DB: Binds<i64>`), they are stated once and
//! implied wherever `DB: Dialect` is. A new column type is one more
//! supertrait here.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

/// What sqlx's executors return: a boxed, sendable future.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A statement being built for `DB`.
pub(in crate::store) type Stmt<'q, DB> = Query<'q, DB, <DB as Database>::Arguments>;

/// The database can take a `T` as a parameter.
pub(in crate::store) trait Binds<T>: Database {
    fn bind_value<'q>(query: Stmt<'q, Self>, value: T) -> Stmt<'q, Self>;
}

// `'t` is left free: sqlx encodes `Option<&'a str>` only for `'t` within
// `'a`, so a `for<'t>` bound would demand `'static` strings.
impl<'t, DB: Database, T> Binds<T> for DB
where
    T: Encode<'t, DB> + Type<DB>,
{
    fn bind_value<'q>(query: Stmt<'q, Self>, value: T) -> Stmt<'q, Self> {
        query.bind(value)
    }
}

/// The database can hand a column back as a `T`.
pub(in crate::store) trait Decodes<T>: Database {
    fn column(row: &Self::Row, name: &str) -> Result<T, sqlx::Error>;
}

impl<DB: Database, T> Decodes<T> for DB
where
    T: for<'r> Decode<'r, DB> + Type<DB>,
    for<'n> &'n str: ColumnIndex<DB::Row>,
{
    fn column(row: &DB::Row, name: &str) -> Result<T, sqlx::Error> {
        row.try_get(name)
    }
}

/// Statements run on the database's own connection type.
pub(in crate::store) trait Runs: Database {
    fn fetch_all<'c, 'q: 'c>(
        conn: &'c mut Self::Connection,
        query: Stmt<'q, Self>,
    ) -> BoxFuture<'c, Result<Vec<Self::Row>, sqlx::Error>>;

    fn fetch_optional<'c, 'q: 'c>(
        conn: &'c mut Self::Connection,
        query: Stmt<'q, Self>,
    ) -> BoxFuture<'c, Result<Option<Self::Row>, sqlx::Error>>;

    fn execute<'c, 'q: 'c>(
        conn: &'c mut Self::Connection,
        query: Stmt<'q, Self>,
    ) -> BoxFuture<'c, Result<Self::QueryResult, sqlx::Error>>;
}

impl<DB: Database> Runs for DB
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB> + 'static,
{
    fn fetch_all<'c, 'q: 'c>(
        conn: &'c mut DB::Connection,
        query: Stmt<'q, DB>,
    ) -> BoxFuture<'c, Result<Vec<DB::Row>, sqlx::Error>> {
        conn.fetch_all(query)
    }

    fn fetch_optional<'c, 'q: 'c>(
        conn: &'c mut DB::Connection,
        query: Stmt<'q, DB>,
    ) -> BoxFuture<'c, Result<Option<DB::Row>, sqlx::Error>> {
        conn.fetch_optional(query)
    }

    fn execute<'c, 'q: 'c>(
        conn: &'c mut DB::Connection,
        query: Stmt<'q, DB>,
    ) -> BoxFuture<'c, Result<DB::QueryResult, sqlx::Error>> {
        conn.execute(query)
    }
}

/// A database the SQL layer runs on: every type it binds and decodes, and
/// the two things that truly differ between SQLite and PostgreSQL at the
/// statement level.
///
/// The statements themselves are written once, with `$1`-style numbered
/// parameters: PostgreSQL's own, and accepted by SQLite (sqlx-sqlite binds a
/// `$N` parameter to the N-th value, like `?N`). No casts are needed in the
/// text because sqlx declares every parameter's type to PostgreSQL.
pub(in crate::store) trait Dialect:
    Runs
    + Binds<i64>
    + Binds<i32>
    + Binds<Option<i32>>
    + Binds<Option<i64>>
    + Binds<String>
    + for<'a> Binds<&'a str>
    + for<'a> Binds<Option<&'a str>>
    + for<'a> Binds<&'a [u8]>
    + Binds<Option<f32>>
    + Decodes<Vec<u8>>
    + Decodes<i64>
    + Decodes<Option<i64>>
    + Decodes<i32>
    + Decodes<Option<f32>>
    + Decodes<String>
    + Decodes<Option<String>>
    + Decodes<DateTime<Utc>>
    + Decodes<Option<DateTime<Utc>>>
{
    /// Binds a time as this database stores it (SQLite: fixed-width text,
    /// so that text order is time order; PostgreSQL: `TIMESTAMPTZ`).
    fn bind_time<'q>(query: Stmt<'q, Self>, at: Option<DateTime<Utc>>) -> Stmt<'q, Self>;

    /// The SQL expression naming the period a call (`c`) started in, as
    /// the text of its first day (`2026-03-02`): UTC days, or weeks from
    /// Monday. Text, so both databases hand back the same type.
    fn period_start(by: crate::store::trends::Period) -> &'static str;

    /// How many rows a statement changed.
    fn rows_affected(done: &Self::QueryResult) -> u64;
}

/// Building a statement for any [`Dialect`]: `query(SQL).arg(id).at(now)`;
/// and running one that writes: `.run(&mut conn)`.
pub(in crate::store) trait StmtExt<'q, DB: Dialect>: Sized {
    /// Binds the next parameter.
    fn arg<T>(self, value: T) -> Self
    where
        DB: Binds<T>;
    /// Binds a time as the next parameter.
    fn at(self, at: DateTime<Utc>) -> Self;
    /// Binds a time or NULL as the next parameter.
    fn opt_at(self, at: Option<DateTime<Utc>>) -> Self;
    /// Runs the statement; how many rows it changed.
    fn run<'c>(
        self,
        conn: &'c mut DB::Connection,
    ) -> impl Future<Output = sqlx::Result<u64>> + Send + 'c
    where
        'q: 'c;
}

impl<'q, DB: Dialect> StmtExt<'q, DB> for Stmt<'q, DB> {
    fn arg<T>(self, value: T) -> Self
    where
        DB: Binds<T>,
    {
        DB::bind_value(self, value)
    }

    fn at(self, at: DateTime<Utc>) -> Self {
        DB::bind_time(self, Some(at))
    }

    fn opt_at(self, at: Option<DateTime<Utc>>) -> Self {
        DB::bind_time(self, at)
    }

    fn run<'c>(
        self,
        conn: &'c mut DB::Connection,
    ) -> impl Future<Output = sqlx::Result<u64>> + Send + 'c
    where
        'q: 'c,
    {
        let done = DB::execute(conn, self);
        async move { Ok(DB::rows_affected(&done.await?)) }
    }
}

/// Reading a column of a row of any [`Dialect`] by name:
/// `let id: i64 = row.col("id")?`.
pub(in crate::store) trait ColExt: Row {
    fn col<T>(&self, name: &str) -> Result<T, sqlx::Error>
    where
        Self::Database: Decodes<T>;
}

impl<R: Row> ColExt for R {
    fn col<T>(&self, name: &str) -> Result<T, sqlx::Error>
    where
        R::Database: Decodes<T>,
    {
        <R::Database as Decodes<T>>::column(self, name)
    }
}
