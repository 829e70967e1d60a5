//! Settings of the RabbitMQ sink.

use std::time::Duration;

/// Why the sink cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum RabbitError {
    /// A setting is missing or malformed.
    #[error("invalid RabbitMQ configuration: {0}")]
    Config(String),
    /// The broker could not be reached, refused the credentials or the exchange declaration.
    #[error("cannot connect to RabbitMQ: {0}")]
    Connect(String),
}

/// Settings of one RabbitMQ sink.
#[derive(Clone, PartialEq, Eq)]
pub struct RabbitConfig {
    /// `amqp://user:password@host:port/vhost` (or `amqps://` for TLS).
    pub uri: String,
    /// The topic exchange events are published to (declared durable on start).
    pub exchange: String,
    /// Longest a connection attempt may take.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for RabbitConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitConfig")
            .field("uri", &redact_uri(&self.uri))
            .field("exchange", &self.exchange)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// The URI with its password replaced.
pub(crate) fn redact_uri(uri: &str) -> String {
    match (uri.find("://"), uri.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &uri[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:[REDACTED]{}", &uri[..scheme + 3], &uri[at..])
        }
        _ => uri.to_owned(),
    }
}

impl RabbitConfig {
    /// Events to the exchange `llm-security` on `uri`, 10 s connect timeout.
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            exchange: "llm-security".into(),
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// Sets the exchange.
    pub fn with_exchange(mut self, exchange: impl Into<String>) -> Self {
        self.exchange = exchange.into();
        self
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), RabbitError> {
        if !(self.uri.starts_with("amqp://") || self.uri.starts_with("amqps://")) {
            return Err(RabbitError::Config(format!(
                "the URI must start with amqp:// or amqps://: {}",
                redact_uri(&self.uri)
            )));
        }
        if self.exchange.is_empty()
            || self.exchange.len() > 255
            || self.exchange.starts_with("amq.")
        {
            return Err(RabbitError::Config(format!(
                "invalid exchange name {:?} (1 to 255 bytes, not amq.*)",
                self.exchange
            )));
        }
        if self.connect_timeout.is_zero() {
            return Err(RabbitError::Config(
                "connect_timeout must be non-zero".into(),
            ));
        }
        Ok(())
    }
}
