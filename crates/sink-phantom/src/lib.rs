//! Splunk SOAR (formerly Phantom) sink for llm-security.
//!
//! Each threat event becomes one container (`POST /rest/container`, `ph-auth-token` auth) with
//! one artifact per finding, created in the same request. The container's
//! `source_data_identifier` is the event id, so a re-delivery is answered "duplicate" by SOAR
//! and counted as a duplicate, never a second container. Artifacts carry CEF fields: standard
//! ones where they fit (`sourceUserName`) and custom `llm*` keys declared in `cef_types`.
//! Clean analyses (`analysis.completed`) are not sent. Health: `GET /rest/version`.

mod config;
mod encoder;
mod sink;

pub use config::{SoarConfig, SoarError};
pub use encoder::container;
pub use sink::SoarSink;
