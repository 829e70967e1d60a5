//! RabbitMQ sink for llm-security.
//!
//! [`RabbitSink::connect`] opens a connection and a channel in publisher-confirm mode and declares
//! a durable **topic exchange**. Each event is one persistent message (delivery mode 2) with the
//! event's JSON as body, `message_id` = event id, `type` = event type, and a `schema_version`
//! header, routed with `threat.<kind>` (the event's most severe threat) or `analysis.completed`.
//! `send_batch` publishes the batch and awaits every publisher confirm: a nack or a lost
//! connection fails the batch as retriable, and the next attempt reconnects, so the pipeline's
//! backoff is the reconnect backoff while the broker restarts. Health: a passive declare of the
//! exchange.

mod config;
mod encoder;
mod health;
mod sink;

pub use config::{RabbitConfig, RabbitError};
pub use encoder::routing_key;
pub use sink::RabbitSink;
