//! Store errors and query filters.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use llm_security_core::EventType;

/// Why the store cannot open.
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    /// The file cannot be created or opened.
    #[error("cannot open the event store {path}: {reason}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A migration failed.
    #[error("cannot apply migrations to {path}: {reason}")]
    Migrate {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A query failed, or a stored event does not parse.
    #[error("cannot read events: {0}")]
    Query(String),
}

/// Filters for [`SqliteSink::query`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events of this type.
    pub event_type: Option<EventType>,
    /// Most events returned (newest last).
    pub limit: Option<u32>,
}
