-- Outbound campaigns. Keep in step with migrations/sqlite/0002_campaigns.sql.

-- `plan` is the scheduler's plan as JSON text, read and written whole.
CREATE TABLE campaigns (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL,
    flow       TEXT NOT NULL,
    plan       TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('draft', 'running', 'paused', 'cancelled', 'finished')),
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE contacts (
    id          BIGSERIAL PRIMARY KEY,
    campaign_id BIGINT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    phone       TEXT NOT NULL,
    vars        TEXT NOT NULL,
    timezone    TEXT,
    state       TEXT NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     TIMESTAMPTZ,
    lease_until TIMESTAMPTZ,
    last_result TEXT,
    -- A re-call's own flow (closed loop); NULL: the campaign's.
    flow        TEXT,
    UNIQUE (campaign_id, phone)
);

CREATE INDEX contacts_due ON contacts (state, next_at);

CREATE TABLE attempts (
    id         BIGSERIAL PRIMARY KEY,
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    call_sid   TEXT,
    placed_at  TIMESTAMPTZ NOT NULL,
    result     TEXT,
    ended_at   TIMESTAMPTZ
);

CREATE INDEX attempts_contact ON attempts (contact_id);
