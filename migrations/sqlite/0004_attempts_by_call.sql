-- Every final status callback looks up the campaign attempt by its CallSid
-- (`contact_for_call`, `record_result`): without this index each callback
-- scanned every attempt ever made.
CREATE INDEX attempts_call ON attempts (call_sid);
