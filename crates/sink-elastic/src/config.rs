//! Elastic sink configuration.

use std::time::Duration;

/// Why an Elastic configuration is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ElasticError {
    /// The endpoint does not parse as an http(s) URL.
    #[error("invalid Elasticsearch endpoint {endpoint:?}: {reason}")]
    Endpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The index name is empty.
    #[error("the index name is empty")]
    EmptyIndex,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// How to authenticate.
#[derive(Clone, PartialEq, Eq)]
pub enum ElasticAuth {
    /// `Authorization: ApiKey <base64 id:key>` (give the encoded value).
    ApiKey(String),
    /// HTTP basic auth.
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
}

impl std::fmt::Debug for ElasticAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ApiKey(_) => f.write_str("ApiKey([REDACTED])"),
            Self::Basic { user, .. } => {
                write!(f, "Basic {{ user: {user:?}, password: [REDACTED] }}")
            }
        }
    }
}

/// Where and how to index events.
#[derive(Debug, Clone)]
pub struct ElasticConfig {
    /// Base URL, e.g. `https://es.example.com:9200`.
    pub endpoint: String,
    /// Index or data stream. The default, `logs-llmsec.detections-default`, follows the data
    /// stream naming `{type}-{dataset}-{namespace}`.
    pub index: String,
    /// Credentials, if the cluster needs them.
    pub auth: Option<ElasticAuth>,
    /// Times items that failed with 429/5xx are sent again within one call.
    pub item_retries: u32,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Before the first batch, map the event's `llm_security.metadata` as an object that is
    /// kept in `_source` but not indexed (`enabled: false`), creating the index if it does
    /// not exist. Metadata is whatever the calling application attaches; mapped dynamically,
    /// `{"order": 17}` in one event and `{"order": "A-17"}` in the next make the cluster
    /// refuse the second (a mapping conflict), and many distinct keys exhaust the index's
    /// field limit. On by default; a failure is logged, not fatal.
    pub map_metadata: bool,
}

impl ElasticConfig {
    /// A configuration for `endpoint` with the default index.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            index: "logs-llmsec.detections-default".into(),
            auth: None,
            item_retries: 2,
            timeout: Duration::from_secs(30),
            map_metadata: true,
        }
    }

    /// Sets the index or data stream.
    pub fn with_index(mut self, index: impl Into<String>) -> Self {
        self.index = index.into();
        self
    }

    /// Whether to map `llm_security.metadata` as not indexed before the first batch (see
    /// [`map_metadata`](Self::map_metadata)). Turn it off where an index template of yours
    /// decides the mapping.
    pub fn with_metadata_mapping(mut self, on: bool) -> Self {
        self.map_metadata = on;
        self
    }

    /// Sets the credentials.
    pub fn with_auth(mut self, auth: ElasticAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    pub(crate) fn validate(&self) -> Result<reqwest::Url, ElasticError> {
        let bad = |reason: &str| ElasticError::Endpoint {
            endpoint: self.endpoint.clone(),
            reason: reason.to_owned(),
        };
        let url = llm_security_http_sink::parse_endpoint(&self.endpoint).map_err(|e| bad(&e))?;
        if self.index.trim().is_empty() {
            return Err(ElasticError::EmptyIndex);
        }
        Ok(url)
    }
}
