//! The HEC sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use llm_security_core::http::{classify_status, parse_retry_after};
use llm_security_core::{DeliveryReport, EventSink, SecurityEvent, SinkError, async_trait};
use llm_security_http_sink as http;
use serde_json::Value;

use crate::config::{HecConfig, HecError};
use crate::encoder::encode;

/// Sends events to a Splunk HTTP Event Collector. See the crate docs.
#[derive(Debug)]
pub struct HecSink {
    config: HecConfig,
    event_url: reqwest::Url,
    ack_url: reqwest::Url,
    health_url: reqwest::Url,
    channel: String,
    host: String,
    client: reqwest::Client,
    shut_down: AtomicBool,
}

/// What HEC answered.
struct Reply {
    status: u16,
    code: Option<i64>,
    text: String,
    ack_id: Option<u64>,
    invalid_event: Option<usize>,
    retry_after: Option<String>,
}

impl HecSink {
    /// Validates `config` and builds the client.
    pub fn new(config: HecConfig) -> Result<Self, HecError> {
        let base = config.validate()?;
        let join = |p: &str| {
            http::join(&base, p).map_err(|reason| HecError::Endpoint {
                endpoint: config.endpoint.clone(),
                reason,
            })
        };
        let client = http::client(config.timeout).map_err(HecError::Client)?;
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "llm-security".to_owned());
        Ok(Self {
            event_url: join("/services/collector/event")?,
            ack_url: join("/services/collector/ack")?,
            health_url: join("/services/collector/health")?,
            channel: uuid::Uuid::new_v4().to_string(),
            host,
            client,
            config,
            shut_down: AtomicBool::new(false),
        })
    }

    fn request(&self, url: &reqwest::Url) -> reqwest::RequestBuilder {
        let mut r = self
            .client
            .post(url.clone())
            .header("authorization", format!("Splunk {}", self.config.token));
        if self.config.acknowledgements {
            r = r.header("x-splunk-request-channel", &self.channel);
        }
        r
    }

    async fn send(&self, body: Vec<u8>) -> Result<Reply, SinkError> {
        let reply = http::send(
            self.request(&self.event_url).body(body),
            self.config.timeout,
        )
        .await?;
        let json: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
        Ok(Reply {
            status: reply.status,
            code: json["code"].as_i64(),
            text: json["text"].as_str().map_or(reply.body, str::to_owned),
            ack_id: json["ackId"].as_u64(),
            invalid_event: json["invalid-event-number"].as_u64().map(|n| n as usize),
            retry_after: reply.retry_after,
        })
    }

    /// Polls until HEC confirms the batch was indexed.
    async fn wait_for_ack(&self, ack_id: u64) -> Result<(), SinkError> {
        for _ in 0..self.config.ack_polls {
            let body = serde_json::json!({"acks": [ack_id]}).to_string();
            let reply =
                http::send(self.request(&self.ack_url).body(body), self.config.timeout).await?;
            let status = reply.status;
            let json: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
            if status != 200 {
                return classify_status(status, None, &json.to_string());
            }
            if json["acks"][ack_id.to_string()] == Value::Bool(true) {
                return Ok(());
            }
            tokio::time::sleep(self.config.ack_interval).await;
        }
        Err(SinkError::retriable(format!(
            "batch {ack_id} was not acknowledged by the indexers in time"
        )))
    }
}

#[async_trait]
impl EventSink for HecSink {
    fn name(&self) -> &str {
        "splunk_hec"
    }

    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(SinkError::AlreadyShutdown);
        }
        let mut pending: Vec<&SecurityEvent> = batch.iter().map(AsRef::as_ref).collect();
        // Where each pending event sits in `batch`, which a rejection reports.
        let mut positions: Vec<usize> = (0..batch.len()).collect();
        let mut report = DeliveryReport::default();
        while !pending.is_empty() {
            let reply = self
                .send(encode(&pending, &self.config, &self.host))
                .await?;
            let reason = format!("HEC code {}: {}", reply.code.unwrap_or(-1), reply.text);
            match (reply.status, reply.code) {
                (200, Some(0) | None) => {
                    if self.config.acknowledgements {
                        let id = reply.ack_id.ok_or_else(|| {
                            SinkError::permanent("acknowledgements are on but HEC sent no ackId")
                        })?;
                        self.wait_for_ack(id).await?;
                    }
                    report.delivered += pending.len();
                    return Ok(report);
                }
                (_, Some(9)) | (429 | 500..=599, _) => {
                    let retry_after = reply
                        .retry_after
                        .as_deref()
                        .and_then(|v| parse_retry_after(v, chrono_now()));
                    return Err(SinkError::Rejected {
                        retriable: true,
                        reason,
                        retry_after,
                    });
                }
                (_, Some(1..=4)) => {
                    return Err(SinkError::permanent(format!("token refused ({reason})")));
                }
                (_, Some(7)) => {
                    return Err(SinkError::permanent(format!("index refused ({reason})")));
                }
                (_, Some(10 | 11)) => {
                    return Err(SinkError::permanent(format!("channel refused ({reason})")));
                }
                (_, Some(5 | 6 | 12 | 13 | 15)) => match reply.invalid_event {
                    Some(n) if n < pending.len() => {
                        let bad = pending.remove(n);
                        report.reject(positions.remove(n));
                        tracing::error!(event = %bad.id, reason = %reason, "HEC refused an event; sending the rest of the batch.");
                    }
                    _ => return Err(SinkError::permanent(reason)),
                },
                (status, _) => return classify_status(status, None, &reason).map(|()| report),
            }
        }
        Ok(report)
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        let request = self
            .client
            .get(self.health_url.clone())
            .header("authorization", format!("Splunk {}", self.config.token));
        let reply = http::send(request, self.config.timeout).await?;
        classify_status(reply.status, None, &reply.body)
    }

    async fn shutdown(&self, _timeout: Duration) -> Result<(), SinkError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        Ok(())
    }
}

fn chrono_now() -> llm_security_core::DateTimeUtc {
    llm_security_core::DateTimeUtc::from(std::time::SystemTime::now())
}
