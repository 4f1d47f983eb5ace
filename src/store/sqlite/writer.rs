//! SQLite's one writing connection, and how it applies a batch of a call's
//! writes (new calls, advances, provider statuses; see
//! [`crate::store::group_commit`]) in one transaction and one trip to sqlx's
//! SQLite worker thread.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Row};
use tokio::sync::{Mutex, MutexGuard};

use super::ts;
use crate::store::group_commit::{ApplyBatch, CallWrite, MAX_BATCH};
use crate::store::{Advance, CallSid, CallStatus, NewCall, Outcome, StoreResult};

/// A write that waits for the writer's next batch.
///
/// Why new calls and statuses too, not only advances: with `synchronous =
/// FULL` every commit waits for the disk, and a call makes one of each kind
/// per webhook (the first webhook creates it, the last stores its status).
/// Committed alone they cost a flush each and queue every other webhook
/// behind it on the one writer; in a batch they share its flush.
pub(super) enum Write {
    /// Boxed: an advance is twice the size of the others, and every write
    /// is moved through the queue.
    Advance(Box<Advance>),
    /// Takes effect unless the CallSid is already stored.
    Create(NewCall),
    /// Takes effect if the call is stored.
    Status(StatusUpdate),
}

/// A provider's status for a call; see [`crate::store::Store::update_status`].
pub(super) struct StatusUpdate {
    pub(super) call_sid: CallSid,
    pub(super) status: CallStatus,
    pub(super) at: DateTime<Utc>,
}

impl CallWrite for Write {
    fn call_sid(&self) -> &str {
        match self {
            Write::Advance(a) => a.call_sid.as_str(),
            Write::Create(c) => c.call_sid.as_str(),
            Write::Status(s) => s.call_sid.as_str(),
        }
    }
}

/// The writing connection, shared by the advance task and the other writes.
pub(in crate::store) struct Writer {
    conn: SqliteConnection,
    /// Opens a fresh connection if this one's worker thread dies.
    options: SqliteConnectOptions,
    /// Set while a batch runs. If the task running it is dropped mid-way (the
    /// runtime shutting down), sqlx stops the batch before its COMMIT; the
    /// next user of the writer then rolls it back.
    in_transaction: bool,
}

impl Writer {
    pub(super) fn new(conn: SqliteConnection, options: SqliteConnectOptions) -> Self {
        Self {
            conn,
            options,
            in_transaction: false,
        }
    }

    pub(super) fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }

    pub(super) fn conn_ref(&self) -> &SqliteConnection {
        &self.conn
    }

    /// Turns a statement's result into the store's, first reopening the
    /// connection if its worker thread died, so that one crash does not fail
    /// every later write.
    pub(super) async fn finish<T>(&mut self, result: Result<T, sqlx::Error>) -> StoreResult<T> {
        if let Err(sqlx::Error::WorkerCrashed) = &result {
            match self.options.connect().await {
                Ok(fresh) => {
                    tracing::warn!("SQLite writer reopened after its worker thread crashed");
                    self.conn = fresh;
                    self.in_transaction = false;
                }
                Err(e) => tracing::error!(error = %e, "could not reopen the SQLite writer"),
            }
        }
        Ok(result?)
    }
}

/// Locks the writer, rolling back a transaction an abandoned batch left open.
pub(super) async fn lock(writer: &Mutex<Writer>) -> MutexGuard<'_, Writer> {
    let mut w = writer.lock().await;
    if w.in_transaction {
        // "no transaction is active" is fine: the batch may have reached its
        // COMMIT before it was abandoned.
        let _ = sqlx::query("ROLLBACK").execute(&mut w.conn).await;
        w.in_transaction = false;
    }
    w
}

/// Applies batches of writes on the writer.
pub(super) struct SqliteBatches {
    pub(super) writer: Arc<Mutex<Writer>>,
}

#[async_trait::async_trait]
impl ApplyBatch<Write> for SqliteBatches {
    async fn apply(&self, writes: &[&Write]) -> StoreResult<HashSet<String>> {
        let mut w = lock(&self.writer).await;
        let result = run_batch(&mut w, writes).await;
        w.finish(result).await
    }
}

fn to_json<T: Serialize>(rows: &T) -> Result<Arc<str>, sqlx::Error> {
    Ok(serde_json::to_string(rows)
        .map_err(|e| sqlx::Error::Encode(Box::new(e)))?
        .into())
}

/// Runs [`batch_sql`] for these writes; returns the CallSids whose write
/// took effect.
async fn run_batch(w: &mut Writer, writes: &[&Write]) -> Result<HashSet<String>, sqlx::Error> {
    if writes.is_empty() || writes.len() > MAX_BATCH {
        return Err(sqlx::Error::InvalidArgument(format!(
            "a batch holds 1 to {MAX_BATCH} writes, not {}",
            writes.len()
        )));
    }
    let (mut creates, mut advances, mut statuses) = (Vec::new(), Vec::new(), Vec::new());
    for write in writes {
        match write {
            Write::Create(c) => creates.push(CreateJson::new(c)),
            Write::Advance(a) => advances.push(a),
            Write::Status(s) => statuses.push(StatusJson::new(s)),
        }
    }
    let inserts: Vec<InsertsJson<'_>> = advances.iter().map(|a| InsertsJson::new(a)).collect();
    let parts = Parts {
        advances: advances.len(),
        creates: !creates.is_empty(),
        answers: inserts.iter().any(|i| !i.answers.is_empty()),
        opt_outs: inserts.iter().any(|i| i.opt_out.is_some()),
        handoffs: inserts.iter().any(|i| i.handoff.is_some()),
        recordings: inserts.iter().any(|i| i.recording.is_some()),
        statuses: !statuses.is_empty(),
    };
    let mut query = sqlx::query(batch_sql(parts));
    if parts.creates {
        query = query.bind(to_json(&creates)?);
    }
    let json = to_json(&inserts)?;
    for _ in 0..parts.inserts() {
        query = query.bind(Arc::clone(&json));
    }
    for a in advances {
        query = query
            .bind(a.call_sid.as_str())
            .bind(a.from_seq)
            .bind(a.to_seq)
            .bind(&a.state)
            .bind(&a.response)
            .bind(a.status.map(CallStatus::as_str))
            .bind(a.outcome.map(Outcome::as_str))
            .bind(a.ended_at.as_ref().map(ts));
    }
    if parts.statuses {
        query = query.bind(to_json(&statuses)?);
    }
    w.in_transaction = true;
    // `fetch_all`, not `fetch_optional`: the latter stops the batch at the
    // first row, before the COMMIT.
    let result = query.fetch_all(&mut w.conn).await;
    if result.is_err() {
        // SQLite stopped at the failing statement, inside the transaction.
        let _ = sqlx::query("ROLLBACK").execute(&mut w.conn).await;
    }
    w.in_transaction = false;
    result?
        .iter()
        .map(|row| row.try_get::<String, _>(0))
        .collect()
}

/// A new call, as an element of the batch's [`CREATE_CALLS`] parameter.
#[derive(Serialize)]
struct CreateJson<'a> {
    call_sid: &'a str,
    flow: &'a str,
    flow_hash: &'a str,
    direction: &'a str,
    from: &'a str,
    to: &'a str,
    status: &'a str,
    state: &'a str,
    seq: i64,
    response: &'a str,
    started_at: String,
    follows_call_sid: Option<&'a str>,
    follows_handoff_id: Option<i64>,
}

impl<'a> CreateJson<'a> {
    fn new(c: &'a NewCall) -> Self {
        Self {
            call_sid: c.call_sid.as_str(),
            flow: &c.flow,
            flow_hash: &c.flow_hash,
            direction: c.direction.as_str(),
            from: &c.from,
            to: &c.to,
            status: c.status.as_str(),
            state: &c.state,
            seq: c.seq,
            response: &c.response,
            started_at: ts(&c.started_at),
            follows_call_sid: c.follows.as_ref().map(|f| f.call.as_str()),
            follows_handoff_id: c.follows.as_ref().and_then(|f| f.handoff).map(|h| h.0),
        }
    }
}

/// A provider status, as an element of the batch's [`UPDATE_STATUSES`]
/// parameter.
#[derive(Serialize)]
struct StatusJson<'a> {
    call_sid: &'a str,
    status: &'a str,
    at: String,
    is_final: bool,
}

impl<'a> StatusJson<'a> {
    fn new(s: &'a StatusUpdate) -> Self {
        Self {
            call_sid: s.call_sid.as_str(),
            status: s.status.as_str(),
            at: ts(&s.at),
            is_final: s.status.is_final(),
        }
    }
}

/// What the inserts of a batch need to know of each advance, as one JSON
/// array: one parameter however many answers, opt-outs, handoffs and
/// recordings the batch holds, so their statements' text stays the same.
#[derive(Serialize)]
struct InsertsJson<'a> {
    call_sid: &'a str,
    from_seq: i64,
    to_seq: i64,
    answers: Vec<AnswerJson<'a>>,
    opt_out: Option<OptOutJson<'a>>,
    handoff: Option<HandoffJson<'a>>,
    recording: Option<RecordingJson<'a>>,
}

#[derive(Serialize)]
struct AnswerJson<'a> {
    question: &'a str,
    value: &'a serde_json::Value,
    raw: Option<&'a str>,
    confidence: Option<f32>,
    attempt: i32,
    answered_at: String,
}

#[derive(Serialize)]
struct OptOutJson<'a> {
    phone: &'a str,
    call_sid: Option<&'a str>,
    at: String,
}

#[derive(Serialize)]
struct HandoffJson<'a> {
    step: &'a str,
    target: &'a str,
    status: &'a str,
    reason: &'a str,
    summary: &'a serde_json::Value,
    created_at: String,
}

#[derive(Serialize)]
struct RecordingJson<'a> {
    call_sid: &'a str,
    question: &'a str,
    url: &'a str,
    duration_secs: Option<i32>,
    recording_sid: Option<&'a str>,
    at: String,
}

impl<'a> InsertsJson<'a> {
    fn new(a: &'a Advance) -> Self {
        Self {
            call_sid: a.call_sid.as_str(),
            from_seq: a.from_seq,
            to_seq: a.to_seq,
            answers: a
                .answers
                .iter()
                .map(|n| AnswerJson {
                    question: &n.question,
                    value: &n.value,
                    raw: n.raw.as_deref(),
                    confidence: n.confidence,
                    attempt: n.attempt,
                    answered_at: ts(&n.answered_at),
                })
                .collect(),
            opt_out: a.opt_out.as_ref().map(|o| OptOutJson {
                phone: &o.phone,
                call_sid: o.call_sid.as_ref().map(CallSid::as_str),
                at: ts(&o.at),
            }),
            handoff: a.handoff.as_ref().map(|h| HandoffJson {
                step: &h.step,
                target: &h.target,
                status: h.status.as_str(),
                reason: &h.reason,
                summary: &h.summary,
                created_at: ts(&h.created_at),
            }),
            recording: a.recording.as_ref().map(|r| RecordingJson {
                call_sid: r.call_sid.as_str(),
                question: &r.question,
                url: &r.url,
                duration_secs: r.duration_secs,
                recording_sid: r.recording_sid.as_deref(),
                at: ts(&r.at),
            }),
        }
    }
}

/// What a batch holds, which decides its SQL text: a statement with
/// nothing to do is left out rather than run on an empty array. A webhook's
/// batch is most often one advance with an answer and nothing else, and
/// each statement left out is one parse of the batch's JSON and one
/// statement run fewer.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Parts {
    advances: usize,
    creates: bool,
    answers: bool,
    opt_outs: bool,
    handoffs: bool,
    recordings: bool,
    statuses: bool,
}

impl Parts {
    /// How many of [`BATCH_INSERTS`] run, each taking the JSON parameter.
    fn inserts(self) -> usize {
        self.wanted_inserts().into_iter().filter(|&x| x).count()
    }

    /// Which of [`BATCH_INSERTS`] run, in their order.
    fn wanted_inserts(self) -> [bool; 4] {
        [self.answers, self.opt_outs, self.handoffs, self.recordings]
    }
}

/// The SQL for a batch, in one transaction and one trip to SQLite's worker
/// thread: `BEGIN IMMEDIATE`, [`CREATE_CALLS`], those of [`BATCH_INSERTS`]
/// the batch needs, the advances' UPDATE, [`UPDATE_STATUSES`], `COMMIT`,
/// each statement only if the batch has something for it (see [`Parts`]).
/// One text per [`Parts`], built once and kept: at most `MAX_BATCH + 1`
/// numbers of advances times 64 combinations, far fewer in practice, each
/// prepared once (the writer's statement cache has room for them). New
/// calls and statuses travel as JSON arrays, so their number does not
/// change the text.
///
/// Each statement returns the CallSids it wrote; a batch holds one write
/// per call, so together they name the writes that took effect.
///
/// The inserts take only the advances whose call is still at `from_seq`; the
/// UPDATE, which moves the calls on, comes after them. Inside the transaction
/// nothing else writes and a batch holds one write per call, so an insert's
/// guard and the UPDATE's own `seq = from_seq` agree: an advance is written
/// whole, or (Stale) not at all. The UPDATE keeps an `ended_at` already set.
/// `BEGIN IMMEDIATE` takes the write lock at once, so waiting on another
/// process goes through busy_timeout instead of failing when a deferred read
/// lock cannot be upgraded.
///
/// The large state and TwiML of an advance are bound as plain parameters in
/// the VALUES rows, so they are neither escaped into JSON nor parsed out of
/// it.
fn batch_sql(parts: Parts) -> &'static str {
    static TEXTS: OnceLock<std::sync::Mutex<HashMap<Parts, &'static str>>> = OnceLock::new();
    let mut texts = TEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Leaked on purpose: the set of texts is bounded (see above) and each
    // lives as long as the process, as its prepared statement does.
    texts
        .entry(parts)
        .or_insert_with(|| String::leak(batch_text(parts)))
}

fn batch_text(parts: Parts) -> String {
    let mut sql = String::from("BEGIN IMMEDIATE;\n");
    if parts.creates {
        sql.push_str(CREATE_CALLS);
    }
    for (wanted, insert) in parts.wanted_inserts().into_iter().zip(BATCH_INSERTS) {
        if wanted {
            sql.push_str(insert);
        }
    }
    let n = parts.advances.min(MAX_BATCH);
    if n > 0 {
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; n].join(", ");
        sql.push_str(&format!(
            "WITH input (call_sid, from_seq, to_seq, state, response, status, \
                 outcome, ended_at) AS (VALUES {rows})\n\
             UPDATE calls SET seq = input.to_seq, state = input.state, \
                 response = input.response, \
                 status = COALESCE(input.status, calls.status), \
                 outcome = COALESCE(input.outcome, calls.outcome), \
                 ended_at = COALESCE(calls.ended_at, input.ended_at) \
             FROM input \
             WHERE calls.call_sid = input.call_sid AND calls.seq = input.from_seq \
             RETURNING calls.call_sid;\n"
        ));
    }
    if parts.statuses {
        sql.push_str(UPDATE_STATUSES);
    }
    sql.push_str("COMMIT;");
    sql
}

/// The batch's new calls (its `?` is a JSON array of [`CreateJson`]); a
/// CallSid already stored is left as it is (a retried first webhook).
/// `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT.
const CREATE_CALLS: &str = "
INSERT INTO calls (call_sid, flow, flow_hash, direction, from_phone, to_phone, status, state,
        seq, response, started_at, follows_call_sid, follows_handoff_id)
    SELECT c.value ->> 'call_sid', c.value ->> 'flow', c.value ->> 'flow_hash',
        c.value ->> 'direction', c.value ->> 'from', c.value ->> 'to', c.value ->> 'status',
        c.value ->> 'state', c.value ->> 'seq', c.value ->> 'response',
        c.value ->> 'started_at', c.value ->> 'follows_call_sid',
        c.value ->> 'follows_handoff_id'
    FROM jsonb_each(?) AS c WHERE true
    ON CONFLICT (call_sid) DO NOTHING
    RETURNING call_sid;
";

/// The batch's provider statuses (its `?` is a JSON array of [`StatusJson`]):
/// a final status also sets `ended_at` (an earlier one is kept); after the
/// end only a final status may still change `status`, so a late "ringing"
/// does not overwrite "completed".
const UPDATE_STATUSES: &str = "
UPDATE calls SET
    status = CASE WHEN calls.ended_at IS NOT NULL AND NOT s.is_final THEN calls.status
        ELSE s.status END,
    ended_at = CASE WHEN s.is_final THEN COALESCE(calls.ended_at, s.at) ELSE calls.ended_at END
    FROM (SELECT value ->> 'call_sid' AS call_sid, value ->> 'status' AS status,
            value ->> 'at' AS at, value ->> 'is_final' AS is_final
        FROM jsonb_each(?)) AS s
    WHERE calls.call_sid = s.call_sid
    RETURNING calls.call_sid;
";

/// The inserts of the batch's answers, opt-outs, handoffs and recordings, in
/// that order. Each statement's `?` is the batch's JSON array (see [`InsertsJson`]).
/// `jsonb_each` hands each element over as binary JSON, so the `->>`
/// extractions (SQL values) and `->` (JSON text, for the JSON columns) do not
/// parse it again.
const BATCH_INSERTS: [&str; 4] = [
    "
INSERT INTO answers (call_sid, seq, question, value, raw, confidence, attempt, answered_at)
    SELECT a.value ->> 'call_sid', a.value ->> 'to_seq', x.value ->> 'question',
        x.value -> 'value', x.value ->> 'raw', x.value ->> 'confidence',
        x.value ->> 'attempt', x.value ->> 'answered_at'
    FROM jsonb_each(?) AS a, jsonb_each(a.value, '$.answers') AS x
    WHERE EXISTS (SELECT 1 FROM calls c
        WHERE c.call_sid = a.value ->> 'call_sid' AND c.seq = a.value ->> 'from_seq')
    ORDER BY a.key, x.key;
",
    "
INSERT INTO opt_outs (phone, call_sid, created_at)
    SELECT a.value ->> '$.opt_out.phone', a.value ->> '$.opt_out.call_sid',
        a.value ->> '$.opt_out.at'
    FROM jsonb_each(?) AS a
    WHERE a.value ->> '$.opt_out.phone' IS NOT NULL AND EXISTS (SELECT 1 FROM calls c
        WHERE c.call_sid = a.value ->> 'call_sid' AND c.seq = a.value ->> 'from_seq')
    ORDER BY a.key
    ON CONFLICT (phone) DO NOTHING;
",
    "
INSERT INTO handoffs (call_sid, step, target, status, reason, summary, created_at)
    SELECT a.value ->> 'call_sid', a.value ->> '$.handoff.step', a.value ->> '$.handoff.target',
        a.value ->> '$.handoff.status', a.value ->> '$.handoff.reason',
        a.value -> '$.handoff.summary', a.value ->> '$.handoff.created_at'
    FROM jsonb_each(?) AS a
    WHERE a.value ->> '$.handoff.step' IS NOT NULL AND EXISTS (SELECT 1 FROM calls c
        WHERE c.call_sid = a.value ->> 'call_sid' AND c.seq = a.value ->> 'from_seq')
    ORDER BY a.key;
",
    "
INSERT INTO recordings (call_sid, question, url, duration_secs, recording_sid, created_at)
    SELECT a.value ->> '$.recording.call_sid', a.value ->> '$.recording.question',
        a.value ->> '$.recording.url', a.value ->> '$.recording.duration_secs',
        a.value ->> '$.recording.recording_sid', a.value ->> '$.recording.at'
    FROM jsonb_each(?) AS a
    WHERE a.value ->> '$.recording.call_sid' IS NOT NULL AND EXISTS (SELECT 1 FROM calls c
        WHERE c.call_sid = a.value ->> 'call_sid' AND c.seq = a.value ->> 'from_seq')
    ORDER BY a.key
    ON CONFLICT (recording_sid) DO NOTHING;
",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shape a batch can take, as `run_batch` binds it.
    fn every_shape() -> impl Iterator<Item = Parts> {
        (0..=MAX_BATCH).flat_map(|advances| {
            (0..64u8).map(move |bits| Parts {
                advances,
                creates: bits & 1 != 0,
                answers: bits & 2 != 0,
                opt_outs: bits & 4 != 0,
                handoffs: bits & 8 != 0,
                recordings: bits & 16 != 0,
                statuses: bits & 32 != 0,
            })
        })
    }

    #[test]
    fn each_batch_shape_has_exactly_the_placeholders_run_batch_binds() {
        for parts in every_shape() {
            let text = batch_text(parts);
            let binds = usize::from(parts.creates)
                + parts.inserts()
                + 8 * parts.advances
                + usize::from(parts.statuses);
            assert_eq!(text.matches('?').count(), binds, "{text}");
            assert!(text.starts_with("BEGIN IMMEDIATE;") && text.ends_with("COMMIT;"));
        }
    }

    #[test]
    fn a_batch_runs_only_the_statements_it_has_something_for() {
        let one_answer = Parts {
            advances: 1,
            creates: false,
            answers: true,
            opt_outs: false,
            handoffs: false,
            recordings: false,
            statuses: false,
        };
        let text = batch_text(one_answer);
        assert!(text.contains("INSERT INTO answers") && text.contains("UPDATE calls SET seq"));
        for absent in [
            "INSERT INTO calls",
            "opt_outs",
            "handoffs",
            "recordings",
            "is_final",
        ] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        let status_only = Parts {
            advances: 0,
            answers: false,
            statuses: true,
            ..one_answer
        };
        let text = batch_text(status_only);
        assert!(text.contains("is_final") && !text.contains("INSERT") && !text.contains("input"));
        // Built once per shape: the same text every time.
        assert!(std::ptr::eq(batch_sql(one_answer), batch_sql(one_answer)));
    }
}
