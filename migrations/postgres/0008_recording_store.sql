-- Recordings every replica can serve, and their transcripts (issue 16).
--
-- `recording_media`: dialback's own copy of each recording and the work
-- still to do on it, one row per recording keyed by its id (the provider's
-- RecordingSid, or the id dialback gives a recording it made itself on a
-- media stream). The row is the pipeline's job and its result at once:
-- `stage` is what is left (fetch -> forget -> transcribe -> done) or where it
-- stopped (unavailable: the provider never served the media; untranscribed:
-- speech to text never succeeded). A worker on any replica claims a due row
-- by setting `lease_until`; a replica that dies mid-job leaves a lease that
-- runs out, and another takes the job up. The primary key is what makes a
-- duplicated recording status callback, on any replica, enqueue nothing.
CREATE TABLE recording_media (
    recording_sid TEXT PRIMARY KEY,
    call_sid      TEXT NOT NULL REFERENCES calls (call_sid) ON DELETE CASCADE,
    source_url    TEXT,
    stage         TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       TIMESTAMPTZ NOT NULL,
    lease_until   TIMESTAMPTZ,
    last_error    TEXT,
    transcript    TEXT,
    confidence    REAL,
    model         TEXT,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX recording_media_call ON recording_media (call_sid);
-- The workers' claim reads only the rows with work left.
CREATE INDEX recording_media_due ON recording_media (next_at)
    WHERE stage IN ('fetch', 'forget', 'transcribe');

-- The audio itself: the database's implementation of the recording storage
-- (`bytea` here, a BLOB on SQLite), shared by every replica.
-- Audio exists only under its pipeline row: a fetch that finishes after
-- `purge` erased the call fails on the reference instead of leaving audio
-- nobody can reach or erase, and erasing the row takes the audio with it.
CREATE TABLE recording_audio (
    recording_sid TEXT PRIMARY KEY
                  REFERENCES recording_media (recording_sid) ON DELETE CASCADE,
    content_type  TEXT NOT NULL,
    audio         BYTEA NOT NULL,
    stored_at     TIMESTAMPTZ NOT NULL
);
