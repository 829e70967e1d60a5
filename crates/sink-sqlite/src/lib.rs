//! SQLite store for llm-security: the embedded default of the server and the CLI.
//!
//! One file, created on first use, in WAL mode, with embedded migrations (the same columns as the
//! PostgreSQL table). Each batch is inserted in one transaction with `INSERT OR IGNORE`, so a
//! retried batch never duplicates a row. [`SqliteSink::query`] reads events back by time and type,
//! which `llm-security events` uses.

mod config;
mod encoder;
mod health;
mod sink;

pub use config::{EventQuery, SqliteError};
pub use sink::SqliteSink;
