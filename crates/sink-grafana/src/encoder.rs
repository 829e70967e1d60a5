//! Annotation bodies.

use llm_security_core::SecurityEvent;
use serde_json::{Value, json};

use crate::config::GrafanaConfig;

/// The annotation for a threat event.
pub fn annotation(event: &SecurityEvent, config: &GrafanaConfig) -> Value {
    let mut tags = vec![
        "llm-security".to_owned(),
        event.event_type.as_str().to_owned(),
    ];
    let mut kinds: Vec<&str> = event.threats.iter().map(|t| t.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    tags.extend(kinds.iter().map(|k| (*k).to_owned()));
    if let Some(s) = event.threats.iter().map(|t| t.severity).max() {
        tags.push(format!("severity:{s}"));
    }
    tags.push(format!("event:{}", event.id));
    tags.extend(config.tags.iter().cloned());
    let rules: Vec<&str> = event.threats.iter().map(|t| t.rule.as_str()).collect();
    let text = format!(
        "{} in model {} (score {:.2}): {}",
        if kinds.is_empty() {
            "event".to_owned()
        } else {
            kinds.join(", ")
        },
        event.direction.as_str(),
        event.score,
        rules.join(", ")
    );
    let mut body = json!({"time": event.timestamp.timestamp_millis(), "tags": tags, "text": text});
    if let Some(uid) = &config.dashboard_uid {
        body["dashboardUID"] = json!(uid);
    }
    if let Some(panel) = config.panel_id {
        body["panelId"] = json!(panel);
    }
    body
}
