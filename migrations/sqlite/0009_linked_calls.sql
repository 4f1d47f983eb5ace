-- Closing the loop (issue 17): linked calls and the handoff life cycle.
-- Keep in step with migrations/postgres/0009_linked_calls.sql.

-- The earlier call a call follows up, and the handoff it confirms (a
-- confirmation call after support resolved a ticket). Copied from the
-- campaign contact the dialer called when the call starts; NULL for a call
-- that follows nothing. No foreign key: a follow-up outlives the purge of
-- the call it followed.
ALTER TABLE calls ADD COLUMN follows_call_sid TEXT;
ALTER TABLE calls ADD COLUMN follows_handoff_id INTEGER;

-- "The calls that followed this one up", for the call page.
CREATE INDEX calls_follows ON calls (follows_call_sid)
    WHERE follows_call_sid IS NOT NULL;

-- The same link on a campaign contact made from an earlier call or handoff;
-- the call placed to the contact takes it over.
ALTER TABLE contacts ADD COLUMN follows_call_sid TEXT;
ALTER TABLE contacts ADD COLUMN follows_handoff_id INTEGER;

-- What a campaign is for: `survey` (contacts imported by ops) or
-- `confirmations` (the system campaign of one confirm flow, whose contacts
-- are made when support resolves a handoff).
ALTER TABLE campaigns ADD COLUMN kind TEXT NOT NULL DEFAULT 'survey';

-- One confirmations campaign per confirm flow, however many replicas
-- resolve handoffs at once: made on the first resolve, found after.
CREATE UNIQUE INDEX campaigns_confirmations ON campaigns (flow)
    WHERE kind = 'confirmations';

-- Every change of a handoff after it was opened (its opening is the handoff
-- row itself): resolved by support, confirmed or reopened by the customer.
-- `actor` says who: `support` (the API, the dashboard, the CRM) or `customer`
-- (then `call_sid` is the confirmation call in which they answered).
CREATE TABLE handoff_events (
    id         INTEGER PRIMARY KEY,
    handoff_id INTEGER NOT NULL REFERENCES handoffs (id) ON DELETE CASCADE,
    status     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    call_sid   TEXT,
    at         TEXT NOT NULL
) STRICT;

CREATE INDEX handoff_events_handoff ON handoff_events (handoff_id, at);
