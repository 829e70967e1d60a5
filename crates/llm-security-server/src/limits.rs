//! API-key authentication and per-client rate limiting for the API routes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::config::RateLimit;
use crate::error::ApiError;

/// Clients tracked at once; the least recently seen are forgotten beyond this.
const MAX_CLIENTS: usize = 100_000;

/// Token buckets per client.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: Option<RateLimit>,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub(crate) fn new(limit: Option<RateLimit>) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `client`; on refusal, the seconds until one is available.
    pub(crate) fn check(&self, client: &str, now: Instant) -> Result<(), u64> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(client) {
            let cutoff = now
                .checked_sub(std::time::Duration::from_secs(60))
                .unwrap_or(now);
            buckets.retain(|_, (_, seen)| *seen > cutoff);
            if buckets.len() >= MAX_CLIENTS {
                buckets.clear();
            }
        }
        let burst = f64::from(limit.burst);
        let (tokens, last) = buckets.entry(client.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * limit.per_second).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / limit.per_second).ceil().max(1.0) as u64)
        }
    }
}

fn presented_key(req: &Request) -> Option<String> {
    let h = req.headers();
    h.get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            h.get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned)
        })
}

/// Constant-time comparison, so response timing does not reveal how much of a key matched.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Checks the API key (when keys are configured) and the client's rate.
pub(crate) async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let config = &state.inner.config;
    let key = presented_key(&req);
    if !config.api_keys.is_empty()
        && !key
            .as_deref()
            .is_some_and(|k| config.api_keys.iter().any(|good| same(good, k)))
    {
        state.metrics().rejected("unauthorized");
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required (Authorization: Bearer <key> or x-api-key)",
        )
        .into_response();
    }
    let client = key.map(|k| format!("key:{k}")).unwrap_or_else(|| {
        req.extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(
                || "anonymous".to_owned(),
                |ConnectInfo(addr)| format!("ip:{}", addr.ip()),
            )
    });
    if let Err(retry_after) = state.inner.limiter.check(&client, Instant::now()) {
        state.metrics().rejected("rate_limited");
        return ApiError::too_many(retry_after).into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_and_says_when() {
        let limiter = RateLimiter::new(Some(RateLimit {
            per_second: 2.0,
            burst: 2,
        }));
        let t0 = Instant::now();
        assert!(limiter.check("a", t0).is_ok());
        assert!(limiter.check("a", t0).is_ok());
        assert_eq!(limiter.check("a", t0), Err(1));
        assert!(limiter.check("b", t0).is_ok(), "clients are independent");
        assert!(
            limiter
                .check("a", t0 + std::time::Duration::from_millis(600))
                .is_ok()
        );
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
