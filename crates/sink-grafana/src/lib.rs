//! Grafana annotations sink for llm-security.
//!
//! Each threat event becomes an annotation (`POST /api/annotations`, bearer service-account
//! token): `time` in epoch milliseconds, tags `llm-security`, the threat kinds and the severity,
//! and a one-line text. Without a dashboard the annotation belongs to the organization and any
//! dashboard can show it by tag. Grafana does not de-duplicate annotations, so a batch retried
//! after a timeout may add one twice; the event id is in a tag (`event:<id>`) to tell. Health:
//! `GET /api/health`.

mod config;
mod encoder;
mod sink;

pub use config::{GrafanaConfig, GrafanaError};
pub use encoder::annotation;
pub use sink::GrafanaSink;
