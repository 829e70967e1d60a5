//! One harness per parser of untrusted input. Each takes arbitrary bytes and must return
//! without panicking, hanging or allocating without bound; where a parser accepts the input,
//! the harness also checks a property of the result (a round trip, a bound).
//!
//! cargo-fuzz runs them from `fuzz/` (see `scripts/fuzz.sh`); `tests/regressions.rs` replays
//! the seeds and every crash input ever found, on every `cargo test`.

use std::sync::OnceLock;

use llm_security_core::{RulePack, SecurityConfig, SecurityEngine, SecurityEvent};

/// A harness: arbitrary bytes in, a panic on a bug.
pub type Harness = fn(&[u8]);

/// The harnesses, by the name of their cargo-fuzz target and seed folder.
pub const TARGETS: &[(&str, Harness)] = &[
    ("rule_pack", rule_pack),
    ("server_config", server_config),
    ("event_json", event_json),
    ("spool_record", spool_record),
    ("webhook_headers", webhook_headers),
    ("retry_after", retry_after),
    ("analyze", analyze),
];

/// Rule files (TOML) loaded with `RulePack::from_toml`.
pub fn rule_pack(data: &[u8]) {
    let _ = RulePack::from_toml(&String::from_utf8_lossy(data));
}

/// The server's configuration file.
pub fn server_config(data: &[u8]) {
    if let Ok(config) = llm_security_server::ServerConfig::from_toml(&String::from_utf8_lossy(data))
    {
        let _ = config.validate();
        let _ = format!("{config:?}");
    }
}

/// Security events as JSON (the event contract, webhooks in, stored events read back). What
/// parses must serialize and parse again to the same event.
pub fn event_json(data: &[u8]) {
    if let Ok(event) = serde_json::from_slice::<SecurityEvent>(data) {
        let again = serde_json::to_vec(&event).expect("an event serializes");
        let back: SecurityEvent =
            serde_json::from_slice(&again).expect("a serialized event parses");
        assert_eq!(back.id, event.id);
        assert_eq!(back.threats.len(), event.threats.len());
    }
}

/// Records read back from a spool file.
pub fn spool_record(data: &[u8]) {
    if let Ok((at, event)) = llm_security_spool::store::decode_record(data) {
        let encoded = llm_security_spool::store::encode_record(at, &event);
        let (at2, back) = llm_security_spool::store::decode_record(&encoded).expect("round trip");
        assert_eq!((at2, back.id), (at, event.id));
    }
}

fn verifier() -> &'static llm_security_sink_webhook::Verifier {
    static VERIFIER: OnceLock<llm_security_sink_webhook::Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        llm_security_sink_webhook::Verifier::new(&[
            "whsec_bGxtLXNlY3VyaXR5IGZ1enogaGFybmVzcyBrZXkhISE=",
        ])
        .expect("a valid secret")
    })
}

/// Inbound webhook headers and body, and `whsec_` secrets. The input is split on `\n` into
/// webhook-id, webhook-timestamp, webhook-signature and the body; a forged request must never
/// verify.
pub fn webhook_headers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = llm_security_sink_webhook::Secret::parse(&text);
    let mut parts = data.splitn(4, |&b| b == b'\n');
    let mut next = || {
        parts
            .next()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    };
    let (id, ts, sig) = (next(), next(), next());
    let body = next().unwrap_or_default();
    let header = |name: &str| match name {
        "webhook-id" => id.clone(),
        "webhook-timestamp" => ts.clone(),
        "webhook-signature" => sig.clone(),
        _ => None,
    };
    let now = ts
        .as_deref()
        .and_then(|t| t.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let result = verifier().verify(header, body.as_bytes(), now);
    assert!(result.is_err(), "a request without the secret verified");
}

/// `Retry-After` header values from destinations.
pub fn retry_after(data: &[u8]) {
    let now = chrono::DateTime::from_timestamp(1_750_000_000, 0).expect("valid");
    if let Some(wait) =
        llm_security_core::http::parse_retry_after(&String::from_utf8_lossy(data), now)
    {
        let _ = wait.as_secs();
    }
}

fn engine() -> &'static SecurityEngine {
    static ENGINE: OnceLock<SecurityEngine> = OnceLock::new();
    ENGINE.get_or_init(|| SecurityEngine::with_config(SecurityConfig::new()))
}

/// Text going into and coming out of a model: every normalization view, decoder, rule and
/// classifier, output validation and sanitization. Spans must point inside the input.
pub fn analyze(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let engine = engine();
    if let Ok(analysis) = engine.analyze(&text) {
        for threat in analysis.threats() {
            for span in &threat.spans {
                assert!(span.start <= span.end && span.end <= text.len(), "{span:?}");
            }
        }
    }
    let _ = engine.validate(&text);
    if let Ok(clean) = engine.sanitize(&text) {
        assert!(clean.text.len() <= text.len() * 4 + 64);
    }
}
