-- The calls-per-second limit, shared by every replica. Keep in step with
-- migrations/sqlite/0003_dial_pacing.sql.

-- One row per provider account: the earliest time the next call may be
-- placed, by the database's clock (so replicas with skewed clocks agree).
-- A worker reserves a slot with one UPSERT that moves it on by 1/CPS under
-- the row's lock, so two replicas never get the same slot.
CREATE TABLE dial_pacing (
    account TEXT PRIMARY KEY,
    next_at TIMESTAMPTZ NOT NULL
);
