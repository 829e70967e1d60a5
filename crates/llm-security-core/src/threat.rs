//! What a detector reports: [`Threat`], its [`ThreatKind`], [`Severity`] and byte [`Span`]s.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The class of a finding. Serialized as a `snake_case` string.
///
/// The set is open: a kind this version does not know (from a newer rule pack or a newer
/// peer) round-trips through [`ThreatKind::Other`] instead of failing to parse.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ThreatKind {
    /// Text that tries to override or hijack the application's instructions.
    PromptInjection,
    /// Text that tries to make the model drop its safety policy.
    Jailbreak,
    /// Invisible, bidirectional or look-alike Unicode used to hide or disguise text.
    UnicodeAttack,
    /// An encoded (base64, hex, ...) payload that hides an instruction.
    EncodedPayload,
    /// A credential or key.
    Secret,
    /// Personal data.
    Pii,
    /// Model output that reproduces the system prompt or a canary token.
    SystemPromptLeak,
    /// Output that would send data to a third party (links, images).
    DataExfiltration,
    /// HTML or JavaScript that would run when the output is rendered.
    ScriptInjection,
    /// Escape sequences that act on a terminal.
    TerminalInjection,
    /// A kind this version does not know, kept verbatim.
    Other(String),
}

impl ThreatKind {
    /// The wire name, e.g. `prompt_injection`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::PromptInjection => "prompt_injection",
            Self::Jailbreak => "jailbreak",
            Self::UnicodeAttack => "unicode_attack",
            Self::EncodedPayload => "encoded_payload",
            Self::Secret => "secret",
            Self::Pii => "pii",
            Self::SystemPromptLeak => "system_prompt_leak",
            Self::DataExfiltration => "data_exfiltration",
            Self::ScriptInjection => "script_injection",
            Self::TerminalInjection => "terminal_injection",
            Self::Other(s) => s,
        }
    }
}

impl FromStr for ThreatKind {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "prompt_injection" => Self::PromptInjection,
            "jailbreak" => Self::Jailbreak,
            "unicode_attack" => Self::UnicodeAttack,
            "encoded_payload" => Self::EncodedPayload,
            "secret" => Self::Secret,
            "pii" => Self::Pii,
            "system_prompt_leak" => Self::SystemPromptLeak,
            "data_exfiltration" => Self::DataExfiltration,
            "script_injection" => Self::ScriptInjection,
            "terminal_injection" => Self::TerminalInjection,
            other => Self::Other(other.to_owned()),
        })
    }
}

impl fmt::Display for ThreatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ThreatKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ThreatKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(s.parse().unwrap_or_else(|never| match never {}))
    }
}

/// How bad a finding is, from `low` to `critical`. Ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth logging; rarely worth blocking alone.
    Low,
    /// Suspicious.
    Medium,
    /// Very likely an attack.
    High,
    /// An attack or a leak that must not pass.
    Critical,
}

impl Severity {
    /// The wire name, e.g. `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A half-open byte range `[start, end)` into the original text.
///
/// Both ends always fall on UTF-8 character boundaries of the text that was analyzed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Span {
    /// First byte of the finding.
    pub start: usize,
    /// One past the last byte of the finding.
    pub end: usize,
}

impl Span {
    /// Creates a span; `start` must not exceed `end`.
    pub fn new(start: usize, end: usize) -> Self {
        debug_assert!(start <= end);
        Self { start, end }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the span covers no bytes.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// One finding: what was found, how sure the detector is, and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Threat {
    /// The class of the finding.
    pub kind: ThreatKind,
    /// How bad it is.
    pub severity: Severity,
    /// The detector's confidence that this finding is real, in `0..=1`.
    pub confidence: f32,
    /// The id of the rule that fired, e.g. `injection.instruction_override`.
    pub rule: String,
    /// A sentence for people.
    pub message: String,
    /// Where in the original text the finding is.
    pub spans: Vec<Span>,
    /// A short excerpt of what matched (at most [`Threat::MAX_EVIDENCE_CHARS`] characters).
    ///
    /// For secrets and personal data this is masked, never the value itself.
    pub evidence: String,
    /// MITRE ATLAS technique id, e.g. `AML.T0051`, where one applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technique: Option<String>,
}

impl Threat {
    /// Longest evidence excerpt kept, in characters.
    pub const MAX_EVIDENCE_CHARS: usize = 80;

    /// Creates a threat with no spans or evidence; fill them with the `with_*` methods.
    pub fn new(
        kind: ThreatKind,
        severity: Severity,
        confidence: f32,
        rule: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            severity,
            confidence: confidence.clamp(0.0, 1.0),
            rule: rule.into(),
            message: String::new(),
            spans: Vec::new(),
            evidence: String::new(),
            technique: None,
        }
    }

    /// Sets the human-readable message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Adds a span.
    pub fn with_span(mut self, span: Span) -> Self {
        self.spans.push(span);
        self
    }

    /// Sets the evidence excerpt, truncated to [`Threat::MAX_EVIDENCE_CHARS`] characters.
    pub fn with_evidence(mut self, evidence: &str) -> Self {
        self.evidence = truncate_chars(evidence, Self::MAX_EVIDENCE_CHARS);
        self
    }

    /// Sets the MITRE ATLAS technique id.
    pub fn with_technique(mut self, technique: impl Into<String>) -> Self {
        self.technique = Some(technique.into());
        self
    }
}

/// Truncates to at most `max` characters, marking the cut with `…`.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((cut, _)) => {
            let mut out = s[..cut].to_owned();
            out.push('…');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_including_unknown_ones() {
        for name in [
            "prompt_injection",
            "terminal_injection",
            "pii",
            "future_kind",
        ] {
            let kind: ThreatKind = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(kind.as_str(), name);
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{name}\""));
        }
        assert_eq!(
            "future_kind".parse::<ThreatKind>().unwrap(),
            ThreatKind::Other("future_kind".into())
        );
    }

    #[test]
    fn evidence_is_truncated_on_char_boundaries() {
        let long = "é".repeat(200);
        let t = Threat::new(ThreatKind::Jailbreak, Severity::High, 2.0, "x").with_evidence(&long);
        assert_eq!(t.evidence.chars().count(), Threat::MAX_EVIDENCE_CHARS + 1);
        assert_eq!(t.confidence, 1.0);
    }
}
