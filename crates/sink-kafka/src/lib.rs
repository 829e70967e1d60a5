//! Kafka sink for llm-security.
//!
//! [`KafkaSink::new`] builds an idempotent producer (`enable.idempotence=true`, `acks=all`) for one
//! topic. Each event is one message: the key is the session id, else the user id, else the event
//! id, so the events of one conversation land on one partition in order; the value is the event's
//! JSON; headers carry `event_type`, `schema_version` and `event_id`. `send_batch` queues the
//! whole batch and waits for every delivery report: a failed delivery fails the batch as
//! retriable (the pipeline sends it again; consumers drop re-deliveries by `event_id`), so no
//! event is dropped silently. Compression, client id and any librdkafka property (SASL, TLS) come
//! from [`KafkaConfig`]. Health: a metadata request for the topic.

mod config;
mod encoder;
mod health;
mod sink;

pub use config::{Compression, KafkaConfig, KafkaError};
pub use encoder::{HEADER_EVENT_ID, HEADER_EVENT_TYPE, HEADER_SCHEMA_VERSION, message_key};
pub use sink::KafkaSink;
