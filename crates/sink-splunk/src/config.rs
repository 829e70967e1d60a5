//! HEC sink configuration.

use std::time::Duration;

/// Why a HEC configuration is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HecError {
    /// The endpoint does not parse as an http(s) URL.
    #[error("invalid HEC endpoint {endpoint:?}: {reason}")]
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The token is empty.
    #[error("the HEC token is empty")]
    EmptyToken,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Where and how to send events to Splunk.
#[derive(Clone)]
pub struct HecConfig {
    /// Base URL of the collector, e.g. `https://splunk.example.com:8088`.
    pub endpoint: String,
    /// The HEC token (a GUID). Never logged.
    pub token: String,
    /// Index to write to; the token's default index when absent.
    pub index: Option<String>,
    /// `source` of every event.
    pub source: String,
    /// `sourcetype` of every event.
    pub sourcetype: String,
    /// `host` of every event; this machine's name when absent.
    pub host: Option<String>,
    /// Turn on indexer acknowledgement (the token must have it enabled).
    pub acknowledgements: bool,
    /// How many times to poll for an acknowledgement, and how long to wait between polls.
    pub ack_polls: u32,
    /// Wait between acknowledgement polls.
    pub ack_interval: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for HecConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HecConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &"[REDACTED]")
            .field("index", &self.index)
            .field("source", &self.source)
            .field("sourcetype", &self.sourcetype)
            .field("host", &self.host)
            .field("acknowledgements", &self.acknowledgements)
            .finish_non_exhaustive()
    }
}

impl HecConfig {
    /// A configuration for `endpoint` and `token`, with source `llm-security` and sourcetype
    /// `llm_security:event`.
    pub fn new(endpoint: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            token: token.into(),
            index: None,
            source: "llm-security".into(),
            sourcetype: "llm_security:event".into(),
            host: None,
            acknowledgements: false,
            ack_polls: 30,
            ack_interval: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
        }
    }

    /// Sets the index.
    pub fn with_index(mut self, index: impl Into<String>) -> Self {
        self.index = Some(index.into());
        self
    }

    /// Turns indexer acknowledgement on.
    pub fn with_acknowledgements(mut self, on: bool) -> Self {
        self.acknowledgements = on;
        self
    }

    pub(crate) fn validate(&self) -> Result<reqwest::Url, HecError> {
        let bad = |reason: &str| HecError::Endpoint {
            endpoint: self.endpoint.clone(),
            reason: reason.to_owned(),
        };
        let url = llm_security_http_sink::parse_endpoint(&self.endpoint).map_err(|e| bad(&e))?;
        if self.token.trim().is_empty() {
            return Err(HecError::EmptyToken);
        }
        Ok(url)
    }
}
