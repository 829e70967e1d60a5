//! The S3 sink.

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

use crate::config::{S3Config, S3Error};
use crate::encoder::{gzip, objects};
use crate::report::SecurityReport;

/// Writes events to S3. See the crate docs.
#[derive(Debug)]
pub struct S3Sink {
    config: S3Config,
    client: Client,
    shut_down: AtomicBool,
}

pub(crate) fn classify<E: std::error::Error + Send + Sync + 'static, R: std::fmt::Debug>(
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
        crate::health::head_bucket(&self.client, &self.config.bucket).await
    }

    async fn shutdown(&self, _timeout: Duration) -> Result<(), SinkError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        Ok(())
    }
}
