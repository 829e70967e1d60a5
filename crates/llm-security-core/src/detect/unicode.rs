//! Unicode used to hide or disguise text: detect, decode, and say how to clean it.
//!
//! One pass over the text yields [`Finding`]s (a technique, a byte span and a fix) and the
//! [`Hidden`] payloads that some techniques carry (ASCII in tag characters, bytes in variation
//! selectors). Detection turns findings into threats; [`sanitize`](crate::SecurityEngine::sanitize)
//! applies their fixes. Legitimate uses are left alone on purpose: emoji ZWJ sequences, VS16 and
//! keycaps, subdivision flags, Persian ZWNJ, Indic ZWJ/ZWNJ, Thai and CJK zero-width spaces,
//! balanced bidirectional isolates in Arabic and Hebrew, single-script words in any script.

use std::cell::LazyCell;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::GeneralCategory;
use unicode_script::{Script, UnicodeScript};

use super::chars::{Props, PropsUnion, is_cjk, is_compatibility_letter, is_confusable_script};
use crate::threat::{Severity, Span, Threat, ThreatKind};

const TECHNIQUE_ID: &str = "AML.T0051";

/// A way of abusing Unicode. Its rule id is `unicode.<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Technique {
    TagSmuggling,
    VariationSelectorSmuggling,
    InvisibleInWord,
    InvisiblePadding,
    BidiControl,
    MixedScriptWord,
    CompatibilityLetters,
    ExcessiveMarks,
    PrivateUse,
    Unassigned,
    ControlCharacter,
}

impl Technique {
    pub(crate) fn rule(self) -> &'static str {
        match self {
            Self::TagSmuggling => "unicode.tag_smuggling",
            Self::VariationSelectorSmuggling => "unicode.variation_selector_smuggling",
            Self::InvisibleInWord => "unicode.invisible_in_word",
            Self::InvisiblePadding => "unicode.invisible_padding",
            Self::BidiControl => "unicode.bidi_control",
            Self::MixedScriptWord => "unicode.mixed_script_word",
            Self::CompatibilityLetters => "unicode.compatibility_letters",
            Self::ExcessiveMarks => "unicode.excessive_marks",
            Self::PrivateUse => "unicode.private_use",
            Self::Unassigned => "unicode.unassigned",
            Self::ControlCharacter => "unicode.control_character",
        }
    }

    fn severity(self) -> Severity {
        match self {
            Self::TagSmuggling => Severity::Critical,
            Self::VariationSelectorSmuggling | Self::BidiControl | Self::MixedScriptWord => {
                Severity::High
            }
            Self::InvisibleInWord | Self::InvisiblePadding | Self::ExcessiveMarks => {
                Severity::Medium
            }
            Self::CompatibilityLetters
            | Self::PrivateUse
            | Self::Unassigned
            | Self::ControlCharacter => Severity::Low,
        }
    }

    /// Strong techniques make a text insecure alone; weak anomalies (below the balanced
    /// threshold of 0.5) are reported but need company.
    fn confidence(self) -> f32 {
        match self {
            Self::TagSmuggling => 0.95,
            Self::VariationSelectorSmuggling => 0.9,
            Self::BidiControl => 0.8,
            Self::MixedScriptWord => 0.75,
            Self::InvisibleInWord => 0.6,
            Self::InvisiblePadding | Self::ExcessiveMarks => 0.5,
            // Any two of these stay below the balanced threshold together.
            Self::ControlCharacter => 0.3,
            Self::CompatibilityLetters => 0.25,
            Self::PrivateUse | Self::Unassigned => 0.2,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::TagSmuggling => "Unicode tag characters carry hidden ASCII text.",
            Self::VariationSelectorSmuggling => {
                "A run of variation selectors encodes hidden bytes."
            }
            Self::InvisibleInWord => {
                "Invisible characters split words, a common way to slip past filters."
            }
            Self::InvisiblePadding => "Runs of invisible or filler characters pad the text.",
            Self::BidiControl => {
                "Bidirectional controls override or leave unbalanced the display order (Trojan Source)."
            }
            Self::MixedScriptWord => {
                "A word mixes Latin with look-alike letters from another script."
            }
            Self::CompatibilityLetters => {
                "Fullwidth, mathematical or enclosed letters spell out text."
            }
            Self::ExcessiveMarks => "Stacks of combining marks (Zalgo text) obscure the letters.",
            Self::PrivateUse => "Private-use code points have no agreed meaning.",
            Self::Unassigned => "Unassigned code points or noncharacters.",
            Self::ControlCharacter => "Control characters in text.",
        }
    }
}

/// How to clean one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fix {
    Remove,
    Replace(String),
    Keep,
}

/// One abuse of Unicode in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) technique: Technique,
    pub(crate) span: Span,
    pub(crate) fix: Fix,
}

/// Text that a technique hid, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hidden {
    pub(crate) technique: Technique,
    pub(crate) span: Span,
    pub(crate) text: String,
}

/// Everything one scan found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub(crate) findings: Vec<Finding>,
    pub(crate) hidden: Vec<Hidden>,
}

/// Scans `text` for every technique.
///
/// Every technique concerns non-ASCII characters and their neighbours within a line, so only the
/// lines that hold non-ASCII characters other than inert punctuation and symbols (see
/// [`is_inert`]) get the full scan (consecutive ones as one segment); other lines are only
/// checked for control characters. Mostly-ASCII documents (Markdown, code) then cost little more
/// than one pass over their bytes.
pub(crate) fn scan(text: &str) -> Scan {
    if text.is_ascii() {
        let mut out = Scan::default();
        ascii_controls(text, 0, &mut out);
        return out;
    }
    scan_segments(text, &non_ascii_segments(text))
}

/// Byte ranges of `text` made of whole lines (without their final `\n`) holding non-ASCII
/// characters other than inert punctuation and symbols; runs of such lines form one range.
fn non_ascii_segments(text: &str) -> Vec<(usize, usize)> {
    let mut segments: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    while start <= text.len() {
        let end =
            memchr::memchr(b'\n', &text.as_bytes()[start..]).map_or(text.len(), |i| start + i);
        let line = &text[start..end];
        if !line.is_ascii() && !line.chars().all(|c| c.is_ascii() || is_inert(c)) {
            match segments.last_mut() {
                // The previous line was non-ASCII too: extend its segment over the `\n`.
                Some((_, e)) if *e + 1 == start => *e = end,
                _ => segments.push((start, end)),
            }
        }
        start = end + 1;
    }
    segments
}

/// A non-ASCII character no check can flag or needs, so that a line holding no others is
/// read as ASCII: punctuation and symbols (dashes, arrows, box drawing, math signs, emoji on
/// their own), but not Braille (its pattern characters make the blank one legitimate
/// elsewhere) or enclosed letters (`Ⓐ`, which spell text). Whitespace, format characters,
/// marks, letters and digits are never inert.
fn is_inert(c: char) -> bool {
    use GeneralCategory as G;
    matches!(
        super::chars::category(c),
        G::ConnectorPunctuation
            | G::DashPunctuation
            | G::OpenPunctuation
            | G::ClosePunctuation
            | G::InitialPunctuation
            | G::FinalPunctuation
            | G::OtherPunctuation
            | G::MathSymbol
            | G::CurrencySymbol
            | G::ModifierSymbol
            | G::OtherSymbol
    ) && !matches!(c, '\u{2800}'..='\u{28FF}')
        && !is_compatibility_letter(c)
}

/// The full scan of each segment, the control-character check elsewhere.
fn scan_segments(text: &str, segments: &[(usize, usize)]) -> Scan {
    let mut out = Scan::default();
    // What two checks need to know about the whole text, found only if they ask; such
    // characters are non-ASCII, so they lie in the segments.
    let whole =
        |test: fn(char) -> bool| segments.iter().any(|&(s, e)| text[s..e].chars().any(test));
    let has_braille = LazyCell::new(|| whole(|c| matches!(c, '\u{2801}'..='\u{28FF}')));
    let cjk = LazyCell::new(|| whole(is_cjk));
    let mut soft_hyphens = Vec::new();
    let mut ascii_from = 0;
    for &(s, e) in segments {
        ascii_controls(&text[ascii_from..s], ascii_from, &mut out);
        ascii_from = e;
        // One table lookup per character, shared by every check below.
        let mut chars: Vec<(usize, char)> = Vec::new();
        let mut props: Vec<Props> = Vec::new();
        let mut present = Present::default();
        for (p, c) in text[s..e].char_indices() {
            let pr = Props::of(c);
            present.add(c, pr);
            chars.push((s + p, c));
            props.push(pr);
        }
        let end_of = |i: usize| chars.get(i).map_or(e, |&(p, _)| p);
        if present.controls {
            tags(&chars, &end_of, &mut out);
            variation_selectors(&chars, &end_of, &mut out);
            bidi(&chars, &end_of, &mut out);
        }
        if present.invisibles() {
            let has_braille = || *has_braille;
            invisibles(
                &has_braille,
                &chars,
                &props,
                &end_of,
                &mut out,
                &mut soft_hyphens,
            );
        }
        if present.disguised_letters() {
            let seed = |k: usize| may_disguise(&props, k);
            words(text, &|| *cjk, &chars, &props, &seed, &end_of, &mut out);
        }
        if present.marks() {
            marks(&chars, &props, &end_of, &mut out);
        }
        if present.odd_categories() {
            categories(&chars, &props, &end_of, &mut out);
        }
    }
    ascii_controls(&text[ascii_from..], ascii_from, &mut out);
    // Soft hyphens inside words: flagged only when there are three or more splits in the text.
    if soft_hyphens.len() >= 3 {
        for (s, e) in soft_hyphens {
            push(&mut out, Technique::InvisibleInWord, s, e, Fix::Remove);
        }
    }
    out.findings
        .sort_by_key(|f| (f.span.start, f.span.end, f.technique));
    out.hidden.sort_by_key(|h| (h.technique, h.span.start));
    out
}

/// Which kinds of character a segment holds. Each check flags only around characters of its
/// own kind, so a segment without any skips that check (most text holds none of them).
#[derive(Debug, Default)]
struct Present {
    props: PropsUnion,
    /// Tags, variation selectors or bidirectional controls.
    controls: bool,
}

impl Present {
    /// Counts in `c`, whose properties are `props`.
    fn add(&mut self, c: char, props: Props) {
        self.props.add(props);
        self.controls |= is_tag(c) || is_variation_selector(c) || is_bidi_control(c);
    }

    fn invisibles(&self) -> bool {
        self.props.has_invisible()
    }

    /// Letters of a script with Latin look-alikes, or compatibility letters: what [`words`]
    /// looks for.
    fn disguised_letters(&self) -> bool {
        self.props.has_confusable_script() || self.props.has_compatibility_letter()
    }

    /// Nonspacing or enclosing marks.
    fn marks(&self) -> bool {
        use GeneralCategory as G;
        self.props.has_category(G::NonspacingMark) || self.props.has_category(G::EnclosingMark)
    }

    /// Private-use, unassigned or control characters.
    fn odd_categories(&self) -> bool {
        use GeneralCategory as G;
        [G::PrivateUse, G::Unassigned, G::Control]
            .into_iter()
            .any(|g| self.props.has_category(g))
    }
}

/// Groups findings into one threat per technique.
pub(crate) fn threats(scan: &Scan) -> Vec<Threat> {
    let mut by_technique: std::collections::BTreeMap<Technique, Vec<Span>> = Default::default();
    for f in &scan.findings {
        by_technique.entry(f.technique).or_default().push(f.span);
    }
    by_technique
        .into_iter()
        .map(|(technique, mut spans)| {
            spans.sort();
            spans.dedup();
            let evidence = match scan.hidden.iter().find(|h| h.technique == technique) {
                Some(h) => format!("hidden text: {}", h.text),
                None => format!("{} occurrence(s)", spans.len()),
            };
            spans.truncate(32);
            let mut t = Threat::new(
                ThreatKind::UnicodeAttack,
                technique.severity(),
                technique.confidence(),
                technique.rule(),
            )
            .with_message(technique.message())
            .with_evidence(&evidence)
            .with_technique(TECHNIQUE_ID);
            t.spans = spans;
            t
        })
        .collect()
}

fn is_mark_category(cat: GeneralCategory) -> bool {
    matches!(
        cat,
        GeneralCategory::NonspacingMark
            | GeneralCategory::EnclosingMark
            | GeneralCategory::SpacingMark
    )
}

fn is_alnum_category(cat: GeneralCategory) -> bool {
    matches!(
        cat,
        GeneralCategory::UppercaseLetter
            | GeneralCategory::LowercaseLetter
            | GeneralCategory::TitlecaseLetter
            | GeneralCategory::ModifierLetter
            | GeneralCategory::OtherLetter
            | GeneralCategory::DecimalNumber
            | GeneralCategory::LetterNumber
            | GeneralCategory::OtherNumber
    )
}

fn push(out: &mut Scan, technique: Technique, start: usize, end: usize, fix: Fix) {
    out.findings.push(Finding {
        technique,
        span: Span::new(start, end),
        fix,
    });
}

fn is_tag(c: char) -> bool {
    ('\u{E0000}'..='\u{E007F}').contains(&c)
}

fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}')
}

fn tags(chars: &[(usize, char)], end_of: &dyn Fn(usize) -> usize, out: &mut Scan) {
    let mut i = 0;
    while i < chars.len() {
        if !is_tag(chars[i].1) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_tag(chars[i].1) {
            i += 1;
        }
        let run = &chars[start..i];
        // An emoji subdivision flag (🏴 + lower-case letters/digits + CANCEL TAG) is legitimate.
        let flag = start > 0
            && chars[start - 1].1 == '\u{1F3F4}'
            && run.len() <= 8
            && run.last().is_some_and(|&(_, c)| c == '\u{E007F}')
            && run[..run.len() - 1]
                .iter()
                .all(|&(_, c)| matches!(c, '\u{E0030}'..='\u{E0039}' | '\u{E0061}'..='\u{E007A}'));
        if flag {
            continue;
        }
        let (s, e) = (run[0].0, end_of(i));
        let hidden: String = run
            .iter()
            .filter_map(|&(_, c)| {
                u8::try_from(c as u32 - 0xE0000)
                    .ok()
                    .filter(|b| (0x20..0x7F).contains(b))
            })
            .map(char::from)
            .collect();
        push(out, Technique::TagSmuggling, s, e, Fix::Remove);
        if !hidden.is_empty() {
            out.hidden.push(Hidden {
                technique: Technique::TagSmuggling,
                span: Span::new(s, e),
                text: hidden,
            });
        }
    }
}

fn variation_selectors(chars: &[(usize, char)], end_of: &dyn Fn(usize) -> usize, out: &mut Scan) {
    let mut i = 0;
    while i < chars.len() {
        if !is_variation_selector(chars[i].1) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_variation_selector(chars[i].1) {
            i += 1;
        }
        // One selector after a base is how emoji (VS15/VS16) and ideographic variants work;
        // a run of them is an encoding.
        if i - start < 2 {
            continue;
        }
        let (s, e) = (chars[start].0, end_of(i));
        push(
            out,
            Technique::VariationSelectorSmuggling,
            s,
            e,
            Fix::Remove,
        );
        let bytes: Vec<u8> = chars[start..i]
            .iter()
            .map(|&(_, c)| match c {
                '\u{FE00}'..='\u{FE0F}' => (c as u32 - 0xFE00) as u8,
                _ => (c as u32 - 0xE0100 + 16) as u8,
            })
            .collect();
        if let Ok(text) = String::from_utf8(bytes) {
            let printable = text.chars().filter(|c| !c.is_control()).count();
            if printable * 2 >= text.chars().count() && printable > 0 {
                out.hidden.push(Hidden {
                    technique: Technique::VariationSelectorSmuggling,
                    span: Span::new(s, e),
                    text,
                });
            }
        }
    }
}

/// Fillers that render as blank space while counting as letters.
fn is_filler(c: char) -> bool {
    matches!(
        c,
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}'
    )
}

/// Scripts written without spaces, where U+200B marks word breaks legitimately.
fn uses_zwsp(c: char) -> bool {
    matches!(
        c.script(),
        Script::Thai
            | Script::Lao
            | Script::Khmer
            | Script::Myanmar
            | Script::Tibetan
            | Script::Han
            | Script::Hiragana
            | Script::Katakana
            | Script::Javanese
            | Script::Balinese
    )
}

/// Invisible characters splitting words or padding text. Soft hyphens inside words are added to
/// `soft_hyphens`, for the caller to flag when the whole text has enough of them.
fn invisibles(
    has_braille: &dyn Fn() -> bool,
    chars: &[(usize, char)],
    props: &[Props],
    end_of: &dyn Fn(usize) -> usize,
    out: &mut Scan,
    soft_hyphens: &mut Vec<(usize, usize)>,
) {
    let is_hangul_jamo = |c: char| matches!(c, '\u{1100}'..='\u{11FF}' | '\u{A960}'..='\u{A97F}' | '\u{D7B0}'..='\u{D7FF}');
    let mut i = 0;
    while i < chars.len() {
        if !props[i].is_invisible() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && props[i].is_invisible() {
            i += 1;
        }
        let run = &chars[start..i];
        let (s, e) = (run[0].0, end_of(i));
        let prev = start.checked_sub(1).map(|p| chars[p].1);
        let next = chars.get(i).map(|&(_, c)| c);
        let both_alnum =
            prev.is_some_and(char::is_alphanumeric) && next.is_some_and(char::is_alphanumeric);
        let both_ascii = prev.is_some_and(|c| c.is_ascii_alphanumeric())
            && next.is_some_and(|c| c.is_ascii_alphanumeric());
        // Soft hyphens between two letters or digits (Hangul fillers, in a run, count as
        // letters).
        for k in start..i {
            if chars[k].1 == '\u{00AD}'
                && k > 0
                && chars[k - 1].1.is_alphanumeric()
                && chars.get(k + 1).is_some_and(|&(_, n)| n.is_alphanumeric())
            {
                soft_hyphens.push((chars[k].0, end_of(k + 1)));
            }
        }
        let splits = run.iter().all(|&(_, c)| match c {
            // Joiners and direction marks belong to Persian, Indic and RTL orthography; only
            // flag them between ASCII letters, where they have no use.
            '\u{200C}'..='\u{200F}' | '\u{034F}' => both_ascii,
            '\u{200B}' => {
                both_alnum && !prev.is_some_and(uses_zwsp) && !next.is_some_and(uses_zwsp)
            }
            '\u{00AD}' => both_alnum,
            c if is_filler(c) => false,
            _ => both_alnum,
        });
        let only_soft_hyphens = run.iter().all(|&(_, c)| c == '\u{00AD}');
        if splits && !only_soft_hyphens {
            push(out, Technique::InvisibleInWord, s, e, Fix::Remove);
            continue;
        }
        if splits && only_soft_hyphens {
            // Soft hyphens are ordinary hyphenation hints; they are collected below and only
            // flagged when used heavily.
            continue;
        }
        let fillers = run.iter().filter(|&&(_, c)| is_filler(c)).count();
        let legit_filler = run.iter().all(|&(_, c)| match c {
            '\u{2800}' => has_braille(),
            '\u{115F}' | '\u{1160}' => {
                prev.is_some_and(is_hangul_jamo) || next.is_some_and(is_hangul_jamo)
            }
            _ => true,
        });
        let emoji_joiner = run.len() == 1 && matches!(run[0].1, '\u{200C}' | '\u{200D}');
        if (run.len() >= 3 && !emoji_joiner) || (fillers > 0 && !legit_filler) {
            push(out, Technique::InvisiblePadding, s, e, Fix::Remove);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bidi {
    Embedding,
    Override,
    Isolate,
}

/// Embeddings, overrides, isolates and their terminators.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn bidi(chars: &[(usize, char)], end_of: &dyn Fn(usize) -> usize, out: &mut Scan) {
    let mut stack: Vec<(usize, Bidi)> = Vec::new();
    let mut flagged: Vec<usize> = Vec::new();
    // Controls of the current paragraph, and whether it holds an override: an override has no
    // use but reordering what people see, so every control around it is suspect too.
    let mut paragraph: Vec<usize> = Vec::new();
    let mut has_override = false;
    let end_paragraph = |stack: &mut Vec<(usize, Bidi)>,
                         paragraph: &mut Vec<usize>,
                         has_override: &mut bool,
                         flagged: &mut Vec<usize>| {
        flagged.extend(stack.drain(..).map(|(open, _)| open));
        if *has_override {
            flagged.append(paragraph);
        }
        paragraph.clear();
        *has_override = false;
    };
    for (k, &(_, c)) in chars.iter().enumerate() {
        if is_bidi_control(c) {
            paragraph.push(k);
        }
        match c {
            '\u{202A}' | '\u{202B}' => stack.push((k, Bidi::Embedding)),
            '\u{202D}' | '\u{202E}' => {
                has_override = true;
                stack.push((k, Bidi::Override));
            }
            '\u{2066}'..='\u{2068}' => stack.push((k, Bidi::Isolate)),
            '\u{202C}' => match stack.last() {
                Some(&(_, kind)) if kind != Bidi::Isolate => {
                    stack.pop();
                }
                _ => flagged.push(k),
            },
            '\u{2069}' => {
                if stack.iter().any(|&(_, kind)| kind == Bidi::Isolate) {
                    while let Some((open, kind)) = stack.pop() {
                        if kind == Bidi::Isolate {
                            break;
                        }
                        flagged.push(open);
                    }
                } else {
                    flagged.push(k);
                }
            }
            '\n' | '\r' | '\u{2029}' | '\u{1C}'..='\u{1E}' | '\u{85}' => {
                end_paragraph(&mut stack, &mut paragraph, &mut has_override, &mut flagged);
            }
            _ => {}
        }
    }
    end_paragraph(&mut stack, &mut paragraph, &mut has_override, &mut flagged);
    flagged.sort_unstable();
    flagged.dedup();
    for k in flagged {
        push(
            out,
            Technique::BidiControl,
            chars[k].0,
            end_of(k + 1),
            Fix::Remove,
        );
    }
}

/// The single ASCII letter a character is confusable with (UTS #39 skeleton), if any.
pub(crate) fn latin_lookalike(c: char) -> Option<char> {
    if c.is_ascii() {
        return None;
    }
    let mut buf = [0u8; 4];
    let mut skeleton = unicode_security::skeleton(c.encode_utf8(&mut buf));
    let first = skeleton.next()?;
    (skeleton.next().is_none() && first.is_ascii_alphabetic()).then_some(first)
}

/// The ASCII letter or digit a fullwidth, mathematical or enclosed character stands for.
pub(crate) fn fold_compatibility(c: char) -> Option<char> {
    if !is_compatibility_letter(c) {
        return None;
    }
    fold_compatibility_by_blocks(c)
}

/// [`fold_compatibility`] without the table's quick answer, from which the table is built.
pub(crate) fn fold_compatibility_by_blocks(c: char) -> Option<char> {
    let offset = |base: char, first: char| char::from_u32(first as u32 + (c as u32 - base as u32));
    match c {
        '\u{FF21}'..='\u{FF3A}' => offset('\u{FF21}', 'A'),
        '\u{FF41}'..='\u{FF5A}' => offset('\u{FF41}', 'a'),
        '\u{FF10}'..='\u{FF19}' => offset('\u{FF10}', '0'),
        '\u{24B6}'..='\u{24CF}' => offset('\u{24B6}', 'A'),
        '\u{24D0}'..='\u{24E9}' => offset('\u{24D0}', 'a'),
        '\u{249C}'..='\u{24B5}' => offset('\u{249C}', 'a'),
        '\u{1F130}'..='\u{1F149}' => offset('\u{1F130}', 'A'),
        '\u{1F150}'..='\u{1F169}' => offset('\u{1F150}', 'A'),
        '\u{1F170}'..='\u{1F189}' => offset('\u{1F170}', 'A'),
        '\u{1D400}'..='\u{1D7FF}' => {
            let mut folded = std::iter::once(c).nfkc();
            let first = folded.next()?;
            (folded.next().is_none() && first.is_ascii_alphanumeric()).then_some(first)
        }
        _ => None,
    }
}

fn is_fullwidth(c: char) -> bool {
    matches!(c, '\u{FF01}'..='\u{FF5E}')
}

/// Whether the character at `k` may be what makes its word one that [`words`] flags: a letter
/// of a script with Latin look-alikes, or a compatibility letter.
fn may_disguise(props: &[Props], k: usize) -> bool {
    props[k].is_confusable_script() || props[k].is_compatibility_letter()
}

/// Words mixing scripts or spelled in compatibility letters; `cjk` says whether the whole text
/// has Chinese, Japanese or Korean characters. Only the words around the characters for which
/// `seed` holds are looked at ([`may_disguise`]: no other word can be flagged).
fn words(
    text: &str,
    cjk: &dyn Fn() -> bool,
    chars: &[(usize, char)],
    props: &[Props],
    seed: &dyn Fn(usize) -> bool,
    end_of: &dyn Fn(usize) -> usize,
    out: &mut Scan,
) {
    let is_word = |k: usize| {
        let cat = props[k].category();
        (is_alnum_category(cat) || is_mark_category(cat) || props[k].is_compatibility_letter())
            && !is_variation_selector(chars[k].1)
    };
    let mut i = 0;
    while i < chars.len() {
        if !(seed(i) && is_word(i)) {
            i += 1;
            continue;
        }
        // The word around the seed; it starts after the end of the last word looked at, since
        // a character that is not part of a word ended that one.
        let mut start = i;
        while start > 0 && is_word(start - 1) {
            start -= 1;
        }
        while i < chars.len() && is_word(i) {
            i += 1;
        }
        let word = &chars[start..i];
        let (s, e) = (word[0].0, end_of(i));
        if word.iter().all(|&(_, c)| c.is_ascii()) {
            continue;
        }
        // Mixed scripts: Latin letters next to letters of another script that look Latin.
        let word_props = &props[start..i];
        let has_latin = word_props.iter().any(|p| p.is_latin());
        let lookalikes = has_latin
            && word
                .iter()
                .zip(word_props)
                .any(|(&(_, c), p)| p.is_confusable_script() && latin_lookalike(c).is_some());
        if lookalikes {
            let replaced: String = text[s..e]
                .chars()
                .map(|c| {
                    if is_confusable_script(c) {
                        latin_lookalike(c).unwrap_or(c)
                    } else {
                        c
                    }
                })
                .collect();
            let fix = if replaced == text[s..e] {
                Fix::Keep
            } else {
                Fix::Replace(replaced)
            };
            push(out, Technique::MixedScriptWord, s, e, fix);
        }
        // Compatibility letters spelling text: runs of three or more letters inside the word.
        // Fullwidth forms are ordinary in Chinese, Japanese and Korean text.
        let counts = |c: char| is_compatibility_letter(c) && !(is_fullwidth(c) && cjk());
        let mut k = 0;
        while k < word.len() {
            if !counts(word[k].1) {
                k += 1;
                continue;
            }
            let run_start = k;
            while k < word.len() && counts(word[k].1) {
                k += 1;
            }
            let letters = word[run_start..k]
                .iter()
                .filter(|&&(_, c)| fold_compatibility(c).is_some_and(|a| a.is_ascii_alphabetic()))
                .count();
            if letters >= 3 {
                let rs = word[run_start].0;
                let re = end_of(start + k);
                let folded: String = text[rs..re]
                    .chars()
                    .filter_map(fold_compatibility)
                    .collect();
                push(
                    out,
                    Technique::CompatibilityLetters,
                    rs,
                    re,
                    Fix::Replace(folded),
                );
            }
        }
    }
}

/// Zalgo: more than four combining marks on one base. Keeps the first two.
fn marks(
    chars: &[(usize, char)],
    props: &[Props],
    end_of: &dyn Fn(usize) -> usize,
    out: &mut Scan,
) {
    let stackable = |k: usize| {
        matches!(
            props[k].category(),
            GeneralCategory::NonspacingMark | GeneralCategory::EnclosingMark
        ) && !is_variation_selector(chars[k].1)
    };
    let mut i = 0;
    while i < chars.len() {
        if !stackable(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && stackable(i) {
            i += 1;
        }
        if i - start >= 5 {
            push(
                out,
                Technique::ExcessiveMarks,
                chars[start + 2].0,
                end_of(i),
                Fix::Remove,
            );
        }
    }
}

fn categories(
    chars: &[(usize, char)],
    props: &[Props],
    end_of: &dyn Fn(usize) -> usize,
    out: &mut Scan,
) {
    for (k, &(p, c)) in chars.iter().enumerate() {
        let technique = match props[k].category() {
            GeneralCategory::PrivateUse => Technique::PrivateUse,
            GeneralCategory::Unassigned if !is_tag(c) => Technique::Unassigned,
            GeneralCategory::Control if !matches!(c, '\t' | '\n' | '\r') => {
                Technique::ControlCharacter
            }
            _ => continue,
        };
        push(out, technique, p, end_of(k + 1), Fix::Remove);
    }
}

/// ASCII control characters in `text`, which starts at byte `offset` of the whole text.
fn ascii_controls(text: &str, offset: usize, out: &mut Scan) {
    let control = |b: u8| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7F;
    // A vectorized look at 64 bytes at a time; only a block with a control is read byte by byte.
    for (n, block) in text.as_bytes().chunks(64).enumerate() {
        if !block.iter().fold(false, |any, &b| any | control(b)) {
            continue;
        }
        for (p, &b) in block.iter().enumerate() {
            if control(b) {
                let at = offset + n * 64 + p;
                push(out, Technique::ControlCharacter, at, at + 1, Fix::Remove);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_folding() {
        assert_eq!(fold_compatibility('Ａ'), Some('A'));
        assert_eq!(fold_compatibility('ⓩ'), Some('z'));
        assert_eq!(fold_compatibility('𝐢'), Some('i'));
        assert_eq!(fold_compatibility('🅰'), Some('A'));
        assert_eq!(fold_compatibility('a'), None);
        assert_eq!(latin_lookalike('а'), Some('a'));
        assert_eq!(latin_lookalike('ж'), None);
    }

    fn same(a: &Scan, b: &Scan) -> bool {
        a.findings == b.findings && a.hidden == b.hidden
    }

    proptest::proptest! {
        /// Scanning only the non-ASCII lines finds exactly what scanning the whole text as one
        /// segment finds.
        #[test]
        fn segments_find_what_the_whole_text_finds(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "a", "word ", "\n", "\r\n", " ", "\u{7}", "é", "а", "р", "е", "\u{AD}", "\u{200B}",
                "\u{200D}", "\u{2800}", "\u{2801}", "\u{202E}", "\u{202C}", "\u{2066}", "\u{2069}",
                "\u{E0041}", "\u{E0062}", "\u{E007F}", "\u{1F3F4}", "\u{FE0F}", "\u{E0100}", "\u{FE01}",
                "\u{301}", "ｆｕｌｌ", "𝐛𝐨𝐥𝐝", "中", "\u{E000}", "\u{85}", "\u{2029}", "\u{115F}",
                "\u{2192}", "\u{2014}", "\u{2264}", "\u{2500}", "\u{D7}", "\u{1F469}", "\u{24B6}",
                "\u{A0}", "\u{B5}", "\u{FF01}", "\u{3002}",
            ]), 0..60)
        ) {
            let text: String = parts.concat();
            let whole = scan_segments(&text, &[(0, text.len())]);
            proptest::prop_assert!(same(&scan(&text), &whole), "{:?}", text);
        }
    }

    proptest::proptest! {
        /// Looking only at the words around letters that may disguise one finds what looking
        /// at every word finds.
        #[test]
        fn words_around_the_seeds_are_every_word_that_is_flagged(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "a", "p", "word", " ", "-", "'", "а", "р", "е", "ж", "Ω", "ο", "\u{301}", "ｆｕｌｌ",
                "Ａ", "𝐛𝐨𝐥𝐝", "ⓐ", "中", "é", "1", "１", "\u{FE0F}", "\u{200B}", "\u{37E}",
            ]), 0..40)
        ) {
            let text: String = parts.concat();
            let chars: Vec<(usize, char)> = text.char_indices().collect();
            let props: Vec<Props> = chars.iter().map(|&(_, c)| Props::of(c)).collect();
            let end_of = |i: usize| chars.get(i).map_or(text.len(), |&(p, _)| p);
            let cjk = || text.chars().any(is_cjk);
            let (mut seeded, mut every) = (Scan::default(), Scan::default());
            let seed = |k: usize| may_disguise(&props, k);
            words(&text, &cjk, &chars, &props, &seed, &end_of, &mut seeded);
            words(&text, &cjk, &chars, &props, &|_| true, &end_of, &mut every);
            proptest::prop_assert!(same(&seeded, &every), "{:?}", text);
        }
    }

    proptest::proptest! {
        #[test]
        fn control_characters_are_found_at_every_offset(
            t in "[a \t\n\r\x00-\x1f\x7f]{0,300}",
            offset in 0usize..1000,
        ) {
            let mut out = Scan::default();
            ascii_controls(&t, offset, &mut out);
            let found: Vec<usize> = out.findings.iter().map(|f| f.span.start).collect();
            let expected: Vec<usize> = t
                .bytes()
                .enumerate()
                .filter(|&(_, b)| (b < 0x20 && !b"\t\n\r".contains(&b)) || b == 0x7F)
                .map(|(p, _)| offset + p)
                .collect();
            proptest::prop_assert_eq!(found, expected);
        }
    }

    #[test]
    fn inert_lines_are_only_those_no_check_needs() {
        for text in [
            // Braille patterns make the blank pattern on another line legitimate.
            "\u{2801}\u{2802}\u{2803}\nx\u{2800}y",
            // Enclosed letters spell text.
            "\u{24B6}\u{24B7}\u{24B8} word\nplain",
            // Arrows and dashes alone need nothing.
            "a \u{2192} b \u{2014} c\nd\u{200B}e",
        ] {
            let whole = scan_segments(text, &[(0, text.len())]);
            assert!(same(&scan(text), &whole), "{text:?}");
        }
        assert!(!scan("\u{24B6}\u{24B7}\u{24B8} word").findings.is_empty());
        assert!(is_inert('\u{2192}') && is_inert('\u{2014}') && is_inert('\u{1F469}'));
        assert!(!is_inert('\u{2801}') && !is_inert('\u{24B6}') && !is_inert('\u{A0}'));
    }

    #[test]
    fn segments_are_the_runs_of_non_ascii_lines() {
        let text = "ascii\nnoñ\nalso é\nplain \u{2192} \u{2014}\n\nlast ü";
        let got: Vec<&str> = non_ascii_segments(text)
            .iter()
            .map(|&(s, e)| &text[s..e])
            .collect();
        assert_eq!(got, ["noñ\nalso é", "last ü"]);
    }
}
