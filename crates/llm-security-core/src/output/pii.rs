//! Personal data, with the checks that separate real values from look-alike numbers.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::Regex;

use super::PiiConfig;
use crate::threat::{Severity, Span, Threat, ThreatKind};

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("built-in PII pattern {pattern:?}: {e}"))
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?-u:\b)[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?-u:\b)",
    )
});
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"(?:\+[1-9][0-9]{0,2}[ .-]?(?:\([0-9]{1,4}\)[ .-]?)?[0-9]{1,4}(?:[ .-]?[0-9]{2,4}){1,4})",
        r"|(?:\(?(?-u:\b)[2-9][0-9]{2}\)?[ .-][2-9][0-9]{2}[ .-][0-9]{4}(?-u:\b))",
        r"|(?:(?-u:\b)0[1-9](?:[ .-]?[0-9]{2}){4}(?-u:\b))",
        r"|(?:(?-u:\b)0[1-9][0-9]{1,3}[ -][0-9]{3,4}[ -][0-9]{3,4}(?-u:\b))",
    ))
});
static CARD: LazyLock<Regex> = LazyLock::new(|| re(r"(?-u:\b)[0-9](?:[ -]?[0-9]){12,18}(?-u:\b)"));
static IBAN: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?-u:\b)[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?-u:\b)")
});
static SSN: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?-u:\b)([0-9]{3})([- ])([0-9]{2})([- ])([0-9]{4})(?-u:\b)"));
static IPV4: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?-u:\b)(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?-u:\b)"));
static IPV6: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}"));

struct Found {
    rule: &'static str,
    severity: Severity,
    confidence: f32,
    message: &'static str,
    spans: Vec<Span>,
}

/// Runs every enabled PII check.
pub(crate) fn scan(text: &str, config: &PiiConfig) -> Vec<Threat> {
    let mut found = Vec::new();
    // Digits are the common ground of cards, IBANs, SSNs, phones and IPs.
    let digits = text.bytes().any(|b| b.is_ascii_digit());
    if config.email && text.contains('@') {
        found.push(Found {
            rule: "pii.email",
            severity: Severity::Medium,
            confidence: 0.6,
            message: "An e-mail address.",
            spans: matches(&EMAIL, text, |m| {
                !reserved_domain(m.rsplit('@').next().unwrap_or(""))
            }),
        });
    }
    let mut taken: Vec<Span> = Vec::new();
    if digits && config.payment_card {
        let spans = matches(&CARD, text, is_card);
        taken.extend(&spans);
        found.push(Found {
            rule: "pii.payment_card",
            severity: Severity::Critical,
            confidence: 0.9,
            message: "A payment card number (Luhn-valid, known issuer).",
            spans,
        });
    }
    if digits && config.iban {
        let spans = matches(&IBAN, text, is_iban);
        taken.extend(&spans);
        found.push(Found {
            rule: "pii.iban",
            severity: Severity::High,
            confidence: 0.85,
            message: "An IBAN (mod-97 valid).",
            spans,
        });
    }
    if digits && config.us_ssn {
        let spans = matches(&SSN, text, is_ssn);
        taken.extend(&spans);
        found.push(Found {
            rule: "pii.us_ssn",
            severity: Severity::High,
            confidence: 0.8,
            message: "A US social security number.",
            spans,
        });
    }
    if digits && config.ip_address {
        let mut spans = matches(&IPV4, text, |m| m.parse::<Ipv4Addr>().is_ok_and(public_v4));
        if text.contains("::") || text.bytes().filter(|&b| b == b':').count() >= 7 {
            spans.extend(matches(&IPV6, text, |m| {
                m.parse::<Ipv6Addr>().is_ok_and(public_v6)
            }));
        }
        taken.extend(&spans);
        found.push(Found {
            rule: "pii.ip_address",
            severity: Severity::Low,
            confidence: 0.35,
            message: "A public IP address.",
            spans,
        });
    }
    if digits && config.phone {
        let spans = matches(&PHONE, text, is_phone)
            .into_iter()
            .filter(|s| !taken.iter().any(|t| t.start < s.end && s.start < t.end))
            .collect();
        found.push(Found {
            rule: "pii.phone",
            severity: Severity::Medium,
            confidence: 0.55,
            message: "A phone number.",
            spans,
        });
    }
    found
        .into_iter()
        .filter(|f| !f.spans.is_empty())
        .map(|f| {
            let first = f.spans[0];
            let mut t = Threat::new(ThreatKind::Pii, f.severity, f.confidence, f.rule)
                .with_message(f.message)
                .with_evidence(&mask(&text[first.start..first.end]));
            t.spans = f.spans.into_iter().take(32).collect();
            t
        })
        .collect()
}

fn matches(re: &Regex, text: &str, valid: impl Fn(&str) -> bool) -> Vec<Span> {
    re.find_iter(text)
        .filter(|m| valid(m.as_str()))
        .map(|m| Span::new(m.start(), m.end()))
        .collect()
}

/// Keeps the shape of a value and its last two characters.
fn mask(value: &str) -> String {
    let n = value.chars().count();
    value
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i + 2 >= n || !c.is_alphanumeric() {
                c
            } else {
                '•'
            }
        })
        .collect()
}

fn reserved_domain(domain: &str) -> bool {
    let d = domain.to_ascii_lowercase();
    [
        "example.com",
        "example.org",
        "example.net",
        "example",
        "test",
        "invalid",
        "localhost",
        "local",
    ]
    .iter()
    .any(|r| d == *r || d.ends_with(&format!(".{r}")))
}

fn digits_of(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// The Luhn checksum.
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                if d * 2 > 9 { d * 2 - 9 } else { d * 2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn is_card(s: &str) -> bool {
    let d = digits_of(s);
    if !(13..=19).contains(&d.len()) || d.iter().all(|&x| x == d[0]) || !luhn(&d) {
        return false;
    }
    // Separators, if any, must be consistent (4-4-4-4 style), not a run of unrelated numbers.
    let seps: Vec<char> = s.chars().filter(|c| !c.is_ascii_digit()).collect();
    if seps.windows(2).any(|w| w[0] != w[1]) {
        return false;
    }
    let prefix = |n: usize| d[..n].iter().fold(0u32, |acc, &x| acc * 10 + u32::from(x));
    match d[0] {
        4 => matches!(d.len(), 13 | 16 | 19),                 // Visa
        5 => (51..=55).contains(&prefix(2)) && d.len() == 16, // Mastercard
        2 => (2221..=2720).contains(&prefix(4)) && d.len() == 16, // Mastercard 2-series
        3 => {
            matches!(prefix(2), 34 | 37) && d.len() == 15                // Amex
            || (3528..=3589).contains(&prefix(4)) && d.len() >= 16        // JCB
            || matches!(prefix(2), 30 | 36 | 38 | 39) && d.len() >= 14
        } // Diners
        6 => {
            prefix(4) == 6011
                || prefix(2) == 65
                || (644..=649).contains(&prefix(3))
                || prefix(2) == 62
        }
        _ => false,
    }
}

/// ISO 13616: move the first four characters to the end, letters to numbers, mod 97 == 1.
pub(crate) fn is_iban(s: &str) -> bool {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

fn is_ssn(s: &str) -> bool {
    let caps = SSN.captures(s);
    let Some(c) = caps else { return false };
    if c[2] != c[4] {
        return false;
    }
    let (area, group, serial): (u32, u32, u32) = (
        c[1].parse().unwrap_or(0),
        c[3].parse().unwrap_or(0),
        c[5].parse().unwrap_or(0),
    );
    // Never issued: area 000, 666, 900-999; group 00; serial 0000. Widely published samples too.
    let sample = matches!(
        (area, group, serial),
        (78, 5, 1120) | (219, 9, 9999) | (123, 45, 6789)
    );
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0 && !sample
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || o[0] == 0
        || o[0] >= 240
        || (o[0] == 100 && (64..128).contains(&o[1])))
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || ip.to_ipv4_mapped().is_some())
}

fn is_phone(s: &str) -> bool {
    let d = digits_of(s);
    if !(7..=15).contains(&d.len()) || d.iter().all(|&x| x == d[0]) {
        return false;
    }
    // An international number needs a plausible subscriber length; national formats have 10.
    s.starts_with('+') && d.len() >= 8 || d.len() >= 10
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<String> {
        scan(text, &PiiConfig::default())
            .into_iter()
            .map(|t| t.rule)
            .collect()
    }

    #[test]
    fn validators() {
        assert!(luhn(&digits_of("4111 1111 1111 1111")));
        assert!(!luhn(&digits_of("4111 1111 1111 1112")));
        assert!(is_iban("GB82 WEST 1234 5698 7654 32"));
        assert!(is_iban("DE89370400440532013000"));
        assert!(!is_iban("DE89370400440532013001"));
        assert!(is_ssn("536-22-1876"));
        assert!(
            !is_ssn("666-22-1876")
                && !is_ssn("536-00-1876")
                && !is_ssn("078-05-1120")
                && !is_ssn("536-22 1876")
        );
    }

    #[test]
    fn finds_each_type_and_skips_look_alikes() {
        assert_eq!(rules("mail jane.doe@acme-corp.io now"), vec!["pii.email"]);
        assert!(rules("see user@example.com").is_empty());
        assert_eq!(rules("card 4111 1111 1111 1111"), vec!["pii.payment_card"]);
        assert!(rules("order 1234 5678 9012 3456").is_empty());
        assert_eq!(rules("IBAN GB82 WEST 1234 5698 7654 32"), vec!["pii.iban"]);
        assert_eq!(rules("SSN 536-22-1876"), vec!["pii.us_ssn"]);
        assert_eq!(rules("server at 8.8.4.4"), vec!["pii.ip_address"]);
        assert!(rules("localhost 127.0.0.1 and 10.0.0.1 and 192.0.2.1").is_empty());
        assert_eq!(rules("host 2606:4700:4700::1111"), vec!["pii.ip_address"]);
        assert!(rules("::1 and 2001:db8::1").is_empty());
        assert_eq!(rules("call +44 20 7946 0958"), vec!["pii.phone"]);
        assert_eq!(rules("call (415) 555-0132"), vec!["pii.phone"]);
        assert_eq!(rules("appelez le 06 12 34 56 78"), vec!["pii.phone"]);
        assert!(rules("version 2026-11-26, build 12345").is_empty());
    }
}
