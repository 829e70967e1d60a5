//! The semantic tier in the engine (feature `semantic`): consulted only when the fast tier is
//! unsure, so the common case stays in microseconds.

use crate::threat::{Severity, Span, Threat, ThreatKind};
use llm_security_semantic::SemanticModel;

/// When the engine consults the semantic tier.
///
/// An input whose fast-tier score is at or above the engine's threshold is flagged whatever the
/// semantic tier says, so it is never consulted; below `consult_from` the fast tier is trusted
/// to be right. In between, the semantic tier's probability is fused with the fast score by
/// noisy-OR, as the engine fuses its detectors. `docs/semantic-eval.md` measures what each
/// choice of `consult_from` costs and gains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cascade {
    /// The lowest fast-tier score that consults the semantic tier (0 consults it for every
    /// input below the threshold).
    pub consult_from: f32,
}

impl Default for Cascade {
    fn default() -> Self {
        // docs/semantic-eval.md: from 0.2, about 4 % of ordinary prompts reach the semantic
        // tier, and it adds most of what consulting it on every prompt would (from 0.1: 12 %
        // consulted for 0.1 point more).
        Self { consult_from: 0.2 }
    }
}

/// The semantic model with its cascade policy.
#[derive(Debug)]
pub(crate) struct SemanticTier {
    pub(crate) model: SemanticModel,
    pub(crate) cascade: Cascade,
}

impl SemanticTier {
    /// Consults the model when `score` is in the cascade's band, adding its verdict to
    /// `threats` and `score`. A model failure is logged and leaves the fast verdict standing.
    pub(crate) fn consult(
        &self,
        text: &str,
        threshold: f32,
        threats: &mut Vec<Threat>,
        score: &mut f32,
    ) {
        if !(self.cascade.consult_from..threshold).contains(score) {
            return;
        }
        let verdict = match self.model.score(text) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "semantic tier failed; the fast verdict stands");
                return;
            }
        };
        let p = verdict.probability;
        *score = 1.0 - (1.0 - *score) * (1.0 - p);
        // Listed when it is confident on its own, or when it is what turned the verdict (the
        // caller's score was below the threshold, or it would not have been consulted).
        if p >= threshold || *score >= threshold {
            let severity = if p >= 0.9 {
                Severity::High
            } else {
                Severity::Medium
            };
            let (start, end) = (verdict.start.min(text.len()), verdict.end.min(text.len()));
            let evidence = text.get(start..end).unwrap_or_default();
            threats.push(
                Threat::new(ThreatKind::PromptInjection, severity, p, "semantic.attack")
                    .with_message(
                        "The semantic tier recognizes an attack: this text means what known injections and jailbreaks mean.",
                    )
                    .with_span(Span::new(start, end))
                    .with_evidence(evidence)
                    .with_technique("AML.T0051"),
            );
        }
    }
}
