-- cost_source 'catalog': a cost priced from the maintained price catalogue, apart from 'computed' (the
-- operator's own prices from OBSERVATORY_PRICES_FILE).
-- NOT VALID: the new list only adds a value, so every existing row already satisfies it, and skipping the check
-- of existing rows keeps this from scanning every partition while it holds the table's lock.
ALTER TABLE ai_events DROP CONSTRAINT IF EXISTS ai_events_cost_source_check;
ALTER TABLE ai_events ADD CONSTRAINT ai_events_cost_source_check
  CHECK (cost_source IN ('provided', 'computed', 'catalog', 'unpriced')) NOT VALID;
