//! Invisible and bidirectional Unicode that hides text from people but not from models.
//!
//! This first set covers the characters that have no business in a prompt:
//! tag characters carrying hidden ASCII, bidirectional overrides and isolates, and
//! zero-width characters splitting a word. Joiners (ZWJ, ZWNJ) and variation selectors are
//! left alone: emoji, Persian and Indic scripts use them legitimately.

use crate::threat::{Severity, Span, Threat, ThreatKind};

const TECHNIQUE: &str = "AML.T0051";

/// Runs the Unicode checks over `text`.
pub(crate) fn scan(text: &str) -> Vec<Threat> {
    let mut threats = Vec::new();
    tag_smuggling(text, &mut threats);
    bidi_controls(text, &mut threats);
    split_words(text, &mut threats);
    threats
}

fn tag_smuggling(text: &str, out: &mut Vec<Threat>) {
    let mut hidden = String::new();
    let mut spans: Vec<Span> = Vec::new();
    for (pos, c) in text.char_indices() {
        if ('\u{E0000}'..='\u{E007F}').contains(&c) {
            let end = pos + c.len_utf8();
            match spans.last_mut() {
                Some(last) if last.end == pos => last.end = end,
                _ => spans.push(Span::new(pos, end)),
            }
            let ascii = (c as u32 - 0xE0000) as u8;
            if (0x20..0x7F).contains(&ascii) {
                hidden.push(ascii as char);
            }
        }
    }
    if spans.is_empty() {
        return;
    }
    let mut t = Threat::new(
        ThreatKind::UnicodeAttack,
        Severity::Critical,
        0.95,
        "unicode.tag_smuggling",
    )
    .with_message("Unicode tag characters carry hidden ASCII text.")
    .with_evidence(&format!("hidden text: {hidden}"))
    .with_technique(TECHNIQUE);
    t.spans = spans;
    out.push(t);
}

fn bidi_controls(text: &str, out: &mut Vec<Threat>) {
    let spans: Vec<Span> = text
        .char_indices()
        .filter(|(_, c)| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        .map(|(p, c)| Span::new(p, p + c.len_utf8()))
        .collect();
    if spans.is_empty() {
        return;
    }
    let mut t = Threat::new(
        ThreatKind::UnicodeAttack,
        Severity::High,
        0.8,
        "unicode.bidi_control",
    )
    .with_message(
        "Bidirectional control characters can make text read differently than it is processed.",
    )
    .with_evidence(&format!(
        "{} bidirectional control character(s)",
        spans.len()
    ))
    .with_technique(TECHNIQUE);
    t.spans = spans;
    out.push(t);
}

/// Zero-width space, word joiner, invisible operators, BOM and soft hyphen between two letters.
fn split_words(text: &str, out: &mut Vec<Threat>) {
    let splitter = |c: char| {
        matches!(
            c,
            '\u{200B}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}'
        )
    };
    let mut spans: Vec<Span> = Vec::new();
    let mut prev: Option<char> = None;
    let mut run: Option<usize> = None;
    for (pos, c) in text.char_indices() {
        if splitter(c) {
            run.get_or_insert(pos);
            continue;
        }
        if let Some(start) = run.take()
            && prev.is_some_and(char::is_alphanumeric)
            && c.is_alphanumeric()
        {
            spans.push(Span::new(start, pos));
        }
        prev = Some(c);
    }
    // A soft hyphen alone inside a long word is ordinary typography; flag it only when other
    // splitters are present or it is used repeatedly.
    let only_soft_hyphens = spans
        .iter()
        .all(|s| text[s.start..s.end].chars().all(|c| c == '\u{00AD}'));
    if spans.is_empty() || (only_soft_hyphens && spans.len() < 3) {
        return;
    }
    let mut t = Threat::new(
        ThreatKind::UnicodeAttack,
        Severity::Medium,
        0.6,
        "unicode.invisible_in_word",
    )
    .with_message("Invisible characters split words, a common way to slip past filters.")
    .with_evidence(&format!("{} invisible split(s)", spans.len()))
    .with_technique(TECHNIQUE);
    t.spans = spans;
    out.push(t);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<String> {
        scan(text).into_iter().map(|t| t.rule).collect()
    }

    #[test]
    fn decodes_tag_characters() {
        let hidden: String = "hi"
            .chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap())
            .collect();
        let threats = scan(&format!("hello{hidden}"));
        assert_eq!(threats[0].rule, "unicode.tag_smuggling");
        assert_eq!(threats[0].evidence, "hidden text: hi");
        assert_eq!(threats[0].spans, vec![Span::new(5, 13)]);
    }

    #[test]
    fn flags_splits_but_not_joiners_in_legitimate_text() {
        assert_eq!(rules("ig\u{200B}nore"), vec!["unicode.invisible_in_word"]);
        assert!(rules("👩\u{200D}💻 ❤\u{FE0F}").is_empty());
        assert!(rules("می\u{200C}خواهم").is_empty());
        assert!(rules("क्\u{200D}ष").is_empty());
        assert!(rules("hyphen\u{00AD}ation").is_empty());
        assert_eq!(rules("a\u{202E}b"), vec!["unicode.bidi_control"]);
    }
}
