//! High-entropy values assigned to secret-looking names (`password = ...`, `"api_key": ...`).

use std::sync::LazyLock;

use regex::Regex;

use crate::threat::{Severity, Span, Threat, ThreatKind};

static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?i)(?-u:\b)([a-z0-9_.-]{0,30}(?:secret|token|passw(?:or)?d|passwd|pwd|api[_-]?key|apikey|access[_-]?key|"#,
        r#"private[_-]?key|auth[_-]?key|client[_-]?secret|credentials?|signing[_-]?key)[a-z0-9_.-]{0,20})"#,
        r#"["']?\s{0,3}(?::|=|:=|=>)\s{0,3}["'`]?([^\s"'`,;)}\]]{12,200})"#
    ))
    .expect("pattern")
});

/// Bits of entropy per character of `s`'s character distribution.
pub(crate) fn shannon_entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

fn placeholder(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    v.starts_with(['$', '<', '{', '%', '*'])
        || [
            "xxxx",
            "your",
            "changeme",
            "example",
            "placeholder",
            "redacted",
            "dummy",
            "password",
            "secret",
            "token",
            "****",
            "....",
        ]
        .iter()
        .any(|p| l.contains(p))
}

fn uuid_like(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn looks_secret(v: &str) -> bool {
    if placeholder(v)
        || uuid_like(v)
        || v.contains("://")
        || v.contains('/') && v.split('/').count() > 3
    {
        return false;
    }
    let classes = [
        v.bytes().any(|b| b.is_ascii_lowercase()),
        v.bytes().any(|b| b.is_ascii_uppercase()),
        v.bytes().any(|b| b.is_ascii_digit()),
        v.bytes().any(|b| !b.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|&&x| x)
    .count();
    // Function calls, paths and words: identifiers with dots or parentheses are code, not values.
    let code =
        v.contains('(') || v.ends_with(".get") || v.starts_with("os.") || v.starts_with("process.");
    !code && classes >= 2 && shannon_entropy(v) >= 3.3
}

/// Finds assignments of high-entropy values to secret-looking names.
pub(crate) fn scan(text: &str) -> Vec<Threat> {
    let spans: Vec<Span> = ASSIGNMENT
        .captures_iter(text)
        .filter_map(|c| c.get(2))
        .filter(|v| looks_secret(v.as_str()))
        .map(|v| Span::new(v.start(), v.end()))
        .take(32)
        .collect();
    let Some(first) = spans.first() else {
        return Vec::new();
    };
    let value = &text[first.start..first.end];
    let evidence = format!(
        "{}… ({} bytes, masked)",
        value.chars().take(3).collect::<String>(),
        value.len()
    );
    let mut t = Threat::new(
        ThreatKind::Secret,
        Severity::High,
        0.75,
        "secret.generic.assignment",
    )
    .with_message("A high-entropy value assigned to a secret-looking name.")
    .with_evidence(&evidence);
    t.spans = spans;
    vec![t]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_secrets_not_placeholders_uuids_or_code() {
        assert_eq!(scan("db_password = 'Xk9#mQ2$vL7pR4wz'").len(), 1);
        assert_eq!(
            scan(r#"{"client_secret": "f8Kq2LmZ9xPw4RtY7vBn3Jc6"}"#).len(),
            1
        );
        assert!(scan("password = ${DB_PASSWORD}").is_empty());
        assert!(scan("api_key = 'your-api-key-here'").is_empty());
        assert!(scan("session_token = 123e4567-e89b-12d3-a456-426614174000").is_empty());
        assert!(scan("token = os.environ.get('TOKEN')").is_empty());
        assert!(scan("password_hint = aaaaaaaaaaaaaaaa").is_empty());
        assert!(scan("the token is short").is_empty());
    }
}
