//! Events appended to a JSON Lines file: the embedded default store.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::{DeliveryReport, EventSink, SinkError};
use crate::event::SecurityEvent;

/// Appends each event as one JSON line to a file, creating it (and its parent folders).
///
/// A batch is appended with one write; if the write fails part-way, the file is cut back to
/// its previous length, so a retried batch never leaves half a batch behind. Lines are
/// written by one worker at a time and are never interleaved. With
/// [`with_fsync(true)`](Self::with_fsync) each batch is synced to disk before it counts as
/// delivered.
#[derive(Debug)]
pub struct JsonlFileSink {
    path: PathBuf,
    file: Arc<Mutex<Option<File>>>,
    fsync: bool,
    shut_down: AtomicBool,
}

impl JsonlFileSink {
    /// Opens (or creates) `path` for appending. Fails with the I/O error and the path when the
    /// file cannot be opened.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| with_path(&e, dir))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| with_path(&e, &path))?;
        Ok(Self {
            path,
            file: Arc::new(Mutex::new(Some(file))),
            fsync: false,
            shut_down: AtomicBool::new(false),
        })
    }

    /// Syncs each batch to disk before reporting it delivered (slower, survives power loss).
    pub fn with_fsync(mut self, fsync: bool) -> Self {
        self.fsync = fsync;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn with_path(e: &io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[async_trait]
impl EventSink for JsonlFileSink {
    fn name(&self) -> &str {
        "jsonl"
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
        let file = Arc::clone(&self.file);
        let fsync = self.fsync;
        let count = batch.len();
        tokio::task::spawn_blocking(move || {
            let mut guard = file
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let f = guard.as_mut().ok_or(SinkError::AlreadyShutdown)?;
            let before = f.metadata().map_err(SinkError::transport)?.len();
            let written = f
                .write_all(&buf)
                .and_then(|()| if fsync { f.sync_data() } else { Ok(()) });
            if let Err(e) = written {
                // Leave no partial batch behind; the retry appends the whole batch again.
                let _ = f.set_len(before);
                return Err(SinkError::transport(e));
            }
            Ok(DeliveryReport::delivered(count))
        })
        .await
        .map_err(SinkError::transport)?
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        let guard = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let f = guard.as_ref().ok_or(SinkError::AlreadyShutdown)?;
        f.metadata().map(|_| ()).map_err(SinkError::transport)
    }

    async fn flush(&self, _timeout: Duration) -> Result<(), SinkError> {
        let guard = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let f = guard.as_ref().ok_or(SinkError::AlreadyShutdown)?;
        f.sync_data().map_err(SinkError::transport)
    }

    async fn shutdown(&self, timeout: Duration) -> Result<(), SinkError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        let synced = self.flush(timeout).await;
        self.file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        synced
    }
}

/// Reads events back from a JSON Lines file written by [`JsonlFileSink`], one at a time
/// (memory stays bounded by the longest line). A line that is not a valid event yields an
/// `InvalidData` error naming its line number; iteration can go on past it.
pub fn read_jsonl_events(
    path: impl AsRef<Path>,
) -> io::Result<impl Iterator<Item = io::Result<SecurityEvent>>> {
    let path = path.as_ref();
    let reader = BufReader::new(File::open(path).map_err(|e| with_path(&e, path))?);
    Ok(reader
        .lines()
        .enumerate()
        .filter_map(|(i, line)| match line {
            Err(e) => Some(Err(e)),
            Ok(l) if l.trim().is_empty() => None,
            Ok(l) => Some(serde_json::from_str(&l).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("line {}: {e}", i + 1))
            })),
        }))
}
