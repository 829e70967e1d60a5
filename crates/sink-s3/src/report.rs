//! The daily security report.

use std::collections::BTreeMap;

use llm_security_core::SecurityEvent;
use serde::{Deserialize, Serialize};

/// A day's summary of security events: the seed's daily report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityReport {
    /// The day, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Events that day.
    pub total: u64,
    /// Of which secure.
    pub secure: u64,
    /// Of which with threats reaching the threshold.
    pub threats: u64,
    /// Threat findings per kind.
    pub by_kind: BTreeMap<String, u64>,
    /// Mean confidence of the verdicts.
    pub average_confidence: f64,
}

impl SecurityReport {
    /// Summarizes the events of `date` (UTC) among `events`.
    pub fn build<'a>(
        date: chrono::NaiveDate,
        events: impl IntoIterator<Item = &'a SecurityEvent>,
    ) -> Self {
        let mut r = Self {
            date: date.to_string(),
            total: 0,
            secure: 0,
            threats: 0,
            by_kind: BTreeMap::new(),
            average_confidence: 0.0,
        };
        let mut confidence = 0.0f64;
        for e in events
            .into_iter()
            .filter(|e| e.timestamp.date_naive() == date)
        {
            r.total += 1;
            if e.is_secure {
                r.secure += 1;
            } else {
                r.threats += 1;
            }
            confidence += f64::from(e.confidence);
            for t in &e.threats {
                *r.by_kind.entry(t.kind.to_string()).or_default() += 1;
            }
        }
        if r.total > 0 {
            r.average_confidence = confidence / r.total as f64;
        }
        r
    }
}
