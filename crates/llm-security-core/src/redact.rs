//! Masking findings in a text.

use crate::threat::{Span, Threat};

/// Replaces every threat span in `text` with a typed placeholder, `[REDACTED:<kind>:<type>]`
/// (the type is the second part of the rule id: `secret.aws.access_key_id` gives
/// `[REDACTED:secret:aws]`, `pii.email` gives `[REDACTED:pii:email]`), keeping everything else
/// byte for byte. Overlapping spans of any threats merge into one placeholder named after the
/// first threat that covers the merged range. Spans outside the text or off
/// character boundaries are ignored rather than trusted.
pub fn redact(text: &str, threats: &[Threat]) -> String {
    let mut spans: Vec<(Span, &Threat)> = threats
        .iter()
        .flat_map(|t| t.spans.iter().map(move |s| (*s, t)))
        .filter(|(s, _)| {
            s.start < s.end
                && s.end <= text.len()
                && text.is_char_boundary(s.start)
                && text.is_char_boundary(s.end)
        })
        .collect();
    if spans.is_empty() {
        return text.to_owned();
    }
    spans.sort_by_key(|(s, _)| (s.start, std::cmp::Reverse(s.end)));
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    let mut i = 0;
    while i < spans.len() {
        let (first, threat) = spans[i];
        let mut end = first.end;
        i += 1;
        while i < spans.len() && spans[i].0.start < end {
            end = end.max(spans[i].0.end);
            i += 1;
        }
        out.push_str(&text[pos..first.start]);
        out.push_str("[REDACTED:");
        out.push_str(threat.kind.as_str());
        if let Some(label) = threat.rule.split('.').nth(1) {
            out.push(':');
            out.push_str(label);
        }
        out.push(']');
        pos = end;
    }
    out.push_str(&text[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::threat::{Severity, ThreatKind};

    fn threat(kind: ThreatKind, rule: &str, spans: &[(usize, usize)]) -> Threat {
        let t = Threat::new(kind, Severity::High, 0.9, rule);
        spans
            .iter()
            .fold(t, |t, &(s, e)| t.with_span(Span::new(s, e)))
    }

    #[test]
    fn masks_and_merges_overlaps() {
        let text = "key AKIA123 and sk_live_x end";
        let a = threat(
            ThreatKind::Secret,
            "secret.aws.access_key_id",
            &[(4, 11), (16, 25)],
        );
        let b = threat(ThreatKind::Pii, "pii.email", &[(8, 14)]);
        let redacted = redact(text, &[a, b]);
        assert_eq!(
            redacted,
            "key [REDACTED:secret:aws]d [REDACTED:secret:aws] end"
        );
    }

    #[test]
    fn ignores_bad_spans() {
        let t = threat(ThreatKind::Secret, "secret.x", &[(1, 2), (3, 99)]);
        assert_eq!(redact("é!", &[t]), "é!");
    }
}
