-- Security events, one row per event; the event id is the idempotency key.
CREATE TABLE IF NOT EXISTS llm_security_events (
    id            UUID PRIMARY KEY,
    event_type    TEXT        NOT NULL,
    ts            TIMESTAMPTZ NOT NULL,
    direction     TEXT        NOT NULL,
    is_secure     BOOLEAN     NOT NULL,
    score         REAL        NOT NULL,
    confidence    REAL        NOT NULL,
    threats       JSONB       NOT NULL,
    user_id       TEXT,
    session_id    TEXT,
    captured_text TEXT,
    metadata      JSONB       NOT NULL,
    event         JSONB       NOT NULL
);
CREATE INDEX IF NOT EXISTS llm_security_events_ts ON llm_security_events (ts);
CREATE INDEX IF NOT EXISTS llm_security_events_type_ts ON llm_security_events (event_type, ts);
