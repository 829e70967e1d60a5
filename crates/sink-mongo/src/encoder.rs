//! Stored documents.

use llm_security_core::{SecurityEvent, SinkError};
use mongodb::bson::{self, Document, doc};
use serde_json::{Map, Value};

/// The stored document for `event`.
pub fn document(event: &SecurityEvent) -> Result<Document, SinkError> {
    let with_storable_keys;
    let event = if has_nul_key(&event.metadata) {
        let mut copy = event.clone();
        copy.metadata = storable_keys(std::mem::take(&mut copy.metadata));
        with_storable_keys = copy;
        &with_storable_keys
    } else {
        event
    };
    let nested = bson::to_document(event)
        .map_err(|e| SinkError::permanent(format!("cannot encode event {}: {e}", event.id)))?;
    let mut kinds: Vec<&str> = event.threats.iter().map(|t| t.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    Ok(doc! {
        "_id": event.id.to_string(),
        "event_type": event.event_type.as_str(),
        "timestamp": bson::DateTime::from_millis(event.timestamp.timestamp_millis()),
        "direction": event.direction.as_str(),
        "is_secure": event.is_secure,
        "score": f64::from(event.score),
        "user_id": event.user_id.clone(),
        "session_id": event.session_id.clone(),
        "kinds": kinds,
        "event": nested,
    })
}

/// What a BSON key holds in place of NUL, which ends a key on the wire: U+FFFD, the
/// replacement character. Without it, one metadata key with a NUL byte made the whole batch
/// unencodable. (String values may hold NUL and keep it.)
const NUL_STAND_IN: &str = "\u{FFFD}";

fn has_nul_key(map: &Map<String, Value>) -> bool {
    fn in_value(value: &Value) -> bool {
        match value {
            Value::Array(items) => items.iter().any(in_value),
            Value::Object(map) => has_nul_key(map),
            _ => false,
        }
    }
    map.iter().any(|(k, v)| k.contains('\0') || in_value(v))
}

/// `map` with NUL in every key, at any depth, replaced by [`NUL_STAND_IN`].
fn storable_keys(map: Map<String, Value>) -> Map<String, Value> {
    fn in_value(value: Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(items.into_iter().map(in_value).collect()),
            Value::Object(map) => Value::Object(storable_keys(map)),
            other => other,
        }
    }
    map.into_iter()
        .map(|(k, v)| (k.replace('\0', NUL_STAND_IN), in_value(v)))
        .collect()
}

/// Reads the event back from a stored document.
pub fn event_of(document: &Document) -> Result<SecurityEvent, String> {
    let nested = document.get_document("event").map_err(|e| e.to_string())?;
    bson::from_document(nested.clone()).map_err(|e| e.to_string())
}
