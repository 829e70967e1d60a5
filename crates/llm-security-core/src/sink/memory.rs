//! An in-memory sink for tests, examples and doctests.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use super::{DeliveryReport, EventSink, SinkError};
use crate::event::SecurityEvent;

/// Keeps every delivered event in memory, once per id. Clones share the same storage, so a
/// test can keep one handle and give the other to a pipeline.
///
/// ```
/// use llm_security_core::MemorySink;
/// let sink = MemorySink::new();
/// let handle = sink.clone();
/// assert!(handle.events().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    events: Mutex<(Vec<SecurityEvent>, HashSet<Uuid>)>,
    shut_down: AtomicBool,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the events delivered so far, in delivery order.
    pub fn events(&self) -> Vec<SecurityEvent> {
        self.lock().0.clone()
    }

    /// How many distinct events were delivered.
    pub fn len(&self) -> usize {
        self.lock().0.len()
    }

    /// Whether nothing was delivered yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every event (the shutdown state is kept).
    pub fn reset(&self) {
        let mut guard = self.lock();
        guard.0.clear();
        guard.1.clear();
    }

    fn lock(&self) -> MutexGuard<'_, (Vec<SecurityEvent>, HashSet<Uuid>)> {
        // A panic while holding the lock cannot leave the Vec/HashSet half-updated in a way
        // that matters for a test double, so a poisoned lock is used as is.
        self.state
            .events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl EventSink for MemorySink {
    fn name(&self) -> &str {
        "memory"
    }

    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        if self.state.shut_down.load(Ordering::Acquire) {
            return Err(SinkError::AlreadyShutdown);
        }
        let mut guard = self.lock();
        let (events, ids) = &mut *guard;
        let mut report = DeliveryReport::default();
        for event in batch {
            if ids.insert(event.id) {
                events.push(SecurityEvent::clone(event));
                report.delivered += 1;
            } else {
                report.duplicates += 1;
            }
        }
        Ok(report)
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        if self.state.shut_down.load(Ordering::Acquire) {
            return Err(SinkError::AlreadyShutdown);
        }
        Ok(())
    }

    async fn shutdown(&self, _timeout: Duration) -> Result<(), SinkError> {
        if self.state.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        Ok(())
    }
}
