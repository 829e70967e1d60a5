//! Inbound Standard Webhooks at `POST /webhook`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use llm_security_sink_webhook::VerifyError;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;

/// Handles one verified webhook payload (`{"type", "timestamp", "data"}`); an `Err` answers 500
/// so the sender retries.
pub type WebhookHandler = Arc<dyn Fn(&Value) -> Result<(), String> + Send + Sync>;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Verifies the signature, timestamp and id, then dispatches by `type`.
pub(crate) async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(verifier) = &state.inner.verifier else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_configured",
            "inbound webhooks are not configured (webhook_secrets)",
        )
        .into_response();
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    if let Err(e) = verifier.verify(header, &body, now()) {
        let code = match e {
            VerifyError::MissingHeader(_) | VerifyError::InvalidHeader(_) => "invalid_headers",
            VerifyError::TimestampTooOld | VerifyError::FutureTimestamp => "stale",
            VerifyError::InvalidSignature => "invalid_signature",
            VerifyError::Replayed(_) => "replayed",
        };
        state.metrics().rejected(&format!("webhook_{code}"));
        return ApiError::new(StatusCode::UNAUTHORIZED, code, e.to_string()).into_response();
    }
    let Ok(payload) = serde_json::from_slice::<Value>(&body) else {
        return ApiError::bad_request("the webhook body is not JSON").into_response();
    };
    let kind = payload["type"].as_str().unwrap_or("");
    for (event_type, handler) in &state.inner.handlers {
        if event_type == kind
            && let Err(e) = handler(&payload)
        {
            return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "handler_failed", e)
                .into_response();
        }
    }
    tracing::info!(event_type = kind, "Webhook received.");
    StatusCode::NO_CONTENT.into_response()
}
