//! The result of one analysis.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::Direction;
use crate::redact::redact;
use crate::threat::{Severity, Threat};

/// The verdict on one text: whether it is secure, what was found, and how sure the engine is.
///
/// # Wire format
///
/// Serialized (for example by `llm-security analyze --json`) as
/// `{"is_secure": bool, "confidence": f32, "score": f32, "direction": "input"|"output",
/// "threats": [Threat...], "analysis_time_ms": f64, "redacted"?: string}` (`redacted` for model
/// output only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    is_secure: bool,
    confidence: f32,
    score: f32,
    direction: Direction,
    threats: Vec<Threat>,
    #[serde(rename = "analysis_time_ms", with = "duration_ms")]
    analysis_time: Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    redacted: Option<String>,
}

/// What [`SecurityEngine::validate_output`](crate::SecurityEngine::validate_output) returns: an
/// [`Analysis`] of model output, which also carries the [redacted](Analysis::redacted) output.
pub type ValidationResult = Analysis;

impl Analysis {
    /// Builds an analysis from its parts; the verdict is `score < threshold`.
    pub(crate) fn new(
        direction: Direction,
        mut threats: Vec<Threat>,
        score: f32,
        threshold: f32,
        analysis_time: Duration,
    ) -> Self {
        threats.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.confidence.total_cmp(&a.confidence))
                .then(a.spans.first().cmp(&b.spans.first()))
        });
        let score = score.clamp(0.0, 1.0);
        let is_secure = score < threshold;
        let confidence = if is_secure { 1.0 - score } else { score };
        Self {
            is_secure,
            confidence,
            score,
            direction,
            threats,
            analysis_time,
            redacted: None,
        }
    }

    /// Keeps the redacted form of `text` (done for model output).
    pub(crate) fn with_redacted_text(mut self, text: &str) -> Self {
        self.redacted = Some(redact(text, &self.threats));
        self
    }

    /// `true` when no finding reached the threshold.
    ///
    /// Threats below the threshold are still listed in [`threats`](Self::threats) so that
    /// they can be logged; they do not make the text insecure.
    pub fn is_secure(&self) -> bool {
        self.is_secure
    }

    /// Confidence in the verdict, in `0..=1`: the score when insecure, `1 - score` when secure.
    pub fn confidence(&self) -> f32 {
        self.confidence
    }

    /// The fused attack score in `0..=1`: higher means more likely an attack. This is the value
    /// a ROC curve is drawn from.
    pub fn score(&self) -> f32 {
        self.score
    }

    /// Whether the text was a model input or output.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// What was found, most severe first.
    pub fn threats(&self) -> &[Threat] {
        &self.threats
    }

    /// The most severe finding's severity, if any.
    pub fn max_severity(&self) -> Option<Severity> {
        self.threats.iter().map(|t| t.severity).max()
    }

    /// How long the analysis took.
    pub fn analysis_time(&self) -> Duration {
        self.analysis_time
    }

    /// For model output: the output with every finding replaced by a typed placeholder such as
    /// `[REDACTED:secret:aws]`, everything else byte for byte. `None` for input analyses.
    pub fn redacted(&self) -> Option<&str> {
        self.redacted.as_deref()
    }

    /// `text` (the text this analysis was made of) with every finding replaced by a typed
    /// placeholder, everything else byte for byte. See [`redact`].
    pub fn redact(&self, text: &str) -> String {
        redact(text, &self.threats)
    }
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(d)?;
        Duration::try_from_secs_f64(ms / 1000.0).map_err(serde::de::Error::custom)
    }
}
