//! S3 sink for llm-security, and the daily security report.
//!
//! Each batch becomes newline-delimited JSON objects, one per hour the batch spans, under
//! `{prefix}/dt=YYYY-MM-DD/hour=HH/{first event id}-{count}.ndjson[.gz]`. The key is derived from
//! the events, so a retried batch overwrites its own object instead of adding a copy. Batches are
//! large and slow by default ([`S3Sink::recommended_options`]: 10 MB or 300 s). Custom endpoints
//! and path-style addressing serve S3-compatible stores. Throttling (503 SlowDown), 5xx and
//! network failures are retriable; a missing bucket, refused credentials or a bad signature are
//! not. Health: `HeadBucket`. [`SecurityReport`] summarizes a day of events and
//! [`S3Sink::upload_report`] stores it under `{prefix}/reports/YYYY-MM-DD.json`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use llm_security_core::{
    BatchConfig, DeliveryReport, EventSink, SecurityEvent, SinkError, SinkOptions, async_trait,
};
use serde::{Deserialize, Serialize};

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

/// One object: its key and body (before compression).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The key.
    pub key: String,
    /// Newline-delimited JSON of the events.
    pub ndjson: Vec<u8>,
}

/// The objects for `events`: one per hour, keyed by the hour's first event id and count.
pub fn objects(prefix: &str, events: &[&SecurityEvent], gzip: bool) -> Vec<Object> {
    let mut by_hour: BTreeMap<String, Vec<&SecurityEvent>> = BTreeMap::new();
    for e in events {
        by_hour
            .entry(e.timestamp.format("dt=%Y-%m-%d/hour=%H").to_string())
            .or_default()
            .push(e);
    }
    by_hour
        .into_iter()
        .map(|(partition, group)| {
            let mut ndjson = Vec::with_capacity(group.len() * 1024);
            for e in &group {
                if serde_json::to_writer(&mut ndjson, e).is_ok() {
                    ndjson.push(b'\n');
                }
            }
            let extension = if gzip { "ndjson.gz" } else { "ndjson" };
            Object {
                key: format!(
                    "{prefix}/{partition}/{}-{}.{extension}",
                    group[0].id,
                    group.len()
                ),
                ndjson,
            }
        })
        .collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// A day's summary of security events: the seed's daily report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityReport {
    /// The day, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Events that day.
    pub total: u64,
    /// Of which secure.
    pub secure: u64,
    /// Of which with threats reaching the threshold.
    pub threats: u64,
    /// Threat findings per kind.
    pub by_kind: BTreeMap<String, u64>,
    /// Mean confidence of the verdicts.
    pub average_confidence: f64,
}

impl SecurityReport {
    /// Summarizes the events of `date` (UTC) among `events`.
    pub fn build<'a>(
        date: chrono::NaiveDate,
        events: impl IntoIterator<Item = &'a SecurityEvent>,
    ) -> Self {
        let mut r = Self {
            date: date.to_string(),
            total: 0,
            secure: 0,
            threats: 0,
            by_kind: BTreeMap::new(),
            average_confidence: 0.0,
        };
        let mut confidence = 0.0f64;
        for e in events
            .into_iter()
            .filter(|e| e.timestamp.date_naive() == date)
        {
            r.total += 1;
            if e.is_secure {
                r.secure += 1;
            } else {
                r.threats += 1;
            }
            confidence += f64::from(e.confidence);
            for t in &e.threats {
                *r.by_kind.entry(t.kind.to_string()).or_default() += 1;
            }
        }
        if r.total > 0 {
            r.average_confidence = confidence / r.total as f64;
        }
        r
    }
}

/// Writes events to S3. See the crate docs.
#[derive(Debug)]
pub struct S3Sink {
    config: S3Config,
    client: Client,
    shut_down: AtomicBool,
}

fn classify<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> SinkError {
    let text = format!("{}", aws_sdk_s3::error::DisplayErrorContext(e));
    match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            SinkError::transport(text)
        }
        SdkError::ServiceError(s) => {
            let status = format!("{:?}", s.raw());
            let retriable = [
                "status: 500",
                "status: 502",
                "status: 503",
                "status: 504",
                "SlowDown",
                "InternalError",
            ]
            .iter()
            .any(|m| status.contains(m) || text.contains(m));
            if retriable {
                SinkError::retriable(text)
            } else {
                SinkError::permanent(text)
            }
        }
        _ => SinkError::permanent(text),
    }
}

impl S3Sink {
    /// Builds the client. Fails on an empty bucket, region or credentials.
    pub fn new(config: S3Config) -> Result<Self, S3Error> {
        for (name, value) in [
            ("bucket", &config.bucket),
            ("region", &config.region),
            ("access key id", &config.access_key_id),
            ("secret access key", &config.secret_access_key),
        ] {
            if value.trim().is_empty() {
                return Err(S3Error::Config(format!("the {name} is empty")));
            }
        }
        let credentials = Credentials::new(
            &config.access_key_id,
            &config.secret_access_key,
            None,
            None,
            "llm-security",
        );
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(config.force_path_style);
        if let Some(endpoint) = &config.endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return Err(S3Error::Config(format!(
                    "endpoint {endpoint:?} must be an http(s) URL"
                )));
            }
            builder = builder.endpoint_url(endpoint);
        }
        Ok(Self {
            client: Client::from_conf(builder.build()),
            config,
            shut_down: AtomicBool::new(false),
        })
    }

    /// Pipeline options for S3: large, slow batches (10 MB or 300 s).
    pub fn recommended_options() -> SinkOptions {
        SinkOptions {
            batch: BatchConfig {
                max_events: 100_000,
                max_bytes: 10_000_000,
                timeout: Duration::from_secs(300),
            },
            ..SinkOptions::default()
        }
    }

    /// The client, for reads of your own.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), SinkError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.config.bucket)
            .key(key)
            .content_type(content_type);
        let body = if self.config.gzip && key.ends_with(".gz") {
            request = request.content_encoding("gzip");
            gzip(&body)
        } else {
            body
        };
        request
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&e))
    }

    /// Stores `report` as `{prefix}/reports/{date}.json`; returns the key.
    pub async fn upload_report(&self, report: &SecurityReport) -> Result<String, SinkError> {
        let key = format!("{}/reports/{}.json", self.config.prefix, report.date);
        let body =
            serde_json::to_vec_pretty(report).map_err(|e| SinkError::permanent(e.to_string()))?;
        self.put(&key, body, "application/json").await?;
        Ok(key)
    }
}

#[async_trait]
impl EventSink for S3Sink {
    fn name(&self) -> &str {
        "s3"
    }

    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(SinkError::AlreadyShutdown);
        }
        let events: Vec<&SecurityEvent> = batch.iter().map(AsRef::as_ref).collect();
        for object in objects(&self.config.prefix, &events, self.config.gzip) {
            self.put(&object.key, object.ndjson, "application/x-ndjson")
                .await?;
        }
        Ok(DeliveryReport::delivered(batch.len()))
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        self.client
            .head_bucket()
            .bucket(&self.config.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(&e))
    }

    async fn shutdown(&self, _timeout: Duration) -> Result<(), SinkError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        Ok(())
    }
}
