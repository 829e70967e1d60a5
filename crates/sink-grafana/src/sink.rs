//! The Grafana sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use llm_security_core::http::classify_status;
use llm_security_core::{
    DeliveryReport, EventSink, EventType, SecurityEvent, SinkError, async_trait,
};

use crate::config::{GrafanaConfig, GrafanaError};
use crate::encoder::annotation;

/// Annotates Grafana with threat events. See the crate docs.
#[derive(Debug)]
pub struct GrafanaSink {
    config: GrafanaConfig,
    annotations: reqwest::Url,
    health: reqwest::Url,
    client: reqwest::Client,
    shut_down: AtomicBool,
}

impl GrafanaSink {
    /// Validates `config` and builds the client.
    pub fn new(config: GrafanaConfig) -> Result<Self, GrafanaError> {
        let base = config.validate()?;
        let join = |p: &str| {
            base.join(p).map_err(|e| GrafanaError::Endpoint {
                endpoint: config.endpoint.clone(),
                reason: e.to_string(),
            })
        };
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| GrafanaError::Client(e.to_string()))?;
        Ok(Self {
            annotations: join("/api/annotations")?,
            health: join("/api/health")?,
            client,
            config,
            shut_down: AtomicBool::new(false),
        })
    }
}

#[async_trait]
impl EventSink for GrafanaSink {
    fn name(&self) -> &str {
        "grafana"
    }

    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(SinkError::AlreadyShutdown);
        }
        let mut report = DeliveryReport::default();
        for event in batch
            .iter()
            .filter(|e| e.event_type != EventType::AnalysisCompleted)
        {
            let response = self
                .client
                .post(self.annotations.clone())
                .header("authorization", format!("Bearer {}", self.config.token))
                .header("content-type", "application/json")
                .body(annotation(event, &self.config).to_string())
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
            classify_status(
                status,
                retry_after.as_deref(),
                &response.text().await.unwrap_or_default(),
            )?;
            report.delivered += 1;
        }
        Ok(report)
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        let response = self
            .client
            .get(self.health.clone())
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
