//! Server tests: the router in-process (tower `oneshot`) and over a real socket.

// REST endpoints, errors and limits, in-process.
mod api;
// Inbound webhooks and GraphQL.
mod extras;
// A real socket, the embedded store, graceful shutdown, metrics.
mod socket;
// Scraped by a real Prometheus server (scripts/test.sh installs it).
#[cfg(feature = "integration-tests")]
mod prometheus;
// The AWS Lambda binary against a local Lambda Runtime API emulator.
#[cfg(feature = "lambda")]
mod lambda;
// The semantic tier from `[semantic]` (real model).
#[cfg(feature = "semantic")]
mod semantic;
