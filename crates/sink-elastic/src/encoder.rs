//! ECS documents and `_bulk` bodies.

use llm_security_core::{EventType, SecondsFormat, SecurityEvent, Severity};
use serde_json::{Value, json};

/// ECS version the documents follow.
pub const ECS_VERSION: &str = "9.4.0";

fn technique_name(id: &str) -> &'static str {
    match id {
        "AML.T0051" => "LLM Prompt Injection",
        "AML.T0054" => "LLM Jailbreak",
        "AML.T0056" => "LLM Meta Prompt Extraction",
        "AML.T0057" => "LLM Data Leakage",
        _ => "",
    }
}

fn severity_number(s: Option<Severity>) -> u8 {
    match s {
        None => 0,
        Some(Severity::Low) => 21,
        Some(Severity::Medium) => 47,
        Some(Severity::High) => 73,
        Some(Severity::Critical) => 99,
    }
}

/// The ECS document for `event`.
pub fn ecs_document(event: &SecurityEvent) -> Value {
    let timestamp = event.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true);
    let strongest = event.threats.iter().max_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(a.confidence.total_cmp(&b.confidence))
    });
    let mut techniques: Vec<&str> = event
        .threats
        .iter()
        .filter_map(|t| t.technique.as_deref())
        .collect();
    techniques.sort_unstable();
    techniques.dedup();
    let kinds: Vec<&str> = {
        let mut k: Vec<&str> = event.threats.iter().map(|t| t.kind.as_str()).collect();
        k.sort_unstable();
        k.dedup();
        k
    };
    let message = match strongest {
        Some(t) => format!(
            "{} in model {}: {}",
            t.kind,
            event.direction.as_str(),
            t.message
        ),
        None => format!("Model {} analyzed: no threat.", event.direction.as_str()),
    };
    let mut doc = json!({
        "@timestamp": timestamp,
        "ecs": {"version": ECS_VERSION},
        "message": message,
        "event": {
            "id": event.id.to_string(),
            "kind": if event.event_type == EventType::AnalysisCompleted { "event" } else { "alert" },
            "category": ["intrusion_detection"],
            "type": ["info"],
            "action": event.event_type.as_str(),
            "outcome": "success",
            "severity": severity_number(strongest.map(|t| t.severity)),
            "risk_score": event.score * 100.0,
            "risk_score_norm": event.score * 100.0,
            "created": timestamp,
            "dataset": "llmsec.detections",
            "module": "llm-security",
            "provider": "llm-security",
            "duration": event.analysis_time_us.saturating_mul(1000),
        },
        "observer": {"vendor": "llm-security", "product": "llm-security", "version": event.engine_version, "type": "llm-guard"},
        "labels": {"direction": event.direction.as_str(), "secure": event.is_secure.to_string()},
        "tags": kinds,
        "llm_security": event,
    });
    if let Some(t) = strongest {
        doc["rule"] = json!({"id": t.rule, "name": t.rule, "description": t.message, "category": t.kind.as_str(), "ruleset": "llm-security"});
    }
    if !techniques.is_empty() {
        doc["threat"] = json!({
            "framework": "MITRE ATLAS",
            "technique": {"id": techniques, "name": techniques.iter().map(|t| technique_name(t)).collect::<Vec<_>>()},
        });
    }
    if let Some(user) = &event.user_id {
        doc["user"] = json!({"id": user});
    }
    if let Some(session) = &event.session_id {
        doc["labels"]["session_id"] = json!(session);
    }
    doc
}

/// The `_bulk` body for `events`: a `create` action with the event id, then the document, each
/// line ending in `\n` (the last one too, as `_bulk` requires).
pub fn bulk_body(index: &str, events: &[&SecurityEvent]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * 2048);
    for event in events {
        let action = json!({"create": {"_index": index, "_id": event.id.to_string()}});
        for line in [action, ecs_document(event)] {
            if serde_json::to_writer(&mut out, &line).is_ok() {
                out.push(b'\n');
            }
        }
    }
    out
}
