//! Prometheus metrics: analysis, HTTP and per-sink delivery.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use llm_security::Analysis;
use llm_security::spool::{SpoolHandle, SpoolStats};
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::AppState;

/// Analysis-time buckets, in seconds: from 1 µs to 1 s, so microsecond analyses are resolved.
const ANALYSIS_BUCKETS: [f64; 16] = [
    1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 5e-2, 0.1, 1.0,
];

/// The server's metrics, in their own registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    threats: IntCounterVec,
    duration: HistogramVec,
    confidence: HistogramVec,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    rejected: IntCounterVec,
    sink_events: IntCounterVec,
    sink_queue: IntGaugeVec,
    last_sink_stats: Arc<Mutex<Vec<llm_security::SinkStats>>>,
    spools: SpoolMetrics,
}

/// Spool depth, age, breaker and delivery outcomes per sink.
#[derive(Clone)]
struct SpoolMetrics {
    events: IntCounterVec,
    pending: IntGaugeVec,
    bytes: IntGaugeVec,
    dead: IntGaugeVec,
    oldest: GaugeVec,
    breaker: IntGaugeVec,
    handles: Arc<Mutex<Vec<(String, SpoolHandle)>>>,
    last: Arc<Mutex<Vec<(String, SpoolStats)>>>,
}

impl SpoolMetrics {
    fn new(registry: &Registry) -> prometheus::Result<Self> {
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            IntGaugeVec::new(Opts::new(name, help), labels)
        };
        let metrics = Self {
            events: IntCounterVec::new(
                Opts::new(
                    "llm_security_spool_events_total",
                    "Spooled events by sink and outcome (spooled, delivered, duplicate, retried, \
                     dead_lettered, rejected, evicted).",
                ),
                &["sink", "outcome"],
            )?,
            pending: gauge(
                "llm_security_spool_pending_events",
                "Undelivered events on disk.",
                &["sink"],
            )?,
            bytes: gauge(
                "llm_security_spool_bytes",
                "Bytes of event data on disk, pending or dead-lettered.",
                &["sink", "state"],
            )?,
            dead: gauge(
                "llm_security_spool_dead_letter_events",
                "Events the destination refused for good, kept for replay.",
                &["sink"],
            )?,
            oldest: GaugeVec::new(
                Opts::new(
                    "llm_security_spool_oldest_event_age_seconds",
                    "Age of the oldest undelivered event (0 when none).",
                ),
                &["sink"],
            )?,
            breaker: gauge(
                "llm_security_spool_breaker_state",
                "Circuit breaker: 0 closed, 1 half-open, 2 open.",
                &["sink"],
            )?,
            handles: Arc::new(Mutex::new(Vec::new())),
            last: Arc::new(Mutex::new(Vec::new())),
        };
        registry.register(Box::new(metrics.events.clone()))?;
        registry.register(Box::new(metrics.oldest.clone()))?;
        for g in [
            &metrics.pending,
            &metrics.bytes,
            &metrics.dead,
            &metrics.breaker,
        ] {
            registry.register(Box::new(g.clone()))?;
        }
        Ok(metrics)
    }

    fn sync(&self) {
        let handles = self
            .handles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut now = Vec::with_capacity(handles.len());
        for (label, handle) in &handles {
            let s = match handle.stats() {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(sink = handle.name(), error = %e, "Cannot read spool stats.");
                    continue;
                }
            };
            let before = last.iter().find(|(l, _)| l == label).map(|(_, b)| b);
            let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            for (outcome, value, then) in [
                ("spooled", s.spooled, before.map(|b| b.spooled)),
                ("delivered", s.delivered, before.map(|b| b.delivered)),
                ("duplicate", s.duplicates, before.map(|b| b.duplicates)),
                ("retried", s.retried, before.map(|b| b.retried)),
                (
                    "dead_lettered",
                    s.dead_lettered,
                    before.map(|b| b.dead_lettered),
                ),
                ("rejected", s.rejected, before.map(|b| b.rejected)),
                ("evicted", s.evicted, before.map(|b| b.evicted)),
            ] {
                self.events
                    .with_label_values(&[label, outcome])
                    .inc_by(value.saturating_sub(then.unwrap_or(0)));
            }
            self.pending
                .with_label_values(&[label])
                .set(gauge(s.pending_events));
            self.dead
                .with_label_values(&[label])
                .set(gauge(s.dead_events));
            self.bytes
                .with_label_values(&[label, "pending"])
                .set(gauge(s.pending_bytes));
            self.bytes
                .with_label_values(&[label, "dead"])
                .set(gauge(s.dead_bytes));
            self.oldest
                .with_label_values(&[label])
                .set(s.oldest_age.map_or(0.0, |a| a.as_secs_f64()));
            self.breaker
                .with_label_values(&[label])
                .set(s.breaker.as_gauge());
            now.push((label.clone(), s));
        }
        *last = now;
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "llm_security_requests_total",
                "Analyses served, by endpoint and verdict.",
            ),
            &["endpoint", "verdict"],
        )?;
        let threats = IntCounterVec::new(
            Opts::new(
                "llm_security_threats_detected_total",
                "Threats found, by kind.",
            ),
            &["kind"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "llm_security_analysis_duration_seconds",
                "Time spent analyzing one text.",
            )
            .buckets(ANALYSIS_BUCKETS.to_vec()),
            &["endpoint"],
        )?;
        let confidence = HistogramVec::new(
            HistogramOpts::new("llm_security_confidence", "Confidence of verdicts.")
                .buckets(vec![0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0]),
            &["endpoint"],
        )?;
        let http_requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests, by method, route and status.",
            ),
            &["method", "path", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency.").buckets(
                vec![
                    1e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            ),
            &["method", "path"],
        )?;
        let rejected = IntCounterVec::new(
            Opts::new(
                "llm_security_requests_rejected_total",
                "Requests refused before analysis.",
            ),
            &["reason"],
        )?;
        let sink_events = IntCounterVec::new(
            Opts::new(
                "llm_security_sink_events_total",
                "Events by sink and outcome (delivered, duplicate, failed, retried, dropped).",
            ),
            &["sink", "outcome"],
        )?;
        let sink_queue = IntGaugeVec::new(
            Opts::new(
                "llm_security_sink_queue_depth",
                "Events waiting in each sink's queue.",
            ),
            &["sink"],
        )?;
        for c in [&requests, &threats, &http_requests, &rejected, &sink_events] {
            registry.register(Box::new(c.clone()))?;
        }
        for h in [&duration, &confidence, &http_duration] {
            registry.register(Box::new(h.clone()))?;
        }
        registry.register(Box::new(sink_queue.clone()))?;
        for kind in [
            "prompt_injection",
            "jailbreak",
            "unicode_attack",
            "encoded_payload",
            "secret",
            "pii",
            "system_prompt_leak",
            "data_exfiltration",
            "script_injection",
            "terminal_injection",
        ] {
            threats.with_label_values(&[kind]);
        }
        Ok(Self {
            requests,
            threats,
            duration,
            confidence,
            http_requests,
            http_duration,
            rejected,
            sink_events,
            sink_queue,
            last_sink_stats: Arc::new(Mutex::new(Vec::new())),
            spools: SpoolMetrics::new(&registry)?,
            registry,
        })
    }

    /// Records one analysis.
    pub fn observe(&self, endpoint: &str, analysis: &Analysis) {
        let verdict = if analysis.is_secure() {
            "secure"
        } else {
            "threat"
        };
        self.requests.with_label_values(&[endpoint, verdict]).inc();
        self.duration
            .with_label_values(&[endpoint])
            .observe(analysis.analysis_time().as_secs_f64());
        self.confidence
            .with_label_values(&[endpoint])
            .observe(f64::from(analysis.confidence()));
        for t in analysis.threats() {
            self.threats.with_label_values(&[t.kind.as_str()]).inc();
        }
    }

    /// Counts a request refused before analysis.
    pub fn rejected(&self, reason: &str) {
        self.rejected.with_label_values(&[reason]).inc();
    }

    /// Brings the sink counters up to date with the pipeline's.
    fn sync_sinks(&self, stats: Vec<llm_security::SinkStats>) {
        let mut last = self
            .last_sink_stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for s in &stats {
            let before = last.iter().find(|l| l.name == s.name);
            let delta = |now: u64, then: Option<u64>| now.saturating_sub(then.unwrap_or(0));
            for (outcome, now, then) in [
                ("delivered", s.delivered, before.map(|b| b.delivered)),
                ("duplicate", s.duplicates, before.map(|b| b.duplicates)),
                ("failed", s.failed, before.map(|b| b.failed)),
                ("retried", s.retried, before.map(|b| b.retried)),
                ("dropped", s.dropped, before.map(|b| b.dropped)),
            ] {
                self.sink_events
                    .with_label_values(&[&s.name, outcome])
                    .inc_by(delta(now, then));
            }
            self.sink_queue
                .with_label_values(&[&s.name])
                .set(i64::try_from(s.queued).unwrap_or(i64::MAX));
        }
        *last = stats;
    }

    /// Reports the state of these spools on every scrape, each under its label (the name of
    /// its folder, unique even when two sinks share a name).
    pub fn watch_spools(&self, handles: Vec<(String, SpoolHandle)>) {
        *self
            .spools
            .handles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = handles;
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// `GET /metrics`.
pub(crate) async fn scrape(State(state): State<AppState>) -> Response {
    if let Some(p) = state.pipeline() {
        state.metrics().sync_sinks(p.stats());
    }
    state.metrics().spools.sync();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics().render(),
    )
        .into_response()
}

/// Middleware counting requests by method, route template (bounded cardinality) and status.
pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(req).await;
    let m = state.metrics();
    m.http_requests
        .with_label_values(&[&method, &path, response.status().as_str()])
        .inc();
    m.http_duration
        .with_label_values(&[&method, &path])
        .observe(started.elapsed().as_secs_f64());
    response
}
