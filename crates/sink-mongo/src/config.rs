//! MongoDB sink configuration.

use std::time::Duration;

/// Why the sink cannot start.
#[derive(Debug, thiserror::Error)]
pub enum MongoError {
    /// The URI does not parse.
    #[error("invalid MongoDB URI: {0}")]
    Uri(String),
    /// The server cannot be reached or refused us.
    #[error("cannot reach MongoDB: {0}")]
    Connect(String),
    /// The TTL index could not be created.
    #[error("cannot create the TTL index: {0}")]
    Index(String),
}

/// Where and how to store events.
#[derive(Clone)]
pub struct MongoConfig {
    /// `mongodb://user:password@host:port/?options`. The password is never logged.
    pub uri: String,
    /// Database name.
    pub database: String,
    /// Collection name.
    pub collection: String,
    /// Expire events this long after their timestamp (a TTL index on `timestamp`).
    pub ttl: Option<Duration>,
}

impl std::fmt::Debug for MongoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let uri = match self.uri.split_once('@') {
            Some((creds, rest)) => format!(
                "{}:[REDACTED]@{rest}",
                creds.rsplit_once(':').map_or(creds, |(u, _)| u)
            ),
            None => self.uri.clone(),
        };
        f.debug_struct("MongoConfig")
            .field("uri", &uri)
            .field("database", &self.database)
            .field("collection", &self.collection)
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl MongoConfig {
    /// Database `llm_security`, collection `events`, no TTL.
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            database: "llm_security".into(),
            collection: "events".into(),
            ttl: None,
        }
    }

    /// Sets the database and collection.
    pub fn with_collection(
        mut self,
        database: impl Into<String>,
        collection: impl Into<String>,
    ) -> Self {
        self.database = database.into();
        self.collection = collection.into();
        self
    }

    /// Expires events `ttl` after their timestamp.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}
