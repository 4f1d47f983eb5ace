-- Closing the loop (issue 17): linked calls and the handoff life cycle.
-- Keep in step with migrations/sqlite/0009_linked_calls.sql.

-- The earlier call a call follows up, and the handoff it confirms. No
-- foreign key: a follow-up outlives the purge of the call it followed.
ALTER TABLE calls ADD COLUMN follows_call_sid TEXT;
ALTER TABLE calls ADD COLUMN follows_handoff_id BIGINT;

CREATE INDEX calls_follows ON calls (follows_call_sid)
    WHERE follows_call_sid IS NOT NULL;

ALTER TABLE contacts ADD COLUMN follows_call_sid TEXT;
ALTER TABLE contacts ADD COLUMN follows_handoff_id BIGINT;

-- `survey` or `confirmations` (see the SQLite migration).
ALTER TABLE campaigns ADD COLUMN kind TEXT NOT NULL DEFAULT 'survey';

-- One confirmations campaign per confirm flow (see the SQLite migration).
CREATE UNIQUE INDEX campaigns_confirmations ON campaigns (flow)
    WHERE kind = 'confirmations';

-- Every change of a handoff after it was opened.
CREATE TABLE handoff_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    handoff_id BIGINT NOT NULL REFERENCES handoffs (id) ON DELETE CASCADE,
    status     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    call_sid   TEXT,
    at         TIMESTAMPTZ NOT NULL
);

CREATE INDEX handoff_events_handoff ON handoff_events (handoff_id, at);
