//! Fan-out of events to many sinks, without ever slowing analysis down.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until, timeout};

use crate::error::{Error, ErrorKind};
use crate::event::SecurityEvent;
use crate::sink::{EventSink, SinkError};

/// When a batch is handed to the sink: whichever limit is reached first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Most events in one batch.
    pub max_events: usize,
    /// Most encoded JSON bytes in one batch (a single larger event is still sent alone).
    pub max_bytes: usize,
    /// Longest time the first event of a batch waits for the batch to fill.
    pub timeout: Duration,
}

impl Default for BatchConfig {
    /// 500 events, 1 MB, 1 s.
    fn default() -> Self {
        Self {
            max_events: 500,
            max_bytes: 1_000_000,
            timeout: Duration::from_secs(1),
        }
    }
}

impl BatchConfig {
    /// Rejects zero limits.
    pub fn validate(&self) -> Result<(), Error> {
        if self.max_events == 0 || self.max_bytes == 0 || self.timeout.is_zero() {
            return Err(Error::config(
                "batch limits (max_events, max_bytes, timeout) must be non-zero",
            ));
        }
        Ok(())
    }
}

/// How retriable failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Upper bound of the first backoff.
    pub initial_backoff: Duration,
    /// Upper bound of any backoff, including a destination's `Retry-After`.
    pub max_backoff: Duration,
    /// Retries after the first attempt before the batch counts as failed.
    pub max_retries: u32,
}

impl Default for RetryConfig {
    /// 1 s initial, 30 s max, 10 retries.
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_retries: 10,
        }
    }
}

impl RetryConfig {
    /// The wait before retry number `attempt` (0-based): uniformly random in
    /// `[1 ms, min(max_backoff, initial_backoff * 2^attempt)]` ("full jitter").
    pub fn backoff(&self, attempt: u32) -> Duration {
        let cap = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX));
        let cap = cap.min(self.max_backoff).as_millis().max(1);
        let cap = u64::try_from(cap).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(1..=cap.max(1)))
    }
}

/// Per-sink settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkOptions {
    /// Events that may wait in the sink's queue before new ones are dropped.
    pub queue_capacity: usize,
    /// Batching limits.
    pub batch: BatchConfig,
    /// Retry policy.
    pub retry: RetryConfig,
    /// Longest a single `send_batch` call may take before it counts as a (retriable) timeout.
    pub request_timeout: Duration,
}

impl Default for SinkOptions {
    /// 10 000 queued events, default batch and retry, 30 s per request.
    fn default() -> Self {
        Self {
            queue_capacity: 10_000,
            batch: BatchConfig::default(),
            retry: RetryConfig::default(),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl SinkOptions {
    /// Rejects zero capacities and limits.
    pub fn validate(&self) -> Result<(), Error> {
        if self.queue_capacity == 0 || self.request_timeout.is_zero() {
            return Err(Error::config(
                "queue_capacity and request_timeout must be non-zero",
            ));
        }
        self.batch.validate()
    }
}

/// A snapshot of one sink's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkStats {
    /// The sink's name.
    pub name: String,
    /// Events waiting in the queue now.
    pub queued: usize,
    /// Events accepted into the queue.
    pub accepted: u64,
    /// Events the destination newly stored.
    pub delivered: u64,
    /// Events the destination already had (re-deliveries it ignored).
    pub duplicates: u64,
    /// Events in batches that failed permanently or ran out of retries.
    pub failed: u64,
    /// Retry attempts (one per batch re-sent).
    pub retried: u64,
    /// Events dropped because the queue was full or the pipeline was shutting down.
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    dropped: AtomicU64,
    warned_drop: AtomicBool,
}

enum Command {
    Event(Arc<SecurityEvent>),
    Flush(oneshot::Sender<()>),
    Shutdown(Instant, oneshot::Sender<()>),
}

#[derive(Debug)]
struct SinkHandle {
    name: String,
    sink: Arc<dyn EventSink>,
    tx: mpsc::Sender<Command>,
    capacity: usize,
    counters: Arc<Counters>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Event(e) => write!(f, "Event({})", e.id),
            Self::Flush(_) => f.write_str("Flush"),
            Self::Shutdown(..) => f.write_str("Shutdown"),
        }
    }
}

/// Builds a [`Pipeline`].
#[derive(Debug, Default)]
pub struct PipelineBuilder {
    sinks: Vec<(Arc<dyn EventSink>, SinkOptions)>,
}

impl PipelineBuilder {
    /// Adds a sink with default options.
    pub fn sink(self, sink: impl EventSink + 'static) -> Self {
        self.sink_with(sink, SinkOptions::default())
    }

    /// Adds a sink with its own options.
    pub fn sink_with(mut self, sink: impl EventSink + 'static, options: SinkOptions) -> Self {
        self.sinks.push((Arc::new(sink), options));
        self
    }

    /// Validates the options and starts one worker per sink on the current tokio runtime.
    /// Fails when called outside a runtime or when an option is zero.
    pub fn build(self) -> Result<Pipeline, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::new(ErrorKind::Pipeline(
                "must be built inside a tokio runtime".into(),
            ))
        })?;
        let mut handles = Vec::with_capacity(self.sinks.len());
        for (sink, options) in self.sinks {
            options.validate()?;
            let (tx, rx) = mpsc::channel(options.queue_capacity);
            let counters = Arc::new(Counters::default());
            let worker = Worker {
                sink: Arc::clone(&sink),
                options,
                counters: Arc::clone(&counters),
            };
            let join = runtime.spawn(worker.run(rx));
            handles.push(SinkHandle {
                name: sink.name().to_owned(),
                sink,
                tx,
                capacity: options.queue_capacity,
                counters,
                worker: Mutex::new(Some(join)),
            });
        }
        Ok(Pipeline {
            inner: Arc::new(Inner {
                sinks: handles,
                closed: AtomicBool::new(false),
            }),
        })
    }
}

#[derive(Debug)]
struct Inner {
    sinks: Vec<SinkHandle>,
    closed: AtomicBool,
}

/// Fans events out to sinks. Cheap to clone.
///
/// Each sink gets a bounded queue and a worker task. [`Pipeline::emit`] only does a
/// `try_send` per sink: when a queue is full the event is dropped *for that sink*, counted in
/// [`SinkStats::dropped`], and logged once, so a slow or dead destination never blocks or
/// slows the caller. The worker collects events into batches (by count, by encoded bytes, or
/// when the oldest event has waited [`BatchConfig::timeout`]) and hands each batch to the sink.
/// Retriable failures are retried with exponential backoff and full jitter (honouring a
/// destination's `Retry-After`); a batch that fails permanently or runs out of retries is
/// counted in [`SinkStats::failed`] and logged. Events being retried are never counted as
/// dropped. [`Pipeline::flush`] and [`Pipeline::shutdown`] drain every queue within a timeout.
#[derive(Debug, Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

impl Pipeline {
    /// Starts building a pipeline.
    pub fn builder() -> PipelineBuilder {
        PipelineBuilder::default()
    }

    /// Queues `event` for every sink without waiting. Where a queue is full, or the pipeline is
    /// shut down, the event is dropped for that sink and counted.
    pub fn emit(&self, event: SecurityEvent) {
        let event = Arc::new(event);
        let closed = self.inner.closed.load(Ordering::Acquire);
        for handle in &self.inner.sinks {
            if closed {
                handle.drop_event("the pipeline is shut down");
                continue;
            }
            match handle.tx.try_send(Command::Event(Arc::clone(&event))) {
                Ok(()) => {
                    handle.counters.accepted.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Full(_)) => handle.drop_event("its queue is full"),
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    handle.drop_event("its worker has stopped")
                }
            }
        }
    }

    /// The names of the sinks, in the order they were added.
    pub fn sink_names(&self) -> Vec<String> {
        self.inner.sinks.iter().map(|h| h.name.clone()).collect()
    }

    /// A snapshot of every sink's counters.
    pub fn stats(&self) -> Vec<SinkStats> {
        self.inner
            .sinks
            .iter()
            .map(|h| {
                let c = &h.counters;
                SinkStats {
                    name: h.name.clone(),
                    queued: h.capacity.saturating_sub(h.tx.capacity()),
                    accepted: c.accepted.load(Ordering::Relaxed),
                    delivered: c.delivered.load(Ordering::Relaxed),
                    duplicates: c.duplicates.load(Ordering::Relaxed),
                    failed: c.failed.load(Ordering::Relaxed),
                    retried: c.retried.load(Ordering::Relaxed),
                    dropped: c.dropped.load(Ordering::Relaxed),
                }
            })
            .collect()
    }

    /// Runs every sink's health check concurrently, each bounded by `timeout`.
    pub async fn healthcheck(
        &self,
        timeout_each: Duration,
    ) -> Vec<(String, Result<(), SinkError>)> {
        let tasks: Vec<_> = self
            .inner
            .sinks
            .iter()
            .map(|h| {
                let sink = Arc::clone(&h.sink);
                let task = tokio::spawn(async move {
                    match timeout(timeout_each, sink.healthcheck()).await {
                        Ok(r) => r,
                        Err(_) => Err(SinkError::Timeout(timeout_each)),
                    }
                });
                (h.name.clone(), task)
            })
            .collect();
        let mut results = Vec::with_capacity(tasks.len());
        for (name, task) in tasks {
            let result = task.await.unwrap_or_else(|e| Err(SinkError::transport(e)));
            results.push((name, result));
        }
        results
    }

    /// Sends every queued event and waits for the sinks to confirm, at most `timeout` in all.
    /// Fails with the names of the sinks that did not finish in time.
    pub async fn flush(&self, timeout_all: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout_all;
        let mut late = Vec::new();
        for handle in &self.inner.sinks {
            let (ack, done) = oneshot::channel();
            let sent = tokio::time::timeout_at(deadline, handle.tx.send(Command::Flush(ack))).await;
            let finished = matches!(sent, Ok(Ok(())))
                && matches!(tokio::time::timeout_at(deadline, done).await, Ok(Ok(())));
            if !finished {
                late.push(handle.name.clone());
            }
        }
        if late.is_empty() {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::Pipeline(format!(
                "flush did not finish in time for: {}",
                late.join(", ")
            ))))
        }
    }

    /// Stops accepting events, delivers what is queued, and shuts every sink down, all within
    /// `timeout`. Events still undelivered at the deadline are counted as failed. Calling it
    /// twice is harmless.
    pub async fn shutdown(&self, timeout_all: Duration) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let deadline = Instant::now() + timeout_all;
        let mut waits = Vec::new();
        for handle in &self.inner.sinks {
            let (ack, done) = oneshot::channel();
            if let Ok(Ok(())) =
                tokio::time::timeout_at(deadline, handle.tx.send(Command::Shutdown(deadline, ack)))
                    .await
            {
                waits.push((handle, done));
            } else {
                tracing::warn!(sink = %handle.name, "Sink queue did not accept the shutdown in time.");
            }
        }
        for (handle, done) in waits {
            if tokio::time::timeout_at(deadline + Duration::from_millis(100), done)
                .await
                .is_err()
            {
                tracing::warn!(sink = %handle.name, "Sink did not shut down in time.");
                if let Some(join) = handle
                    .worker
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take()
                {
                    join.abort();
                }
            }
        }
    }
}

impl SinkHandle {
    fn drop_event(&self, why: &str) {
        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        if !self.counters.warned_drop.swap(true, Ordering::Relaxed) {
            tracing::warn!(sink = %self.name, reason = why, "Dropping events for sink; further drops are only counted.");
        }
    }
}

struct Worker {
    sink: Arc<dyn EventSink>,
    options: SinkOptions,
    counters: Arc<Counters>,
}

impl Worker {
    async fn run(self, mut rx: mpsc::Receiver<Command>) {
        let mut batch: Vec<Arc<SecurityEvent>> = Vec::new();
        let mut bytes = 0usize;
        let mut due: Option<Instant> = None;
        loop {
            let command = match due {
                Some(at) => tokio::select! {
                    c = rx.recv() => c,
                    () = sleep_until(at) => {
                        self.deliver(std::mem::take(&mut batch), None).await;
                        bytes = 0;
                        due = None;
                        continue;
                    }
                },
                None => rx.recv().await,
            };
            match command {
                Some(Command::Event(event)) => {
                    let size = serde_json::to_vec(&*event).map_or(0, |v| v.len() + 1);
                    if !batch.is_empty() && bytes + size > self.options.batch.max_bytes {
                        self.deliver(std::mem::take(&mut batch), None).await;
                        bytes = 0;
                        due = None;
                    }
                    bytes += size;
                    batch.push(event);
                    due.get_or_insert_with(|| Instant::now() + self.options.batch.timeout);
                    if batch.len() >= self.options.batch.max_events
                        || bytes >= self.options.batch.max_bytes
                    {
                        self.deliver(std::mem::take(&mut batch), None).await;
                        bytes = 0;
                        due = None;
                    }
                }
                Some(Command::Flush(ack)) => {
                    self.deliver(std::mem::take(&mut batch), None).await;
                    bytes = 0;
                    due = None;
                    if let Err(e) = self.sink.flush(self.options.request_timeout).await {
                        tracing::warn!(sink = %self.sink.name(), error = %e, "Sink flush failed.");
                    }
                    let _ = ack.send(());
                }
                Some(Command::Shutdown(deadline, ack)) => {
                    // Everything queued before the shutdown command is in front of it.
                    rx.close();
                    while let Some(Command::Event(event)) = rx.recv().await {
                        batch.push(event);
                    }
                    for chunk in std::mem::take(&mut batch).chunks(self.options.batch.max_events) {
                        self.deliver(chunk.to_vec(), Some(deadline)).await;
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    if let Err(e) = self.sink.shutdown(left).await {
                        tracing::warn!(sink = %self.sink.name(), error = %e, "Sink shutdown failed.");
                    }
                    let _ = ack.send(());
                    return;
                }
                None => {
                    self.deliver(std::mem::take(&mut batch), None).await;
                    let _ = self.sink.shutdown(self.options.request_timeout).await;
                    return;
                }
            }
        }
    }

    /// Sends `batch`, retrying retriable failures; with a `deadline`, gives up when the next
    /// attempt could not start before it.
    async fn deliver(&self, batch: Vec<Arc<SecurityEvent>>, deadline: Option<Instant>) {
        if batch.is_empty() {
            return;
        }
        let name = self.sink.name();
        let retry = self.options.retry;
        let mut attempt = 0u32;
        loop {
            let request_timeout = match deadline {
                Some(d) => self
                    .options
                    .request_timeout
                    .min(d.saturating_duration_since(Instant::now())),
                None => self.options.request_timeout,
            };
            let result = match timeout(request_timeout, self.sink.send_batch(&batch)).await {
                Ok(r) => r,
                Err(_) => Err(SinkError::Timeout(request_timeout)),
            };
            let error = match result {
                Ok(report) => {
                    self.counters
                        .delivered
                        .fetch_add(report.delivered as u64, Ordering::Relaxed);
                    self.counters
                        .duplicates
                        .fetch_add(report.duplicates as u64, Ordering::Relaxed);
                    if report.rejected > 0 {
                        self.counters
                            .failed
                            .fetch_add(report.rejected as u64, Ordering::Relaxed);
                        tracing::error!(sink = %name, events = report.rejected, "Destination rejected events; they are counted as failed.");
                    }
                    return;
                }
                Err(e) => e,
            };
            let wait = error
                .retry_after()
                .map_or_else(|| retry.backoff(attempt), |d| d.min(retry.max_backoff));
            let out_of_time = deadline.is_some_and(|d| Instant::now() + wait >= d);
            if !error.is_retriable() || attempt >= retry.max_retries || out_of_time {
                self.counters
                    .failed
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                tracing::error!(sink = %name, error = %error, events = batch.len(), attempts = attempt + 1,
                    "Sink failed to deliver a batch; its events are counted as failed.");
                return;
            }
            self.counters.retried.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(sink = %name, error = %error, retry_in_ms = wait.as_millis() as u64, "Retrying batch.");
            sleep(wait).await;
            attempt += 1;
        }
    }
}
