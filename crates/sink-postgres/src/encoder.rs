//! Events as the column arrays of one `UNNEST` insert.

use llm_security_core::SecurityEvent;
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

/// What PostgreSQL stores in place of NUL, which neither `text` nor `jsonb` can hold: U+FFFD,
/// the replacement character. Without it, one prompt with a NUL byte made the server refuse
/// its whole batch, and other users' events with it.
const NUL_STAND_IN: &str = "\u{FFFD}";

/// `text` with every NUL replaced by [`NUL_STAND_IN`].
fn storable(text: &str) -> String {
    text.replace('\0', NUL_STAND_IN)
}

/// `value` with every NUL in its strings and keys replaced by [`NUL_STAND_IN`].
fn storable_json(mut value: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::String(s) if s.contains('\0') => *s = storable(s),
            Value::Array(items) => items.iter_mut().for_each(walk),
            Value::Object(map) => {
                if map.keys().any(|k| k.contains('\0')) {
                    let old = std::mem::take(map);
                    map.extend(old.into_iter().map(|(k, v)| (storable(&k), v)));
                }
                map.values_mut().for_each(walk);
            }
            _ => {}
        }
    }
    walk(&mut value);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_becomes_the_replacement_character_everywhere() {
        assert_eq!(storable("a\0b\0"), "a\u{fffd}b\u{fffd}");
        let v = serde_json::json!({"k\0": ["x\0", {"y": "z\0"}], "n": 1});
        assert_eq!(
            storable_json(v),
            serde_json::json!({"k\u{fffd}": ["x\u{fffd}", {"y": "z\u{fffd}"}], "n": 1})
        );
    }
}
