//! The library's error type.
//!
//! One opaque [`Error`] with a [`kind`](Error::kind), so that new failure modes can be added
//! without breaking callers (the lesson `regex` learned the hard way).

use std::fmt;

/// An error from the engine: bad input, bad configuration or a pipeline that cannot start.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text is longer than [`SecurityConfig::max_input_bytes`](crate::SecurityConfig).
    InputTooLarge {
        /// Length of the rejected text in bytes.
        len: usize,
        /// The configured limit in bytes.
        max: usize,
    },
    /// A configuration value is out of range or inconsistent.
    InvalidConfig(String),
    /// A rule pack could not be parsed or compiled.
    InvalidRules(String),
    /// The event pipeline could not be started (for example, no async runtime is running).
    Pipeline(String),
}

impl Error {
    /// Creates an error of the given kind.
    pub fn new(kind: ErrorKind) -> Self {
        Self { kind }
    }

    /// Returns what went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    pub(crate) fn config(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidConfig(msg.into()))
    }

    pub(crate) fn rules(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRules(msg.into()))
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::InputTooLarge { len, max } => {
                write!(f, "input of {len} bytes exceeds the limit of {max} bytes")
            }
            ErrorKind::InvalidConfig(msg) => write!(f, "invalid configuration: {msg}"),
            ErrorKind::InvalidRules(msg) => write!(f, "invalid rule pack: {msg}"),
            ErrorKind::Pipeline(msg) => write!(f, "event pipeline: {msg}"),
        }
    }
}

impl std::error::Error for Error {}
