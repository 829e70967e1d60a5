//! Rule packs: detection rules as data, compiled into linear-time multi-pattern matchers.
//!
//! A pack is a TOML document with one `[[rule]]` table per rule:
//!
//! ```toml
//! [[rule]]
//! id = "injection.instruction_override"   # unique, dotted
//! kind = "prompt_injection"               # a ThreatKind wire name
//! severity = "high"                       # low | medium | high | critical
//! confidence = 0.9                        # how sure a match makes us, 0..=1
//! technique = "AML.T0051"                 # MITRE ATLAS, optional
//! message = "Tries to override the application's instructions."
//! view = "normalized"                     # normalized (default) | raw
//! phrases = ["ignore all previous instructions"]   # literal, whole words
//! patterns = ['\bdisregard (the|your) rules\b']     # regular expressions
//! mask_evidence = false                   # true for secrets: never echo the value
//! positive = ["..."]                      # texts the rule must flag
//! negative = ["..."]                      # texts it must not flag
//! ```
//!
//! On the `normalized` view, phrases and patterns see lower-case text with invisible
//! characters removed and whitespace collapsed (see [`View`](super::view)); write them in lower
//! case. On the `raw` view they see the text as given (for case-sensitive formats such as keys).
//! All phrases of a pack are compiled into one Aho-Corasick automaton and all patterns into one
//! `RegexSet` per view, so a scan costs one pass per matcher whatever the number of rules.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::{Deserialize, Serialize};

use super::view::View;
use crate::error::Error;
use crate::threat::{Severity, Span, ThreatKind};

/// Largest compiled size allowed for one regex or regex set, to bound memory on hostile packs.
const REGEX_SIZE_LIMIT: usize = 32 << 20;

/// Which text a rule runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleView {
    /// Lower case, invisible characters removed, whitespace collapsed.
    #[default]
    Normalized,
    /// The text exactly as given.
    Raw,
}

/// One rule as written in a pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique id, e.g. `jailbreak.dan_persona`.
    pub id: String,
    /// The kind of threat a match reports.
    pub kind: ThreatKind,
    /// The severity a match reports.
    pub severity: Severity,
    /// The confidence a match reports, `0..=1`.
    pub confidence: f32,
    /// MITRE ATLAS technique id.
    #[serde(default)]
    pub technique: Option<String>,
    /// A sentence for people.
    pub message: String,
    /// Which text the rule runs on.
    #[serde(default)]
    pub view: RuleView,
    /// Literal phrases, matched as whole words.
    #[serde(default)]
    pub phrases: Vec<String>,
    /// Regular expressions (Rust `regex` syntax, linear time).
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Replace the evidence with a mask, for values that must not be repeated (secrets).
    #[serde(default)]
    pub mask_evidence: bool,
    /// Texts this rule must flag (checked by the test suite).
    #[serde(default)]
    pub positive: Vec<String>,
    /// Texts this rule must not flag (checked by the test suite).
    #[serde(default)]
    pub negative: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

/// One place a rule matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    /// Index of the rule in the pack.
    pub(crate) rule: usize,
    /// Where in the original text.
    pub(crate) span: Span,
}

/// Rewrites `\b` as an ASCII word boundary, `(?-u:\b)`.
///
/// A Unicode word boundary stops the `regex` crate's lazy DFA at the first non-ASCII byte and
/// falls back to a far slower engine (40x on multilingual text, measured). Patterns are written
/// in lower-case ASCII-folded form anyway; rules for other scripts use phrases, whose whole-word
/// check is Unicode-aware.
fn ascii_word_boundaries(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push_str("(?-u:\\b)"),
            Some(next) => {
                out.push('\\');
                out.push(next);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[derive(Debug)]
struct RegexGroup {
    set: RegexSet,
    /// For each regex of the set: the rule it belongs to and the regex alone, for spans.
    each: Vec<(usize, Regex)>,
}

impl RegexGroup {
    fn build(patterns: &[(usize, String)], case_insensitive: bool) -> Result<Option<Self>, Error> {
        if patterns.is_empty() {
            return Ok(None);
        }
        let patterns: Vec<(usize, String)> = patterns
            .iter()
            .map(|(rule, p)| (*rule, ascii_word_boundaries(p)))
            .collect();
        let mut each = Vec::with_capacity(patterns.len());
        for (rule, p) in &patterns {
            let re = RegexBuilder::new(p)
                .case_insensitive(case_insensitive)
                .multi_line(true)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| Error::rules(format!("pattern {p:?}: {e}")))?;
            each.push((*rule, re));
        }
        let set = RegexSetBuilder::new(patterns.iter().map(|(_, p)| p))
            .case_insensitive(case_insensitive)
            .multi_line(true)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| Error::rules(format!("pattern set: {e}")))?;
        Ok(Some(Self { set, each }))
    }

    /// Calls `found(rule, start, end)` for every match, in `haystack` coordinates.
    fn scan(
        &self,
        haystack: &str,
        enabled: &dyn Fn(usize) -> bool,
        found: &mut dyn FnMut(usize, usize, usize),
    ) {
        for i in self.set.matches(haystack).iter() {
            let (rule, re) = &self.each[i];
            if !enabled(*rule) {
                continue;
            }
            for m in re.find_iter(haystack).filter(|m| !m.is_empty()) {
                found(*rule, m.start(), m.end());
            }
        }
    }
}

/// Phrases compiled into one automaton, and the rule each phrase belongs to.
#[derive(Debug)]
struct PhraseGroup {
    automaton: AhoCorasick,
    rule: Vec<usize>,
    /// Every phrase starts with an ASCII byte (else none does).
    ascii_start: bool,
}

impl PhraseGroup {
    fn build(phrases: Vec<(String, usize)>, ascii_start: bool) -> Result<Self, Error> {
        let (phrases, rule): (Vec<String>, Vec<usize>) = phrases.into_iter().unzip();
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&phrases)
            .map_err(|e| Error::rules(format!("phrases: {e}")))?;
        Ok(Self {
            automaton,
            rule,
            ascii_start,
        })
    }
}

/// A compiled rule pack.
#[derive(Debug)]
pub struct RulePack {
    specs: Vec<RuleSpec>,
    /// Phrase automatons, each with the rule of every phrase it holds (see [`PhraseGroup`]).
    phrases: Vec<PhraseGroup>,
    normalized: Option<RegexGroup>,
    raw: Option<RegexGroup>,
}

impl RulePack {
    /// Parses and compiles a pack from TOML. Fails with
    /// [`ErrorKind::InvalidRules`](crate::ErrorKind::InvalidRules) on bad TOML, duplicate ids,
    /// out-of-range confidences, rules with nothing to match, or patterns that do not compile.
    pub fn from_toml(source: &str) -> Result<Self, Error> {
        let file: PackFile = toml::from_str(source).map_err(|e| Error::rules(e.to_string()))?;
        Self::compile(file.rule)
    }

    /// Compiles a list of rules.
    pub fn compile(specs: Vec<RuleSpec>) -> Result<Self, Error> {
        let mut seen = std::collections::HashSet::new();
        let mut phrases = Vec::new();
        let mut phrase_rule = Vec::new();
        let mut normalized = Vec::new();
        let mut raw = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            if !seen.insert(spec.id.as_str()) {
                return Err(Error::rules(format!("duplicate rule id {:?}", spec.id)));
            }
            if !(0.0..=1.0).contains(&spec.confidence) {
                return Err(Error::rules(format!(
                    "rule {:?}: confidence must be in 0..=1",
                    spec.id
                )));
            }
            if spec.phrases.is_empty() && spec.patterns.is_empty() {
                return Err(Error::rules(format!(
                    "rule {:?} has no phrases or patterns",
                    spec.id
                )));
            }
            for phrase in &spec.phrases {
                if spec.view == RuleView::Raw {
                    return Err(Error::rules(format!(
                        "rule {:?}: phrases run on the normalized view; use patterns for raw",
                        spec.id
                    )));
                }
                let folded = View::normalized(phrase).text().to_owned();
                if folded.is_empty() {
                    return Err(Error::rules(format!(
                        "rule {:?} has an empty phrase",
                        spec.id
                    )));
                }
                phrases.push(folded);
                phrase_rule.push(i);
            }
            for pattern in &spec.patterns {
                match spec.view {
                    RuleView::Normalized => normalized.push((i, pattern.clone())),
                    RuleView::Raw => raw.push((i, pattern.clone())),
                }
            }
        }
        // DFAs: one table lookup per byte (as an NFA, the builder's default past about a
        // hundred phrases, the 90 phrases of `jailbreak.i18n` cost 0.7 µs per 1 KB prompt,
        // measured). Two of them, about 1.6 MiB each: phrases that start with an ASCII byte,
        // and phrases in other scripts, which are skipped on all-ASCII text (where none can
        // occur). One DFA for all took 6.5 MiB.
        let (ascii, other): (Vec<_>, Vec<_>) = phrases
            .into_iter()
            .zip(phrase_rule)
            .partition(|(phrase, _)| phrase.as_bytes()[0].is_ascii());
        let phrases = [(ascii, true), (other, false)]
            .into_iter()
            .filter(|(group, _)| !group.is_empty())
            .map(|(group, ascii_start)| PhraseGroup::build(group, ascii_start))
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Self {
            phrases,
            normalized: RegexGroup::build(&normalized, false)?,
            raw: RegexGroup::build(&raw, false)?,
            specs,
        })
    }

    /// The rules, in pack order.
    pub fn specs(&self) -> &[RuleSpec] {
        &self.specs
    }

    /// Finds every match of every enabled rule. Spans point into `view`'s original text.
    pub(crate) fn scan(
        &self,
        view: &View<'_>,
        raw: &str,
        enabled: &dyn Fn(usize) -> bool,
    ) -> Vec<Hit> {
        let mut hits = Vec::new();
        let text = view.text();
        for group in &self.phrases {
            if !group.ascii_start && text.is_ascii() {
                continue;
            }
            for m in group.automaton.find_overlapping_iter(text) {
                let rule = group.rule[m.pattern().as_usize()];
                if enabled(rule) && whole_word(text, m.start(), m.end()) {
                    hits.push(Hit {
                        rule,
                        span: view.to_original(m.start(), m.end()),
                    });
                }
            }
        }
        if let Some(group) = &self.normalized {
            group.scan(text, enabled, &mut |rule, s, e| {
                hits.push(Hit {
                    rule,
                    span: view.to_original(s, e),
                });
            });
        }
        if let Some(group) = &self.raw {
            group.scan(raw, enabled, &mut |rule, s, e| {
                hits.push(Hit {
                    rule,
                    span: Span::new(s, e),
                })
            });
        }
        hits
    }
}

/// Whether `text[start..end]` does not begin or end inside a word.
fn whole_word(text: &str, start: usize, end: usize) -> bool {
    // Scripts written without spaces have no word boundaries to check.
    let unspaced = |c: char| matches!(c, '\u{3040}'..='\u{30FF}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{FF00}'..='\u{FFEF}' | '\u{3000}'..='\u{303F}' | '\u{0E00}'..='\u{0E7F}');
    let word = |c: char| (c.is_alphanumeric() || c == '_') && !unspaced(c);
    let matched = &text[start..end];
    let first_is_word = matched.chars().next().is_some_and(word);
    let last_is_word = matched.chars().next_back().is_some_and(word);
    let before_ok = !first_is_word || !text[..start].chars().next_back().is_some_and(word);
    let after_ok = !last_is_word || !text[end..].chars().next().is_some_and(word);
    before_ok && after_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_packs_with_clear_errors() {
        let cases = [
            ("[[rule]]\nid = 1", "invalid type"),
            (
                "[[rule]]\nid='a'\nkind='jailbreak'\nseverity='high'\nconfidence=2.0\nmessage='m'\nphrases=['x']",
                "confidence",
            ),
            (
                "[[rule]]\nid='a'\nkind='jailbreak'\nseverity='high'\nconfidence=0.5\nmessage='m'",
                "no phrases",
            ),
            (
                "[[rule]]\nid='a'\nkind='jailbreak'\nseverity='high'\nconfidence=0.5\nmessage='m'\npatterns=['(']",
                "pattern",
            ),
        ];
        for (src, needle) in cases {
            let err = RulePack::from_toml(src).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    #[test]
    fn word_boundaries_become_ascii() {
        assert_eq!(ascii_word_boundaries(r"\bdan\b"), r"(?-u:\b)dan(?-u:\b)");
        assert_eq!(ascii_word_boundaries(r"a\\b\s"), r"a\\b\s");
    }

    #[test]
    fn phrases_match_whole_words_only() {
        assert!(whole_word("say dan now", 4, 7));
        assert!(!whole_word("dance", 0, 3));
        assert!(whole_word("<|im_start|>x", 0, 12));
    }
}
