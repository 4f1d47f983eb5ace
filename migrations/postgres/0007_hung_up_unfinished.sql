-- Calls whose final status is stored but that have no outcome yet (a
-- transfer whose action never came): the periodic sweep that ends them
-- (`hung_up_unfinished`) reads only these few rows, never the whole table.
CREATE INDEX calls_hung_up_unfinished ON calls (ended_at)
    WHERE outcome IS NULL AND ended_at IS NOT NULL;
