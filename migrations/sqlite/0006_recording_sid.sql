-- A recording is stored once per provider recording: the <Record> action and
-- the recording status callback both carry its RecordingSid, and either may
-- be retried (issue 14, observation 7). Recordings made without a provider id
-- (media-stream calls record to local files) keep it NULL, which never
-- conflicts.
ALTER TABLE recordings ADD COLUMN recording_sid TEXT;
CREATE UNIQUE INDEX recordings_sid ON recordings (recording_sid);
