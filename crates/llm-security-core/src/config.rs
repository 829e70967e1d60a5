//! Engine configuration: which detectors run, how sensitive they are, and what events carry.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::event::EventType;
use crate::output::{OutputConfig, PiiConfig};

/// How eagerly the engine calls a text insecure.
///
/// Each level is a threshold on the fused attack [`score`](crate::Analysis::score): a text is
/// insecure when its score reaches the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Flag only strong evidence (threshold 0.80): the fewest false alarms.
    Low,
    /// The default (threshold 0.50).
    #[default]
    Balanced,
    /// Flag weaker evidence too (threshold 0.30): catches more, flags more benign text.
    Strict,
}

impl Sensitivity {
    /// The score threshold this level stands for.
    pub const fn threshold(self) -> f32 {
        match self {
            Self::Low => 0.80,
            Self::Balanced => 0.50,
            Self::Strict => 0.30,
        }
    }
}

/// How much of the analyzed text a [`SecurityEvent`](crate::SecurityEvent) carries.
///
/// Events travel to SIEMs, queues and object stores that more people can read than the
/// application's own logs, so the default keeps the text but masks every finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapturePolicy {
    /// The text as analyzed (may contain the very secrets that were found).
    Full,
    /// The text with every finding replaced by `[REDACTED:<kind>]`.
    #[default]
    Redacted,
    /// Only the SHA-256 of the text, hex-encoded, to correlate without storing.
    Hash,
    /// Nothing but the length.
    None,
}

/// Which event types the engine hands to its sinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventFilter {
    /// Emit `analysis.completed` for texts with no threat.
    pub analysis_completed: bool,
    /// Emit `threat.detected` for texts with at least one threat.
    pub threat_detected: bool,
    /// Emit `threat.mitigated` when a threat was neutralized (e.g. by sanitizing).
    pub threat_mitigated: bool,
}

impl Default for EventFilter {
    fn default() -> Self {
        Self::all()
    }
}

impl EventFilter {
    /// Every event type.
    pub fn all() -> Self {
        Self {
            analysis_completed: true,
            threat_detected: true,
            threat_mitigated: true,
        }
    }

    /// Only threats (`threat.detected` and `threat.mitigated`).
    pub fn threats_only() -> Self {
        Self {
            analysis_completed: false,
            ..Self::all()
        }
    }

    /// No events at all.
    pub fn none() -> Self {
        Self {
            analysis_completed: false,
            threat_detected: false,
            threat_mitigated: false,
        }
    }

    /// Whether events of this type pass the filter.
    pub fn allows(&self, event_type: EventType) -> bool {
        match event_type {
            EventType::AnalysisCompleted => self.analysis_completed,
            EventType::ThreatDetected => self.threat_detected,
            EventType::ThreatMitigated => self.threat_mitigated,
        }
    }
}

/// Engine configuration, built with the `with_*` methods or read from TOML/JSON.
///
/// ```
/// use llm_security_core::{SecurityConfig, Sensitivity};
/// let config = SecurityConfig::new()
///     .with_prompt_injection_detection(true)
///     .with_jailbreak_detection(true)
///     .with_unicode_attack_detection(true)
///     .with_output_validation(true)
///     .with_sensitivity(Sensitivity::Strict);
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Run the prompt-injection rules on inputs.
    pub prompt_injection: bool,
    /// Run the jailbreak rules on inputs.
    pub jailbreak: bool,
    /// Run the learned classifier on inputs (in addition to the rules).
    pub model: bool,
    /// Look for invisible and bidirectional Unicode in inputs.
    pub unicode_attacks: bool,
    /// Run the output rules (secrets, script and terminal injection, ...) on model output.
    pub output_validation: bool,
    /// The preset threshold; ignored when `threshold` is set.
    pub sensitivity: Sensitivity,
    /// An explicit score threshold in `(0, 1]`, overriding `sensitivity`.
    pub threshold: Option<f32>,
    /// Longest text accepted, in bytes; longer texts are refused with
    /// [`ErrorKind::InputTooLarge`](crate::ErrorKind::InputTooLarge). Bounds memory and time.
    pub max_input_bytes: usize,
    /// Which events reach the sinks.
    pub events: EventFilter,
    /// How much of the text an event carries. See [`CapturePolicy`] before choosing `full`.
    pub capture: CapturePolicy,
    /// What output validation checks, and which domains links may point to.
    pub output: OutputConfig,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            prompt_injection: true,
            jailbreak: true,
            model: true,
            unicode_attacks: true,
            output_validation: true,
            sensitivity: Sensitivity::Balanced,
            threshold: None,
            max_input_bytes: Self::DEFAULT_MAX_INPUT_BYTES,
            events: EventFilter::all(),
            capture: CapturePolicy::Redacted,
            output: OutputConfig::default(),
        }
    }
}

impl SecurityConfig {
    /// Default for [`max_input_bytes`](Self::max_input_bytes): 1 MiB.
    pub const DEFAULT_MAX_INPUT_BYTES: usize = 1 << 20;

    /// The defaults: every detector on, balanced sensitivity, 1 MiB inputs, all events,
    /// redacted text.
    pub fn new() -> Self {
        Self::default()
    }

    /// Turns the prompt-injection rules on or off.
    pub fn with_prompt_injection_detection(mut self, on: bool) -> Self {
        self.prompt_injection = on;
        self
    }

    /// Turns the jailbreak rules on or off.
    pub fn with_jailbreak_detection(mut self, on: bool) -> Self {
        self.jailbreak = on;
        self
    }

    /// Turns the learned classifier on or off.
    pub fn with_model_detection(mut self, on: bool) -> Self {
        self.model = on;
        self
    }

    /// Turns the Unicode checks on or off.
    pub fn with_unicode_attack_detection(mut self, on: bool) -> Self {
        self.unicode_attacks = on;
        self
    }

    /// Turns output validation on or off.
    pub fn with_output_validation(mut self, on: bool) -> Self {
        self.output_validation = on;
        self
    }

    /// Chooses a preset threshold.
    pub fn with_sensitivity(mut self, sensitivity: Sensitivity) -> Self {
        self.sensitivity = sensitivity;
        self.threshold = None;
        self
    }

    /// Sets an explicit threshold in `(0, 1]`; [`validate`](Self::validate) rejects others.
    pub fn with_threshold(mut self, threshold: f32) -> Self {
        self.threshold = Some(threshold);
        self
    }

    /// Sets the longest accepted text in bytes.
    pub fn with_max_input_bytes(mut self, max: usize) -> Self {
        self.max_input_bytes = max;
        self
    }

    /// Chooses which events reach the sinks.
    pub fn with_events(mut self, events: EventFilter) -> Self {
        self.events = events;
        self
    }

    /// Chooses how much text events carry.
    pub fn with_capture(mut self, capture: CapturePolicy) -> Self {
        self.capture = capture;
        self
    }

    /// Sets the domains that links and images in model output may point to (subdomains
    /// included); everything else counts as outside for exfiltration checks.
    pub fn with_allowed_domains<I, S>(mut self, domains: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.output.allowed_domains = domains.into_iter().map(Into::into).collect();
        self
    }

    /// Chooses which personal data output validation reports.
    pub fn with_pii(mut self, pii: PiiConfig) -> Self {
        self.output.pii = pii;
        self
    }

    /// Sets the secret that signs canary tokens, so that several engines recognize each
    /// other's canaries.
    pub fn with_canary_secret(mut self, secret: impl Into<String>) -> Self {
        self.output.canary_secret = Some(secret.into());
        self
    }

    /// The threshold in force: the explicit one, else the sensitivity's.
    pub fn effective_threshold(&self) -> f32 {
        self.threshold
            .unwrap_or_else(|| self.sensitivity.threshold())
    }

    /// Checks that every value is in range.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(t) = self.threshold
            && !(t > 0.0 && t <= 1.0)
        {
            return Err(Error::config(format!(
                "threshold must be in (0, 1], got {t}"
            )));
        }
        if self.max_input_bytes == 0 {
            return Err(Error::config("max_input_bytes must be greater than zero"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_partial_toml_and_rejects_unknown_fields() {
        let c: SecurityConfig =
            toml::from_str("sensitivity = \"strict\"\ncapture = \"hash\"").unwrap();
        assert_eq!(c.effective_threshold(), 0.30);
        assert_eq!(c.capture, CapturePolicy::Hash);
        assert!(c.jailbreak);
        let err = toml::from_str::<SecurityConfig>("sensitivty = \"strict\"").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn validate_rejects_out_of_range_values() {
        assert!(
            SecurityConfig::new()
                .with_threshold(0.0)
                .validate()
                .is_err()
        );
        assert!(
            SecurityConfig::new()
                .with_threshold(f32::NAN)
                .validate()
                .is_err()
        );
        assert!(
            SecurityConfig::new()
                .with_max_input_bytes(0)
                .validate()
                .is_err()
        );
        assert!(SecurityConfig::new().with_threshold(1.0).validate().is_ok());
    }
}
