//! Table-driven: every rule's `positive` texts must be flagged by that rule, and its `negative`
//! texts must not be (by that rule). The examples live next to the rules, in the packs.

use llm_security_core::{
    BUILTIN_DOCUMENT_RULES, BUILTIN_INPUT_RULES, BUILTIN_OUTPUT_RULES, BUILTIN_SECRET_RULES,
    RulePack, SecurityConfig, SecurityEngine,
};

/// How a pack's examples are analyzed.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Input,
    Document,
    Output,
}

fn check_pack(source: &str, mode: Mode) {
    let pack = RulePack::from_toml(source).expect("built-in pack compiles");
    let engine = SecurityEngine::with_config(SecurityConfig::new());
    let mut failures = Vec::new();
    let mut checked = 0;
    for spec in pack.specs() {
        assert!(
            !spec.positive.is_empty(),
            "rule {} has no positive example",
            spec.id
        );
        assert!(
            !spec.negative.is_empty(),
            "rule {} has no negative example",
            spec.id
        );
        for (text, expect) in spec
            .positive
            .iter()
            .map(|t| (t, true))
            .chain(spec.negative.iter().map(|t| (t, false)))
        {
            let analysis = match mode {
                Mode::Input => engine.analyze(text),
                Mode::Document => engine.analyze_document(text),
                Mode::Output => engine.validate(text),
            }
            .unwrap();
            let fired = analysis.threats().iter().any(|t| t.rule == spec.id);
            checked += 1;
            if fired != expect {
                failures.push(format!("{}: expected fired={expect} on {text:?}", spec.id));
            }
            for t in analysis.threats() {
                for s in &t.spans {
                    assert!(
                        s.start < s.end && s.end <= text.len(),
                        "{}: bad span {s:?} in {text:?}",
                        t.rule
                    );
                    assert!(text.is_char_boundary(s.start) && text.is_char_boundary(s.end));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} examples failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn input_rules_match_their_examples() {
    check_pack(BUILTIN_INPUT_RULES, Mode::Input);
}

#[test]
fn document_rules_match_their_examples_in_documents_only() {
    check_pack(BUILTIN_DOCUMENT_RULES, Mode::Document);
    // A user may say what they want in the answer; only retrieved content may not.
    let engine = SecurityEngine::with_config(SecurityConfig::new());
    let pack = RulePack::from_toml(BUILTIN_DOCUMENT_RULES).unwrap();
    for spec in pack.specs() {
        for text in &spec.positive {
            let analysis = engine.analyze(text).unwrap();
            assert!(
                analysis.threats().iter().all(|t| t.rule != spec.id),
                "{} fired on a prompt: {text:?}",
                spec.id
            );
        }
    }
}

#[test]
fn output_rules_match_their_examples() {
    check_pack(BUILTIN_OUTPUT_RULES, Mode::Output);
}

#[test]
fn secret_rules_match_their_examples() {
    check_pack(BUILTIN_SECRET_RULES, Mode::Output);
    let pack = RulePack::from_toml(BUILTIN_SECRET_RULES).unwrap();
    assert!(
        pack.specs().len() >= 40,
        "at least 40 secret kinds, got {}",
        pack.specs().len()
    );
    assert!(
        pack.specs().iter().all(|s| s.mask_evidence),
        "secret evidence is always masked"
    );
}

#[test]
fn rule_ids_follow_kind_prefixes() {
    for source in [
        BUILTIN_INPUT_RULES,
        BUILTIN_DOCUMENT_RULES,
        BUILTIN_OUTPUT_RULES,
        BUILTIN_SECRET_RULES,
    ] {
        let pack = RulePack::from_toml(source).unwrap();
        for spec in pack.specs() {
            let prefix = spec.id.split('.').next().unwrap();
            assert!(
                spec.kind.as_str().starts_with(prefix)
                    || (prefix == "injection" && spec.kind.as_str() == "prompt_injection"),
                "rule {} has kind {}",
                spec.id,
                spec.kind
            );
        }
    }
}
