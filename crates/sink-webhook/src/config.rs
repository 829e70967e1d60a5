//! Webhook sink configuration.

use std::time::Duration;

use llm_security_core::EventType;

use crate::signature::Secret;

/// Why a webhook configuration is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    /// No URL was given, or it does not parse.
    #[error("invalid webhook URL {url:?}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A secret is not `whsec_` plus base64 of 24 to 64 bytes.
    #[error("invalid webhook secret: {0}")]
    Secret(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Where and how to deliver webhooks. Build with the `with_*` methods.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The endpoint. Use `https://` in production; plain `http://` is accepted for loopback.
    pub url: String,
    /// Signing secrets (`whsec_...`); each delivery carries one signature per secret, so an
    /// endpoint can rotate keys without downtime. Never logged.
    pub secrets: Vec<String>,
    /// Which event types to deliver; empty means all.
    pub events: Vec<EventType>,
    /// Per-request timeout (the spec recommends 15-30 s).
    pub timeout: Duration,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field(
                "secrets",
                &format_args!("[REDACTED; {}]", self.secrets.len()),
            )
            .field("events", &self.events)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            secrets: Vec::new(),
            events: Vec::new(),
            timeout: Duration::from_secs(15),
        }
    }
}

impl WebhookConfig {
    /// An empty configuration (set at least the URL).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the endpoint URL.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// Adds a signing secret (call again to add the next key during rotation).
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(secret.into());
        self
    }

    /// Delivers only these event types.
    pub fn with_events(mut self, events: impl IntoIterator<Item = EventType>) -> Self {
        self.events = events.into_iter().collect();
        self
    }

    /// Sets the per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks the URL and secrets; returns the decoded secrets.
    pub(crate) fn validate(&self) -> Result<Vec<Secret>, WebhookError> {
        llm_security_http_sink::parse_endpoint(&self.url).map_err(|reason| WebhookError::Url {
            url: self.url.clone(),
            reason,
        })?;
        if self.timeout.is_zero() {
            return Err(WebhookError::Url {
                url: self.url.clone(),
                reason: "timeout must be non-zero".into(),
            });
        }
        self.secrets.iter().map(|s| Secret::parse(s)).collect()
    }
}
