//! SOAR container bodies.

use llm_security_core::{SecondsFormat, SecurityEvent, Severity};
use serde_json::{Value, json};

use crate::config::SoarConfig;

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High | Severity::Critical => "high",
    }
}

/// The container (with inline artifacts) for a threat event.
pub fn container(event: &SecurityEvent, config: &SoarConfig) -> Value {
    let strongest = event.threats.iter().max_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(a.confidence.total_cmp(&b.confidence))
    });
    let name = match strongest {
        Some(t) => format!(
            "llm-security: {} in model {} ({})",
            t.kind,
            event.direction.as_str(),
            t.rule
        ),
        None => format!("llm-security: {}", event.event_type),
    };
    let last = event.threats.len().saturating_sub(1);
    let artifacts: Vec<Value> = event
        .threats
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut cef = json!({
                "llmDetector": t.rule,
                "llmThreatKind": t.kind.as_str(),
                "llmConfidence": t.confidence,
                "llmScore": event.score,
                "llmDirection": event.direction.as_str(),
                "llmEventId": event.id.to_string(),
                "message": t.message,
            });
            if let Some(technique) = &t.technique {
                cef["llmTechnique"] = json!(technique);
            }
            if let Some(user) = &event.user_id {
                cef["sourceUserName"] = json!(user);
            }
            if let Some(session) = &event.session_id {
                cef["llmSessionId"] = json!(session);
            }
            json!({
                "name": t.rule,
                "label": "llm-security",
                "type": "llm-security",
                "severity": severity(t.severity),
                "source_data_identifier": format!("{}:{i}", event.id),
                "cef": cef,
                "cef_types": {"llmEventId": ["llm security event id"], "llmSessionId": ["llm session id"]},
                "run_automation": i == last,
            })
        })
        .collect();
    json!({
        "name": name,
        "label": config.label,
        "severity": strongest.map_or("low", |t| severity(t.severity)),
        "sensitivity": config.sensitivity,
        "status": "new",
        "source_data_identifier": event.id.to_string(),
        "description": strongest.map_or(String::new(), |t| t.message.clone()),
        "start_time": event.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
        "tags": event.threats.iter().map(|t| t.kind.as_str()).collect::<std::collections::BTreeSet<_>>(),
        "data": event,
        "artifacts": artifacts,
    })
}
