//! Splunk HTTP Event Collector (HEC) sink for llm-security.
//!
//! Batches go to `/services/collector/event` as concatenated JSON envelopes (`time` in epoch
//! seconds with milliseconds, `host`, `source`, `sourcetype`, `index`, `event` = the security
//! event) with `Authorization: Splunk <token>`. With indexer acknowledgement on, every request
//! carries an `X-Splunk-Request-Channel` and a batch counts as delivered only once
//! `/services/collector/ack` confirms it. HEC error codes are mapped: busy (9), 429 and 5xx are
//! retried; bad tokens (1-4), a wrong index (7) and a bad channel (10, 11) are configuration
//! errors; an event refused for its content (`invalid-event-number`) is taken out and counted
//! as rejected while the rest of the batch is sent again. Health: `/services/collector/health`.

mod config;
mod encoder;
mod sink;

pub use config::{HecConfig, HecError};
pub use encoder::encode;
pub use sink::HecSink;
