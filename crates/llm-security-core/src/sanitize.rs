//! Cleaning text of Unicode abuse, with an account of every change.

use serde::{Deserialize, Serialize};

use crate::detect::unicode::{self, Fix};
use crate::threat::Span;

/// Most cleaning passes. Each pass that changes anything makes the text strictly shorter, so
/// the loop ends; the bound only caps work on hostile input.
const MAX_PASSES: usize = 16;

/// One change [`sanitize`](crate::SecurityEngine::sanitize) made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The technique, as a rule id (e.g. `unicode.invisible_in_word`).
    pub rule: String,
    /// The bytes of the *original* text that were replaced or removed.
    pub span: Span,
    /// What was there, as it was (may be invisible characters).
    pub original: String,
    /// What is there now (empty when removed).
    pub replacement: String,
}

/// Text a technique hid, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiddenText {
    /// The technique, as a rule id (e.g. `unicode.tag_smuggling`).
    pub rule: String,
    /// Where in the original text it was hidden.
    pub span: Span,
    /// The decoded text.
    pub text: String,
}

/// The result of sanitizing a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sanitized {
    /// The cleaned text: invisible smuggling, bidirectional overrides, control, private-use and
    /// unassigned code points removed; look-alike and compatibility letters folded to Latin;
    /// Zalgo stacks trimmed. Legitimate emoji, joiners and scripts are kept.
    pub text: String,
    /// Every change, in order of position in the original.
    pub changes: Vec<Change>,
    /// Text that was hidden in the original, decoded (it is removed from `text`).
    pub hidden: Vec<HiddenText>,
}

impl Sanitized {
    /// Whether anything was changed.
    pub fn is_changed(&self) -> bool {
        !self.changes.is_empty()
    }
}

/// A stretch of one pass's output and where it came from in that pass's input.
#[derive(Debug, Clone, Copy)]
struct Segment {
    out_start: usize,
    in_start: usize,
    in_end: usize,
    copied: bool,
}

/// Maps an output span of one pass back to that pass's input.
fn map_back(segments: &[Segment], span: Span) -> Span {
    let find = |pos: usize| {
        let i = segments
            .partition_point(|s| s.out_start <= pos)
            .saturating_sub(1);
        segments[i]
    };
    let first = find(span.start);
    let start = if first.copied {
        first.in_start + (span.start - first.out_start)
    } else {
        first.in_start
    };
    let last = find(span.end.saturating_sub(1).max(span.start));
    let end = if last.copied {
        last.in_start + (span.end - last.out_start)
    } else {
        last.in_end
    };
    Span::new(start, end.max(start))
}

pub(crate) fn sanitize(text: &str) -> Sanitized {
    let first = unicode::scan(text);
    let hidden = first
        .hidden
        .iter()
        .map(|h| HiddenText {
            rule: h.technique.rule().to_owned(),
            span: h.span,
            text: h.text.clone(),
        })
        .collect();
    let mut current = text.to_owned();
    let mut passes: Vec<Vec<Segment>> = Vec::new();
    let mut changes = Vec::new();
    let mut scan = first;
    for _ in 0..MAX_PASSES {
        let mut edits = Vec::new();
        let mut covered = 0usize;
        for f in &scan.findings {
            if f.fix == Fix::Keep || f.span.start < covered {
                continue; // overlapping edits wait for the next pass
            }
            covered = f.span.end;
            edits.push(f);
        }
        if edits.is_empty() {
            break;
        }
        let mut out = String::with_capacity(current.len());
        let mut segments = Vec::with_capacity(edits.len() * 2 + 1);
        let mut pos = 0;
        for f in &edits {
            if pos < f.span.start {
                segments.push(Segment {
                    out_start: out.len(),
                    in_start: pos,
                    in_end: f.span.start,
                    copied: true,
                });
                out.push_str(&current[pos..f.span.start]);
            }
            let replacement = match &f.fix {
                Fix::Replace(r) => r.as_str(),
                _ => "",
            };
            segments.push(Segment {
                out_start: out.len(),
                in_start: f.span.start,
                in_end: f.span.end,
                copied: false,
            });
            out.push_str(replacement);
            let span = passes
                .iter()
                .rev()
                .fold(f.span, |s, segs| map_back(segs, s));
            changes.push(Change {
                rule: f.technique.rule().to_owned(),
                span,
                original: current[f.span.start..f.span.end].to_owned(),
                replacement: replacement.to_owned(),
            });
            pos = f.span.end;
        }
        segments.push(Segment {
            out_start: out.len(),
            in_start: pos,
            in_end: current.len(),
            copied: true,
        });
        out.push_str(&current[pos..]);
        passes.push(segments);
        current = out;
        scan = unicode::scan(&current);
    }
    changes.sort_by_key(|c| (c.span.start, c.span.end));
    Sanitized {
        text: current,
        changes,
        hidden,
    }
}
