//! SOAR sink configuration.

use std::time::Duration;

/// Why a SOAR configuration is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SoarError {
    /// The endpoint does not parse as an http(s) URL.
    #[error("invalid SOAR endpoint {endpoint:?}: {reason}")]
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The token or label is empty.
    #[error("the SOAR {0} is empty")]
    Empty(&'static str),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Where and how to create containers.
#[derive(Clone)]
pub struct SoarConfig {
    /// Base URL, e.g. `https://soar.example.com`.
    pub endpoint: String,
    /// The automation user's `ph-auth-token`. Never logged.
    pub token: String,
    /// Container label; it must already exist on the server (`events` by default).
    pub label: String,
    /// TLP sensitivity of the containers (`white`, `green`, `amber`, `red`).
    pub sensitivity: String,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for SoarConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoarConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &"[REDACTED]")
            .field("label", &self.label)
            .field("sensitivity", &self.sensitivity)
            .finish_non_exhaustive()
    }
}

impl SoarConfig {
    /// A configuration for `endpoint` and `token`, label `events`, sensitivity `amber`.
    pub fn new(endpoint: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            token: token.into(),
            label: "events".into(),
            sensitivity: "amber".into(),
            timeout: Duration::from_secs(30),
        }
    }

    /// Sets the container label.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub(crate) fn validate(&self) -> Result<reqwest::Url, SoarError> {
        let bad = |reason: &str| SoarError::Endpoint {
            endpoint: self.endpoint.clone(),
            reason: reason.to_owned(),
        };
        let url = llm_security_http_sink::parse_endpoint(&self.endpoint).map_err(|e| bad(&e))?;
        if self.token.trim().is_empty() {
            return Err(SoarError::Empty("token"));
        }
        if self.label.trim().is_empty() {
            return Err(SoarError::Empty("label"));
        }
        Ok(url)
    }
}
