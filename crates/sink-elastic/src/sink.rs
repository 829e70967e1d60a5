//! The Elastic sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use llm_security_core::{DeliveryReport, EventSink, SecurityEvent, SinkError, async_trait};
use llm_security_http_sink as http;
use serde_json::Value;

use crate::config::{ElasticAuth, ElasticConfig, ElasticError};
use crate::encoder::bulk_body;

/// Indexes events into Elasticsearch or OpenSearch. See the crate docs.
#[derive(Debug)]
pub struct ElasticSink {
    config: ElasticConfig,
    base: reqwest::Url,
    bulk: reqwest::Url,
    client: reqwest::Client,
    shut_down: AtomicBool,
    /// Whether the metadata mapping was settled (done, not wanted, or refused for good).
    metadata_mapped: AtomicBool,
}

/// `llm_security.metadata`: kept in `_source`, never mapped (see `ElasticConfig::map_metadata`).
const METADATA_MAPPING: &str = r#"{"properties":{"llm_security":{"properties":{"metadata":{"type":"object","enabled":false}}}}}"#;

impl ElasticSink {
    /// Validates `config` and builds the client.
    pub fn new(config: ElasticConfig) -> Result<Self, ElasticError> {
        let base = config.validate()?;
        let bulk = http::join(&base, "/_bulk").map_err(|reason| ElasticError::Endpoint {
            endpoint: config.endpoint.clone(),
            reason,
        })?;
        let client = http::client(config.timeout).map_err(ElasticError::Client)?;
        let map_metadata = config.map_metadata;
        Ok(Self {
            config,
            base,
            bulk,
            client,
            shut_down: AtomicBool::new(false),
            metadata_mapped: AtomicBool::new(!map_metadata),
        })
    }

    fn authorized(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.config.auth {
            None => r,
            Some(ElasticAuth::ApiKey(key)) => r.header("authorization", format!("ApiKey {key}")),
            Some(ElasticAuth::Basic { user, password }) => {
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                r.header("authorization", format!("Basic {token}"))
            }
        }
    }

    /// Maps `llm_security.metadata` as not indexed: on the index if it exists, else by
    /// creating the index with that mapping. Returns whether the question is settled (an
    /// answer came back, good or bad); a transport error leaves it for the next batch.
    async fn map_metadata(&self) -> bool {
        let index = &self.config.index;
        let put = |path: String, body: String| async move {
            let url = http::join(&self.base, &path).map_err(SinkError::permanent)?;
            let request = self
                .client
                .put(url)
                .header("content-type", "application/json")
                .body(body);
            http::send(self.authorized(request), self.config.timeout).await
        };
        let mut reply = put(format!("/{index}/_mapping"), METADATA_MAPPING.to_owned()).await;
        if matches!(&reply, Ok(r) if r.status == 404) {
            let create = format!(r#"{{"mappings":{METADATA_MAPPING}}}"#);
            reply = put(format!("/{index}"), create).await;
            if matches!(&reply, Ok(r) if r.body.contains("resource_already_exists_exception")) {
                // Created in the meantime by someone else: map it.
                reply = put(format!("/{index}/_mapping"), METADATA_MAPPING.to_owned()).await;
            }
        }
        match reply {
            Ok(r) if (200..300).contains(&r.status) => {
                tracing::debug!(index = %index, "llm_security.metadata mapped as not indexed.");
                true
            }
            Ok(r) => {
                tracing::warn!(index = %index, status = r.status, body = %r.body,
                    "Cannot map llm_security.metadata as not indexed; its fields are mapped dynamically, and a type conflict between events will make the cluster refuse documents.");
                true
            }
            Err(e) => {
                tracing::debug!(index = %index, error = %e, "Metadata mapping not sent; trying again with the next batch.");
                false
            }
        }
    }

    /// Sends one `_bulk` request; returns the per-item statuses (and error types), in order.
    async fn bulk_once(&self, events: &[&SecurityEvent]) -> Result<Vec<(u16, String)>, SinkError> {
        let request = self
            .client
            .post(self.bulk.clone())
            .header("content-type", "application/x-ndjson")
            .body(bulk_body(&self.config.index, events));
        let reply = http::send(self.authorized(request), self.config.timeout).await?;
        reply.check()?;
        let json: Value = serde_json::from_str(&reply.body)
            .map_err(|e| SinkError::retriable(format!("unreadable _bulk response: {e}")))?;
        let items = json["items"].as_array().cloned().unwrap_or_default();
        if items.len() != events.len() {
            return Err(SinkError::retriable(format!(
                "_bulk answered {} items for {} documents",
                items.len(),
                events.len()
            )));
        }
        Ok(items
            .iter()
            .map(|item| {
                let result = item
                    .as_object()
                    .and_then(|o| o.values().next())
                    .cloned()
                    .unwrap_or(Value::Null);
                let status = result["status"]
                    .as_u64()
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(500);
                let kind = result["error"]["type"].as_str().unwrap_or("").to_owned();
                (status, kind)
            })
            .collect())
    }
}

#[async_trait]
impl EventSink for ElasticSink {
    fn name(&self) -> &str {
        "elasticsearch"
    }

    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(SinkError::AlreadyShutdown);
        }
        if !self.metadata_mapped.load(Ordering::Acquire) && self.map_metadata().await {
            self.metadata_mapped.store(true, Ordering::Release);
        }
        // Each pending event with its index in `batch`, which a rejection reports.
        let mut pending: Vec<(usize, &SecurityEvent)> =
            batch.iter().map(AsRef::as_ref).enumerate().collect();
        let mut report = DeliveryReport::default();
        for attempt in 0..=self.config.item_retries {
            let events: Vec<&SecurityEvent> = pending.iter().map(|(_, e)| *e).collect();
            let statuses = self.bulk_once(&events).await?;
            let mut again = Vec::new();
            for (&(index, event), (status, kind)) in pending.iter().zip(statuses) {
                match status {
                    200..=299 => report.delivered += 1,
                    409 => report.duplicates += 1,
                    429 | 500..=599 => again.push((index, event)),
                    _ => {
                        report.reject(index);
                        tracing::error!(event = %event.id, status, error = %kind, "Elasticsearch refused a document.");
                    }
                }
            }
            if again.is_empty() {
                return Ok(report);
            }
            tracing::warn!(
                items = again.len(),
                attempt,
                "Sending items that failed with 429/5xx again."
            );
            pending = again;
        }
        Err(SinkError::retriable(format!(
            "{} documents still failing with 429/5xx",
            pending.len()
        )))
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        let request = self.authorized(self.client.get(self.base.clone()));
        http::send(request, self.config.timeout).await?.check()
    }

    async fn shutdown(&self, _timeout: Duration) -> Result<(), SinkError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        Ok(())
    }
}
