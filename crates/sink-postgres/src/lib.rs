//! PostgreSQL sink for llm-security.
//!
//! [`PostgresSink::connect`] opens a pool and applies the embedded migrations (table
//! `llm_security_events`: id UUID primary key, event type, timestamp, direction, verdict, score,
//! confidence, threats JSONB, user and session ids, captured text, metadata JSONB, the whole event
//! JSONB; indexes on time and on type + time). Each batch is **one** `INSERT ... SELECT FROM
//! UNNEST(...) ON CONFLICT (id) DO NOTHING`, so a retried batch never duplicates a row and the
//! rows not inserted are reported as duplicates. Connection failures, server shutdowns and
//! resource errors are retriable; authentication, permission and data errors are not. Health:
//! `SELECT 1`. TLS and pool size come from the URL and [`PostgresConfig`].

mod config;
mod encoder;
mod health;
mod sink;

pub use config::{PostgresConfig, PostgresError};
pub use encoder::Rows;
pub use sink::PostgresSink;
