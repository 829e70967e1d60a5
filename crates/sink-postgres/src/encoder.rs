//! Events as the column arrays of one `UNNEST` insert.

use llm_security_core::SecurityEvent;
use llm_security_core::nul::{self, NulIn};
use serde_json::Value;

/// One array per column, in the table's order.
#[derive(Debug, Default, PartialEq)]
pub struct Rows {
    /// Event ids.
    pub id: Vec<uuid::Uuid>,
    /// `analysis.completed`, `threat.detected`, `threat.mitigated`.
    pub event_type: Vec<String>,
    /// Event timestamps.
    pub ts: Vec<chrono::DateTime<chrono::Utc>>,
    /// `input` or `output`.
    pub direction: Vec<String>,
    /// Verdicts.
    pub is_secure: Vec<bool>,
    /// Scores.
    pub score: Vec<f32>,
    /// Confidences.
    pub confidence: Vec<f32>,
    /// Threats, as JSON arrays.
    pub threats: Vec<Value>,
    /// User ids.
    pub user_id: Vec<Option<String>>,
    /// Session ids.
    pub session_id: Vec<Option<String>>,
    /// Captured text (absent under the `none` policy).
    pub captured_text: Vec<Option<String>>,
    /// Metadata objects.
    pub metadata: Vec<Value>,
    /// The whole events.
    pub event: Vec<Value>,
}

impl Rows {
    /// The columns of `events`.
    pub fn of(events: &[&SecurityEvent]) -> Self {
        let mut r = Self::default();
        for e in events {
            r.id.push(e.id);
            r.event_type.push(e.event_type.as_str().to_owned());
            r.ts.push(e.timestamp);
            r.direction.push(e.direction.as_str().to_owned());
            r.is_secure.push(e.is_secure);
            r.score.push(e.score);
            r.confidence.push(e.confidence);
            r.threats.push(storable_json(
                serde_json::to_value(&e.threats).unwrap_or(Value::Null),
            ));
            r.user_id.push(e.user_id.as_deref().map(storable));
            r.session_id.push(e.session_id.as_deref().map(storable));
            r.captured_text.push(e.text.value.as_deref().map(storable));
            r.metadata
                .push(storable_json(Value::Object(e.metadata.clone())));
            r.event.push(storable_json(
                serde_json::to_value(e).unwrap_or(Value::Null),
            ));
        }
        r
    }
}

/// `text` as PostgreSQL can store it (see [`llm_security_core::nul`]).
fn storable(text: &str) -> String {
    nul::replace_nul(text)
}

/// `value` as `jsonb` can store it (see [`llm_security_core::nul`]).
fn storable_json(mut value: Value) -> Value {
    nul::replace_nul_in_json(&mut value, NulIn::KeysAndStrings);
    value
}
