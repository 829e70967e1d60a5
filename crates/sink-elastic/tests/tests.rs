//! Elastic sink tests.

// Item-level retries and request-level errors, scripted on a recording endpoint.
mod scripted;
// Against a real OpenSearch-API server (osmem-server from PyPI), started by scripts/test.sh.
#[cfg(feature = "integration-tests")]
mod opensearch;
// The ECS document and _bulk body of a fixed event.
mod golden;
