//! Validating output as a model streams it.

use std::time::{Duration, Instant};

use crate::analysis::{Analysis, ValidationResult};
use crate::engine::SecurityEngine;
use crate::error::Error;
use crate::event::Direction;
use crate::output::OutputContext;
use crate::threat::{Span, Threat};

/// Bytes of already-released text kept to find threats that span chunk boundaries.
const LOOKBACK: usize = 4096;
/// Longest suffix ever held back, bounding memory whatever the model sends.
const MAX_HOLD: usize = 16 * 1024;
/// How far back an unclosed construct (`<`, `[`, an escape sequence) is looked for.
const CONSTRUCT_WINDOW: usize = 2048;
/// Most threats kept for [`OutputStream::finish`].
const MAX_THREATS: usize = 1024;

/// What one [`OutputStream::push`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamUpdate {
    /// Threats that became certain with this chunk. Spans are byte offsets into the whole
    /// stream so far. A finding already reported is not reported again; if it grew, only the
    /// new bytes are.
    pub threats: Vec<Threat>,
    /// Every byte of the stream before this offset is final: a caller may pass it through.
    /// The bytes after it might still turn out to be (part of) a threat and are held back.
    pub release_to: usize,
}

/// Validates model output chunk by chunk, as it is generated.
///
/// Each chunk is appended to a window (the held-back suffix plus up to 4 KiB of released
/// text) that is validated again, so a secret, tag or escape sequence split across chunks is
/// still found. A threat is reported as soon as it is certain: when no later byte can change
/// it. [`StreamUpdate::release_to`] says how far the caller may pass the output through; only
/// the trailing token and unfinished constructs (an open `<` tag, an open markdown link, an
/// unterminated escape sequence, an unfinished PEM header, digit groups of a number still being
/// written, an unclosed bidirectional isolate) are held back, never more than 16 KiB. Memory is
/// bounded whatever the stream length.
///
/// Findings that span whitespace (a phone number written in groups, a reproduced system prompt)
/// can include bytes released before the finding was complete; redact downstream if that
/// matters.
///
/// ```
/// use llm_security_core::SecurityEngine;
/// let engine = SecurityEngine::new();
/// let mut stream = engine.output_stream();
/// let first = stream.push("Your key is AKIAZ7Q3ME").unwrap();
/// assert!(first.threats.is_empty());
/// assert_eq!(first.release_to, "Your key is ".len()); // the partial key is held back
/// let second = stream.push("XAMPLE4RTY, keep it safe.").unwrap();
/// assert_eq!(second.threats[0].rule, "secret.aws.access_key_id");
/// let result = stream.finish().unwrap();
/// assert!(!result.is_secure());
/// ```
#[derive(Debug)]
pub struct OutputStream {
    engine: SecurityEngine,
    context: OutputContext,
    window: String,
    base: usize,
    released: usize,
    pending: Vec<u8>,
    reported: Vec<(String, Span)>,
    threats: Vec<Threat>,
    busy: Duration,
}

impl OutputStream {
    pub(crate) fn new(engine: SecurityEngine, context: OutputContext) -> Self {
        Self {
            engine,
            context,
            window: String::new(),
            base: 0,
            released: 0,
            pending: Vec::new(),
            reported: Vec::new(),
            threats: Vec::new(),
            busy: Duration::ZERO,
        }
    }

    /// Appends a chunk of text.
    pub fn push(&mut self, chunk: &str) -> Result<StreamUpdate, Error> {
        self.window.push_str(chunk);
        self.scan(false)
    }

    /// Appends a chunk of bytes. A UTF-8 sequence split across chunks is completed by the next
    /// chunk; invalid bytes become U+FFFD.
    pub fn push_bytes(&mut self, chunk: &[u8]) -> Result<StreamUpdate, Error> {
        self.pending.extend_from_slice(chunk);
        let mut consumed = 0;
        loop {
            match std::str::from_utf8(&self.pending[consumed..]) {
                Ok(s) => {
                    self.window.push_str(s);
                    consumed = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid = consumed + e.valid_up_to();
                    let text =
                        std::str::from_utf8(&self.pending[consumed..valid]).unwrap_or_default();
                    self.window.push_str(text);
                    match e.error_len() {
                        Some(bad) => {
                            self.window.push('\u{FFFD}');
                            consumed = valid + bad;
                        }
                        None => {
                            consumed = valid;
                            break;
                        }
                    }
                }
            }
        }
        self.pending.drain(..consumed);
        self.scan(false)
    }

    /// Bytes of the stream that may be passed through so far.
    pub fn released(&self) -> usize {
        self.released
    }

    /// Ends the stream: everything held back is validated as final. Returns every threat the
    /// stream reported (spans into the whole stream). The result carries no redacted text,
    /// since the stream does not keep the whole output.
    pub fn finish(mut self) -> Result<ValidationResult, Error> {
        if !self.pending.is_empty() {
            self.window.push('\u{FFFD}');
            self.pending.clear();
        }
        self.scan(true)?;
        let mut best: std::collections::BTreeMap<&str, f32> = Default::default();
        for t in &self.threats {
            let e = best.entry(t.rule.as_str()).or_insert(0.0);
            *e = e.max(t.confidence);
        }
        let score = 1.0 - best.values().map(|c| 1.0 - c).product::<f32>();
        let threshold = self.engine.config().effective_threshold();
        Ok(Analysis::new(
            Direction::Output,
            std::mem::take(&mut self.threats),
            score,
            threshold,
            self.busy,
        ))
    }

    fn scan(&mut self, last: bool) -> Result<StreamUpdate, Error> {
        let started = Instant::now();
        let analysis = self.engine.validate_with(&self.window, &self.context)?;
        let hold = if last {
            self.window.len()
        } else {
            hold_from(&self.window)
        };
        let mut update = StreamUpdate::default();
        for threat in analysis.threats() {
            let fresh: Vec<Span> = threat
                .spans
                .iter()
                .filter(|s| s.end <= hold)
                .map(|s| Span::new(s.start + self.base, s.end + self.base))
                .flat_map(|s| uncovered(&self.reported, &threat.rule, s))
                .collect();
            if fresh.is_empty() {
                continue;
            }
            self.reported
                .extend(fresh.iter().map(|s| (threat.rule.clone(), *s)));
            let mut t = threat.clone();
            t.spans = fresh;
            if self.threats.len() < MAX_THREATS {
                self.threats.push(t.clone());
            }
            update.threats.push(t);
        }
        self.released = self.released.max(self.base + hold);
        update.release_to = self.released;
        // Keep the held suffix and some released text for the next scan.
        let keep_from = floor_boundary(&self.window, hold.saturating_sub(LOOKBACK));
        if keep_from > 0 {
            self.window.drain(..keep_from);
            self.base += keep_from;
            let base = self.base;
            self.reported.retain(|(_, s)| s.end + LOOKBACK >= base);
        }
        self.busy += started.elapsed();
        Ok(update)
    }
}

/// The parts of `span` that no earlier report of `rule` covered.
fn uncovered(reported: &[(String, Span)], rule: &str, span: Span) -> Vec<Span> {
    let mut pieces = vec![span];
    for (_, r) in reported.iter().filter(|(id, _)| id == rule) {
        pieces = pieces
            .into_iter()
            .flat_map(|p| {
                if r.end <= p.start || p.end <= r.start {
                    vec![p]
                } else {
                    let mut v = Vec::new();
                    if p.start < r.start {
                        v.push(Span::new(p.start, r.start));
                    }
                    if r.end < p.end {
                        v.push(Span::new(r.end, p.end));
                    }
                    v
                }
            })
            .collect();
    }
    pieces
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Where the suffix that might still become (part of) a threat begins.
fn hold_from(w: &str) -> usize {
    let len = w.len();
    // The trailing token: a secret, URL, e-mail or escape sequence may still be growing.
    let mut hold = w
        .rfind(|c: char| c.is_whitespace())
        .map_or(0, |i| i + w[i..].chars().next().map_or(1, char::len_utf8));
    // Groups of a number or an IBAN being written ("4111 1111 11", "GB82 WEST 12").
    let group = |t: &str| {
        !t.is_empty()
            && t.len() <= 6
            && t.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase() || "+().-".contains(c))
    };
    loop {
        let before = w[..hold].trim_end();
        let start = before
            .char_indices()
            .rfind(|&(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        if before.len() == hold || !group(&before[start..]) || len - start > 48 {
            break;
        }
        hold = start;
    }
    let tail_start = floor_boundary(w, len.saturating_sub(CONSTRUCT_WINDOW));
    let tail = &w[tail_start..];
    let mut held = |at: usize| hold = hold.min(tail_start + at);
    if let Some(lt) = tail.rfind('<')
        && !tail[lt..].contains('>')
    {
        held(lt);
    }
    let link_open = tail
        .match_indices('[')
        .map(|(i, _)| i)
        .rfind(|&i| i == 0 || tail.as_bytes()[i - 1] != 0x1b);
    if let Some(lb) = link_open {
        let after = &tail[lb..];
        if !after.contains(')') && !after.contains("\n\n") {
            held(if lb > 0 && tail.as_bytes()[lb - 1] == b'!' {
                lb - 1
            } else {
                lb
            });
        }
    }
    if let Some(esc) = tail.rfind('\u{1b}')
        && !escape_complete(&tail[esc..])
    {
        held(esc);
    }
    if let Some(pem) = tail.rfind("-----BEGIN")
        && !tail[pem + 10..].contains("-----")
    {
        held(pem);
    }
    // An isolate or embedding still open in the last paragraph may yet be closed.
    let paragraph = tail.rfind('\n').map_or(0, |i| i + 1);
    if let Some(open) = tail[paragraph..].find([
        '\u{202A}', '\u{202B}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
    ]) {
        held(paragraph + open);
    }
    hold.max(len.saturating_sub(MAX_HOLD)).min(len)
}

fn escape_complete(seq: &str) -> bool {
    let b = seq.as_bytes();
    match b.get(1) {
        None => false,
        Some(b'[') => b[2..].iter().any(|&c| (0x40..=0x7e).contains(&c)),
        Some(b']' | b'P' | b'X' | b'^' | b'_') => {
            seq.contains('\u{7}') || seq[1..].contains("\u{1b}\\")
        }
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_only_what_may_still_grow() {
        assert_eq!(hold_from("hello wor"), 6);
        assert_eq!(hold_from("hello world "), 12);
        assert_eq!(hold_from("card 4111 1111 11"), 5);
        assert_eq!(hold_from("see ![img](https://x.exa"), 4);
        assert_eq!(hold_from("ok \u{1b}]8;;http://x "), 3);
        assert_eq!(hold_from("ok \u{1b}[2J done "), 13);
        assert_eq!(hold_from("key -----BEGIN RSA "), 4);
        // Multi-byte whitespace before digit groups (found by proptest).
        assert_eq!(hold_from("a\u{2002}12 34"), 1 + 3);
    }

    #[test]
    fn uncovered_subtracts_earlier_reports() {
        let reported = vec![("r".to_owned(), Span::new(5, 10))];
        assert_eq!(
            uncovered(&reported, "r", Span::new(0, 20)),
            vec![Span::new(0, 5), Span::new(10, 20)]
        );
        assert_eq!(uncovered(&reported, "r", Span::new(6, 9)), vec![]);
        assert_eq!(
            uncovered(&reported, "other", Span::new(6, 9)),
            vec![Span::new(6, 9)]
        );
    }
}
