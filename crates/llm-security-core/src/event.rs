//! The security event: what the engine hands to sinks after each analysis.
//!
//! # Wire format
//!
//! A [`SecurityEvent`] serializes to one JSON object. It is a public contract, versioned by
//! `schema_version`; sinks store and forward it as is. The full field list, with types and
//! an example, is in `docs/events.md`, and `docs/event.schema.json` is its JSON Schema.
//! Fields may be added in a later schema version; none is removed or changes meaning
//! without a version bump.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::analysis::Analysis;
use crate::config::CapturePolicy;
use crate::redact::redact;
use crate::threat::Threat;

/// The current event schema version.
pub const SCHEMA_VERSION: u32 = 1;

/// The version of this engine, recorded in every event.
pub const ENGINE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// A text was analyzed and nothing was found.
    #[serde(rename = "analysis.completed")]
    AnalysisCompleted,
    /// A text was analyzed and at least one threat was found.
    #[serde(rename = "threat.detected")]
    ThreatDetected,
    /// A threat was neutralized (for example, the text was sanitized or blocked).
    #[serde(rename = "threat.mitigated")]
    ThreatMitigated,
}

impl EventType {
    /// The wire name, e.g. `threat.detected`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AnalysisCompleted => "analysis.completed",
            Self::ThreatDetected => "threat.detected",
            Self::ThreatMitigated => "threat.mitigated",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way the analyzed text was going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Text on its way into a model (a prompt, a document, a tool result).
    Input,
    /// Text a model produced.
    Output,
}

impl Direction {
    /// The wire name, `input` or `output`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Output => "output",
        }
    }
}

/// Who and what an analysis belongs to; copied into its event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnalysisContext {
    /// The end user, as the application identifies them.
    pub user_id: Option<String>,
    /// The conversation or session.
    pub session_id: Option<String>,
    /// Free application data (request id, model name, tenant...).
    pub metadata: Map<String, Value>,
}

impl AnalysisContext {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the user id.
    pub fn with_user_id(mut self, id: impl Into<String>) -> Self {
        self.user_id = Some(id.into());
        self
    }

    /// Sets the session id.
    pub fn with_session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }

    /// Adds one metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// The analyzed text as an event carries it, according to a [`CapturePolicy`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapturedText {
    /// The policy that produced `value`.
    pub policy: CapturePolicy,
    /// Length of the original text in bytes.
    pub bytes: usize,
    /// The full text, the redacted text, or the hex SHA-256; absent under `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl CapturedText {
    /// Captures `text` under `policy`, masking `threats` for [`CapturePolicy::Redacted`].
    pub fn capture(text: &str, threats: &[Threat], policy: CapturePolicy) -> Self {
        let value = match policy {
            CapturePolicy::Full => Some(text.to_owned()),
            CapturePolicy::Redacted => Some(redact(text, threats)),
            CapturePolicy::Hash => Some(hex(&Sha256::digest(text.as_bytes()))),
            CapturePolicy::None => None,
        };
        Self {
            policy,
            bytes: text.len(),
            value,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// One security event.
///
/// # Wire format
///
/// Serializes to one JSON object, a public contract versioned by `schema_version`; sinks store
/// and forward it as is. The field list, with types and an example, is in `docs/events.md`, and
/// `docs/event.schema.json` is its JSON Schema. Fields may be added in a later schema version;
/// none is removed or changes meaning without a version bump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SecurityEvent {
    /// A UUIDv7: unique, and ordered by creation time. Sinks use it as the idempotency key.
    pub id: Uuid,
    /// What happened.
    pub event_type: EventType,
    /// When the event was created, UTC.
    pub timestamp: DateTime<Utc>,
    /// Input to, or output from, a model.
    pub direction: Direction,
    /// The verdict: `true` when no threat reached the threshold.
    pub is_secure: bool,
    /// The fused attack score in `0..=1`.
    pub score: f32,
    /// Confidence in the verdict, in `0..=1`.
    pub confidence: f32,
    /// How long the analysis took, in microseconds.
    pub analysis_time_us: u64,
    /// What was found.
    pub threats: Vec<Threat>,
    /// The end user, when the application gave one.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The session, when the application gave one.
    #[serde(default)]
    pub session_id: Option<String>,
    /// Free application data.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// The text, as the capture policy allows.
    pub text: CapturedText,
    /// The engine version that produced the event.
    pub engine_version: String,
    /// The schema version of this object ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
}

impl SecurityEvent {
    /// Builds the event for one analysis of `text`.
    pub fn from_analysis(
        analysis: &Analysis,
        text: &str,
        context: &AnalysisContext,
        capture: CapturePolicy,
    ) -> Self {
        let event_type = if analysis.threats().is_empty() {
            EventType::AnalysisCompleted
        } else {
            EventType::ThreatDetected
        };
        Self {
            id: Uuid::now_v7(),
            event_type,
            timestamp: Utc::now(),
            direction: analysis.direction(),
            is_secure: analysis.is_secure(),
            score: analysis.score(),
            confidence: analysis.confidence(),
            analysis_time_us: u64::try_from(analysis.analysis_time().as_micros())
                .unwrap_or(u64::MAX),
            threats: analysis.threats().to_vec(),
            user_id: context.user_id.clone(),
            session_id: context.session_id.clone(),
            metadata: context.metadata.clone(),
            text: CapturedText::capture(text, analysis.threats(), capture),
            engine_version: ENGINE_VERSION.to_owned(),
            schema_version: SCHEMA_VERSION,
        }
    }

    /// A `threat.mitigated` event that follows `detected`: same threats, ids and context,
    /// a new id and timestamp, and `metadata.mitigates` pointing at the original event.
    pub fn mitigated(detected: &Self, how: &str) -> Self {
        let mut event = detected.clone();
        event.id = Uuid::now_v7();
        event.event_type = EventType::ThreatMitigated;
        event.timestamp = Utc::now();
        event
            .metadata
            .insert("mitigates".into(), Value::String(detected.id.to_string()));
        event
            .metadata
            .insert("mitigation".into(), Value::String(how.to_owned()));
        event
    }

    /// The key that keeps one conversation together in partitioned transports:
    /// the session id, else the user id, else the event id.
    pub fn partition_key(&self) -> String {
        self.session_id
            .clone()
            .or_else(|| self.user_id.clone())
            .unwrap_or_else(|| self.id.to_string())
    }
}
