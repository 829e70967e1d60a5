//! One event → one AMQP message.

use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use llm_security_core::{EventType, SecurityEvent};

/// `threat.<kind>` of the event's most severe threat, or `analysis.completed` when it has none.
pub fn routing_key(event: &SecurityEvent) -> String {
    let worst = event.threats.iter().max_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(a.confidence.total_cmp(&b.confidence))
    });
    match (event.event_type, worst) {
        (EventType::AnalysisCompleted, _) | (_, None) => "analysis.completed".to_owned(),
        (_, Some(threat)) => format!("threat.{}", threat.kind.as_str()),
    }
}

/// Persistent JSON message properties carrying the event's id, type and schema version.
pub(crate) fn properties(event: &SecurityEvent) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        ShortString::from("schema_version"),
        AMQPValue::LongUInt(event.schema_version),
    );
    headers.insert(
        ShortString::from("event_type"),
        AMQPValue::LongString(LongString::from(event.event_type.as_str())),
    );
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(ShortString::from("application/json"))
        .with_message_id(ShortString::from(event.id.to_string()))
        .with_type(ShortString::from(event.event_type.as_str()))
        .with_timestamp(u64::try_from(event.timestamp.timestamp()).unwrap_or(0))
        .with_headers(headers)
}
