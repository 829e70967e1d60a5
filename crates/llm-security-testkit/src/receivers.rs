//! The protocol receivers. See the crate docs.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// A scripted failure: the next request gets this status and body instead of being processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// HTTP status.
    pub status: u16,
    /// Response body.
    pub body: String,
    /// `Retry-After` header value, if any.
    pub retry_after: Option<String>,
    /// `Location` header value, if any (for redirects).
    pub location: Option<String>,
}

impl Failure {
    /// A failure with `status` and `body`.
    pub fn status(status: u16, body: &str) -> Self {
        Self {
            status,
            body: body.to_owned(),
            retry_after: None,
            location: None,
        }
    }

    /// Adds a `Retry-After` header.
    pub fn retry_after(mut self, value: &str) -> Self {
        self.retry_after = Some(value.to_owned());
        self
    }

    /// Adds a `Location` header.
    pub fn location(mut self, value: &str) -> Self {
        self.location = Some(value.to_owned());
        self
    }

    fn into_response(self) -> Response {
        let mut r = (
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            self.body,
        )
            .into_response();
        if let Some(v) = self.retry_after.and_then(|v| v.parse().ok()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let Some(v) = self.location.and_then(|v| v.parse().ok()) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        r
    }
}

/// One request a receiver accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// Request headers, lower-case names.
    pub headers: HashMap<String, String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The parsed items (events, containers, annotations, or the webhook payload).
    pub items: Vec<Value>,
}

#[derive(Debug, Default)]
struct Shared {
    failures: VecDeque<Failure>,
    requests: Vec<Received>,
    attempts: usize,
    next_ack: u64,
    next_id: u64,
    containers: HashMap<String, u64>,
}

/// State and address common to every receiver.
#[derive(Debug, Clone)]
struct Base {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl Base {
    async fn start(router: impl FnOnce(Arc<Mutex<Shared>>) -> Router) -> Self {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let app = router(Arc::clone(&shared));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn headers_of(h: &HeaderMap) -> HashMap<String, String> {
    h.iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect()
}

/// Takes the next scripted failure, counting the attempt either way.
fn scripted(shared: &Mutex<Shared>) -> Option<Response> {
    let mut s = lock(shared);
    s.attempts += 1;
    s.failures.pop_front().map(Failure::into_response)
}

macro_rules! receiver_api {
    ($name:ident) => {
        impl $name {
            /// The base URL, e.g. `http://127.0.0.1:41234`.
            pub fn url(&self) -> String {
                format!("http://{}", self.base.addr)
            }

            /// Queues failures for the next requests, in order.
            pub fn fail_next(&self, failures: impl IntoIterator<Item = Failure>) {
                self.base.lock().failures.extend(failures);
            }

            /// Every request accepted so far.
            pub fn requests(&self) -> Vec<Received> {
                self.base.lock().requests.clone()
            }

            /// Every item accepted so far, across requests.
            pub fn items(&self) -> Vec<Value> {
                self.base
                    .lock()
                    .requests
                    .iter()
                    .flat_map(|r| r.items.clone())
                    .collect()
            }

            /// Requests received, including failed ones.
            pub fn attempts(&self) -> usize {
                self.base.lock().attempts
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Splunk HEC

/// A test receiver for the Splunk HTTP Event Collector protocol: `/services/collector/event`
/// (concatenated JSON envelopes), `/services/collector/health`, and indexer acknowledgement
/// (`X-Splunk-Request-Channel`, `/services/collector/ack`) when started with acks on. Error
/// codes as Splunk documents them: 2 token required, 4 invalid token, 5 no data, 6 invalid data
/// format, 7 incorrect index, 10 channel missing, 12 event required, 13 event blank.
#[derive(Debug, Clone)]
pub struct HecReceiver {
    base: Base,
}

receiver_api!(HecReceiver);

#[derive(Debug, Clone)]
struct HecConfig {
    shared: Arc<Mutex<Shared>>,
    token: String,
    ack: bool,
    indexes: Vec<String>,
}

fn hec_reply(status: StatusCode, code: u32, text: &str, extra: &Value) -> Response {
    let mut body = json!({"text": text, "code": code});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    (status, axum::Json(body)).into_response()
}

fn hec_auth(cfg: &HecConfig, headers: &HeaderMap) -> Option<Response> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match auth.and_then(|a| a.strip_prefix("Splunk ")) {
        None => Some(hec_reply(
            StatusCode::UNAUTHORIZED,
            2,
            "Token is required",
            &json!({}),
        )),
        Some(t) if t != cfg.token => Some(hec_reply(
            StatusCode::FORBIDDEN,
            4,
            "Invalid token",
            &json!({}),
        )),
        Some(_) => None,
    }
}

async fn hec_event(State(cfg): State<HecConfig>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = scripted(&cfg.shared) {
        return r;
    }
    if let Some(r) = hec_auth(&cfg, &headers) {
        return r;
    }
    if cfg.ack && !headers.contains_key("x-splunk-request-channel") {
        return hec_reply(
            StatusCode::BAD_REQUEST,
            10,
            "Data channel is missing",
            &json!({}),
        );
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return hec_reply(StatusCode::BAD_REQUEST, 5, "No data", &json!({}));
    }
    let mut items = Vec::new();
    for (i, item) in serde_json::Deserializer::from_slice(&body)
        .into_iter::<Value>()
        .enumerate()
    {
        let Ok(item) = item else {
            return hec_reply(
                StatusCode::BAD_REQUEST,
                6,
                "Invalid data format",
                &json!({"invalid-event-number": i}),
            );
        };
        match item.get("event") {
            None | Some(Value::Null) => {
                return hec_reply(
                    StatusCode::BAD_REQUEST,
                    12,
                    "Event field is required",
                    &json!({"invalid-event-number": i}),
                );
            }
            Some(Value::String(s)) if s.is_empty() => {
                return hec_reply(
                    StatusCode::BAD_REQUEST,
                    13,
                    "Event field cannot be blank",
                    &json!({"invalid-event-number": i}),
                );
            }
            Some(Value::Object(o)) if o.is_empty() => {
                return hec_reply(
                    StatusCode::BAD_REQUEST,
                    13,
                    "Event field cannot be blank",
                    &json!({"invalid-event-number": i}),
                );
            }
            _ => {}
        }
        if let Some(index) = item.get("index").and_then(Value::as_str)
            && !cfg.indexes.iter().any(|i| i == index)
        {
            return hec_reply(
                StatusCode::BAD_REQUEST,
                7,
                "Incorrect index",
                &json!({"invalid-event-number": i}),
            );
        }
        items.push(item);
    }
    let mut s = lock(&cfg.shared);
    s.requests.push(Received {
        headers: headers_of(&headers),
        body: body.to_vec(),
        items,
    });
    if cfg.ack {
        let id = s.next_ack;
        s.next_ack += 1;
        return hec_reply(StatusCode::OK, 0, "Success", &json!({"ackId": id}));
    }
    hec_reply(StatusCode::OK, 0, "Success", &json!({}))
}

async fn hec_ack(State(cfg): State<HecConfig>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = hec_auth(&cfg, &headers) {
        return r;
    }
    if !cfg.ack {
        return hec_reply(StatusCode::BAD_REQUEST, 14, "ACK is disabled", &json!({}));
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return hec_reply(
            StatusCode::BAD_REQUEST,
            6,
            "Invalid data format",
            &json!({}),
        );
    };
    let issued = lock(&cfg.shared).next_ack;
    let acks: serde_json::Map<String, Value> = v["acks"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_u64)
                .map(|id| (id.to_string(), Value::Bool(id < issued)))
                .collect()
        })
        .unwrap_or_default();
    (StatusCode::OK, axum::Json(json!({"acks": acks}))).into_response()
}

async fn hec_health(State(cfg): State<HecConfig>, headers: HeaderMap) -> Response {
    if headers.contains_key(header::AUTHORIZATION)
        && let Some(_) = hec_auth(&cfg, &headers)
    {
        return hec_reply(StatusCode::BAD_REQUEST, 4, "Invalid token", &json!({}));
    }
    hec_reply(StatusCode::OK, 17, "HEC is healthy", &json!({}))
}

impl HecReceiver {
    /// Starts a receiver accepting `token`, with indexer acknowledgement on or off, and the
    /// indexes events may name.
    pub async fn start(token: &str, ack: bool, indexes: &[&str]) -> Self {
        let token = token.to_owned();
        let indexes: Vec<String> = indexes.iter().map(|s| (*s).to_owned()).collect();
        let base = Base::start(move |shared| {
            let cfg = HecConfig {
                shared,
                token,
                ack,
                indexes,
            };
            Router::new()
                .route("/services/collector/event", post(hec_event))
                .route("/services/collector", post(hec_event))
                .route("/services/collector/ack", post(hec_ack))
                .route("/services/collector/health", get(hec_health))
                .with_state(cfg)
        })
        .await;
        Self { base }
    }
}

// ---------------------------------------------------------------------------------------------
// Splunk SOAR

/// A test receiver for the Splunk SOAR REST API: `POST /rest/container` (with inline
/// artifacts; labels must exist; a repeated `source_data_identifier` answers
/// `{"failed": true, "message": "duplicate...", "existing_container_id": N}`), `GET
/// /rest/version`, auth by `ph-auth-token`.
#[derive(Debug, Clone)]
pub struct SoarReceiver {
    base: Base,
}

receiver_api!(SoarReceiver);

#[derive(Debug, Clone)]
struct SoarConfig {
    shared: Arc<Mutex<Shared>>,
    token: String,
    labels: Vec<String>,
}

fn soar_fail(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"failed": true, "message": message})),
    )
        .into_response()
}

async fn soar_container(
    State(cfg): State<SoarConfig>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = scripted(&cfg.shared) {
        return r;
    }
    if headers.get("ph-auth-token").and_then(|v| v.to_str().ok()) != Some(cfg.token.as_str()) {
        return soar_fail(
            StatusCode::UNAUTHORIZED,
            "Authentication failed: invalid token",
        );
    }
    let Ok(container) = serde_json::from_slice::<Value>(&body) else {
        return soar_fail(StatusCode::BAD_REQUEST, "Invalid JSON");
    };
    let (Some(name), Some(label)) = (container["name"].as_str(), container["label"].as_str())
    else {
        return soar_fail(StatusCode::BAD_REQUEST, "name and label are required");
    };
    if name.is_empty() || !cfg.labels.iter().any(|l| l == label) {
        return soar_fail(StatusCode::BAD_REQUEST, &format!("Invalid label: {label}"));
    }
    if let Some(artifacts) = container["artifacts"].as_array()
        && artifacts.iter().any(|a| !a["cef"].is_object())
    {
        return soar_fail(StatusCode::BAD_REQUEST, "artifact cef must be an object");
    }
    let mut s = lock(&cfg.shared);
    if let Some(sdi) = container["source_data_identifier"].as_str()
        && let Some(&existing) = s.containers.get(sdi)
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"failed": true, "message": "duplicate container found", "existing_container_id": existing})),
        )
            .into_response();
    }
    s.next_id += 1;
    let id = s.next_id;
    if let Some(sdi) = container["source_data_identifier"].as_str() {
        s.containers.insert(sdi.to_owned(), id);
    }
    s.requests.push(Received {
        headers: headers_of(&headers),
        body: body.to_vec(),
        items: vec![container],
    });
    (
        StatusCode::OK,
        axum::Json(json!({"success": true, "id": id})),
    )
        .into_response()
}

async fn soar_version(State(cfg): State<SoarConfig>, headers: HeaderMap) -> Response {
    if headers.get("ph-auth-token").and_then(|v| v.to_str().ok()) != Some(cfg.token.as_str()) {
        return soar_fail(
            StatusCode::UNAUTHORIZED,
            "Authentication failed: invalid token",
        );
    }
    (StatusCode::OK, axum::Json(json!({"version": "6.3.0"}))).into_response()
}

impl SoarReceiver {
    /// Starts a receiver accepting `token`, with these container labels defined.
    pub async fn start(token: &str, labels: &[&str]) -> Self {
        let token = token.to_owned();
        let labels: Vec<String> = labels.iter().map(|s| (*s).to_owned()).collect();
        let base = Base::start(move |shared| {
            Router::new()
                .route("/rest/container", post(soar_container))
                .route("/rest/version", get(soar_version))
                .with_state(SoarConfig {
                    shared,
                    token,
                    labels,
                })
        })
        .await;
        Self { base }
    }
}

// ---------------------------------------------------------------------------------------------
// Grafana

/// A test receiver for Grafana's annotations API: `POST /api/annotations` (`text` required,
/// `time`/`timeEnd` epoch milliseconds, `tags` strings), `GET /api/health`, bearer-token auth.
#[derive(Debug, Clone)]
pub struct GrafanaReceiver {
    base: Base,
}

receiver_api!(GrafanaReceiver);

#[derive(Debug, Clone)]
struct GrafanaConfig {
    shared: Arc<Mutex<Shared>>,
    token: String,
}

async fn grafana_annotation(
    State(cfg): State<GrafanaConfig>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = scripted(&cfg.shared) {
        return r;
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth != Some(format!("Bearer {}", cfg.token).as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Unauthorized"})),
        )
            .into_response();
    }
    let Ok(a) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"message": "bad request data"})),
        )
            .into_response();
    };
    let valid = a["text"].is_string()
        && ["time", "timeEnd"]
            .iter()
            .all(|k| a.get(*k).is_none_or(Value::is_i64))
        && a.get("tags")
            .is_none_or(|t| t.as_array().is_some_and(|v| v.iter().all(Value::is_string)));
    if !valid {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"message": "bad request data"})),
        )
            .into_response();
    }
    let mut s = lock(&cfg.shared);
    s.next_id += 1;
    let id = s.next_id;
    s.requests.push(Received {
        headers: headers_of(&headers),
        body: body.to_vec(),
        items: vec![a],
    });
    (
        StatusCode::OK,
        axum::Json(json!({"message": "Annotation added", "id": id})),
    )
        .into_response()
}

async fn grafana_health() -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({"database": "ok", "version": "12.0.0"})),
    )
        .into_response()
}

impl GrafanaReceiver {
    /// Starts a receiver accepting the service-account `token`.
    pub async fn start(token: &str) -> Self {
        let token = token.to_owned();
        let base = Base::start(move |shared| {
            Router::new()
                .route("/api/annotations", post(grafana_annotation))
                .route("/api/health", get(grafana_health))
                .with_state(GrafanaConfig { shared, token })
        })
        .await;
        Self { base }
    }
}

// ---------------------------------------------------------------------------------------------
// Webhook endpoint

/// An endpoint that accepts a POST to any path, answers 204 (or the scripted failure), and records the
/// headers and body so tests can verify signatures themselves.
#[derive(Debug, Clone)]
pub struct WebhookReceiver {
    base: Base,
}

receiver_api!(WebhookReceiver);

async fn webhook_post(
    State(shared): State<Arc<Mutex<Shared>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = scripted(&shared) {
        return r;
    }
    let item = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    lock(&shared).requests.push(Received {
        headers: headers_of(&headers),
        body: body.to_vec(),
        items: vec![item],
    });
    StatusCode::NO_CONTENT.into_response()
}

impl WebhookReceiver {
    /// Starts an endpoint that takes POSTs on any path.
    pub async fn start() -> Self {
        let base = Base::start(|shared| {
            Router::new()
                .fallback(post(webhook_post))
                .with_state(shared)
        })
        .await;
        Self { base }
    }
}
