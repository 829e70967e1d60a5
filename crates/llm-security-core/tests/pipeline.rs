//! The pipeline: batching, retries, recovery, drops, flush and shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llm_security_core::{
    AnalysisContext, BatchConfig, CapturePolicy, DeliveryReport, ErrorKind, EventSink, MemorySink,
    Pipeline, RetryConfig, SecurityEngine, SecurityEvent, SinkError, SinkOptions, async_trait,
};

fn event(n: usize) -> SecurityEvent {
    let engine = SecurityEngine::new();
    let text = format!("message {n}");
    let analysis = engine.analyze(&text).unwrap();
    SecurityEvent::from_analysis(
        &analysis,
        &text,
        &AnalysisContext::new().with_user_id(format!("u{n}")),
        CapturePolicy::Full,
    )
}

fn fast_retry() -> RetryConfig {
    RetryConfig {
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_retries: 10,
    }
}

fn options(max_events: usize, timeout: Duration) -> SinkOptions {
    SinkOptions {
        queue_capacity: 10_000,
        batch: BatchConfig {
            max_events,
            max_bytes: 10_000_000,
            timeout,
        },
        retry: fast_retry(),
        request_timeout: Duration::from_secs(5),
    }
}

/// A sink that records batch sizes, fails its first `failures` calls with `error`, then
/// delivers to a MemorySink.
#[derive(Debug)]
struct Scripted {
    inner: MemorySink,
    batches: Arc<Mutex<Vec<usize>>>,
    failures: AtomicUsize,
    error: fn() -> SinkError,
    calls: AtomicUsize,
}

impl Scripted {
    fn new(
        failures: usize,
        error: fn() -> SinkError,
    ) -> (Self, MemorySink, Arc<Mutex<Vec<usize>>>) {
        let inner = MemorySink::new();
        let batches = Arc::new(Mutex::new(Vec::new()));
        let sink = Self {
            inner: inner.clone(),
            batches: Arc::clone(&batches),
            failures: AtomicUsize::new(failures),
            error,
            calls: AtomicUsize::new(0),
        };
        (sink, inner, batches)
    }
}

#[async_trait]
impl EventSink for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    async fn send_batch(&self, batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.failures.load(Ordering::SeqCst) > 0 {
            self.failures.fetch_sub(1, Ordering::SeqCst);
            return Err((self.error)());
        }
        self.batches.lock().unwrap().push(batch.len());
        self.inner.send_batch(batch).await
    }
    async fn healthcheck(&self) -> Result<(), SinkError> {
        self.inner.healthcheck().await
    }
    async fn shutdown(&self, timeout: Duration) -> Result<(), SinkError> {
        self.inner.shutdown(timeout).await
    }
}

#[tokio::test]
async fn batches_by_count_then_flush_sends_the_rest() {
    let (sink, memory, batches) = Scripted::new(0, || SinkError::permanent("unused"));
    let pipeline = Pipeline::builder()
        .sink_with(sink, options(10, Duration::from_secs(3600)))
        .build()
        .unwrap();
    for n in 0..25 {
        pipeline.emit(event(n));
    }
    pipeline.flush(Duration::from_secs(5)).await.unwrap();
    assert_eq!(*batches.lock().unwrap(), vec![10, 10, 5]);
    assert_eq!(memory.len(), 25);
    let stats = &pipeline.stats()[0];
    assert_eq!(
        (
            stats.accepted,
            stats.delivered,
            stats.failed,
            stats.dropped,
            stats.queued
        ),
        (25, 25, 0, 0, 0)
    );
}

#[tokio::test]
async fn batches_by_time_without_a_flush() {
    let (sink, memory, batches) = Scripted::new(0, || SinkError::permanent("unused"));
    let pipeline = Pipeline::builder()
        .sink_with(sink, options(1000, Duration::from_millis(50)))
        .build()
        .unwrap();
    for n in 0..3 {
        pipeline.emit(event(n));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(memory.len(), 3);
    assert_eq!(*batches.lock().unwrap(), vec![3]);
}

#[tokio::test]
async fn batches_by_bytes() {
    let (sink, memory, batches) = Scripted::new(0, || SinkError::permanent("unused"));
    let size = serde_json::to_vec(&event(0)).unwrap().len() + 1;
    let mut opts = options(1000, Duration::from_secs(3600));
    opts.batch.max_bytes = size * 4 + size / 2; // room for four events, not five
    let pipeline = Pipeline::builder().sink_with(sink, opts).build().unwrap();
    for n in 0..10 {
        pipeline.emit(event(n));
    }
    pipeline.flush(Duration::from_secs(5)).await.unwrap();
    assert_eq!(memory.len(), 10);
    let sizes = batches.lock().unwrap().clone();
    assert!(sizes.iter().all(|&s| s <= 4), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 10);
}

#[tokio::test]
async fn a_failing_sink_that_recovers_loses_nothing() {
    let (sink, memory, _) = Scripted::new(3, || SinkError::transport("connection refused"));
    let pipeline = Pipeline::builder()
        .sink_with(sink, options(100, Duration::from_millis(10)))
        .build()
        .unwrap();
    let ids: Vec<_> = (0..50)
        .map(|n| {
            let e = event(n);
            let id = e.id;
            pipeline.emit(e);
            id
        })
        .collect();
    pipeline.shutdown(Duration::from_secs(10)).await;
    let stats = &pipeline.stats()[0];
    assert_eq!(stats.retried, 3);
    assert_eq!((stats.delivered, stats.failed, stats.dropped), (50, 0, 0));
    let got: Vec<_> = memory.events().iter().map(|e| e.id).collect();
    assert_eq!(got, ids, "every event exactly once, in order");
}

#[tokio::test]
async fn permanent_errors_are_not_retried_and_are_counted() {
    let (sink, memory, _) = Scripted::new(1, || SinkError::permanent("400 bad request"));
    let pipeline = Pipeline::builder()
        .sink_with(sink, options(5, Duration::from_secs(3600)))
        .build()
        .unwrap();
    for n in 0..10 {
        pipeline.emit(event(n));
    }
    pipeline.flush(Duration::from_secs(5)).await.unwrap();
    let stats = &pipeline.stats()[0];
    assert_eq!((stats.retried, stats.failed, stats.delivered), (0, 5, 5));
    assert_eq!(memory.len(), 5);
}

#[tokio::test]
async fn retries_give_up_after_max_retries() {
    let (sink, memory, _) = Scripted::new(usize::MAX, || SinkError::retriable("503"));
    let mut opts = options(10, Duration::from_millis(10));
    opts.retry.max_retries = 2;
    let pipeline = Pipeline::builder().sink_with(sink, opts).build().unwrap();
    pipeline.emit(event(1));
    pipeline.flush(Duration::from_secs(5)).await.unwrap();
    let stats = &pipeline.stats()[0];
    assert_eq!((stats.retried, stats.failed, stats.delivered), (2, 1, 0));
    assert!(memory.is_empty());
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (sink, memory, _) = Scripted::new(1, || SinkError::Rejected {
        retriable: true,
        reason: "429".into(),
        retry_after: Some(Duration::from_millis(300)),
    });
    let mut opts = options(10, Duration::from_millis(10));
    opts.retry.max_backoff = Duration::from_secs(5);
    let pipeline = Pipeline::builder().sink_with(sink, opts).build().unwrap();
    let started = tokio::time::Instant::now();
    pipeline.emit(event(1));
    pipeline.flush(Duration::from_secs(5)).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(memory.len(), 1);
}

/// A sink whose sends never finish in time.
#[derive(Debug)]
struct Stuck;

#[async_trait]
impl EventSink for Stuck {
    fn name(&self) -> &str {
        "stuck"
    }
    async fn send_batch(&self, _batch: &[Arc<SecurityEvent>]) -> Result<DeliveryReport, SinkError> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(DeliveryReport::default())
    }
    async fn healthcheck(&self) -> Result<(), SinkError> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(())
    }
    async fn shutdown(&self, _timeout: Duration) -> Result<(), SinkError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_stuck_sink_never_blocks_emit_and_drops_are_counted() {
    let memory = MemorySink::new();
    let mut small = options(1, Duration::from_millis(1));
    small.queue_capacity = 4;
    let pipeline = Pipeline::builder()
        .sink_with(Stuck, small)
        .sink_with(memory.clone(), options(100, Duration::from_millis(10)))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    for n in 0..100 {
        pipeline.emit(event(n));
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "emit must not wait for sinks"
    );
    pipeline
        .flush(Duration::from_millis(300))
        .await
        .unwrap_err();
    let stats = pipeline.stats();
    assert!(stats[0].dropped >= 90, "{stats:?}");
    assert_eq!(stats[0].accepted + stats[0].dropped, 100);
    assert_eq!(stats[1].dropped, 0);
    assert_eq!(
        memory.len(),
        100,
        "a stuck sink does not hold back the others"
    );
    let health = pipeline.healthcheck(Duration::from_millis(50)).await;
    assert!(matches!(health[0].1, Err(SinkError::Timeout(_))));
    assert!(health[1].1.is_ok());
    pipeline.shutdown(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn shutdown_drains_then_refuses() {
    let memory = MemorySink::new();
    let pipeline = Pipeline::builder()
        .sink_with(memory.clone(), options(1000, Duration::from_secs(3600)))
        .build()
        .unwrap();
    for n in 0..100 {
        pipeline.emit(event(n));
    }
    pipeline.shutdown(Duration::from_secs(5)).await;
    assert_eq!(memory.len(), 100);
    pipeline.emit(event(101));
    let stats = &pipeline.stats()[0];
    assert_eq!((stats.delivered, stats.dropped), (100, 1));
    let err = memory
        .send_batch(&[Arc::new(event(102))])
        .await
        .unwrap_err();
    assert!(matches!(err, SinkError::AlreadyShutdown));
    pipeline.shutdown(Duration::from_secs(1)).await; // twice is harmless
}

#[tokio::test]
async fn redelivered_events_count_as_duplicates() {
    let memory = MemorySink::new();
    let e = Arc::new(event(1));
    assert_eq!(
        memory.send_batch(&[Arc::clone(&e)]).await.unwrap(),
        DeliveryReport::delivered(1)
    );
    assert_eq!(
        memory.send_batch(&[e]).await.unwrap(),
        DeliveryReport {
            duplicates: 1,
            ..DeliveryReport::default()
        }
    );
    assert_eq!(memory.len(), 1);
}

#[test]
fn building_outside_a_runtime_is_an_error() {
    let err = Pipeline::builder()
        .sink(MemorySink::new())
        .build()
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Pipeline(_)), "{err}");
}

#[tokio::test]
async fn zero_limits_are_rejected() {
    let mut opts = options(0, Duration::from_secs(1));
    assert!(
        Pipeline::builder()
            .sink_with(MemorySink::new(), opts)
            .build()
            .is_err()
    );
    opts = options(1, Duration::from_secs(1));
    opts.queue_capacity = 0;
    assert!(
        Pipeline::builder()
            .sink_with(MemorySink::new(), opts)
            .build()
            .is_err()
    );
}

#[test]
fn backoff_is_bounded_and_jittered() {
    let retry = RetryConfig {
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(2),
        max_retries: 5,
    };
    for attempt in 0..40 {
        let cap = (100u64 << attempt.min(20)).min(2000);
        let wait = retry.backoff(attempt);
        assert!(
            wait >= Duration::from_millis(1) && wait <= Duration::from_millis(cap),
            "{attempt}: {wait:?}"
        );
    }
    let spread: std::collections::HashSet<_> = (0..50).map(|_| retry.backoff(10)).collect();
    assert!(spread.len() > 10, "full jitter spreads retries");
}
