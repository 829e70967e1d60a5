//! The webhook payload: `{"type": <event type>, "timestamp": <RFC 3339>, "data": <event>}`.

use llm_security_core::SecurityEvent;
use serde::Serialize;

#[derive(Serialize)]
struct Payload<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: String,
    data: &'a SecurityEvent,
}

/// The exact bytes sent (and signed) for `event`.
pub fn encode(event: &SecurityEvent) -> Vec<u8> {
    let payload = Payload {
        kind: event.event_type.as_str(),
        timestamp: event.timestamp.to_rfc3339_opts(chrono_secs(), true),
        data: event,
    };
    serde_json::to_vec(&payload).unwrap_or_default()
}

fn chrono_secs() -> llm_security_core::SecondsFormat {
    llm_security_core::SecondsFormat::Millis
}

/// The `webhook-id` of `event`: stable across retries, no `.` in it.
pub(crate) fn message_id(event: &SecurityEvent) -> String {
    format!("msg_{}", event.id.simple())
}
