//! REST handlers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use llm_security::{Analysis, AnalysisContext, OutputContext, SystemPrompt, Threat};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::error::{ApiError, ApiJson};

/// Most texts in one batch request.
const MAX_BATCH: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnalyzeRequest {
    input: String,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    session_id: Option<String>,
    /// The input is retrieved content (a document, web page, e-mail or tool result), not
    /// what the user typed: the document rules run too.
    #[serde(default)]
    document: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValidateRequest {
    output: String,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    system_prompt: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchRequest<T> {
    items: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SanitizeRequest {
    text: String,
}

/// The seed's `SecurityResponse`, plus `redacted` for outputs.
#[derive(Debug, Serialize)]
pub(crate) struct SecurityResponse {
    is_secure: bool,
    threats: Vec<Threat>,
    confidence: f32,
    /// Milliseconds.
    analysis_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    redacted: Option<String>,
}

impl From<&Analysis> for SecurityResponse {
    fn from(a: &Analysis) -> Self {
        Self {
            is_secure: a.is_secure(),
            threats: a.threats().to_vec(),
            confidence: a.confidence(),
            analysis_time: a.analysis_time().as_secs_f64() * 1000.0,
            redacted: a.redacted().map(str::to_owned),
        }
    }
}

fn context(user_id: Option<String>, session_id: Option<String>) -> AnalysisContext {
    AnalysisContext {
        user_id,
        session_id,
        ..AnalysisContext::default()
    }
}

async fn run_analyze(state: &AppState, r: AnalyzeRequest) -> Result<SecurityResponse, ApiError> {
    let context = context(r.user_id, r.session_id);
    let engine = state.engine();
    let analysis = if r.document {
        engine
            .analyze_document_input_with(&r.input, &context)
            .await?
    } else {
        engine.analyze_input_with(&r.input, &context).await?
    };
    state.metrics().observe("analyze", &analysis);
    Ok(SecurityResponse::from(&analysis))
}

async fn run_validate(state: &AppState, r: ValidateRequest) -> Result<SecurityResponse, ApiError> {
    let mut out = OutputContext::new();
    if let Some(prompt) = &r.system_prompt {
        out = out.with_system_prompt(Arc::new(SystemPrompt::new(prompt)));
    }
    let analysis = state
        .engine()
        .validate_output_in(&r.output, &context(r.user_id, r.session_id), &out)
        .await?;
    state.metrics().observe("validate", &analysis);
    Ok(SecurityResponse::from(&analysis))
}

pub(crate) async fn analyze(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<AnalyzeRequest>,
) -> Result<Response, ApiError> {
    Ok(axum::Json(run_analyze(&state, r).await?).into_response())
}

pub(crate) async fn validate(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<ValidateRequest>,
) -> Result<Response, ApiError> {
    Ok(axum::Json(run_validate(&state, r).await?).into_response())
}

fn check_batch<T>(items: &[T]) -> Result<(), ApiError> {
    if items.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_BATCH} items per batch, got {}",
            items.len()
        )));
    }
    Ok(())
}

pub(crate) async fn analyze_batch(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<BatchRequest<AnalyzeRequest>>,
) -> Result<Response, ApiError> {
    check_batch(&r.items)?;
    let mut results = Vec::with_capacity(r.items.len());
    for item in r.items {
        results.push(run_analyze(&state, item).await?);
    }
    Ok(axum::Json(json!({"results": results})).into_response())
}

pub(crate) async fn validate_batch(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<BatchRequest<ValidateRequest>>,
) -> Result<Response, ApiError> {
    check_batch(&r.items)?;
    let mut results = Vec::with_capacity(r.items.len());
    for item in r.items {
        results.push(run_validate(&state, item).await?);
    }
    Ok(axum::Json(json!({"results": results})).into_response())
}

pub(crate) async fn sanitize(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<SanitizeRequest>,
) -> Result<Response, ApiError> {
    Ok(axum::Json(state.engine().sanitize(&r.text)?).into_response())
}

pub(crate) async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// Ready when every sink's health check passes within 2 s each.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let Some(pipeline) = state.pipeline() else {
        return axum::Json(json!({"status": "ready", "sinks": {}})).into_response();
    };
    let checks = pipeline
        .healthcheck(std::time::Duration::from_secs(2))
        .await;
    let ready = checks.iter().all(|(_, r)| r.is_ok());
    let sinks: serde_json::Map<String, serde_json::Value> = checks
        .into_iter()
        .map(|(name, r)| {
            (
                name,
                r.map_or_else(
                    |e| json!({"healthy": false, "error": e.to_string()}),
                    |()| json!({"healthy": true}),
                ),
            )
        })
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({"status": if ready { "ready" } else { "unavailable" }, "sinks": sinks})),
    )
        .into_response()
}

pub(crate) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI).into_response()
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}
