//! The sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use llm_security_core::{DeliveryReport, EventSink, SecurityEvent, SinkError, SinkOptions};
use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};

use crate::config::{KafkaConfig, KafkaError};
use crate::encoder::{HEADER_EVENT_ID, HEADER_EVENT_TYPE, HEADER_SCHEMA_VERSION, message_key};

/// Delivers events to a Kafka topic.
pub struct KafkaSink {
    pub(crate) producer: FutureProducer,
    pub(crate) topic: String,
    name: String,
    shut_down: AtomicBool,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// Builds the producer. Connecting is lazy: an unreachable broker shows in
    /// [`healthcheck`](EventSink::healthcheck) and in failed deliveries, not here.
    pub fn new(config: &KafkaConfig) -> Result<Self, KafkaError> {
        let producer: FutureProducer = config
            .client_config()?
            .create()
            .map_err(|e| KafkaError::Client(e.to_string()))?;
        Ok(Self {
            producer,
            topic: config.topic.clone(),
            name: format!("kafka:{}", config.topic),
            shut_down: AtomicBool::new(false),
        })
    }

    /// Pipeline options that fit the sink: batches of up to 1000 events, and a request timeout
    /// above the default delivery timeout.
    pub fn recommended_options() -> SinkOptions {
        let mut options = SinkOptions::default();
        options.batch.max_events = 1000;
        options.request_timeout = Duration::from_secs(30);
        options
    }
}

fn classify(error: &RdError) -> SinkError {
    let permanent = matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::TopicAuthorizationFailed
                | RDKafkaErrorCode::ClusterAuthorizationFailed
                | RDKafkaErrorCode::SaslAuthenticationFailed
                | RDKafkaErrorCode::UnknownTopic
                | RDKafkaErrorCode::InvalidTopic
        )
    );
    if permanent {
        SinkError::permanent(error.to_string())
    } else {
        SinkError::transport(error.to_string())
    }
}

/// Errors about one record (its size, its encoding), not about the broker or the topic: the
/// record is reported as refused and the rest of the batch goes on.
fn refuses_only_this_record(error: &RdError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidRecord
        )
    )
}

#[async_trait]
impl EventSink for KafkaSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(SinkError::AlreadyShutdown);
        }
        let mut report = DeliveryReport::default();
        let mut pending = Vec::with_capacity(batch.len());
        for (index, event) in batch.iter().enumerate() {
            let payload = serde_json::to_vec(&**event).map_err(SinkError::transport)?;
            let key = message_key(event);
            let id = event.id.to_string();
            let version = event.schema_version.to_string();
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: HEADER_EVENT_TYPE,
                    value: Some(event.event_type.as_str()),
                })
                .insert(Header {
                    key: HEADER_SCHEMA_VERSION,
                    value: Some(&version),
                })
                .insert(Header {
                    key: HEADER_EVENT_ID,
                    value: Some(&id),
                });
            let record = FutureRecord::to(&self.topic)
                .key(&key)
                .payload(&payload)
                .headers(headers);
            match self.producer.send_result(record) {
                Ok(delivery) => pending.push((index, delivery)),
                Err((error, _)) if refuses_only_this_record(&error) => {
                    tracing::error!(event = %event.id, error = %error, "Kafka cannot take this event; sending the rest of the batch.");
                    report.reject(index);
                }
                Err((error, _)) => {
                    // The local queue is full or the producer is failing: the batch is sent
                    // again; what was queued may arrive twice (consumers drop by event_id).
                    return Err(classify(&error));
                }
            }
        }
        let (indices, deliveries): (Vec<usize>, Vec<_>) = pending.into_iter().unzip();
        let mut first_error = None;
        for (index, result) in indices
            .into_iter()
            .zip(futures_util::future::join_all(deliveries).await)
        {
            let error = match result {
                Ok(Ok(_)) => {
                    report.delivered += 1;
                    continue;
                }
                Ok(Err((error, _))) if refuses_only_this_record(&error) => {
                    tracing::error!(event = %batch[index].id, error = %error, "Kafka refused this event.");
                    report.reject(index);
                    continue;
                }
                Ok(Err((error, _))) => classify(&error),
                Err(_) => SinkError::transport("the producer was dropped before delivery"),
            };
            first_error.get_or_insert(error);
        }
        match first_error {
            None => Ok(report),
            Some(e) => Err(e),
        }
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        self.check().await
    }

    async fn flush(&self, timeout: Duration) -> Result<(), SinkError> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || producer.flush(timeout))
            .await
            .map_err(SinkError::transport)?
            .map_err(|e| classify(&e))
    }

    async fn shutdown(&self, timeout: Duration) -> Result<(), SinkError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        self.flush(timeout).await
    }
}
