//! Output validation: the corpus, streaming at every byte boundary, and redaction properties.

use std::collections::BTreeMap;
use std::sync::Arc;

use llm_security_core::{
    BUILTIN_OUTPUT_RULES, BUILTIN_SECRET_RULES, OutputContext, PiiConfig, RulePack, SecurityConfig,
    SecurityEngine, Span, SystemPrompt, Threat,
};
use proptest::prelude::*;
use serde::Deserialize;

const CORPUS: &str = include_str!("../testdata/output.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    output: String,
    expect: Vec<String>,
    #[serde(default)]
    secure: Option<bool>,
    #[serde(default)]
    redacted: Option<String>,
    #[serde(default)]
    allowed_domains: Vec<String>,
    #[serde(default)]
    system_prompt: Option<String>,
    #[serde(default)]
    canary: bool,
}

#[derive(Debug, Deserialize)]
struct Corpus {
    case: Vec<Case>,
}

fn corpus() -> Vec<Case> {
    toml::from_str::<Corpus>(CORPUS).unwrap().case
}

/// The engine, output and context a case describes.
fn setup(case: &Case) -> (SecurityEngine, String, OutputContext) {
    let engine = SecurityEngine::with_config(
        SecurityConfig::new().with_allowed_domains(case.allowed_domains.clone()),
    );
    let mut output = case.output.clone();
    if case.canary {
        output.push_str(&engine.issue_canary());
    }
    let mut ctx = OutputContext::new();
    if let Some(prompt) = &case.system_prompt {
        ctx = ctx.with_system_prompt(Arc::new(SystemPrompt::new(prompt)));
    }
    (engine, output, ctx)
}

#[test]
fn corpus_cases() {
    let mut failures = Vec::new();
    for case in corpus() {
        let (engine, output, ctx) = setup(&case);
        let result = engine.validate_with(&output, &ctx).unwrap();
        let fired: Vec<&str> = result.threats().iter().map(|t| t.rule.as_str()).collect();
        if case.expect.is_empty() && !fired.is_empty() {
            failures.push(format!("{}: expected nothing, got {fired:?}", case.name));
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
            && result.is_secure() != secure
        {
            failures.push(format!(
                "{}: expected secure={secure} (score {})",
                case.name,
                result.score()
            ));
        }
        if let Some(expected) = &case.redacted
            && result.redacted() != Some(expected.as_str())
        {
            failures.push(format!(
                "{}: redacted to {:?}",
                case.name,
                result.redacted()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Per rule, the bytes covered by its spans, as merged intervals.
fn coverage(threats: &[Threat]) -> BTreeMap<String, Vec<(usize, usize)>> {
    let mut by_rule: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for t in threats {
        by_rule
            .entry(t.rule.clone())
            .or_default()
            .extend(t.spans.iter().map(|s| (s.start, s.end)));
    }
    for spans in by_rule.values_mut() {
        spans.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (s, e) in spans.drain(..) {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *spans = merged;
    }
    by_rule
}

/// Streams `output` split at `cut` and returns every threat the stream reported.
fn streamed(
    engine: &SecurityEngine,
    ctx: &OutputContext,
    output: &[u8],
    cuts: &[usize],
) -> Vec<Threat> {
    let mut stream = engine.output_stream_with(ctx.clone());
    let mut reported = Vec::new();
    let mut last = 0;
    let mut released = 0;
    for &cut in cuts.iter().chain(std::iter::once(&output.len())) {
        let update = stream.push_bytes(&output[last..cut]).unwrap();
        assert!(
            update.release_to >= released && update.release_to <= cut,
            "release_to moves forward within the text"
        );
        released = update.release_to;
        reported.extend(update.threats);
        last = cut;
    }
    let result = stream.finish().unwrap();
    // `finish` returns everything: what pushes reported, plus what only the end made certain.
    let all = coverage(result.threats());
    for (rule, spans) in coverage(&reported) {
        let final_spans = &all[&rule];
        assert!(
            spans
                .iter()
                .all(|s| final_spans.iter().any(|f| f.0 <= s.0 && s.1 <= f.1)),
            "{rule} reported early is kept"
        );
    }
    result.threats().to_vec()
}

fn check_streaming(engine: &SecurityEngine, ctx: &OutputContext, output: &str, name: &str) {
    let expected = coverage(engine.validate_with(output, ctx).unwrap().threats());
    for cut in 0..=output.len() {
        let got = coverage(&streamed(engine, ctx, output.as_bytes(), &[cut]));
        assert_eq!(got, expected, "{name}: split at byte {cut} of {output:?}");
    }
}

#[test]
fn streaming_finds_the_same_threats_at_every_split() {
    for case in corpus() {
        let (engine, output, ctx) = setup(&case);
        check_streaming(&engine, &ctx, &output, &case.name);
    }
    let engine = SecurityEngine::new();
    for source in [BUILTIN_SECRET_RULES, BUILTIN_OUTPUT_RULES] {
        for spec in RulePack::from_toml(source).unwrap().specs() {
            for text in spec.positive.iter().chain(&spec.negative) {
                check_streaming(&engine, &OutputContext::new(), text, &spec.id);
            }
        }
    }
}

#[test]
fn streaming_byte_by_byte_and_threat_reported_early() {
    let engine = SecurityEngine::new();
    let text = "Step 1: export AWS_ACCESS_KEY_ID=AKIAZ7Q3MEXAMPLE4RTY\nStep 2: run the deploy.\n";
    let cuts: Vec<usize> = (1..text.len()).collect();
    let expected = coverage(engine.validate(text).unwrap().threats());
    assert_eq!(
        coverage(&streamed(
            &engine,
            &OutputContext::new(),
            text.as_bytes(),
            &cuts
        )),
        expected
    );
    // The key is reported on the chunk that completes it, before the stream ends.
    let mut stream = engine.output_stream();
    let first = stream
        .push("export AWS_ACCESS_KEY_ID=AKIAZ7Q3MEXAMPLE4R")
        .unwrap();
    assert!(first.threats.is_empty());
    assert_eq!(first.release_to, "export ".len());
    let second = stream.push("TY\nStep 2").unwrap();
    assert_eq!(second.threats.len(), 1);
    assert_eq!(second.threats[0].spans, vec![Span::new(25, 45)]);
}

#[test]
fn streaming_memory_is_bounded() {
    let engine = SecurityEngine::with_config(SecurityConfig::new().with_pii(PiiConfig::none()));
    let mut stream = engine.output_stream();
    let chunk = "word ".repeat(200);
    for _ in 0..2000 {
        stream.push(&chunk).unwrap();
    }
    let no_space = "x".repeat(1000);
    for _ in 0..100 {
        let update = stream.push(&no_space).unwrap();
        assert!(
            update.release_to + 16 * 1024 + 1000 >= 2000 * chunk.len(),
            "held back at most 16 KiB"
        );
    }
    assert!(stream.finish().unwrap().is_secure());
}

fn strip_placeholders(s: &str) -> String {
    let re = regex::Regex::new(r"\[REDACTED:[a-z_]+(?::[a-z0-9_]+)?\]").unwrap();
    re.replace_all(s, "").into_owned()
}

fn without_spans(text: &str, threats: &[Threat]) -> String {
    let mut spans: Vec<(usize, usize)> = threats
        .iter()
        .flat_map(|t| t.spans.iter().map(|s| (s.start, s.end)))
        .collect();
    spans.sort_unstable();
    let mut out = String::new();
    let mut pos = 0;
    for (s, e) in spans {
        if s > pos {
            out.push_str(&text[pos..s]);
        }
        pos = pos.max(e);
    }
    out.push_str(&text[pos.min(text.len())..]);
    out
}

fn output_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "hello ",
        "the answer is 42. ",
        "AKIAZ7Q3MEXAMPLE4RTY ",
        "jane.doe@acme-corp.io ",
        "4111 1111 1111 1111 ",
        "<script>x()</script> ",
        "\u{1b}[2J",
        "\u{1b}]8;;http://x.example\u{7}",
        "![](https://x.example/?q=c2VjcmV0c2VjcmV0MTIz) ",
        "```\n",
        "password: Xk9#mQ2$vL7pR4wz ",
        "é ",
        "👩\u{200D}💻 ",
        "\n",
        "536-22-1876 ",
        "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5 ",
    ]);
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn redaction_keeps_everything_that_is_not_a_finding(text in output_text()) {
        let engine = SecurityEngine::new();
        let result = engine.validate(&text).unwrap();
        let redacted = result.redacted().unwrap();
        prop_assert_eq!(strip_placeholders(redacted), without_spans(&text, result.threats()));
    }

    #[test]
    fn validation_and_streaming_never_panic(text in "\\PC{0,120}|[\\x00-\\x7f\\u{1b}\\u{9b}<>\\[\\]()!:/?=&@.]{0,120}", cut in 0usize..120) {
        let engine = SecurityEngine::new();
        let result = engine.validate(&text).unwrap();
        prop_assert!((0.0..=1.0).contains(&result.score()));
        let bytes = text.as_bytes();
        let cut = cut.min(bytes.len());
        let got = coverage(&streamed(&engine, &OutputContext::new(), bytes, &[cut]));
        prop_assert_eq!(got, coverage(result.threats()));
    }
}
