//! Spool settings.

use std::path::PathBuf;
use std::time::Duration;

use llm_security_core::RetryConfig;
use serde::{Deserialize, Serialize};

use crate::error::SpoolError;

/// What happens when an append would take the spool past [`SpoolConfig::max_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FullPolicy {
    /// The writer waits until delivery frees space. Nothing is lost; the pipeline in front of
    /// the spool holds (and, when its own bounded queue fills, counts) what cannot be written.
    #[default]
    Block,
    /// The oldest undelivered events make room for the new ones; each eviction is counted in
    /// [`SpoolStats::evicted`](crate::SpoolStats::evicted) and logged.
    DropOldest,
}

/// When the circuit breaker stops calling a failing destination, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failed deliveries that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open before one probe is let through; doubles after each
    /// failed probe up to [`BreakerConfig::max_open`].
    pub open_for: Duration,
    /// Upper bound of the open period.
    pub max_open: Duration,
}

impl Default for BreakerConfig {
    /// Opens after 5 failures, for 1 s at first and at most 30 s.
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_for: Duration::from_secs(1),
            max_open: Duration::from_secs(30),
        }
    }
}

/// Settings of one spool (one per sink).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// Directory of the spool; created if missing. One directory per sink.
    pub dir: PathBuf,
    /// Most bytes of undelivered and dead-lettered events (their JSON) the spool keeps.
    pub max_bytes: u64,
    /// What an append does when the spool is full.
    pub when_full: FullPolicy,
    /// Most events handed to the sink in one delivery.
    pub batch_events: usize,
    /// Longest one delivery may take before it counts as a (retriable) timeout.
    pub request_timeout: Duration,
    /// Backoff between failed deliveries (its `max_retries` is not used: the spool never gives
    /// up on a retriable failure, it keeps the events on disk).
    pub retry: RetryConfig,
    /// The circuit breaker.
    pub breaker: BreakerConfig,
}

impl SpoolConfig {
    /// A spool in `dir` with the defaults: 1 GiB, block when full, batches of 500, 30 s per
    /// delivery, backoff from 100 ms to 30 s, the default breaker.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_bytes: 1 << 30,
            when_full: FullPolicy::Block,
            batch_events: 500,
            request_timeout: Duration::from_secs(30),
            retry: RetryConfig {
                initial_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(30),
                max_retries: u32::MAX,
            },
            breaker: BreakerConfig::default(),
        }
    }

    /// Sets the size bound.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Sets the policy when full.
    pub fn with_when_full(mut self, policy: FullPolicy) -> Self {
        self.when_full = policy;
        self
    }

    /// Sets the most events per delivery.
    pub fn with_batch_events(mut self, batch_events: usize) -> Self {
        self.batch_events = batch_events;
        self
    }

    /// Sets the longest one delivery may take.
    pub fn with_request_timeout(mut self, limit: Duration) -> Self {
        self.request_timeout = limit;
        self
    }

    /// Sets the backoff between failed deliveries.
    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the circuit breaker.
    pub fn with_breaker(mut self, breaker: BreakerConfig) -> Self {
        self.breaker = breaker;
        self
    }

    /// Rejects zero limits.
    pub fn validate(&self) -> Result<(), SpoolError> {
        if self.max_bytes == 0
            || self.batch_events == 0
            || self.request_timeout.is_zero()
            || self.breaker.failure_threshold == 0
            || self.breaker.open_for.is_zero()
        {
            return Err(SpoolError::Config(
                "max_bytes, batch_events, request_timeout, breaker.failure_threshold and \
                 breaker.open_for must be non-zero"
                    .into(),
            ));
        }
        if self.dir.as_os_str().is_empty() {
            return Err(SpoolError::Config("the spool directory is empty".into()));
        }
        Ok(())
    }
}
