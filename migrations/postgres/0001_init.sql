-- dialback schema, PostgreSQL flavour. Keep in step with migrations/sqlite.

-- Every flow version a call ever ran, by content hash, so a stored call can
-- always be explained by the exact source it followed.
CREATE TABLE flow_versions (
    hash       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- One row per call. `state` is the call machine's serialised state and `seq`
-- its step number: each webhook advances both with a compare-and-swap on seq.
-- `response` is the TwiML last answered, replayed to a duplicated webhook.
--
-- `state` is TEXT, not JSONB: the store never looks inside it, TEXT keeps it
-- byte for byte, and it spares a JSON parse on every webhook.
-- fillfactor 80 leaves room on each page so the per-webhook UPDATE (which
-- touches no indexed column) can be a HOT update: no index writes, less bloat.
CREATE TABLE calls (
    call_sid   TEXT PRIMARY KEY,
    flow       TEXT NOT NULL,
    flow_hash  TEXT NOT NULL REFERENCES flow_versions (hash),
    direction  TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    from_phone TEXT NOT NULL,
    to_phone   TEXT NOT NULL,
    status     TEXT NOT NULL,
    outcome    TEXT,
    state      TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    response   TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    ended_at   TIMESTAMPTZ
) WITH (fillfactor = 80);

CREATE INDEX calls_flow_started ON calls (flow, started_at);

-- UNIQUE (call_sid, seq, question): a replayed webhook can never store the
-- same answer twice, even if the seq check were bypassed. It also serves
-- "the answers of a call, in order".
CREATE TABLE answers (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_sid    TEXT NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    seq         BIGINT NOT NULL,
    question    TEXT NOT NULL,
    value       JSONB NOT NULL,
    raw         TEXT,
    confidence  REAL,
    attempt     INTEGER NOT NULL,
    answered_at TIMESTAMPTZ NOT NULL,
    UNIQUE (call_sid, seq, question)
);

CREATE TABLE handoffs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_sid    TEXT NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    step        TEXT NOT NULL,
    target      TEXT NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    summary     JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    resolved_at TIMESTAMPTZ
);

CREATE INDEX handoffs_status_created ON handoffs (status, created_at);
CREATE INDEX handoffs_call ON handoffs (call_sid);

-- Opt-outs outlive the calls they were made in (no foreign key): "do not call
-- again" must hold even after the call's data is purged.
CREATE TABLE opt_outs (
    phone      TEXT PRIMARY KEY,
    call_sid   TEXT,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE recordings (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_sid      TEXT NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    question      TEXT NOT NULL,
    url           TEXT NOT NULL,
    duration_secs INTEGER,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX recordings_call ON recordings (call_sid);
