//! Stored documents.

use llm_security_core::{SecurityEvent, SinkError};
use mongodb::bson::{self, Document, doc};

/// The stored document for `event`.
pub fn document(event: &SecurityEvent) -> Result<Document, SinkError> {
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

/// Reads the event back from a stored document.
pub fn event_of(document: &Document) -> Result<SecurityEvent, String> {
    let nested = document.get_document("event").map_err(|e| e.to_string())?;
    bson::from_document(nested.clone()).map_err(|e| e.to_string())
}
