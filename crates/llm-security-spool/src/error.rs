//! Spool errors.

/// Why a spool operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A setting is out of range.
    #[error("invalid spool configuration: {0}")]
    Config(String),
    /// Another process (or another spool in this one) holds the spool's file.
    #[error("the spool at {0} is in use by another process")]
    InUse(String),
    /// The spool's file could not be created, read or written.
    #[error("spool storage error at {path}: {message}")]
    Storage {
        /// The spool's file.
        path: String,
        /// What the storage layer said.
        message: String,
    },
    /// An append does not fit and the policy is to block; the caller should wait and retry.
    #[error("the spool is full ({used} of {max} bytes)")]
    Full {
        /// Bytes in use.
        used: u64,
        /// The bound.
        max: u64,
    },
    /// The spool was shut down.
    #[error("the spool is shut down")]
    Closed,
}
