//! Elasticsearch / OpenSearch sink for llm-security.
//!
//! Each batch is one `_bulk` request of `create` actions whose `_id` is the event id, so a
//! re-delivered event is refused with 409 and counted as a duplicate, never stored twice (and
//! data streams, which accept only `create`, work). Documents follow the Elastic Common Schema:
//! `event.kind: alert` for threats (`event` for clean analyses), `event.category:
//! [intrusion_detection]`, `rule.*` from the strongest finding, `threat.framework: MITRE ATLAS`
//! with the techniques, `observer.*` naming the product, and the whole security event under
//! `llm_security`. Items that fail with 429 or 5xx are sent again within the call; other item
//! failures are counted as rejected with their error type. Auth: API key or basic.

mod config;
mod encoder;
mod sink;

pub use config::{ElasticAuth, ElasticConfig, ElasticError};
pub use encoder::{ECS_VERSION, bulk_body, ecs_document};
pub use sink::ElasticSink;
