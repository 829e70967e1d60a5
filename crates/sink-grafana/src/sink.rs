//! The Grafana sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use llm_security_core::{
    DeliveryReport, EventSink, EventType, SecurityEvent, SinkError, async_trait,
};
use llm_security_http_sink as http;

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
            http::join(&base, p).map_err(|reason| GrafanaError::Endpoint {
                endpoint: config.endpoint.clone(),
                reason,
            })
        };
        let client = http::client(config.timeout).map_err(GrafanaError::Client)?;
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
            let request = self
                .client
                .post(self.annotations.clone())
                .header("authorization", format!("Bearer {}", self.config.token))
                .header("content-type", "application/json")
                .body(annotation(event, &self.config).to_string());
            http::send(request, self.config.timeout).await?.check()?;
            report.delivered += 1;
        }
        Ok(report)
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        let request = self.client.get(self.health.clone());
        http::send(request, self.config.timeout).await?.check()
    }

    async fn shutdown(&self, _timeout: Duration) -> Result<(), SinkError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        Ok(())
    }
}
