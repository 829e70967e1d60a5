//! S3 sink for llm-security, and the daily security report.
//!
//! Each batch becomes newline-delimited JSON objects, one per hour the batch spans, under
//! `{prefix}/dt=YYYY-MM-DD/hour=HH/{first event id}-{count}.ndjson[.gz]`. The key is derived from
//! the events, so a retried batch overwrites its own object instead of adding a copy. Batches are
//! large and slow by default ([`S3Sink::recommended_options`]: 10 MB or 300 s). Custom endpoints
//! and path-style addressing serve S3-compatible stores. Throttling (503 SlowDown), 5xx and
//! network failures are retriable; a missing bucket, refused credentials or a bad signature are
//! not. Health: `HeadBucket`. [`SecurityReport`] summarizes a day of events and
//! [`S3Sink::upload_report`] stores it under `{prefix}/reports/YYYY-MM-DD.json`.

mod config;
mod encoder;
mod health;
mod report;
mod sink;

pub use config::{S3Config, S3Error};
pub use encoder::{Object, objects};
pub use report::SecurityReport;
pub use sink::S3Sink;
