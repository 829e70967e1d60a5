//! One event → one Kafka message.

use llm_security_core::SecurityEvent;

/// Header naming the event type (`threat.detected`, ...).
pub const HEADER_EVENT_TYPE: &str = "event_type";
/// Header carrying the event schema version.
pub const HEADER_SCHEMA_VERSION: &str = "schema_version";
/// Header carrying the event id, for consumers that drop re-deliveries.
pub const HEADER_EVENT_ID: &str = "event_id";

/// The message key: the session id, else the user id, else the event id. Messages with one key
/// go to one partition, so one conversation stays in order.
pub fn message_key(event: &SecurityEvent) -> String {
    event
        .session_id
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| event.user_id.clone().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| event.id.to_string())
}
