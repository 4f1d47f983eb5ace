-- dialback schema, SQLite flavour. Keep in step with migrations/postgres.
--
-- STRICT tables make SQLite check column types as PostgreSQL would.
-- Timestamps are TEXT in fixed-width RFC 3339 UTC with six fractional digits
-- ('2026-01-02T03:04:05.123456Z'), so text order is time order. JSON is TEXT
-- checked with json_valid().

-- Every flow version a call ever ran, by content hash, so a stored call can
-- always be explained by the exact source it followed.
CREATE TABLE flow_versions (
    hash       TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;

-- One row per call. `state` is the call machine's serialised state and `seq`
-- its step number: each webhook advances both with a compare-and-swap on seq.
-- `response` is the TwiML last answered, replayed to a duplicated webhook.
CREATE TABLE calls (
    call_sid   TEXT PRIMARY KEY NOT NULL,
    flow       TEXT NOT NULL,
    flow_hash  TEXT NOT NULL REFERENCES flow_versions (hash),
    direction  TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    from_phone TEXT NOT NULL,
    to_phone   TEXT NOT NULL,
    status     TEXT NOT NULL,
    outcome    TEXT,
    state      TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    response   TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at   TEXT
) STRICT;

CREATE INDEX calls_flow_started ON calls (flow, started_at);

-- UNIQUE (call_sid, seq, question): a replayed webhook can never store the
-- same answer twice, even if the seq check were bypassed. It also serves
-- "the answers of a call, in order".
CREATE TABLE answers (
    id          INTEGER PRIMARY KEY,
    call_sid    TEXT NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    question    TEXT NOT NULL,
    value       TEXT NOT NULL CHECK (json_valid(value)),
    raw         TEXT,
    confidence  REAL,
    attempt     INTEGER NOT NULL,
    answered_at TEXT NOT NULL,
    UNIQUE (call_sid, seq, question)
) STRICT;

-- AUTOINCREMENT so that the id an agent was given is never reused, even after
-- the newest handoffs are purged.
CREATE TABLE handoffs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    call_sid    TEXT NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    step        TEXT NOT NULL,
    target      TEXT NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    summary     TEXT NOT NULL CHECK (json_valid(summary)),
    created_at  TEXT NOT NULL,
    resolved_at TEXT
) STRICT;

CREATE INDEX handoffs_status_created ON handoffs (status, created_at);
CREATE INDEX handoffs_call ON handoffs (call_sid);

-- Opt-outs outlive the calls they were made in (no foreign key): "do not call
-- again" must hold even after the call's data is purged.
CREATE TABLE opt_outs (
    phone      TEXT PRIMARY KEY NOT NULL,
    call_sid   TEXT,
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE recordings (
    id            INTEGER PRIMARY KEY,
    call_sid      TEXT NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    question      TEXT NOT NULL,
    url           TEXT NOT NULL,
    duration_secs INTEGER,
    created_at    TEXT NOT NULL
) STRICT;

CREATE INDEX recordings_call ON recordings (call_sid);
