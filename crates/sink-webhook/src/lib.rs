//! Standard Webhooks for llm-security.
//!
//! * [`WebhookSink`] delivers each security event as a signed POST: `webhook-id` (the event id,
//!   stable across retries), `webhook-timestamp` (seconds, per attempt) and `webhook-signature`
//!   (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one per secret during key rotation).
//!   Events are filtered by type; 2xx is success; 408, 429 and 5xx are retried by the pipeline
//!   (honouring `Retry-After`); other 4xx are not; `410 Gone` disables the endpoint; redirects are
//!   never followed.
//! * [`Verifier`] checks incoming webhooks: every `v1` signature against every secret in
//!   constant time, the timestamp within a tolerance, and ids not seen before (replay).
//!
//! ```no_run
//! use llm_security_sink_webhook::{WebhookConfig, WebhookSink};
//! use llm_security_core::EventType;
//! let config = WebhookConfig::new()
//!     .with_url("https://hooks.example.com/llm-security")
//!     .with_secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")
//!     .with_events([EventType::ThreatDetected, EventType::ThreatMitigated]);
//! let sink = WebhookSink::new(config).expect("valid configuration");
//! ```

mod config;
mod encoder;
mod signature;
mod sink;

pub use config::{WebhookConfig, WebhookError};
pub use encoder::encode;
pub use signature::{DEFAULT_TOLERANCE_SECS, ReplayGuard, Secret, Verifier, VerifyError, sign};
pub use sink::WebhookSink;
