//! A circuit breaker: after repeated failures, stop calling the destination for a while.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::BreakerConfig;

/// The breaker's state, as reported in stats and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Deliveries go through.
    Closed,
    /// The destination failed repeatedly; nothing is sent until the open period ends.
    Open,
    /// The open period ended; the next delivery is a probe.
    HalfOpen,
}

impl BreakerState {
    /// 0 closed, 1 half-open, 2 open (for a gauge).
    pub fn as_gauge(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::HalfOpen => 1,
            Self::Open => 2,
        }
    }
}

/// Counts consecutive failures and decides when the next attempt may start.
#[derive(Debug)]
pub(crate) struct Breaker {
    config: BreakerConfig,
    failures: u32,
    open_for: Duration,
    open_until: Option<Instant>,
}

impl Breaker {
    pub(crate) fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            failures: 0,
            open_for: config.open_for,
            open_until: None,
        }
    }

    pub(crate) fn state(&self, now: Instant) -> BreakerState {
        match self.open_until {
            None => BreakerState::Closed,
            Some(until) if now < until => BreakerState::Open,
            Some(_) => BreakerState::HalfOpen,
        }
    }

    /// When the circuit is open, the instant it half-opens.
    pub(crate) fn wait_until(&self, now: Instant) -> Option<Instant> {
        self.open_until.filter(|&until| now < until)
    }

    pub(crate) fn success(&mut self) {
        self.failures = 0;
        self.open_for = self.config.open_for;
        self.open_until = None;
    }

    /// Records a failure; returns true when this failure opened (or re-opened) the circuit.
    pub(crate) fn failure(&mut self, now: Instant) -> bool {
        self.failures = self.failures.saturating_add(1);
        let probe_failed = self.open_until.is_some();
        if probe_failed || self.failures >= self.config.failure_threshold {
            if probe_failed {
                self.open_for = (self.open_for * 2).min(self.config.max_open);
            }
            self.open_until = Some(now + self.open_for);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_backs_off_on_failed_probes() {
        let config = BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(1),
            max_open: Duration::from_secs(3),
        };
        let mut b = Breaker::new(config);
        let t0 = Instant::now();
        assert!(!b.failure(t0));
        assert!(!b.failure(t0));
        assert_eq!(b.state(t0), BreakerState::Closed);
        assert!(b.failure(t0));
        assert_eq!(b.state(t0), BreakerState::Open);
        assert_eq!(b.wait_until(t0), Some(t0 + Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(b.state(t1), BreakerState::HalfOpen);
        assert!(b.failure(t1), "a failed probe re-opens");
        assert_eq!(b.wait_until(t1), Some(t1 + Duration::from_secs(2)));
        let t2 = t1 + Duration::from_secs(2);
        assert!(b.failure(t2));
        assert_eq!(
            b.wait_until(t2),
            Some(t2 + Duration::from_secs(3)),
            "capped"
        );
        b.success();
        assert_eq!(b.state(t2), BreakerState::Closed);
        assert_eq!(b.wait_until(t2), None);
    }
}
