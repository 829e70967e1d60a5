//! Grafana sink configuration.

use std::time::Duration;

/// Why a Grafana configuration is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GrafanaError {
    /// The endpoint does not parse as an http(s) URL.
    #[error("invalid Grafana endpoint {endpoint:?}: {reason}")]
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The token is empty.
    #[error("the Grafana token is empty")]
    EmptyToken,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// Where and how to annotate.
#[derive(Clone)]
pub struct GrafanaConfig {
    /// Base URL, e.g. `https://grafana.example.com`.
    pub endpoint: String,
    /// Service-account token with `annotations:create`. Never logged.
    pub token: String,
    /// Dashboard to attach annotations to; organization-wide when absent.
    pub dashboard_uid: Option<String>,
    /// Panel to attach annotations to.
    pub panel_id: Option<u64>,
    /// Extra tags on every annotation.
    pub tags: Vec<String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for GrafanaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrafanaConfig")
            .field("endpoint", &self.endpoint)
            .field("token", &"[REDACTED]")
            .field("dashboard_uid", &self.dashboard_uid)
            .field("panel_id", &self.panel_id)
            .field("tags", &self.tags)
            .finish_non_exhaustive()
    }
}

impl GrafanaConfig {
    /// A configuration for `endpoint` and `token`.
    pub fn new(endpoint: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            token: token.into(),
            dashboard_uid: None,
            panel_id: None,
            tags: Vec::new(),
            timeout: Duration::from_secs(15),
        }
    }

    /// Attaches annotations to a dashboard (and optionally a panel).
    pub fn with_dashboard(mut self, uid: impl Into<String>, panel_id: Option<u64>) -> Self {
        self.dashboard_uid = Some(uid.into());
        self.panel_id = panel_id;
        self
    }

    pub(crate) fn validate(&self) -> Result<reqwest::Url, GrafanaError> {
        let bad = |reason: &str| GrafanaError::Endpoint {
            endpoint: self.endpoint.clone(),
            reason: reason.to_owned(),
        };
        let url = llm_security_http_sink::parse_endpoint(&self.endpoint).map_err(|e| bad(&e))?;
        if self.token.trim().is_empty() {
            return Err(GrafanaError::EmptyToken);
        }
        Ok(url)
    }
}
