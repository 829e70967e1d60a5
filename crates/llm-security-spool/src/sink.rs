//! [`SpooledSink`]: any sink, behind a durable spool.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use llm_security_core::{
    DeliveryReport, EventSink, RetryConfig, SecurityEvent, SinkError, SinkOptions,
};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until, timeout};

use crate::breaker::{Breaker, BreakerState};
use crate::config::SpoolConfig;
use crate::error::SpoolError;
use crate::store::{Store, Usage, now_ms};

/// A snapshot of one spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolStats {
    /// The wrapped sink's name.
    pub name: String,
    /// Undelivered events on disk.
    pub pending_events: u64,
    /// Their encoded size.
    pub pending_bytes: u64,
    /// Events the destination refused for good, kept for `llm-security spool replay`.
    pub dead_events: u64,
    /// Their encoded size.
    pub dead_bytes: u64,
    /// The size bound.
    pub max_bytes: u64,
    /// Age of the oldest undelivered event.
    pub oldest_age: Option<Duration>,
    /// Events written to the spool by this process.
    pub spooled: u64,
    /// Events the destination newly stored.
    pub delivered: u64,
    /// Events the destination already had (re-deliveries after a crash or a timeout).
    pub duplicates: u64,
    /// Events the destination refused one by one inside an accepted batch (counted, logged,
    /// and not kept: the sink does not say which).
    pub rejected: u64,
    /// Events moved to the dead letters because the destination refused their batch for good.
    pub dead_lettered: u64,
    /// Failed delivery attempts that will be retried.
    pub retried: u64,
    /// Events removed to respect the bound ([`FullPolicy::DropOldest`]).
    pub evicted: u64,
    /// The circuit breaker.
    pub breaker: BreakerState,
}

#[derive(Debug, Default)]
struct Counters {
    spooled: AtomicU64,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    dead_lettered: AtomicU64,
    retried: AtomicU64,
    evicted: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    name: String,
    store: Arc<Store>,
    config: SpoolConfig,
    counters: Counters,
    breaker: AtomicI64,
    appended: Notify,
    freed: Notify,
    closing: watch::Sender<Option<Instant>>,
    closed: AtomicBool,
}

/// Reads a spool's counters and usage while its sink is owned by a pipeline. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SpoolHandle {
    shared: Arc<Shared>,
}

impl SpoolHandle {
    /// The wrapped sink's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Counters and usage now. Reads the store (a read transaction: microseconds).
    pub fn stats(&self) -> Result<SpoolStats, SpoolError> {
        let usage = self.shared.store.usage()?;
        Ok(self.shared.stats(usage))
    }

    /// Waits until nothing is pending, at most `limit`. Returns whether it got there.
    pub async fn wait_drained(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let freed = self.shared.freed.notified();
            if self
                .shared
                .store
                .usage()
                .is_ok_and(|u| u.pending_events == 0)
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::select! {
                () = freed => {}
                () = sleep(Duration::from_millis(50)) => {}
            }
        }
    }
}

impl Shared {
    fn stats(&self, usage: Usage) -> SpoolStats {
        let c = &self.counters;
        let now = now_ms();
        SpoolStats {
            name: self.name.clone(),
            pending_events: usage.pending_events,
            pending_bytes: usage.pending_bytes,
            dead_events: usage.dead_events,
            dead_bytes: usage.dead_bytes,
            max_bytes: self.store.max_bytes(),
            oldest_age: usage
                .oldest_spooled_at_ms
                .map(|at| Duration::from_millis(now.saturating_sub(at))),
            spooled: c.spooled.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            dead_lettered: c.dead_lettered.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
            evicted: c.evicted.load(Ordering::Relaxed),
            breaker: match self.breaker.load(Ordering::Relaxed) {
                0 => BreakerState::Closed,
                1 => BreakerState::HalfOpen,
                _ => BreakerState::Open,
            },
        }
    }

    /// Moves records to the dead letters and counts them.
    async fn dead_letter(&self, seqs: Vec<u64>) {
        let n = seqs.len() as u64;
        match self.blocking(move |store| store.dead_letter(&seqs)).await {
            Ok(()) => {
                self.counters.dead_lettered.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                // They stay pending and are tried again.
                tracing::error!(sink = %self.name, error = %e, "Cannot move events to dead letters.");
            }
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, SpoolError> + Send + 'static,
    ) -> Result<T, SpoolError> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .unwrap_or_else(|e| {
                Err(SpoolError::Storage {
                    path: String::new(),
                    message: format!("spool task failed: {e}"),
                })
            })
    }
}

/// A sink behind a durable spool.
///
/// `send_batch` writes the batch to the spool on disk (one fsynced transaction) and returns as
/// soon as it is there, whatever the state of the destination; a background task delivers
/// spooled events to the wrapped sink in order and removes them only after the sink confirmed
/// them. Retriable failures are retried forever with backoff, behind a circuit breaker; batches
/// the destination refuses for good move to dead letters (`llm-security spool replay` sends
/// them again). A crash loses nothing the spool accepted: the next [`SpooledSink::open`] on the
/// same directory resumes delivery. Delivery is at least once; sinks de-duplicate by event id.
///
/// Inside a [`Pipeline`](llm_security_core::Pipeline), the pipeline's counters for this sink
/// describe the hop to the spool; [`SpoolHandle::stats`] describes delivery to the destination.
#[derive(Debug)]
pub struct SpooledSink {
    shared: Arc<Shared>,
    inner: Arc<dyn EventSink>,
    drainer: Mutex<Option<JoinHandle<()>>>,
}

impl SpooledSink {
    /// Opens the spool in `config.dir` and starts delivering what it holds to `inner`. Must be
    /// called inside a tokio runtime. Fails on a bad configuration, an unusable directory, or a
    /// spool already opened by another process.
    pub fn open(inner: impl EventSink + 'static, config: SpoolConfig) -> Result<Self, SpoolError> {
        config.validate()?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| SpoolError::Config("must be opened inside a tokio runtime".into()))?;
        let store = Arc::new(Store::open(&config.dir, config.max_bytes)?);
        let inner: Arc<dyn EventSink> = Arc::new(inner);
        let usage = store.usage()?;
        if usage.pending_events > 0 {
            tracing::info!(sink = %inner.name(), events = usage.pending_events,
                "Resuming delivery of spooled events.");
        }
        let (closing, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            name: inner.name().to_owned(),
            store,
            config,
            counters: Counters::default(),
            breaker: AtomicI64::new(0),
            appended: Notify::new(),
            freed: Notify::new(),
            closing,
            closed: AtomicBool::new(false),
        });
        let drainer = runtime.spawn(drain(Arc::clone(&shared), Arc::clone(&inner)));
        Ok(Self {
            shared,
            inner,
            drainer: Mutex::new(Some(drainer)),
        })
    }

    /// A handle for stats, usable after the sink moved into a pipeline.
    pub fn handle(&self) -> SpoolHandle {
        SpoolHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Pipeline options suited to a spooled sink: small batches written quickly, and retries
    /// without end while a full spool blocks (the pipeline's own queue bounds memory and
    /// counts what it cannot take).
    pub fn recommended_options() -> SinkOptions {
        SinkOptions {
            batch: llm_security_core::BatchConfig {
                max_events: 500,
                max_bytes: 1_000_000,
                timeout: Duration::from_millis(50),
            },
            retry: RetryConfig {
                initial_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_secs(1),
                max_retries: u32::MAX,
            },
            ..SinkOptions::default()
        }
    }
}

#[async_trait]
impl EventSink for SpooledSink {
    fn name(&self) -> &str {
        &self.shared.name
    }

    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        let shared = &self.shared;
        let policy = shared.config.when_full;
        let mut rest = batch;
        loop {
            if shared.closed.load(Ordering::Acquire) {
                return Err(SinkError::AlreadyShutdown);
            }
            let freed = shared.freed.notified();
            let chunk = rest.to_vec();
            let out = shared
                .blocking(move |store| store.append(&chunk, policy))
                .await
                .map_err(SinkError::transport)?;
            let kept = out.stored as u64;
            shared.counters.spooled.fetch_add(kept, Ordering::Relaxed);
            if out.evicted > 0 {
                shared
                    .counters
                    .evicted
                    .fetch_add(out.evicted, Ordering::Relaxed);
                tracing::warn!(sink = %shared.name, evicted = out.evicted,
                    "Spool full: dropped events to keep its bound (the oldest, or a new event larger than the whole spool).");
            }
            if out.stored > 0 {
                shared.appended.notify_one();
            }
            rest = &rest[out.stored..];
            if rest.is_empty() {
                return Ok(DeliveryReport::delivered(batch.len()));
            }
            // Blocked: wait for delivery to free space (or re-check every second).
            tokio::select! {
                () = freed => {}
                () = sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    async fn healthcheck(&self) -> Result<(), SinkError> {
        self.inner.healthcheck().await
    }

    /// Events are on disk once `send_batch` returns; there is nothing in memory to flush.
    async fn flush(&self, _timeout: Duration) -> Result<(), SinkError> {
        Ok(())
    }

    /// Stops accepting events, keeps delivering until `limit` is nearly spent, then stops the
    /// delivery task and shuts the wrapped sink down. What is still undelivered stays on disk
    /// for the next start.
    async fn shutdown(&self, limit: Duration) -> Result<(), SinkError> {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return Err(SinkError::AlreadyShutdown);
        }
        let start = Instant::now();
        let deadline = start + limit.mul_f64(0.7);
        self.shared.closing.send_replace(Some(deadline));
        let drainer = self
            .drainer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(mut join) = drainer
            && timeout(limit.mul_f64(0.9), &mut join).await.is_err()
        {
            join.abort();
            // Wait for the cancelled task to be dropped, so that the spool's file is released
            // when the caller drops this sink.
            let _ = join.await;
        }
        if let Ok(usage) = self.shared.store.usage()
            && usage.pending_events > 0
        {
            tracing::info!(sink = %self.shared.name, events = usage.pending_events,
                "Events stay in the spool for the next start.");
        }
        let left = limit.saturating_sub(start.elapsed());
        self.inner.shutdown(left).await
    }
}

/// Delivers spooled events to `inner` until shut down.
async fn drain(shared: Arc<Shared>, inner: Arc<dyn EventSink>) {
    let config = shared.config.clone();
    let mut breaker = Breaker::new(config.breaker);
    let mut closing = shared.closing.subscribe();
    let mut attempt = 0u32;
    loop {
        let deadline = *closing.borrow_and_update();
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return;
        }
        shared
            .breaker
            .store(breaker.state(now).as_gauge(), Ordering::Relaxed);
        if let Some(until) = breaker.wait_until(now) {
            let until = deadline.map_or(until, |d| until.min(d));
            tokio::select! {
                () = sleep_until(until) => {}
                _ = closing.changed() => {}
            }
            continue;
        }
        let appended = shared.appended.notified();
        let batch_events = config.batch_events;
        let (records, unreadable) = match shared
            .blocking(move |store| store.peek(batch_events))
            .await
        {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(sink = %shared.name, error = %e, "Cannot read the spool; retrying.");
                sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if !unreadable.is_empty() {
            let seqs: Vec<u64> = unreadable.iter().map(|u| u.seq).collect();
            tracing::error!(sink = %shared.name, events = seqs.len(), reason = %unreadable[0].reason,
                "Undecodable spool records moved to dead letters.");
            shared.dead_letter(seqs).await;
            continue;
        }
        if records.is_empty() {
            if deadline.is_some() {
                return;
            }
            tokio::select! {
                () = appended => {}
                _ = closing.changed() => {}
                () = sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        let batch: Vec<Arc<SecurityEvent>> = records.iter().map(|r| Arc::clone(&r.event)).collect();
        let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
        let limit = deadline.map_or(config.request_timeout, |d| {
            config
                .request_timeout
                .min(d.saturating_duration_since(Instant::now()))
        });
        let result = match timeout(limit, inner.send_batch(&batch)).await {
            Ok(r) => r,
            Err(_) => Err(SinkError::Timeout(limit)),
        };
        match result {
            Ok(report) => {
                // Events refused inside an accepted batch are kept as dead letters (the
                // destination will not take them as they are; `llm-security spool` shows them).
                let (refused, taken) = split_refused(seqs, &report.rejected_indices);
                if let Err(e) = shared.blocking(move |store| store.ack(&taken)).await {
                    // Delivered but still on disk: it will be sent again, and the destination
                    // will report duplicates.
                    tracing::error!(sink = %shared.name, error = %e, "Cannot remove delivered events from the spool.");
                }
                let c = &shared.counters;
                c.delivered
                    .fetch_add(report.delivered as u64, Ordering::Relaxed);
                c.duplicates
                    .fetch_add(report.duplicates as u64, Ordering::Relaxed);
                if report.rejected > 0 {
                    c.rejected
                        .fetch_add(report.rejected as u64, Ordering::Relaxed);
                    tracing::error!(sink = %shared.name, events = report.rejected, dead_lettered = refused.len(),
                        "Destination refused events inside an accepted batch; they are kept as dead letters.");
                }
                if !refused.is_empty() {
                    shared.dead_letter(refused).await;
                }
                if breaker.state(Instant::now()) != BreakerState::Closed {
                    tracing::info!(sink = %shared.name, "Destination is back; circuit closed.");
                }
                breaker.success();
                attempt = 0;
                shared.breaker.store(0, Ordering::Relaxed);
                shared.freed.notify_waiters();
            }
            Err(error) if error.is_retriable() => {
                shared.counters.retried.fetch_add(1, Ordering::Relaxed);
                let now = Instant::now();
                if breaker.failure(now) {
                    tracing::warn!(sink = %shared.name, error = %error,
                        "Destination keeps failing; circuit open, events wait in the spool.");
                }
                shared
                    .breaker
                    .store(breaker.state(now).as_gauge(), Ordering::Relaxed);
                let wait = error.retry_after().map_or_else(
                    || config.retry.backoff(attempt),
                    |d| d.min(config.retry.max_backoff),
                );
                attempt = attempt.saturating_add(1);
                tokio::select! {
                    () = sleep(wait) => {}
                    _ = closing.changed() => {}
                }
            }
            Err(error) => {
                let n = seqs.len() as u64;
                tracing::error!(sink = %shared.name, error = %error, events = n,
                    "Destination refused a batch for good; moved to dead letters (see `llm-security spool`).");
                shared.dead_letter(seqs).await;
                breaker.failure(Instant::now());
                shared.freed.notify_waiters();
            }
        }
    }
}

/// Splits a batch's spool sequence numbers into those the destination refused (by their
/// indices in the batch; out-of-range or repeated indices are ignored) and the rest.
fn split_refused(seqs: Vec<u64>, refused_indices: &[usize]) -> (Vec<u64>, Vec<u64>) {
    if refused_indices.is_empty() {
        return (Vec::new(), seqs);
    }
    let mut refused_mark = vec![false; seqs.len()];
    for &i in refused_indices {
        if let Some(mark) = refused_mark.get_mut(i) {
            *mark = true;
        }
    }
    let mut refused = Vec::new();
    let mut taken = Vec::with_capacity(seqs.len());
    for (seq, is_refused) in seqs.into_iter().zip(refused_mark) {
        if is_refused {
            refused.push(seq);
        } else {
            taken.push(seq);
        }
    }
    (refused, taken)
}
