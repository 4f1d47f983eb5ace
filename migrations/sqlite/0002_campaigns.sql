-- Outbound campaigns. Keep in step with migrations/postgres/0002_campaigns.sql.

-- `plan` is the scheduler's plan as JSON (window, zone, attempts, back-off,
-- dates, CPS): read and written whole by the dialer, never queried by field.
CREATE TABLE campaigns (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    flow       TEXT NOT NULL,
    plan       TEXT NOT NULL CHECK (json_valid(plan)),
    status     TEXT NOT NULL CHECK (status IN ('draft', 'running', 'paused', 'cancelled', 'finished')),
    created_at TEXT NOT NULL
) STRICT;

-- One row per person per campaign; the phone is kept because dialling needs
-- it. `state` is where the contact stands (pending, calling, completed,
-- no_answer, busy, failed, opted_out, handed_off, error); `next_at` when a
-- pending contact is due; `lease_until` when a worker's claim lapses.
CREATE TABLE contacts (
    id          INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    phone       TEXT NOT NULL,
    vars        TEXT NOT NULL CHECK (json_valid(vars)),
    timezone    TEXT,
    state       TEXT NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     TEXT,
    lease_until TEXT,
    last_result TEXT,
    -- A re-call's own flow (closed loop); NULL: the campaign's.
    flow        TEXT,
    UNIQUE (campaign_id, phone)
) STRICT;

CREATE INDEX contacts_due ON contacts (state, next_at);

-- Every call placed (or refused by the provider) for a contact.
CREATE TABLE attempts (
    id         INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    call_sid   TEXT,
    placed_at  TEXT NOT NULL,
    result     TEXT,
    ended_at   TEXT
) STRICT;

CREATE INDEX attempts_contact ON attempts (contact_id);
