//! The webhook sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use llm_security_core::{
    BatchConfig, DeliveryReport, EventSink, SecurityEvent, SinkError, SinkOptions, async_trait,
};

use crate::config::{WebhookConfig, WebhookError};
use crate::encoder::{encode, message_id};
use crate::signature::{Secret, sign};

/// Delivers events as signed Standard Webhooks. See the crate docs.
#[derive(Debug)]
pub struct WebhookSink {
    config: WebhookConfig,
    secrets: Vec<Secret>,
    client: reqwest::Client,
    disabled: AtomicBool,
    shut_down: AtomicBool,
}

impl WebhookSink {
    /// Validates `config` and builds the client (no redirects, the configured timeout).
    pub fn new(config: WebhookConfig) -> Result<Self, WebhookError> {
        let secrets = config.validate()?;
        let client =
            llm_security_http_sink::client(config.timeout).map_err(WebhookError::Client)?;
        Ok(Self {
            config,
            secrets,
            client,
            disabled: AtomicBool::new(false),
            shut_down: AtomicBool::new(false),
        })
    }

    /// Pipeline options for webhooks: one event per batch, so a retry re-sends only that event.
    pub fn recommended_options() -> SinkOptions {
        SinkOptions {
            batch: BatchConfig {
                max_events: 1,
                ..BatchConfig::default()
            },
            ..SinkOptions::default()
        }
    }

    /// Whether the endpoint answered `410 Gone` and is no longer called.
    pub fn is_disabled(&self) -> bool {
        self.disabled.load(Ordering::Acquire)
    }

    fn wanted(&self, event: &SecurityEvent) -> bool {
        self.config.events.is_empty() || self.config.events.contains(&event.event_type)
    }

    async fn deliver(&self, event: &SecurityEvent) -> Result<Delivery, SinkError> {
        let body = encode(event);
        let id = message_id(event);
        let timestamp = chrono_now();
        let mut request = self
            .client
            .post(&self.config.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string());
        if !self.secrets.is_empty() {
            request = request.header(
                "webhook-signature",
                sign(&self.secrets, &id, timestamp, &body),
            );
        }
        let reply = llm_security_http_sink::send(request.body(body), self.config.timeout).await?;
        if reply.refuses_only_this_item() {
            return Ok(Delivery::Refused(reply.check().err().unwrap_or_else(
                || SinkError::permanent(format!("HTTP {}", reply.status)),
            )));
        }
        if reply.status == 410 {
            self.disabled.store(true, Ordering::Release);
            tracing::error!(url = %self.config.url, "Webhook endpoint answered 410 Gone; it is disabled.");
            return Err(SinkError::permanent(
                "endpoint answered 410 Gone and is disabled",
            ));
        }
        reply.check().map(|()| Delivery::Taken)
    }
}

/// What the endpoint did with one event.
enum Delivery {
    /// A 2xx.
    Taken,
    /// Refused for good, for this event only (`Reply::refuses_only_this_item`).
    Refused(SinkError),
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[async_trait]
impl EventSink for WebhookSink {
    fn name(&self) -> &str {
        "webhook"
    }

    /// Posts each event of the batch that passes the event filter, in order. An event the
    /// endpoint refuses by itself (400, 413, 422) is reported by its place in the batch and the
    /// rest go on; any other failure stops the batch (a retry re-sends it with the same
    /// `webhook-id`s, so receivers can de-duplicate).
    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(SinkError::AlreadyShutdown);
        }
        if self.is_disabled() {
            return Err(SinkError::permanent(
                "endpoint answered 410 Gone and is disabled",
            ));
        }
        let mut report = DeliveryReport::default();
        for (index, event) in batch.iter().enumerate().filter(|(_, e)| self.wanted(e)) {
            match self.deliver(event).await? {
                Delivery::Taken => report.delivered += 1,
                Delivery::Refused(reason) => {
                    tracing::error!(event = %event.id, error = %reason, "Webhook endpoint refused this event; sending the rest of the batch.");
                    report.reject(index);
                }
            }
        }
        Ok(report)
    }

    /// Any HTTP answer to a HEAD request counts as reachable: endpoints often refuse HEAD, and
    /// a health check should prefer false positives.
    async fn healthcheck(&self) -> Result<(), SinkError> {
        if self.is_disabled() {
            return Err(SinkError::permanent(
                "endpoint answered 410 Gone and is disabled",
            ));
        }
        self.client
            .head(&self.config.url)
            .send()
            .await
            .map(|_| ())
            .map_err(SinkError::transport)
    }

    async fn shutdown(&self, _timeout: Duration) -> Result<(), SinkError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        Ok(())
    }
}
