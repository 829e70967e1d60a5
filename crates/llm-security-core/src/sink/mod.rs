//! The [`EventSink`] contract, its error type, and the sinks built into core.

pub mod http;
mod jsonl;
mod memory;
pub mod nul;
mod stdout;

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use jsonl::{JsonlFileSink, read_jsonl_events};
pub use memory::MemorySink;
pub use stdout::StdoutSink;

use crate::event::SecurityEvent;

/// What a successful `send_batch` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Events newly stored or accepted by the destination.
    pub delivered: usize,
    /// Events the destination already had (same id), so it ignored them.
    pub duplicates: usize,
    /// Events the destination refused for good (malformed for it, over a size limit) while
    /// accepting the rest of the batch. The pipeline counts them as failed; they are not retried.
    pub rejected: usize,
    /// Where in the batch the refused events are (indices into `send_batch`'s slice), so that
    /// a spool keeps them as dead letters instead of dropping them. Record a refusal with
    /// [`reject`](Self::reject), which keeps this list and `rejected` in step.
    pub rejected_indices: Vec<usize>,
}

impl DeliveryReport {
    /// A report of `delivered` new events and no duplicates.
    pub fn delivered(delivered: usize) -> Self {
        Self {
            delivered,
            ..Self::default()
        }
    }

    /// Records that the destination refused the event at `index` of the batch for good.
    pub fn reject(&mut self, index: usize) {
        self.rejected += 1;
        self.rejected_indices.push(index);
    }
}

/// Why a sink call failed. A small closed set: what the pipeline needs to decide what to do.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The sink was shut down; the call was not attempted.
    #[error("sink is already shut down")]
    AlreadyShutdown,
    /// The call did not finish in time; the destination may or may not have the events.
    #[error("sink call timed out after {0:?}")]
    Timeout(Duration),
    /// The destination answered and refused the batch.
    #[error("rejected by destination ({}): {reason}", if *retriable { "retriable" } else { "permanent" })]
    Rejected {
        /// Whether sending the same batch again may succeed (overload, 429, 5xx).
        retriable: bool,
        /// What the destination said.
        reason: String,
        /// How long the destination asked us to wait before retrying, if it said.
        retry_after: Option<Duration>,
    },
    /// The destination could not be reached or the connection failed mid-call. Retriable.
    #[error("transport error: {0}")]
    Transport(#[source] Box<dyn StdError + Send + Sync>),
}

impl SinkError {
    /// A permanent rejection (bad data, bad credentials): retrying cannot help.
    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Rejected {
            retriable: false,
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// A temporary rejection: the same batch may be sent again.
    pub fn retriable(reason: impl Into<String>) -> Self {
        Self::Rejected {
            retriable: true,
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// A transport failure wrapping `error`.
    pub fn transport(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Transport(error.into())
    }

    /// Whether the same batch may be sent again.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::AlreadyShutdown => false,
            Self::Timeout(_) | Self::Transport(_) => true,
            Self::Rejected { retriable, .. } => *retriable,
        }
    }

    /// The wait the destination asked for before a retry, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Rejected { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A destination for security events.
///
/// # Contract
///
/// A sink is an adapter that encodes events and transmits them to one destination.
///
/// * **One call at a time.** The [`Pipeline`](crate::Pipeline) never calls `send_batch` on the
///   same instance concurrently; each sink has its own worker.
/// * **One attempt per call; the pipeline retries.** `send_batch` makes one delivery attempt
///   (a sink talking to a bulk API may re-send the failed items of a partial success within that
///   call) and reports the outcome. On an error it says whether the *whole batch* may be sent
///   again ([`SinkError::is_retriable`]); the pipeline then retries with exponential backoff and
///   jitter, honouring [`SinkError::retry_after`]. A sink never sleeps to retry on its own.
/// * **Idempotent by id.** The pipeline delivers at least once, so a batch may arrive twice. Each
///   sink uses [`SecurityEvent::id`] as its idempotency key (a primary key, a document id, a
///   message id) and counts already-present events as [`DeliveryReport::duplicates`].
/// * **Bounded time.** `send_batch` must return within the sink's own request timeout; it must
///   not block indefinitely. `flush` and `shutdown` honour the timeout they are given.
/// * **Shutdown is final.** After `shutdown`, every call returns [`SinkError::AlreadyShutdown`].
#[async_trait]
pub trait EventSink: Send + Sync + fmt::Debug {
    /// A short, stable name for logs and metrics, e.g. `postgres` or `webhook:alerts`.
    fn name(&self) -> &str;

    /// Delivers `batch` in one attempt.
    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError>;

    /// Checks that the destination is reachable and accepts our credentials, the way real
    /// traffic would, without writing events. Prefer false positives to false negatives.
    async fn healthcheck(&self) -> Result<(), SinkError>;

    /// Pushes out anything the sink buffers internally. The default has nothing to flush.
    async fn flush(&self, _timeout: Duration) -> Result<(), SinkError> {
        Ok(())
    }

    /// Flushes and releases resources; later calls fail with [`SinkError::AlreadyShutdown`].
    async fn shutdown(&self, timeout: Duration) -> Result<(), SinkError>;
}

#[async_trait]
impl<S: EventSink + ?Sized> EventSink for Box<S> {
    fn name(&self) -> &str {
        (**self).name()
    }
    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        (**self).send_batch(batch).await
    }
    async fn healthcheck(&self) -> Result<(), SinkError> {
        (**self).healthcheck().await
    }
    async fn flush(&self, timeout: Duration) -> Result<(), SinkError> {
        (**self).flush(timeout).await
    }
    async fn shutdown(&self, timeout: Duration) -> Result<(), SinkError> {
        (**self).shutdown(timeout).await
    }
}

#[async_trait]
impl<S: EventSink + ?Sized> EventSink for Arc<S> {
    fn name(&self) -> &str {
        (**self).name()
    }
    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        (**self).send_batch(batch).await
    }
    async fn healthcheck(&self) -> Result<(), SinkError> {
        (**self).healthcheck().await
    }
    async fn flush(&self, timeout: Duration) -> Result<(), SinkError> {
        (**self).flush(timeout).await
    }
    async fn shutdown(&self, timeout: Duration) -> Result<(), SinkError> {
        (**self).shutdown(timeout).await
    }
}
