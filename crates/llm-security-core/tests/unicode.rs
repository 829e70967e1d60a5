//! The Unicode corpus (`testdata/unicode.toml`) and properties of `sanitize`.

use llm_security_core::{SecurityConfig, SecurityEngine};
use proptest::prelude::*;
use serde::Deserialize;

const CORPUS: &str = include_str!("../testdata/unicode.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    input: String,
    #[serde(default)]
    append_tags: Option<String>,
    #[serde(default)]
    append_vs: Option<String>,
    expect: Vec<String>,
    #[serde(default)]
    secure: Option<bool>,
    #[serde(default)]
    sanitized: Option<String>,
    #[serde(default)]
    hidden: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Corpus {
    case: Vec<Case>,
}

fn input_of(case: &Case) -> String {
    let mut text = case.input.clone();
    if let Some(hidden) = &case.append_tags {
        text.extend(
            hidden
                .bytes()
                .map(|b| char::from_u32(0xE0000 + u32::from(b)).unwrap()),
        );
    }
    if let Some(hidden) = &case.append_vs {
        text.push('😀');
        text.extend(hidden.bytes().map(|b| match b {
            0..=15 => char::from_u32(0xFE00 + u32::from(b)).unwrap(),
            _ => char::from_u32(0xE0100 + u32::from(b) - 16).unwrap(),
        }));
    }
    text
}

fn engine() -> SecurityEngine {
    SecurityEngine::with_config(SecurityConfig::new())
}

#[test]
fn corpus() {
    let corpus: Corpus = toml::from_str(CORPUS).unwrap();
    let engine = engine();
    let mut failures = Vec::new();
    for case in &corpus.case {
        let text = input_of(case);
        let analysis = engine.analyze(&text).unwrap();
        let fired: Vec<&str> = analysis.threats().iter().map(|t| t.rule.as_str()).collect();
        // Legitimate Unicode must draw no finding from the detectors that read characters. The
        // classifier lists its opinion from 0.25, well below the threshold, and reads words, not
        // code points; whether the text passes as a whole is the `secure` check below.
        let unexpected: Vec<&str> = fired
            .iter()
            .copied()
            .filter(|r| !r.starts_with("model."))
            .collect();
        if case.expect.is_empty() && !unexpected.is_empty() {
            failures.push(format!(
                "{}: expected no threat, got {unexpected:?}",
                case.name
            ));
        }
        for rule in &case.expect {
            if !fired.contains(&rule.as_str()) {
                failures.push(format!(
                    "{}: {rule} did not fire (got {fired:?})",
                    case.name
                ));
            }
        }
        if let Some(secure) = case.secure
            && analysis.is_secure() != secure
        {
            failures.push(format!(
                "{}: expected secure={secure}, score {}",
                case.name,
                analysis.score()
            ));
        }
        for t in analysis.threats() {
            for s in &t.spans {
                assert!(
                    text.is_char_boundary(s.start)
                        && text.is_char_boundary(s.end)
                        && s.start < s.end,
                    "{}",
                    case.name
                );
            }
        }
        let sanitized = engine.sanitize(&text).unwrap();
        if let Some(expected) = &case.sanitized
            && &sanitized.text != expected
        {
            failures.push(format!(
                "{}: sanitized to {:?}, expected {expected:?}",
                case.name, sanitized.text
            ));
        }
        if let Some(hidden) = &case.hidden
            && !sanitized.hidden.iter().any(|h| &h.text == hidden)
        {
            failures.push(format!(
                "{}: hidden text not reported: {:?}",
                case.name, sanitized.hidden
            ));
        }
        if case.expect.is_empty() && sanitized.is_changed() {
            failures.push(format!(
                "{}: legitimate text was changed: {:?}",
                case.name, sanitized.changes
            ));
        }
        for change in &sanitized.changes {
            if text[change.span.start..change.span.end] != change.original {
                failures.push(format!(
                    "{}: change {change:?} does not point at its original bytes",
                    case.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_technique_has_a_positive_case() {
    let corpus: Corpus = toml::from_str(CORPUS).unwrap();
    for rule in [
        "tag_smuggling",
        "variation_selector_smuggling",
        "invisible_in_word",
        "invisible_padding",
        "bidi_control",
        "mixed_script_word",
        "compatibility_letters",
        "excessive_marks",
        "private_use",
        "unassigned",
        "control_character",
    ] {
        let id = format!("unicode.{rule}");
        assert!(
            corpus.case.iter().any(|c| c.expect.contains(&id)),
            "no positive case for {id}"
        );
    }
}

fn arbitrary_text() -> impl Strategy<Value = String> {
    // Ordinary text mixed with every class of character the checks care about.
    let special = prop::sample::select(vec![
        '\u{200B}',
        '\u{200C}',
        '\u{200D}',
        '\u{2060}',
        '\u{FEFF}',
        '\u{00AD}',
        '\u{202A}',
        '\u{202B}',
        '\u{202C}',
        '\u{202D}',
        '\u{202E}',
        '\u{2066}',
        '\u{2067}',
        '\u{2068}',
        '\u{2069}',
        '\u{FE0F}',
        '\u{FE00}',
        '\u{E0100}',
        '\u{E0041}',
        '\u{E007F}',
        '\u{1F3F4}',
        '\u{0301}',
        '\u{0336}',
        '\u{E000}',
        '\u{FDD0}',
        '\u{0000}',
        '\u{001B}',
        '\u{3164}',
        '\u{2800}',
        'а',
        'е',
        'ο',
        'Ａ',
        'ⓐ',
        '𝐚',
        '\n',
        ' ',
        'a',
        'b',
        'é',
        'ж',
        'क',
        '्',
        '中',
        '😀',
    ]);
    prop_oneof![
        prop::collection::vec(special, 0..60).prop_map(|v| v.into_iter().collect()),
        "\\PC{0,80}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn sanitize_is_idempotent_and_never_panics(text in arbitrary_text()) {
        let engine = engine();
        let once = engine.sanitize(&text).unwrap();
        let twice = engine.sanitize(&once.text).unwrap();
        prop_assert_eq!(&twice.text, &once.text);
        prop_assert!(twice.changes.is_empty(), "second pass changed {:?}", twice.changes);
        for change in &once.changes {
            prop_assert!(change.span.end <= text.len());
            prop_assert!(text.is_char_boundary(change.span.start) && text.is_char_boundary(change.span.end));
        }
        prop_assert!(once.text.len() <= text.len());
        // And the analysis of any such text is well-formed.
        let analysis = engine.analyze(&text).unwrap();
        prop_assert!((0.0..=1.0).contains(&analysis.score()));
    }
}
