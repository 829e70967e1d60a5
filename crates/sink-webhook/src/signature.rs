//! Standard Webhooks signatures: signing, verification and replay protection.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::WebhookError;

type HmacSha256 = Hmac<Sha256>;

/// Default tolerance between a webhook's timestamp and now, both ways (the reference library's).
pub const DEFAULT_TOLERANCE_SECS: i64 = 5 * 60;

/// A symmetric signing key, from its `whsec_<base64>` form. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl Secret {
    /// Parses `whsec_` followed by base64 (the prefix is optional, as in the reference library).
    /// The key must be 24 to 64 bytes; an empty key is refused.
    pub fn parse(s: &str) -> Result<Self, WebhookError> {
        let b64 = s.strip_prefix("whsec_").unwrap_or(s);
        if b64.is_empty() {
            return Err(WebhookError::Secret("empty secret".into()));
        }
        let key = STANDARD
            .decode(b64)
            .map_err(|e| WebhookError::Secret(format!("not base64: {e}")))?;
        if !(24..=64).contains(&key.len()) {
            return Err(WebhookError::Secret(format!(
                "key is {} bytes; expected 24 to 64",
                key.len()
            )));
        }
        Ok(Self(key))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

/// The `webhook-signature` header value for `body`: `v1,<base64>` per secret, space-separated.
pub fn sign(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| {
            format!(
                "v1,{}",
                STANDARD.encode(s.mac(id, timestamp, body).finalize().into_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why an incoming webhook was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// A required header is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header is malformed (non-numeric timestamp, an id with '.', ...).
    #[error("invalid header {0}")]
    InvalidHeader(&'static str),
    /// The timestamp is older than the tolerance.
    #[error("timestamp too old")]
    TimestampTooOld,
    /// The timestamp is further in the future than the tolerance.
    #[error("timestamp in the future")]
    FutureTimestamp,
    /// No `v1` signature matches any secret.
    #[error("no valid signature")]
    InvalidSignature,
    /// The id was already accepted within the tolerance window.
    #[error("message {0} was already received")]
    Replayed(String),
}

/// Ids with the time they were accepted, and the order they came in.
type Seen = (HashMap<String, i64>, VecDeque<(i64, String)>);

/// Remembers accepted message ids for a while, bounded in count, to refuse replays.
#[derive(Debug)]
pub struct ReplayGuard {
    window: i64,
    capacity: usize,
    seen: Mutex<Seen>,
}

impl ReplayGuard {
    /// Keeps ids for `window_secs` seconds, at most `capacity` of them (the oldest go first).
    pub fn new(window_secs: i64, capacity: usize) -> Self {
        Self {
            window: window_secs,
            capacity: capacity.max(1),
            seen: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// Records `id` at `now`; fails if it was recorded within the window.
    pub fn check_and_record(&self, id: &str, now: i64) -> Result<(), VerifyError> {
        let mut guard = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (ids, order) = &mut *guard;
        while let Some((t, _)) = order.front() {
            if *t + self.window >= now && order.len() < self.capacity {
                break;
            }
            if let Some((t, old)) = order.pop_front()
                && ids.get(&old) == Some(&t)
            {
                ids.remove(&old);
            }
        }
        if ids.contains_key(id) {
            return Err(VerifyError::Replayed(id.to_owned()));
        }
        ids.insert(id.to_owned(), now);
        order.push_back((now, id.to_owned()));
        Ok(())
    }
}

/// Verifies incoming Standard Webhooks.
#[derive(Debug)]
pub struct Verifier {
    secrets: Vec<Secret>,
    tolerance: i64,
    replay: Option<ReplayGuard>,
}

impl Verifier {
    /// A verifier for these secrets (`whsec_...`), with the default 5-minute tolerance and
    /// replay protection for 100 000 ids.
    pub fn new<S: AsRef<str>>(secrets: &[S]) -> Result<Self, WebhookError> {
        if secrets.is_empty() {
            return Err(WebhookError::Secret("no secret".into()));
        }
        let secrets = secrets
            .iter()
            .map(|s| Secret::parse(s.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            secrets,
            tolerance: DEFAULT_TOLERANCE_SECS,
            replay: Some(ReplayGuard::new(2 * DEFAULT_TOLERANCE_SECS, 100_000)),
        })
    }

    /// Changes the timestamp tolerance (seconds, both directions).
    pub fn with_tolerance(mut self, secs: i64) -> Self {
        self.tolerance = secs;
        self.replay = self.replay.map(|r| ReplayGuard::new(2 * secs, r.capacity));
        self
    }

    /// Turns replay protection off (for stateless verification).
    pub fn without_replay_protection(mut self) -> Self {
        self.replay = None;
        self
    }

    /// Checks one webhook. `header` looks a header up by its lower-case name; `now` is Unix
    /// seconds. Checks run cheapest first; the signature comparison is constant-time.
    pub fn verify(
        &self,
        header: impl Fn(&str) -> Option<String>,
        body: &[u8],
        now: i64,
    ) -> Result<(), VerifyError> {
        let id = header("webhook-id").ok_or(VerifyError::MissingHeader("webhook-id"))?;
        let ts =
            header("webhook-timestamp").ok_or(VerifyError::MissingHeader("webhook-timestamp"))?;
        let sigs =
            header("webhook-signature").ok_or(VerifyError::MissingHeader("webhook-signature"))?;
        if id.is_empty() || id.contains('.') {
            return Err(VerifyError::InvalidHeader("webhook-id"));
        }
        let ts: i64 = ts
            .trim()
            .parse()
            .map_err(|_| VerifyError::InvalidHeader("webhook-timestamp"))?;
        if ts < now - self.tolerance {
            return Err(VerifyError::TimestampTooOld);
        }
        if ts > now + self.tolerance {
            return Err(VerifyError::FutureTimestamp);
        }
        let candidates: Vec<Vec<u8>> = sigs
            .split_whitespace()
            .filter_map(|entry| entry.split_once(','))
            .filter(|(version, _)| *version == "v1")
            .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
            .collect();
        let valid = self.secrets.iter().any(|secret| {
            candidates
                .iter()
                .any(|sig| secret.mac(&id, ts, body).verify_slice(sig).is_ok())
        });
        if !valid {
            return Err(VerifyError::InvalidSignature);
        }
        if let Some(replay) = &self.replay {
            replay.check_and_record(&id, now)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const TS: i64 = 1_649_367_553;
    const BODY: &str = r#"{"email":"test@example.com","username":"test_user"}"#;

    fn headers(sig: String) -> impl Fn(&str) -> Option<String> {
        move |name| match name {
            "webhook-id" => Some(ID.to_owned()),
            "webhook-timestamp" => Some(TS.to_string()),
            "webhook-signature" => Some(sig.clone()),
            _ => None,
        }
    }

    #[test]
    fn published_test_vector() {
        let secret = Secret::parse(SECRET).unwrap();
        assert_eq!(
            sign(&[secret], ID, TS, BODY.as_bytes()),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
        let v = Verifier::new(&[SECRET]).unwrap();
        assert_eq!(
            v.verify(
                headers("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=".into()),
                BODY.as_bytes(),
                TS
            ),
            Ok(())
        );
    }

    #[test]
    fn refusals() {
        let good = "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=".to_owned();
        let v = Verifier::new(&[SECRET])
            .unwrap()
            .without_replay_protection();
        assert_eq!(
            v.verify(headers(good.clone()), b"{\"email\":\"x\"}", TS),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            v.verify(headers(good.clone()), BODY.as_bytes(), TS + 301),
            Err(VerifyError::TimestampTooOld)
        );
        assert_eq!(
            v.verify(headers(good.clone()), BODY.as_bytes(), TS - 301),
            Err(VerifyError::FutureTimestamp)
        );
        assert_eq!(
            v.verify(headers("v2,abc v1,!!!".into()), BODY.as_bytes(), TS),
            Err(VerifyError::InvalidSignature)
        );
        assert_eq!(
            v.verify(|_| None, BODY.as_bytes(), TS),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
        // Rotation: an old signature next to a new one still verifies.
        assert_eq!(
            v.verify(headers(format!("v1,AAAA {good}")), BODY.as_bytes(), TS),
            Ok(())
        );
        let rotated = Verifier::new(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", SECRET]).unwrap();
        assert_eq!(
            rotated.verify(headers(good.clone()), BODY.as_bytes(), TS),
            Ok(())
        );
        assert_eq!(
            rotated.verify(headers(good), BODY.as_bytes(), TS),
            Err(VerifyError::Replayed(ID.to_owned()))
        );
    }

    #[test]
    fn secrets_are_checked_and_never_printed() {
        assert!(Secret::parse("whsec_").is_err());
        assert!(Secret::parse("whsec_!!!").is_err());
        assert!(Secret::parse("whsec_c2hvcnQ=").is_err());
        assert_eq!(
            format!("{:?}", Secret::parse(SECRET).unwrap()),
            "Secret([REDACTED])"
        );
    }

    #[test]
    fn replay_guard_is_bounded() {
        let g = ReplayGuard::new(10, 3);
        for i in 0..10 {
            g.check_and_record(&format!("m{i}"), 100).unwrap();
        }
        assert!(g.seen.lock().unwrap().0.len() <= 3);
        assert!(g.check_and_record("m9", 100).is_err());
        assert!(
            g.check_and_record("m9", 200).is_ok(),
            "expired ids may come again"
        );
    }
}
