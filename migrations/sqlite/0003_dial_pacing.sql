-- The calls-per-second limit, shared by every worker. Keep in step with
-- migrations/postgres/0003_dial_pacing.sql.

-- One row per provider account: the earliest time (microseconds since the
-- Unix epoch) the next call may be placed. A worker reserves a slot with one
-- UPSERT that moves it on by 1/CPS, so two workers never get the same slot.
-- An integer rather than RFC 3339 text so that SQL can add the interval.
CREATE TABLE dial_pacing (
    account    TEXT PRIMARY KEY,
    next_at_us INTEGER NOT NULL
) STRICT;
