-- Time to first token or chunk of a streamed model call, in milliseconds (issue 14). Null when the call did not
-- stream or its instrumentation did not report it.
ALTER TABLE ai_events ADD COLUMN IF NOT EXISTS ttft_ms double precision;
