//! PostgreSQL sink configuration.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

/// Why the sink cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// The URL does not parse.
    #[error("invalid PostgreSQL URL: {0}")]
    Url(String),
    /// The server refused or could not be reached (wrong password, unknown database...).
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    /// A migration failed.
    #[error("cannot apply migrations: {0}")]
    Migrate(String),
}

/// How to reach PostgreSQL.
#[derive(Clone)]
pub struct PostgresConfig {
    /// `postgres://user:password@host:port/database?sslmode=...`. The password is never logged.
    pub url: String,
    /// Connections in the pool.
    pub max_connections: u32,
    /// Time to wait for a connection.
    pub connect_timeout: Duration,
    /// TLS mode, overriding the URL's `sslmode` when set.
    pub ssl_mode: Option<PgSslMode>,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = match self.url.split_once('@') {
            Some((credentials, rest)) => {
                let user = credentials.rsplit_once(':').map_or(credentials, |(u, _)| u);
                format!("{user}:[REDACTED]@{rest}")
            }
            None => self.url.clone(),
        };
        f.debug_struct("PostgresConfig")
            .field("url", &shown)
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("ssl_mode", &self.ssl_mode)
            .finish()
    }
}

impl PostgresConfig {
    /// A configuration for `url` with a pool of 4 and a 10 s connect timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 4,
            connect_timeout: Duration::from_secs(10),
            ssl_mode: None,
        }
    }

    /// Requires TLS (`sslmode=require`), or sets another mode.
    pub fn with_ssl_mode(mut self, mode: PgSslMode) -> Self {
        self.ssl_mode = Some(mode);
        self
    }

    pub(crate) fn options(&self) -> Result<PgConnectOptions, PostgresError> {
        let mut options =
            PgConnectOptions::from_str(&self.url).map_err(|e| PostgresError::Url(e.to_string()))?;
        if let Some(mode) = self.ssl_mode {
            options = options.ssl_mode(mode);
        }
        Ok(options.application_name("llm-security"))
    }
}
