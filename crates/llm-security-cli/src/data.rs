//! Labelled prompt files (JSON Lines): reading them, and which rows may train a shipped model.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::Value;

/// A class of prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Label {
    Benign,
    Injection,
    Jailbreak,
}

impl Label {
    pub(crate) fn index(self) -> usize {
        match self {
            Self::Benign => 0,
            Self::Injection => 1,
            Self::Jailbreak => 2,
        }
    }

    pub(crate) fn is_attack(self) -> bool {
        self != Self::Benign
    }

    fn parse(v: &Value) -> Option<Self> {
        match v {
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "benign" | "safe" | "clean" | "0" | "false" => Some(Self::Benign),
                "injection" | "prompt_injection" | "malicious" | "attack" | "1" | "true" => {
                    Some(Self::Injection)
                }
                "jailbreak" => Some(Self::Jailbreak),
                _ => None,
            },
            Value::Bool(b) => Some(if *b { Self::Injection } else { Self::Benign }),
            Value::Number(n) => match n.as_i64() {
                Some(0) => Some(Self::Benign),
                Some(1) => Some(Self::Injection),
                _ => None,
            },
            _ => None,
        }
    }
}

/// One labelled prompt.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) text: String,
    pub(crate) label: Label,
    /// The source to hold out as a whole: the upstream dataset (`origin`) where a redistributor
    /// vendored several, else `source`.
    pub(crate) group: String,
    pub(crate) category: String,
    pub(crate) license: String,
    pub(crate) split: String,
}

/// Reads a JSON Lines file of labelled prompts. Lines that are not objects with a string text
/// field and a recognizable label are an error naming the line.
pub(crate) fn read_rows(
    path: &Path,
    text_field: &str,
    label_field: &str,
) -> anyhow::Result<Vec<Row>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line =
            line.with_context(|| format!("{}: cannot read line {}", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line)
            .with_context(|| format!("{}: line {} is not JSON", path.display(), i + 1))?;
        let Some(text) = v.get(text_field).and_then(Value::as_str) else {
            bail!(
                "{}: line {} has no string field {text_field:?}",
                path.display(),
                i + 1
            );
        };
        let Some(label) = v.get(label_field).and_then(Label::parse) else {
            bail!(
                "{}: line {} has no recognizable {label_field:?} (benign, injection, jailbreak, 0/1)",
                path.display(),
                i + 1
            );
        };
        let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let origin = field("origin");
        let source = field("source");
        let group = match (origin.as_str(), source.as_str()) {
            (o, _) if o.starts_with("hf:") => o.to_owned(),
            (_, "") => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            (_, s) => s.to_owned(),
        };
        rows.push(Row {
            text: text.to_owned(),
            label,
            group,
            category: field("category"),
            license: field("license"),
            split: field("split"),
        });
    }
    Ok(rows)
}

/// Whether a row's licence lets it train a model the project ships: MIT, Apache-2.0, CC0-1.0,
/// CC-BY-4.0, ODC-BY-1.0 or BSD — and nothing share-alike, non-commercial, GPL, unspecified, or
/// with underlying data under other licences.
pub(crate) fn permissive(license: &str) -> bool {
    let l = license.to_ascii_uppercase();
    let allowed = [
        "MIT",
        "APACHE-2.0",
        "CC0-1.0",
        "CC-BY-4.0",
        "ODC-BY-1.0",
        "BSD",
    ]
    .iter()
    .any(|p| l.starts_with(p));
    let tainted = [
        "-SA",
        "-NC",
        "GPL",
        "UNSPECIFIED",
        "UNDERLYING",
        "OWN LICENSE",
    ]
    .iter()
    .any(|t| l.contains(t));
    allowed && !tainted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licences() {
        assert!(permissive("MIT"));
        assert!(permissive(
            "Apache-2.0 (per HF card, not re-checked offline)"
        ));
        assert!(permissive(
            "ODC-BY-1.0 (AllenAI card; Parapet header says Apache-2.0)"
        ));
        assert!(!permissive("CC-BY-NC-4.0"));
        assert!(!permissive("GPL-3.0"));
        assert!(!permissive("unspecified"));
        assert!(!permissive(
            "MIT (BIPIA) + context licenses per BIPIA NOTICE.md (WikiTableQuestions CC-BY-SA-4.0; Stack Exchange CC-BY-SA)"
        ));
        assert!(!permissive(
            "Apache-2.0 (repo); underlying P3/T0 source datasets have their own licenses"
        ));
    }
}
