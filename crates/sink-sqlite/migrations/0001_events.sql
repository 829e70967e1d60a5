-- Security events, one row per event; the event id is the idempotency key. Timestamps are
-- RFC 3339 UTC with microseconds, so text order is time order.
CREATE TABLE IF NOT EXISTS llm_security_events (
    id            TEXT PRIMARY KEY,
    event_type    TEXT    NOT NULL,
    ts            TEXT    NOT NULL,
    direction     TEXT    NOT NULL,
    is_secure     INTEGER NOT NULL,
    score         REAL    NOT NULL,
    confidence    REAL    NOT NULL,
    threats       TEXT    NOT NULL,
    user_id       TEXT,
    session_id    TEXT,
    captured_text TEXT,
    metadata      TEXT    NOT NULL,
    event         TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS llm_security_events_ts ON llm_security_events (ts);
CREATE INDEX IF NOT EXISTS llm_security_events_type_ts ON llm_security_events (event_type, ts);
