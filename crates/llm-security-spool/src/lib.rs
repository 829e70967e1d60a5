//! A durable spool for llm-security sinks: no security event is lost when a destination is
//! down, slow or restarting, or when the process crashes.
//!
//! Wrap any [`EventSink`](llm_security_core::EventSink) in a [`SpooledSink`]: events go to an
//! embedded transactional store on disk ([redb], fsync on every commit) before the pipeline is
//! told they were taken, and leave it only after the destination confirmed them. Delivery is
//! at least once, with the event id as the idempotency key every sink already uses.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use llm_security_core::{JsonlFileSink, Pipeline};
//! use llm_security_spool::{FullPolicy, SpoolConfig, SpooledSink};
//!
//! let sink = JsonlFileSink::open("events.jsonl")?;
//! let spooled = SpooledSink::open(
//!     sink,
//!     SpoolConfig::new("/var/lib/llm-security/spool/jsonl")
//!         .with_max_bytes(512 << 20)
//!         .with_when_full(FullPolicy::DropOldest),
//! )?;
//! let spool = spooled.handle();
//! let pipeline = Pipeline::builder()
//!     .sink_with(spooled, SpooledSink::recommended_options())
//!     .build()?;
//! // ... pipeline.emit(event) ...
//! println!("{:?}", spool.stats()?);
//! # Ok(()) }
//! ```
//!
//! The size bound counts the events' encoded bytes (pending plus dead letters); the file on
//! disk is larger by the store's page overhead. Freed pages are reused while the spool runs;
//! the file shrinks when the spool is opened again and holds far less than its size.

mod breaker;
mod config;
mod error;
mod sink;
pub mod store;

pub use breaker::BreakerState;
pub use config::{BreakerConfig, FullPolicy, SpoolConfig};
pub use error::SpoolError;
pub use sink::{SpoolHandle, SpoolStats, SpooledSink};
pub use store::Store;
