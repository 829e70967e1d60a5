//! HEC envelopes.

use llm_security_core::SecurityEvent;
use serde::Serialize;

use crate::config::HecConfig;

#[derive(Serialize)]
struct Envelope<'a> {
    time: f64,
    host: &'a str,
    source: &'a str,
    sourcetype: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<&'a str>,
    event: &'a SecurityEvent,
}

/// The request body for `events`: one envelope per event, concatenated, newline-separated.
pub fn encode(events: &[&SecurityEvent], config: &HecConfig, host: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * 1024);
    for event in events {
        let millis = event.timestamp.timestamp_millis();
        let envelope = Envelope {
            time: millis as f64 / 1000.0,
            host: config.host.as_deref().unwrap_or(host),
            source: &config.source,
            sourcetype: &config.sourcetype,
            index: config.index.as_deref(),
            event,
        };
        if serde_json::to_writer(&mut out, &envelope).is_ok() {
            out.push(b'\n');
        }
    }
    out
}
