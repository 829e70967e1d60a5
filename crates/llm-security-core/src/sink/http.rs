//! Retry classification for HTTP destinations, shared by every HTTP sink.
//!
//! Pure functions of a status code and headers: no HTTP client here, so core stays free of
//! network dependencies.

use std::time::Duration;

use super::SinkError;

/// Longest `Retry-After` honoured; longer requests are capped.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Parses a `Retry-After` value: delta-seconds or an HTTP-date, capped at [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = (date.with_timezone(&chrono::Utc) - now)
        .to_std()
        .unwrap_or(Duration::ZERO);
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Maps an HTTP response status to the outcome a sink reports: `Ok` for 2xx; a retriable
/// rejection for 408, 429 and 5xx except 501 (with `Retry-After` when given); a permanent
/// rejection for everything else, including 3xx (redirects are never followed). `body` is kept,
/// shortened, in the reason.
pub fn classify_status(
    status: u16,
    retry_after: Option<&str>,
    body: &str,
) -> Result<(), SinkError> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let mut reason = format!("HTTP {status}");
    let body = body.trim();
    if !body.is_empty() {
        reason.push_str(": ");
        reason.extend(body.chars().take(300));
    }
    let retriable = status == 408 || status == 429 || (status >= 500 && status != 501);
    let retry_after = retry_after.and_then(|v| parse_retry_after(v, chrono::Utc::now()));
    Err(SinkError::Rejected {
        retriable,
        reason,
        retry_after: if retriable { retry_after } else { None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert!(classify_status(204, None, "").is_ok());
        for (status, retriable) in [
            (408, true),
            (429, true),
            (500, true),
            (503, true),
            (501, false),
            (400, false),
            (401, false),
            (404, false),
            (301, false),
        ] {
            let err = classify_status(status, None, "x").unwrap_err();
            assert_eq!(err.is_retriable(), retriable, "{status}");
        }
        let err = classify_status(429, Some("7"), "").unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(
            classify_status(400, Some("7"), "")
                .unwrap_err()
                .retry_after(),
            None
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = chrono::DateTime::parse_from_rfc2822("Wed, 21 Oct 2015 07:28:00 GMT")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("99999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
