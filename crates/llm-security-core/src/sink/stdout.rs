//! Events printed to standard output, one JSON object per line.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::{DeliveryReport, EventSink, SinkError};
use crate::event::SecurityEvent;

/// Writes each event as a JSON line to standard output (for pipes, containers and log
/// shippers that read stdout).
#[derive(Debug, Default)]
pub struct StdoutSink {
    shut_down: AtomicBool,
}

impl StdoutSink {
    /// A new stdout sink.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl EventSink for StdoutSink {
    fn name(&self) -> &str {
        "stdout"
    }

    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(SinkError::AlreadyShutdown);
        }
        let mut buf = Vec::with_capacity(batch.len() * 512);
        for event in batch {
            serde_json::to_writer(&mut buf, &**event).map_err(|e| {
                SinkError::permanent(format!("cannot encode event {}: {e}", event.id))
            })?;
            buf.push(b'\n');
        }
        let mut out = std::io::stdout().lock();
        out.write_all(&buf)
            .and_then(|()| out.flush())
            .map_err(SinkError::transport)?;
        Ok(DeliveryReport::delivered(batch.len()))
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        Ok(())
    }

    async fn shutdown(&self, _timeout: Duration) -> Result<(), SinkError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        Ok(())
    }
}
