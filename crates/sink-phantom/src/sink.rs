//! The SOAR sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use llm_security_core::http::classify_status;
use llm_security_core::{
    DeliveryReport, EventSink, EventType, SecurityEvent, SinkError, async_trait,
};
use serde_json::Value;

use crate::config::{SoarConfig, SoarError};
use crate::encoder::container;

/// Creates SOAR containers for threat events. See the crate docs.
#[derive(Debug)]
pub struct SoarSink {
    config: SoarConfig,
    containers: reqwest::Url,
    version: reqwest::Url,
    client: reqwest::Client,
    shut_down: AtomicBool,
}

impl SoarSink {
    /// Validates `config` and builds the client.
    pub fn new(config: SoarConfig) -> Result<Self, SoarError> {
        let base = config.validate()?;
        let join = |p: &str| {
            base.join(p).map_err(|e| SoarError::Endpoint {
                endpoint: config.endpoint.clone(),
                reason: e.to_string(),
            })
        };
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SoarError::Client(e.to_string()))?;
        Ok(Self {
            containers: join("/rest/container")?,
            version: join("/rest/version")?,
            client,
            config,
            shut_down: AtomicBool::new(false),
        })
    }

    async fn create(&self, event: &SecurityEvent) -> Result<bool, SinkError> {
        let response = self
            .client
            .post(self.containers.clone())
            .header("ph-auth-token", &self.config.token)
            .json_body(&container(event, &self.config))
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    SinkError::Timeout(self.config.timeout)
                } else {
                    SinkError::transport(e.to_string())
                }
            })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if json["failed"] == Value::Bool(true) && json.get("existing_container_id").is_some() {
            return Ok(false); // already created by an earlier delivery
        }
        classify_status(status, retry_after.as_deref(), &text)?;
        if json["success"] != Value::Bool(true) {
            return Err(SinkError::permanent(format!(
                "SOAR did not confirm the container: {text}"
            )));
        }
        Ok(true)
    }
}

/// Sets a JSON body without reqwest's `json` feature.
trait JsonBody {
    fn json_body(self, value: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, value: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(value.to_string())
    }
}

#[async_trait]
impl EventSink for SoarSink {
    fn name(&self) -> &str {
        "splunk_soar"
    }

    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(SinkError::AlreadyShutdown);
        }
        let mut report = DeliveryReport::default();
        for event in batch
            .iter()
            .filter(|e| e.event_type != EventType::AnalysisCompleted && !e.threats.is_empty())
        {
            if self.create(event).await? {
                report.delivered += 1;
            } else {
                report.duplicates += 1;
            }
        }
        Ok(report)
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        let response = self
            .client
            .get(self.version.clone())
            .header("ph-auth-token", &self.config.token)
            .send()
            .await
            .map_err(|e| SinkError::transport(e.to_string()))?;
        let status = response.status().as_u16();
        classify_status(status, None, &response.text().await.unwrap_or_default())
    }

    async fn shutdown(&self, _timeout: Duration) -> Result<(), SinkError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        Ok(())
    }
}
