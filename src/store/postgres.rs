//! The PostgreSQL store: for several replicas sharing one database.
//!
//! Replicas never coordinate with each other: the compare-and-swap on a
//! call's `seq` inside the database decides which of two racing webhooks
//! wins, and migrations take an advisory lock so replicas starting together
//! migrate once.
//!
//! An advance is not `BEGIN; UPDATE …; INSERT …; COMMIT` but one statement
//! (an UPDATE and the inserts fed by its RETURNING, a statement being its
//! own transaction), for a whole group-committed batch of advances: the
//! same all-or-nothing, in one round trip and one commit instead of four
//! round trips and a commit per webhook. Measured on a 2-core machine with
//! PostgreSQL on it (see `tests/it/store_throughput.rs`): explicit transaction
//! per advance ~1,700 webhooks/s at ~740 µs of CPU each (here + server);
//! one statement per advance ~2,700 at ~570 µs; batched ~5,300–8,000 at
//! ~230 µs.
//!
//! Every other query is the one SQL layer's (see [`super::sql`]); this file
//! adds how a connection is lent (the pool), the advance batch, the dialer's
//! `SKIP LOCKED` claim and its pacing on the database's clock.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{
    PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgQueryResult, Postgres,
};

use super::db_url::take_count_param;
use super::group_commit::{ApplyBatch, GroupCommit, advanced};
use super::sql::{Backend, Dialect, Lent, ProviderStatus, Stmt};
use super::{Advance, Advanced, CallSid, CallStatus, NewCall, Outcome, StoreResult};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a webhook may wait for a free connection: past this the caller
/// would already hear silence, so failing fast is kinder.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a statement waits for a lock (PostgreSQL's `lock_timeout`)
/// unless the URL sets its own: a table locked by a migration, a manual
/// `LOCK` or a stuck transaction fails the statement, so the webhook is
/// answered (with the apology) instead of waiting past the provider's
/// 15 s. Shorter than the default webhook budget (5 s), so the store gives
/// up first and the connection goes back to the pool.
const LOCK_TIMEOUT: &str = "3s";

/// `options` with [`LOCK_TIMEOUT`] set for every session, unless the URL's
/// own `options` already set a `lock_timeout`.
fn with_lock_timeout(options: PgConnectOptions) -> PgConnectOptions {
    let already_set = options
        .get_options()
        .is_some_and(|o| o.contains("lock_timeout"));
    if already_set {
        options
    } else {
        options.options([("lock_timeout", LOCK_TIMEOUT)])
    }
}

/// The PostgreSQL implementation of [`Store`](super::Store).
pub struct PostgresStore {
    pool: PgPool,
    /// Where `advance_call` queues for the group commit (see
    /// [`super::group_commit`]); up to half the pool runs batches at once.
    advances: GroupCommit<Advance>,
}

impl PostgresStore {
    /// Pool size when the URL has no `?max_connections=N`. Each webhook holds a
    /// connection for two short round trips, so a handful of connections per
    /// replica keeps a small PostgreSQL busy; more would mostly queue inside the
    /// server, and N replicas multiply it against `max_connections` (100 by default).
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

    /// Connects a pool and migrates. See [`super::connect`] for the URL.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let (url, max) = take_count_param(url, "max_connections")?;
        let max = max.unwrap_or(Self::DEFAULT_MAX_CONNECTIONS).max(1);
        let options = PgConnectOptions::from_str(&url)?;
        // Migrations run first, on their own connection without the lock
        // timeout below: a second replica starting at the same time waits
        // on the migrator's lock for as long as the first one migrates.
        let mut migrating = <PgConnection as sqlx::Connection>::connect_with(&options).await?;
        MIGRATOR.run(&mut migrating).await?;
        sqlx::Connection::close(migrating).await?;
        let pool = PgPoolOptions::new()
            .max_connections(max)
            .min_connections(max.min(2))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // After a database restart every idle connection is dead; a
            // ping as each one is handed out replaces it before a webhook
            // uses it, so a blip costs at most the requests in flight. One
            // round trip per acquire (well under a millisecond on a LAN).
            .test_before_acquire(true)
            .connect_with(with_lock_timeout(options))
            .await?;
        let batches = Arc::new(PgBatches { pool: pool.clone() });
        Ok(Self {
            advances: GroupCommit::spawn(batches, (max as usize).div_ceil(2)),
            pool,
        })
    }

    /// The pool, for code (and tests) that need plain SQL.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

const INSERT_CALL: &str = "INSERT INTO calls \
    (call_sid, flow, flow_hash, direction, from_phone, to_phone, status, state, seq, response, \
    started_at, follows_call_sid, follows_handoff_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (call_sid) DO NOTHING";

/// Applies batches of advances, each in one statement on one connection.
struct PgBatches {
    pool: PgPool,
}

#[async_trait::async_trait]
impl ApplyBatch<Advance> for PgBatches {
    async fn apply(&self, advances: &[&Advance]) -> StoreResult<HashSet<String>> {
        // In CallSid order, so that two batches touching the same calls
        // (duplicate webhooks on two replicas) lock rows in the same order
        // and cannot deadlock each other.
        let mut advances = advances.to_vec();
        advances.sort_by(|a, b| a.call_sid.cmp(&b.call_sid));
        let n = advances.len();
        let mut calls = Calls::with_capacity(n);
        let mut answers = Answers::default();
        let mut opt_outs = OptOuts::default();
        let mut handoffs = Handoffs::default();
        let mut recordings = Recordings::default();
        for a in &advances {
            calls.push(a);
            for x in &a.answers {
                answers.call_sid.push(a.call_sid.as_str());
                answers.question.push(x.question.as_str());
                answers.value.push(x.value.to_string());
                answers.raw.push(x.raw.as_deref());
                answers.confidence.push(x.confidence);
                answers.attempt.push(x.attempt);
                answers.answered_at.push(x.answered_at);
            }
            if let Some(o) = &a.opt_out {
                opt_outs.advance.push(a.call_sid.as_str());
                opt_outs.phone.push(o.phone.as_str());
                opt_outs
                    .call_sid
                    .push(o.call_sid.as_ref().map(CallSid::as_str));
                opt_outs.at.push(o.at);
            }
            if let Some(h) = &a.handoff {
                handoffs.call_sid.push(a.call_sid.as_str());
                handoffs.step.push(h.step.as_str());
                handoffs.target.push(h.target.as_str());
                handoffs.status.push(h.status.as_str());
                handoffs.reason.push(h.reason.as_str());
                handoffs.summary.push(h.summary.to_string());
                handoffs.created_at.push(h.created_at);
            }
            if let Some(r) = &a.recording {
                recordings.advance.push(a.call_sid.as_str());
                recordings.call_sid.push(r.call_sid.as_str());
                recordings.question.push(r.question.as_str());
                recordings.url.push(r.url.as_str());
                recordings.duration_secs.push(r.duration_secs);
                recordings.at.push(r.at);
                recordings.recording_sid.push(r.recording_sid.as_deref());
            }
        }
        let moved: Vec<String> = sqlx::query_scalar(ADVANCE_BATCH)
            .bind(calls.call_sid)
            .bind(calls.from_seq)
            .bind(calls.to_seq)
            .bind(calls.state)
            .bind(calls.response)
            .bind(calls.status)
            .bind(calls.outcome)
            .bind(calls.ended_at)
            .bind(answers.call_sid)
            .bind(answers.question)
            .bind(answers.value)
            .bind(answers.raw)
            .bind(answers.confidence)
            .bind(answers.attempt)
            .bind(answers.answered_at)
            .bind(opt_outs.advance)
            .bind(opt_outs.phone)
            .bind(opt_outs.call_sid)
            .bind(opt_outs.at)
            .bind(handoffs.call_sid)
            .bind(handoffs.step)
            .bind(handoffs.target)
            .bind(handoffs.status)
            .bind(handoffs.reason)
            .bind(handoffs.summary)
            .bind(handoffs.created_at)
            .bind(recordings.advance)
            .bind(recordings.call_sid)
            .bind(recordings.question)
            .bind(recordings.url)
            .bind(recordings.duration_secs)
            .bind(recordings.at)
            .bind(recordings.recording_sid)
            .fetch_all(&self.pool)
            .await?;
        Ok(moved.into_iter().collect())
    }
}

/// The batch's columns, one array per column (bound as PostgreSQL arrays and
/// `unnest`ed back into rows), borrowing from the advances.
struct Calls<'a> {
    call_sid: Vec<&'a str>,
    from_seq: Vec<i64>,
    to_seq: Vec<i64>,
    state: Vec<&'a str>,
    response: Vec<&'a str>,
    status: Vec<Option<&'a str>>,
    outcome: Vec<Option<&'a str>>,
    ended_at: Vec<Option<DateTime<Utc>>>,
}

impl<'a> Calls<'a> {
    fn with_capacity(n: usize) -> Self {
        Self {
            call_sid: Vec::with_capacity(n),
            from_seq: Vec::with_capacity(n),
            to_seq: Vec::with_capacity(n),
            state: Vec::with_capacity(n),
            response: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            outcome: Vec::with_capacity(n),
            ended_at: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, a: &'a Advance) {
        self.call_sid.push(a.call_sid.as_str());
        self.from_seq.push(a.from_seq);
        self.to_seq.push(a.to_seq);
        self.state.push(&a.state);
        self.response.push(&a.response);
        self.status.push(a.status.map(CallStatus::as_str));
        self.outcome.push(a.outcome.map(Outcome::as_str));
        self.ended_at.push(a.ended_at);
    }
}

#[derive(Default)]
struct Answers<'a> {
    call_sid: Vec<&'a str>,
    question: Vec<&'a str>,
    value: Vec<String>,
    raw: Vec<Option<&'a str>>,
    confidence: Vec<Option<f32>>,
    attempt: Vec<i32>,
    answered_at: Vec<DateTime<Utc>>,
}

#[derive(Default)]
struct OptOuts<'a> {
    advance: Vec<&'a str>,
    phone: Vec<&'a str>,
    call_sid: Vec<Option<&'a str>>,
    at: Vec<DateTime<Utc>>,
}

#[derive(Default)]
struct Handoffs<'a> {
    call_sid: Vec<&'a str>,
    step: Vec<&'a str>,
    target: Vec<&'a str>,
    status: Vec<&'a str>,
    reason: Vec<&'a str>,
    summary: Vec<String>,
    created_at: Vec<DateTime<Utc>>,
}

#[derive(Default)]
struct Recordings<'a> {
    advance: Vec<&'a str>,
    call_sid: Vec<&'a str>,
    question: Vec<&'a str>,
    url: Vec<&'a str>,
    duration_secs: Vec<Option<i32>>,
    at: Vec<DateTime<Utc>>,
    recording_sid: Vec<Option<&'a str>>,
}

/// A batch of advances as ONE statement: one round trip, one plan, one
/// commit (a statement is its own transaction, so all of it is written or
/// none).
///
/// `moved` is the compare-and-swap: `seq = from_seq` per call. Under READ
/// COMMITTED a racing UPDATE of the same call (another replica) waits for the
/// first to commit, re-checks `seq` on the new row version and matches
/// nothing. Every insert joins `moved`, so a Stale advance inserts nothing;
/// each answer takes its seq from the row as moved (`to_seq`). Should any
/// insert fail (say the unique (call_sid, seq, question)), the statement
/// fails whole. Returns the CallSids that moved.
const ADVANCE_BATCH: &str = "WITH input AS ( \
        SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], \
            $6::text[], $7::text[], $8::timestamptz[]) \
            AS i(call_sid, from_seq, to_seq, state, response, status, outcome, ended_at) \
    ), moved AS ( \
        UPDATE calls c SET seq = i.to_seq, state = i.state, response = i.response, \
            status = COALESCE(i.status, c.status), outcome = COALESCE(i.outcome, c.outcome), \
            ended_at = COALESCE(c.ended_at, i.ended_at) \
        FROM input i WHERE c.call_sid = i.call_sid AND c.seq = i.from_seq \
        RETURNING c.call_sid, c.seq \
    ), new_answers AS ( \
        INSERT INTO answers (call_sid, seq, question, value, raw, confidence, attempt, \
            answered_at) \
        SELECT m.call_sid, m.seq, x.question, x.value::jsonb, x.raw, x.confidence, x.attempt, \
            x.answered_at \
        FROM unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::real[], \
            $14::int4[], $15::timestamptz[]) WITH ORDINALITY \
            AS x(call_sid, question, value, raw, confidence, attempt, answered_at, n) \
        JOIN moved m ON m.call_sid = x.call_sid \
        ORDER BY x.n \
    ), new_opt_outs AS ( \
        INSERT INTO opt_outs (phone, call_sid, created_at) \
        SELECT o.phone, o.call_sid, o.at \
        FROM unnest($16::text[], $17::text[], $18::text[], $19::timestamptz[]) WITH ORDINALITY \
            AS o(advance, phone, call_sid, at, n) \
        JOIN moved m ON m.call_sid = o.advance \
        ORDER BY o.n \
        ON CONFLICT (phone) DO NOTHING \
    ), new_handoffs AS ( \
        INSERT INTO handoffs (call_sid, step, target, status, reason, summary, created_at) \
        SELECT m.call_sid, h.step, h.target, h.status, h.reason, h.summary::jsonb, h.created_at \
        FROM unnest($20::text[], $21::text[], $22::text[], $23::text[], $24::text[], \
            $25::text[], $26::timestamptz[]) WITH ORDINALITY \
            AS h(call_sid, step, target, status, reason, summary, created_at, n) \
        JOIN moved m ON m.call_sid = h.call_sid \
        ORDER BY h.n \
    ), new_recordings AS ( \
        INSERT INTO recordings (call_sid, question, url, duration_secs, recording_sid, \
            created_at) \
        SELECT r.call_sid, r.question, r.url, r.duration_secs, r.recording_sid, r.at \
        FROM unnest($27::text[], $28::text[], $29::text[], $30::text[], $31::int4[], \
            $32::timestamptz[], $33::text[]) WITH ORDINALITY \
            AS r(advance, call_sid, question, url, duration_secs, at, recording_sid, n) \
        JOIN moved m ON m.call_sid = r.advance \
        ORDER BY r.n \
        ON CONFLICT (recording_sid) DO NOTHING \
    ) \
    SELECT call_sid FROM moved";

const UPDATE_STATUS: &str = "UPDATE calls SET \
    status = CASE WHEN ended_at IS NOT NULL AND NOT $1 THEN status ELSE $2 END, \
    ended_at = CASE WHEN $1 THEN COALESCE(ended_at, $3) ELSE ended_at END \
    WHERE call_sid = $4";

/// Claims due contacts for [`Backend::CLAIM_DUE`]: `FOR UPDATE SKIP LOCKED`
/// lets every replica's workers claim at once without ever handing one
/// contact to two.
const CLAIM_DUE: &str = "UPDATE contacts c SET state = 'calling', lease_until = $2 \
    FROM campaigns k \
    WHERE k.id = c.campaign_id AND c.id IN ( \
        SELECT d.id FROM contacts d JOIN campaigns m ON m.id = d.campaign_id \
        WHERE m.status = 'running' \
          AND ((d.state = 'pending' AND d.next_at <= $1) \
            OR (d.state = 'calling' AND d.lease_until < $1)) \
        ORDER BY d.next_at, d.id LIMIT $3 \
        FOR UPDATE OF d SKIP LOCKED) \
    RETURNING c.id, c.campaign_id, COALESCE(c.flow, k.flow) AS flow, k.plan, c.phone, \
        c.timezone, c.attempts";

/// Claims due recording jobs for [`Backend::CLAIM_RECORDINGS`]: `FOR
/// UPDATE SKIP LOCKED`, so the workers of every replica share the queue
/// and never fetch one recording twice at once.
const CLAIM_RECORDINGS: &str = "UPDATE recording_media m SET lease_until = $2, \
        attempts = m.attempts + 1 \
    WHERE m.recording_sid IN ( \
        SELECT d.recording_sid FROM recording_media d \
        WHERE d.stage IN ($4, $5, $6) \
          AND d.next_at <= $1 AND (d.lease_until IS NULL OR d.lease_until < $1) \
        ORDER BY d.next_at LIMIT $3 \
        FOR UPDATE OF d SKIP LOCKED) \
    RETURNING m.recording_sid, m.call_sid, m.source_url, m.stage, m.attempts, \
        (SELECT c.flow FROM calls c WHERE c.call_sid = m.call_sid) AS flow";

/// Call pacing on the database's clock, one for all replicas.
/// `clock_timestamp()`, not `now()`: the time when the row's lock is held
/// (`now()` is when the statement's transaction began, which may be before
/// another replica's reservation committed).
const RESERVE_DIAL_SLOT: &str = "INSERT INTO dial_pacing AS p (account, next_at) \
    VALUES ($1, clock_timestamp() + $2 * interval '1 microsecond') \
    ON CONFLICT (account) DO UPDATE \
    SET next_at = GREATEST(p.next_at, clock_timestamp()) + $2 * interval '1 microsecond' \
    RETURNING EXTRACT(EPOCH FROM \
        p.next_at - $2 * interval '1 microsecond' - clock_timestamp())::float8";

impl Dialect for Postgres {
    fn bind_time<'q>(query: Stmt<'q, Self>, at: Option<DateTime<Utc>>) -> Stmt<'q, Self> {
        query.bind(at)
    }

    /// `date_trunc('week', …)` starts weeks on Monday (ISO 8601); the time
    /// is taken in UTC, as SQLite's text is.
    fn period_start(by: super::trends::Period) -> &'static str {
        match by {
            super::trends::Period::Day => "to_char(c.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            super::trends::Period::Week => {
                "to_char(date_trunc('week', c.started_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
            }
        }
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }
}

impl Lent for PoolConnection<Postgres> {
    /// A pooled connection that failed is the pool's to replace.
    async fn finish<T: Send>(&mut self, result: Result<T, sqlx::Error>) -> StoreResult<T> {
        Ok(result?)
    }
}

impl Backend for PostgresStore {
    type Db = Postgres;
    type Conn<'a> = PoolConnection<Postgres>;

    const NAME: &'static str = "postgres";
    const CLAIM_DUE: &'static str = CLAIM_DUE;
    const CLAIM_RECORDINGS: &'static str = CLAIM_RECORDINGS;

    async fn read(&self) -> StoreResult<PoolConnection<Postgres>> {
        Ok(self.pool.acquire().await?)
    }

    async fn write(&self) -> StoreResult<PoolConnection<Postgres>> {
        Ok(self.pool.acquire().await?)
    }

    async fn create_call(&self, c: NewCall) -> StoreResult<bool> {
        let done = sqlx::query(INSERT_CALL)
            .bind(c.call_sid.as_str())
            .bind(&c.flow)
            .bind(&c.flow_hash)
            .bind(c.direction.as_str())
            .bind(&c.from)
            .bind(&c.to)
            .bind(c.status.as_str())
            .bind(&c.state)
            .bind(c.seq)
            .bind(&c.response)
            .bind(c.started_at)
            .bind(c.follows.as_ref().map(|f| f.call.as_str()))
            .bind(c.follows.as_ref().and_then(|f| f.handoff).map(|h| h.0))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn advance_call(&self, a: Advance) -> StoreResult<Advanced> {
        Ok(advanced(self.advances.write(a).await?))
    }

    async fn update_status(&self, s: ProviderStatus<'_>) -> StoreResult<bool> {
        let done = sqlx::query(UPDATE_STATUS)
            .bind(s.status.is_final())
            .bind(s.status.as_str())
            .bind(s.at)
            .bind(s.call_sid.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn reserve_dial_slot(&self, account: &str, interval: Duration) -> StoreResult<Duration> {
        let step = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX);
        let wait: f64 = sqlx::query_scalar(RESERVE_DIAL_SLOT)
            .bind(account)
            .bind(step)
            .fetch_one(&self.pool)
            .await?;
        Ok(Duration::try_from_secs_f64(wait).unwrap_or(Duration::ZERO))
    }
}
