//! [`Store`] for every [`Backend`]: the call reads and the writes beside the
//! webhook path (flow versions, handoffs, opt-outs, recordings).

use chrono::{DateTime, Utc};

use super::super::rows::{all, answer_row, call_row, handoff_row, typed};
use super::super::{
    Advance, Advanced, AnswerRow, CallRow, CallSid, CallStatus, CampaignStore, HandoffRow,
    HandoffStatus, HandoffStore, NewCall, NewOptOut, NewRecording, RecordingStore, ReportStore,
    Store, StoreResult,
};
use super::{
    Backend, ColExt, On, ProviderStatus, StmtExt, execute, fetch_all, fetch_optional, query,
};

const INSERT_FLOW_VERSION: &str = "INSERT INTO flow_versions (hash, name, source, created_at) \
    VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING";

const SELECT_CALL: &str = "SELECT call_sid, flow, flow_hash, direction, from_phone, to_phone, \
    status, outcome, state, seq, response, started_at, ended_at, follows_call_sid, \
    follows_handoff_id FROM calls WHERE call_sid = $1";

/// `$1`: the newest final status still unfinished; `$2`: how many. The
/// partial index `calls_hung_up_unfinished` holds exactly these rows.
const SELECT_HUNG_UP_UNFINISHED: &str = "SELECT call_sid, seq FROM calls \
    WHERE outcome IS NULL AND ended_at IS NOT NULL AND ended_at <= $1 \
    ORDER BY ended_at LIMIT $2";

/// JSON columns are read as text: PostgreSQL's are JSONB, SQLite's TEXT.
const SELECT_ANSWERS: &str = "SELECT call_sid, seq, question, CAST(value AS TEXT) AS value, raw, \
    confidence, attempt, answered_at FROM answers WHERE call_sid = $1 ORDER BY seq, id";

/// `$1`: only handoffs in this status, or NULL for all.
const SELECT_HANDOFFS: &str = "SELECT h.id, h.call_sid, c.flow, h.step, h.target, h.status, \
    h.reason, CAST(h.summary AS TEXT) AS summary, h.created_at, h.resolved_at \
    FROM handoffs h JOIN calls c ON c.call_sid = h.call_sid \
    WHERE ($1 IS NULL OR h.status = $1) \
    ORDER BY h.created_at DESC, h.id DESC";

const INSERT_OPT_OUT: &str = "INSERT INTO opt_outs (phone, call_sid, created_at) \
    VALUES ($1, $2, $3) ON CONFLICT (phone) DO NOTHING";

const IS_OPTED_OUT: &str = "SELECT 1 AS found FROM opt_outs WHERE phone = $1";

const INSERT_RECORDING: &str = "INSERT INTO recordings \
    (call_sid, question, url, duration_secs, recording_sid, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (recording_sid) DO NOTHING";

#[async_trait::async_trait]
impl<B: Backend> Store for B {
    fn reports(&self) -> &dyn ReportStore {
        self
    }

    fn campaigns(&self) -> &dyn CampaignStore {
        self
    }

    fn handoff_log(&self) -> &dyn HandoffStore {
        self
    }

    fn recordings(&self) -> &dyn RecordingStore {
        self
    }

    fn backend(&self) -> &'static str {
        B::NAME
    }

    async fn health(&self) -> StoreResult<()> {
        fetch_optional(self, On::Read, query::<B>("SELECT 1 AS one"))
            .await
            .map(drop)
    }

    async fn save_flow_version(&self, name: &str, hash: &str, source: &str) -> StoreResult<()> {
        let stmt = query::<B>(INSERT_FLOW_VERSION)
            .arg(hash)
            .arg(name)
            .arg(source)
            .at(Utc::now());
        execute(self, stmt).await.map(drop)
    }

    async fn create_call(&self, call: NewCall) -> StoreResult<bool> {
        Backend::create_call(self, call).await
    }

    async fn load_call(&self, call_sid: &CallSid) -> StoreResult<Option<CallRow>> {
        let stmt = query::<B>(SELECT_CALL).arg(call_sid.as_str());
        let row = fetch_optional(self, On::Read, stmt).await?;
        Ok(row.as_ref().map(call_row).transpose()?)
    }

    async fn advance_call(&self, advance: Advance) -> StoreResult<Advanced> {
        Backend::advance_call(self, advance).await
    }

    async fn update_status(
        &self,
        call_sid: &CallSid,
        status: CallStatus,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let update = ProviderStatus {
            call_sid,
            status,
            at,
        };
        Backend::update_status(self, update).await
    }

    async fn hung_up_unfinished(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<(CallSid, i64)>> {
        let stmt = query::<B>(SELECT_HUNG_UP_UNFINISHED).at(before).arg(limit);
        let rows = fetch_all(self, On::Read, stmt).await?;
        let calls = rows
            .iter()
            .map(|r| Ok((typed(r, "call_sid")?, r.col("seq")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(calls)
    }

    async fn answers(&self, call_sid: &CallSid) -> StoreResult<Vec<AnswerRow>> {
        let stmt = query::<B>(SELECT_ANSWERS).arg(call_sid.as_str());
        let rows = fetch_all(self, On::Read, stmt).await?;
        Ok(all(&rows, answer_row)?)
    }

    async fn handoffs(&self, status: Option<HandoffStatus>) -> StoreResult<Vec<HandoffRow>> {
        let stmt = query::<B>(SELECT_HANDOFFS).arg(status.map(HandoffStatus::as_str));
        let rows = fetch_all(self, On::Read, stmt).await?;
        Ok(all(&rows, handoff_row)?)
    }

    async fn add_opt_out(&self, o: NewOptOut) -> StoreResult<()> {
        let stmt = query::<B>(INSERT_OPT_OUT)
            .arg(o.phone.as_str())
            .arg(o.call_sid.as_ref().map(CallSid::as_str))
            .at(o.at);
        execute(self, stmt).await.map(drop)
    }

    async fn is_opted_out(&self, phone: &str) -> StoreResult<bool> {
        let stmt = query::<B>(IS_OPTED_OUT).arg(phone);
        Ok(fetch_optional(self, On::Read, stmt).await?.is_some())
    }

    async fn add_recording(&self, r: NewRecording) -> StoreResult<()> {
        let stmt = query::<B>(INSERT_RECORDING)
            .arg(r.call_sid.as_str())
            .arg(r.question.as_str())
            .arg(r.url.as_str())
            .arg(r.duration_secs)
            .arg(r.recording_sid.as_deref())
            .at(r.at);
        execute(self, stmt).await.map(drop)
    }
}
