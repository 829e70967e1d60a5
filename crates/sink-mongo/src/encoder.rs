//! Stored documents.

use llm_security_core::nul::{self, NulIn};
use llm_security_core::{SecurityEvent, SinkError};
use mongodb::bson::{self, Document, doc};
use serde_json::Value;

/// The stored document for `event`.
pub fn document(event: &SecurityEvent) -> Result<Document, SinkError> {
    // BSON keys end at a NUL byte: a metadata key holding one becomes unencodable, and with
    // it the batch (see `llm_security_core::nul`). Values keep their NUL.
    let with_storable_keys;
    let event = if event
        .metadata
        .iter()
        .any(|(k, v)| k.contains('\0') || nul::json_has_nul(v, NulIn::Keys))
    {
        let mut metadata = Value::Object(event.metadata.clone());
        nul::replace_nul_in_json(&mut metadata, NulIn::Keys);
        let mut copy = event.clone();
        if let Value::Object(map) = metadata {
            copy.metadata = map;
        }
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

/// Reads the event back from a stored document.
pub fn event_of(document: &Document) -> Result<SecurityEvent, String> {
    let nested = document.get_document("event").map_err(|e| e.to_string())?;
    bson::from_document(nested.clone()).map_err(|e| e.to_string())
}
