//! S3 sink configuration.

/// Why the sink cannot start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum S3Error {
    /// A required setting is missing or malformed.
    #[error("invalid S3 configuration: {0}")]
    Config(String),
}

/// Where and how to write objects.
#[derive(Clone)]
pub struct S3Config {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix (no trailing slash).
    pub prefix: String,
    /// Region, e.g. `eu-west-1`.
    pub region: String,
    /// Custom endpoint for S3-compatible stores, e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), needed by most S3-compatible stores.
    pub force_path_style: bool,
    /// Static credentials: access key id. Never logged.
    pub access_key_id: String,
    /// Static credentials: secret access key. Never logged.
    pub secret_access_key: String,
    /// Gzip the objects (`.ndjson.gz`, `Content-Encoding: gzip`).
    pub gzip: bool,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("force_path_style", &self.force_path_style)
            .field("access_key_id", &"[REDACTED]")
            .field("secret_access_key", &"[REDACTED]")
            .field("gzip", &self.gzip)
            .finish()
    }
}

impl S3Config {
    /// A configuration for `bucket` in `region` with static credentials, prefix
    /// `llm-security/events`, no gzip.
    pub fn new(
        bucket: impl Into<String>,
        region: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        Self {
            bucket: bucket.into(),
            prefix: "llm-security/events".into(),
            region: region.into(),
            endpoint: None,
            force_path_style: false,
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            gzip: false,
        }
    }

    /// Uses an S3-compatible endpoint with path-style addressing.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self.force_path_style = true;
        self
    }

    /// Gzips objects.
    pub fn with_gzip(mut self, gzip: bool) -> Self {
        self.gzip = gzip;
        self
    }
}
