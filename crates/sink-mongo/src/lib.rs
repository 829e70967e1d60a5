//! MongoDB sink for llm-security.
//!
//! Each batch is one unordered `insert_many` into `database.collection`. A document's `_id` is the
//! event id, so a re-delivered event fails with a duplicate-key error (11000) that is counted as a
//! duplicate, not an error, while the rest of the batch is inserted. Documents keep the whole event
//! under `event` and lift the fields worth querying (`event_type`, `timestamp` as a BSON date,
//! `direction`, `is_secure`, `score`, `user_id`, `session_id`, threat `kinds`). With a TTL, an
//! index on `timestamp` expires old events. Network and server-selection errors are retriable;
//! authentication and other write errors are not. Health: `ping`.

mod config;
mod encoder;
mod health;
mod sink;

pub use config::{MongoConfig, MongoError};
pub use encoder::{document, event_of};
pub use sink::MongoSink;
