//! The SOAR sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use llm_security_core::{
    DeliveryReport, EventSink, EventType, SecurityEvent, SinkError, async_trait,
};
use llm_security_http_sink as http;
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
            http::join(&base, p).map_err(|reason| SoarError::Endpoint {
                endpoint: config.endpoint.clone(),
                reason,
            })
        };
        let client = http::client(config.timeout).map_err(SoarError::Client)?;
        Ok(Self {
            containers: join("/rest/container")?,
            version: join("/rest/version")?,
            client,
            config,
            shut_down: AtomicBool::new(false),
        })
    }

    async fn create(&self, event: &SecurityEvent) -> Result<bool, SinkError> {
        let request = self
            .client
            .post(self.containers.clone())
            .header("ph-auth-token", &self.config.token)
            .json_body(&container(event, &self.config));
        let reply = http::send(request, self.config.timeout).await?;
        let json: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
        if json["failed"] == Value::Bool(true) && json.get("existing_container_id").is_some() {
            return Ok(false); // already created by an earlier delivery
        }
        reply.check()?;
        if json["success"] != Value::Bool(true) {
            return Err(SinkError::permanent(format!(
                "SOAR did not confirm the container: {}",
                reply.body
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
        let request = self
            .client
            .get(self.version.clone())
            .header("ph-auth-token", &self.config.token);
        http::send(request, self.config.timeout).await?.check()
    }

    async fn shutdown(&self, _timeout: Duration) -> Result<(), SinkError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        Ok(())
    }
}
