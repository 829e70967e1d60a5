//! The detectors and how their findings fuse into one score.
//!
//! Each rule match becomes a [`Threat`] with the rule's confidence; a rule that matches in
//! several places reports one threat with several spans. The text's attack score is the
//! noisy-OR of the distinct threats' confidences, `1 - Π(1 - cᵢ)`: independent weak signals
//! add up, and one strong signal is enough.

mod chars;
pub mod classifier;
mod decode;
mod deobfuscate;
mod quoted;
mod rules;
mod scramble;
mod suffix;
pub(crate) mod unicode;
mod view;

use std::sync::{Arc, LazyLock};

pub(crate) use crate::config::SecurityConfig;
use crate::error::{Error, ErrorKind};
use crate::event::Direction;
use crate::threat::{Span, Threat, ThreatKind};
pub use classifier::Classifier;
#[cfg(feature = "semantic")]
pub(crate) mod semantic;
pub use rules::{RulePack, RuleSpec, RuleView};
pub(crate) use view::View;

/// Confidence of an adversarial-suffix finding: enough to flag on its own at the balanced
/// threshold (0.5); in the corpora it fires on 0.03 % of benign prompts (`docs/architecture.md`).
const ADVERSARIAL_SUFFIX_CONFIDENCE: f32 = 0.6;
/// How much a document rule's confidence counts when it fires in content a prompt quotes,
/// rather than in a text passed as a document. The quoted text may be the user's own, such as a
/// prompt template pasted for review ("Always add a disclaimer to your answer"): alone, the
/// finding stays under the balanced threshold (0.7 becomes 0.35); with another sign of attack,
/// or at the strict threshold, it flags.
const QUOTED_WEIGHT: f32 = 0.5;
/// Most spans kept per threat; more matches of one rule add nothing but size.
const MAX_SPANS_PER_THREAT: usize = 32;

/// The built-in input rules (prompt injection, jailbreak), as TOML.
pub const BUILTIN_INPUT_RULES: &str = include_str!("../../rules/input.toml");
/// The built-in rules for retrieved content (documents, e-mails, web pages, tool results), as
/// TOML. They run, with the input rules, in
/// [`SecurityEngine::analyze_document`](crate::SecurityEngine::analyze_document).
pub const BUILTIN_DOCUMENT_RULES: &str = include_str!("../../rules/document.toml");
/// The built-in output rules (script and terminal injection), as TOML.
pub const BUILTIN_OUTPUT_RULES: &str = include_str!("../../rules/output.toml");
/// The built-in secret rules (one per provider format), as TOML.
pub const BUILTIN_SECRET_RULES: &str = include_str!("../../rules/secrets.toml");

/// The compiled rule packs, shared by every engine.
#[derive(Debug)]
pub(crate) struct Detectors {
    input: RulePack,
    document: RulePack,
    output: RulePack,
}

static BUILTIN: LazyLock<Result<Arc<Detectors>, ErrorKind>> = LazyLock::new(|| {
    let output = format!("{BUILTIN_SECRET_RULES}\n{BUILTIN_OUTPUT_RULES}");
    Detectors::new(BUILTIN_INPUT_RULES, BUILTIN_DOCUMENT_RULES, &output)
        .map(Arc::new)
        .map_err(|e| e.kind().clone())
});

impl Detectors {
    pub(crate) fn new(input: &str, document: &str, output: &str) -> Result<Self, Error> {
        chars::warm();
        let document = RulePack::from_toml(document)?;
        Ok(Self {
            // One walk over a document finds the triggers of both packs.
            input: RulePack::from_toml_hosting(input, &document)?,
            document,
            output: RulePack::from_toml(output)?,
        })
    }

    /// The built-in packs, compiled once per process.
    pub(crate) fn builtin() -> Result<Arc<Self>, Error> {
        BUILTIN
            .as_ref()
            .map(Arc::clone)
            .map_err(|e| Error::new(e.clone()))
    }

    /// Runs every detector the configuration enables; returns the threats and the fused score.
    pub(crate) fn run(
        &self,
        text: &str,
        direction: Direction,
        config: &SecurityConfig,
        extra: &Extra<'_>,
    ) -> (Vec<Threat>, f32) {
        let view = View::normalized(text);
        // The classifier's probability when too low to list as a threat: it still counts.
        let mut unlisted = 0.0f32;
        let mut threats = match direction {
            Direction::Input => {
                let kinds = |k: &ThreatKind| input_kind_enabled(config, k);
                let packs = self.input_packs(extra.document);
                let mut found = if extra.document {
                    collect_hosting(&self.input, &self.document, &view, text, &kinds)
                } else {
                    collect(&self.input, &view, text, &kinds)
                };
                if let Some(model) = extra.classifier {
                    match model_threat(model, &view, config) {
                        (_, Some(threat)) => found.push(threat),
                        (p, None) => unlisted = p,
                    }
                }
                if config.jailbreak
                    && let Some(span) = suffix::find(text)
                {
                    found.push(adversarial_suffix(text, span));
                }
                found.extend(deobfuscated(&packs, text, &kinds, &found));
                // A prompt's bytes as bit masks, for the checks that look at every word.
                let masks = decode::ByteMasks::of(text);
                if let Some(masks) = &masks {
                    found.extend(unscrambled(&packs, text, &masks.letters, &kinds, &found));
                }
                if !extra.document {
                    found.extend(quoted_documents(&self.document, text, &kinds));
                }
                let mut budget = decode::MAX_DECODED;
                let scope = Scope {
                    packs: &packs,
                    config,
                    extra,
                };
                found.extend(self.decoded(
                    text,
                    Some(&view),
                    masks.as_ref(),
                    1,
                    &scope,
                    &mut budget,
                ));
                found
            }
            Direction::Output if config.output_validation => {
                let out = &config.output;
                let kinds = |k: &ThreatKind| match k {
                    ThreatKind::Secret => out.secrets,
                    ThreatKind::ScriptInjection => out.script_injection,
                    ThreatKind::TerminalInjection => out.terminal_injection,
                    _ => true,
                };
                let mut found = collect(&self.output, &view, text, &kinds);
                found.extend(crate::output::scan(text, &view, out, extra.output));
                found.extend(crate::output::canary_threats(&view, extra.canary));
                drop_rendered_as_code(text, &mut found);
                found
            }
            Direction::Output => Vec::new(),
        };
        if config.unicode_attacks {
            let scan = unicode::scan(text);
            threats.extend(unicode::threats(&scan));
            let packs = match direction {
                Direction::Input => self.input_packs(extra.document),
                Direction::Output => vec![&self.output],
            };
            let kinds = |k: &ThreatKind| match direction {
                Direction::Input => input_kind_enabled(config, k),
                Direction::Output => true,
            };
            for hidden in &scan.hidden {
                threats.extend(rescan(&packs, hidden, &kinds));
            }
        }
        let score =
            1.0 - (1.0 - unlisted) * threats.iter().map(|t| 1.0 - t.confidence).product::<f32>();
        (threats, score)
    }
}

/// Whether the configuration enables input findings of `kind`.
fn input_kind_enabled(config: &SecurityConfig, kind: &ThreatKind) -> bool {
    match kind {
        ThreatKind::PromptInjection => config.prompt_injection,
        ThreatKind::Jailbreak => config.jailbreak,
        ThreatKind::UnicodeAttack => config.unicode_attacks,
        _ => true,
    }
}

impl Detectors {
    /// The rule packs for input: the input pack, and the document pack for retrieved content.
    fn input_packs(&self, document: bool) -> Vec<&RulePack> {
        if document {
            vec![&self.input, &self.document]
        } else {
            vec![&self.input]
        }
    }

    /// Threats hidden in encoded payloads of `text` (the scope's packs and the classifier on what
    /// they decode to, recursively, and the document rules at half weight where a payload lies
    /// in content a prompt quotes): for each payload that decodes to an attack, an
    /// `encoded_payload` threat and the decoded threats, all pointing at the payload's bytes.
    /// `view` is `text`'s normalized view, for the whole-text checks of the first level, and
    /// `masks` its bytes' masks (a prompt's, see [`decode::ByteMasks`]), for its cipher stretches.
    fn decoded(
        &self,
        text: &str,
        view: Option<&View<'_>>,
        masks: Option<&decode::ByteMasks>,
        depth: usize,
        scope: &Scope<'_>,
        budget: &mut usize,
    ) -> Vec<Threat> {
        let Scope {
            packs,
            config,
            extra,
        } = *scope;
        let mut candidates = decode::find(text, budget);
        if let Some(view) = view.filter(|_| depth == 1 && text.len() <= decode::MAX_CANDIDATE) {
            let whole = Span::new(0, text.len());
            let scheme = |sub| match sub {
                decode::Substitution::Shift(13) => decode::Scheme::Rot13,
                decode::Substitution::Shift(_) => decode::Scheme::Caesar,
                decode::Substitution::Atbash => decode::Scheme::Atbash,
            };
            if decode::looks_rot13(text) {
                candidates.push(decode::Decoded {
                    scheme: decode::Scheme::Rot13,
                    span: whole,
                    text: decode::rot13(text),
                });
                if let Some(sub) = decode::best_substitution(text) {
                    candidates.push(decode::Decoded {
                        scheme: scheme(sub),
                        span: whole,
                        text: sub.apply(text),
                    });
                }
            }
            // Stretches that read as a cipher on their own: a long one can tip the whole text
            // over the check above, yet deciphers only alone.
            let trimmed = text.trim().len();
            let stretches = masks.map_or_else(Vec::new, |m| decode::cipher_stretches(text, m));
            for (span, sub) in stretches {
                if *budget == 0 {
                    break;
                }
                if span.end - span.start == trimmed {
                    continue;
                }
                let stretch = &text[span.start..span.end];
                *budget = budget.saturating_sub(stretch.len());
                candidates.push(decode::Decoded {
                    scheme: scheme(sub),
                    span,
                    text: sub.apply(stretch),
                });
            }
            if decode::looks_reversed(text, view.text()) {
                candidates.push(decode::Decoded {
                    scheme: decode::Scheme::Reversed,
                    span: whole,
                    text: text.chars().rev().collect(),
                });
            }
        }
        // In a prompt, a payload inside quoted content decodes to quoted content: the document
        // rules read it too, at the weight `quoted_documents` gives them.
        let quoted = if depth == 1 && !extra.document && !candidates.is_empty() {
            quoted::blocks(text)
        } else {
            Vec::new()
        };
        let mut out = Vec::new();
        for d in candidates {
            let view = View::normalized(&d.text);
            let kinds = |k: &ThreatKind| input_kind_enabled(config, k);
            let mut inner: Vec<Threat> = packs
                .iter()
                .flat_map(|pack| collect(pack, &view, &d.text, &kinds))
                .collect();
            if quoted
                .iter()
                .any(|r| r.start <= d.span.start && d.span.end <= r.end)
            {
                inner.extend(
                    collect(&self.document, &view, &d.text, &kinds)
                        .into_iter()
                        .map(in_quoted_content),
                );
            }
            if let Some(model) = extra.classifier
                && let (_, Some(threat)) = model_threat(model, &view, config)
            {
                inner.push(threat);
            }
            if depth < decode::MAX_DEPTH {
                inner.extend(self.decoded(&d.text, None, None, depth + 1, scope, budget));
            }
            let Some(strongest) = inner.iter().map(|t| t.confidence).reduce(f32::max) else {
                continue;
            };
            let name = d.scheme.name();
            for t in &mut inner {
                t.spans = vec![d.span];
                if !t.message.contains("(decoded from") {
                    t.message = format!("{} (decoded from {name})", t.message);
                }
            }
            // Hiding an instruction is itself a sign of intent.
            let confidence = 1.0 - (1.0 - strongest) * 0.5;
            out.push(
                Threat::new(
                    ThreatKind::EncodedPayload,
                    crate::threat::Severity::High,
                    confidence,
                    d.scheme.rule(),
                )
                .with_message(format!("An instruction is hidden in {name}."))
                .with_span(d.span)
                .with_evidence(&format!("decodes to: {}", d.text))
                .with_technique("AML.T0051"),
            );
            out.extend(inner);
        }
        out
    }
}

/// Rules on the text with letter spacing, padding and leetspeak undone (in the lines that show
/// them, see [`deobfuscate::regions`]); only rules that did not already fire on the plain text are
/// reported, with spans in the original.
fn deobfuscated(
    packs: &[&RulePack],
    text: &str,
    kinds: &dyn Fn(&ThreatKind) -> bool,
    found: &[Threat],
) -> Vec<Threat> {
    let regions = deobfuscate::regions(text);
    if regions.is_empty() {
        return Vec::new();
    }
    let mut hits: Vec<Vec<rules::Hit>> = vec![Vec::new(); packs.len()];
    for range in regions {
        let Some((clear, map)) = deobfuscate::deobfuscate(&text[range.clone()]) else {
            continue;
        };
        let view = View::normalized(&clear);
        let original_span = |s: Span| {
            let start = range.start + map[s.start];
            let last = range.start + map[s.end - 1];
            Span::new(
                start,
                last + text[last..].chars().next().map_or(1, char::len_utf8),
            )
        };
        for (pack, hits) in packs.iter().zip(&mut hits) {
            hits.extend(
                pack.scan(&view, &clear, &|i| kinds(&pack.specs()[i].kind))
                    .into_iter()
                    .map(|h| rules::Hit {
                        rule: h.rule,
                        span: original_span(h.span),
                    })
                    .filter(|h| !found.iter().any(|t| t.rule == pack.specs()[h.rule].id)),
            );
        }
    }
    let mut threats = Vec::new();
    for (pack, hits) in packs.iter().zip(hits) {
        if !hits.is_empty() {
            threats.extend(threats_from_hits(pack, hits, text));
        }
    }
    for t in &mut threats {
        t.message = format!("{} (after undoing letter spacing or leetspeak)", t.message);
    }
    threats
}

/// Rules on the text with scrambled attack words written out ("ignroe all prevoius
/// insturctions", see [`scramble`]); only rules that did not already fire are reported. The
/// unscrambled text is as long as the original and differs only inside those words, so spans
/// carry over.
fn unscrambled(
    packs: &[&RulePack],
    text: &str,
    letters: &[u16],
    kinds: &dyn Fn(&ThreatKind) -> bool,
    found: &[Threat],
) -> Vec<Threat> {
    let Some(clear) = scramble::unscramble(text, letters) else {
        return Vec::new();
    };
    let view = View::normalized(&clear);
    let mut threats = Vec::new();
    for pack in packs {
        let hits: Vec<rules::Hit> = pack
            .scan(&view, &clear, &|i| kinds(&pack.specs()[i].kind))
            .into_iter()
            .filter(|h| !found.iter().any(|t| t.rule == pack.specs()[h.rule].id))
            .collect();
        if !hits.is_empty() {
            threats.extend(threats_from_hits(pack, hits, text));
        }
    }
    for t in &mut threats {
        t.message = format!("{} (after unscrambling its words)", t.message);
    }
    threats
}

/// The document rules on the content a prompt quotes between delimiters (see [`quoted`]):
/// retrieved content that an application fenced off inside the prompt is read as a document.
fn quoted_documents(
    document: &RulePack,
    text: &str,
    kinds: &dyn Fn(&ThreatKind) -> bool,
) -> Vec<Threat> {
    let mut hits = Vec::new();
    for range in quoted::blocks(text) {
        let block = &text[range.clone()];
        let view = View::normalized(block);
        hits.extend(
            document
                .scan(&view, block, &|i| kinds(&document.specs()[i].kind))
                .into_iter()
                .map(|h| rules::Hit {
                    rule: h.rule,
                    span: Span::new(range.start + h.span.start, range.start + h.span.end),
                }),
        );
    }
    if hits.is_empty() {
        return Vec::new();
    }
    threats_from_hits(document, hits, text)
        .into_iter()
        .map(in_quoted_content)
        .collect()
}

/// A document rule's finding in content a prompt quotes: it says so, and counts for
/// [`QUOTED_WEIGHT`] of the rule's confidence.
fn in_quoted_content(mut t: Threat) -> Threat {
    t.message = format!("{} (in content the prompt quotes)", t.message);
    t.confidence *= QUOTED_WEIGHT;
    t
}

/// What detection needs beyond the text and the configuration.
#[derive(Debug)]
pub(crate) struct Extra<'a> {
    pub(crate) output: &'a crate::output::OutputContext,
    pub(crate) canary: &'a crate::output::CanaryKey,
    pub(crate) classifier: Option<&'a Classifier>,
    /// The text is retrieved content, not a user's prompt: the document rules run too.
    pub(crate) document: bool,
}

/// What every level of [`Detectors::decoded`] reads unchanged: the packs to run on what a
/// payload decodes to, the configuration and the engine's extras.
#[derive(Clone, Copy)]
struct Scope<'a> {
    packs: &'a [&'a RulePack],
    config: &'a SecurityConfig,
    extra: &'a Extra<'a>,
}

/// Attack probability from which the model's opinion is listed as a threat. Below it, it
/// still adds to the score.
const MODEL_REPORT: f32 = 0.25;

/// The threat of an adversarial suffix found at `span`.
fn adversarial_suffix(text: &str, span: Span) -> Threat {
    Threat::new(
        ThreatKind::Jailbreak,
        crate::threat::Severity::Medium,
        ADVERSARIAL_SUFFIX_CONFIDENCE,
        "jailbreak.adversarial_suffix",
    )
    .with_message(format!(
        "At least {} unbalanced brackets within {} bytes: the shape of an optimized adversarial suffix (GCG and kin).",
        suffix::MIN_UNBALANCED,
        suffix::WIDTH
    ))
    .with_span(span)
    .with_evidence(text.get(span.start..span.end).unwrap_or_default())
    .with_technique("AML.T0054")
}

/// The learned classifier's attack probability, and a threat on the most suspicious window
/// when it is high enough to list (and the class's detection is switched on).
fn model_threat(
    model: &Classifier,
    view: &View<'_>,
    config: &SecurityConfig,
) -> (f32, Option<Threat>) {
    let text = view.text();
    let tokens = classifier::tokenize(text);
    let breaks = classifier::line_starts(text, &tokens);
    let Some(verdict) = model.classify_lines(&tokens, &breaks) else {
        return (0.0, None);
    };
    let p = verdict.attack();
    let jailbreak =
        verdict.probabilities[classifier::JAILBREAK] > verdict.probabilities[classifier::INJECTION];
    let (kind, rule, technique, message) = if jailbreak {
        (
            ThreatKind::Jailbreak,
            "model.jailbreak",
            "AML.T0054",
            "The classifier recognizes a jailbreak attempt.",
        )
    } else {
        (
            ThreatKind::PromptInjection,
            "model.prompt_injection",
            "AML.T0051",
            "The classifier recognizes a prompt injection.",
        )
    };
    if (jailbreak && !config.jailbreak) || (!jailbreak && !config.prompt_injection) {
        return (0.0, None);
    }
    if p < MODEL_REPORT {
        return (p, None);
    }
    let span = view.to_original(verdict.start, verdict.end);
    let severity = if p >= 0.9 {
        crate::threat::Severity::High
    } else {
        crate::threat::Severity::Medium
    };
    let threat = Threat::new(kind, severity, p, rule)
        .with_message(message)
        .with_span(span)
        .with_evidence(&view.original()[span.start..span.end])
        .with_technique(technique);
    (p, Some(threat))
}

/// Script and auto-loading links inside fenced code blocks are displayed, not run or fetched.
fn drop_rendered_as_code(text: &str, threats: &mut Vec<Threat>) {
    if !text.contains("```") && !text.contains("~~~") {
        return;
    }
    let fences = crate::output::fenced_ranges(text);
    for t in threats.iter_mut() {
        if matches!(
            t.kind,
            ThreatKind::ScriptInjection | ThreatKind::DataExfiltration
        ) {
            t.spans
                .retain(|s| !fences.iter().any(|&(a, b)| a <= s.start && s.end <= b));
        }
    }
    threats.retain(|t| {
        !t.spans.is_empty()
            || !matches!(
                t.kind,
                ThreatKind::ScriptInjection | ThreatKind::DataExfiltration
            )
    });
}

/// The threats of `pack`'s rules whose kind `kinds` enables.
fn collect(
    pack: &RulePack,
    view: &View<'_>,
    raw: &str,
    kinds: &dyn Fn(&ThreatKind) -> bool,
) -> Vec<Threat> {
    let hits = pack.scan(view, raw, &|i| kinds(&pack.specs()[i].kind));
    threats_from_hits(pack, hits, raw)
}

/// [`collect`] for `host` and then `guest`, in one walk over the text where `host` was compiled
/// to host `guest` (see [`RulePack::scan_hosting`]).
fn collect_hosting(
    host: &RulePack,
    guest: &RulePack,
    view: &View<'_>,
    raw: &str,
    kinds: &dyn Fn(&ThreatKind) -> bool,
) -> Vec<Threat> {
    let (own, theirs) =
        host.scan_hosting(guest, view, raw, &|i| kinds(&host.specs()[i].kind), &|i| {
            kinds(&guest.specs()[i].kind)
        });
    let mut threats = threats_from_hits(host, own, raw);
    threats.extend(threats_from_hits(guest, theirs, raw));
    threats
}

/// One threat per rule from its hits, with spans and evidence in `raw`.
fn threats_from_hits(pack: &RulePack, mut hits: Vec<rules::Hit>, raw: &str) -> Vec<Threat> {
    hits.sort_by_key(|h| (h.rule, h.span));
    hits.dedup();
    let mut threats: Vec<Threat> = Vec::new();
    let mut current: Option<usize> = None;
    for hit in hits {
        if current != Some(hit.rule) {
            current = Some(hit.rule);
            let spec = &pack.specs()[hit.rule];
            let matched = &raw[hit.span.start..hit.span.end];
            let evidence = if spec.mask_evidence {
                mask(matched)
            } else {
                matched.to_owned()
            };
            let mut threat =
                Threat::new(spec.kind.clone(), spec.severity, spec.confidence, &spec.id)
                    .with_message(&spec.message)
                    .with_evidence(&evidence);
            threat.technique = spec.technique.clone();
            threats.push(threat);
        }
        let threat = threats
            .last_mut()
            .expect("a threat was pushed for this rule");
        if threat.spans.len() < MAX_SPANS_PER_THREAT {
            // Overlapping matches of one rule are merged into one span.
            match threat.spans.last_mut() {
                Some(last) if hit.span.start < last.end => last.end = last.end.max(hit.span.end),
                _ => threat.spans.push(hit.span),
            }
        }
    }
    threats
}

/// Runs `packs` over text a Unicode technique hid; each finding points at the hidden run.
fn rescan(
    packs: &[&RulePack],
    hidden: &unicode::Hidden,
    kinds: &dyn Fn(&ThreatKind) -> bool,
) -> Vec<Threat> {
    let view = View::normalized(&hidden.text);
    let mut threats: Vec<Threat> = packs
        .iter()
        .flat_map(|pack| collect(pack, &view, &hidden.text, kinds))
        .collect();
    for t in &mut threats {
        t.spans = vec![hidden.span];
        t.message = format!("{} Hidden with {}.", t.message, hidden.technique.rule());
        t.evidence = crate::threat::truncate_chars(&hidden.text, Threat::MAX_EVIDENCE_CHARS);
    }
    threats
}

/// Keeps the first four characters of a secret and its length, nothing else.
fn mask(value: &str) -> String {
    let head: String = value.chars().take(4).collect();
    format!("{head}… ({} bytes, masked)", value.len())
}
