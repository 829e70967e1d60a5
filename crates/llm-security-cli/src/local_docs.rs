//! `train --loso --local-docs DIR`: documents found on this machine outside the Cargo registry
//! (other ecosystems' READMEs, API guides, package descriptions), none of which trains, scored
//! by the full model: how often a benign document in a style the model never saw is flagged.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use llm_security::SecurityEngine;
use rayon::prelude::*;

/// Smallest and largest document read, in bytes (the largest as for crate READMEs).
const MIN_BYTES: u64 = 200;
const MAX_BYTES: u64 = crate::data::MAX_README_BYTES;
/// Most directory entries looked at under one folder, so a huge tree cannot stall the report.
const MAX_ENTRIES: usize = 200_000;

/// Whether a file name is a document's: Markdown, reStructuredText, a README, or a Python
/// package's description (`METADATA`, whose body is the package's README).
fn is_document(name: &str) -> bool {
    name.ends_with(".md")
        || name.ends_with(".markdown")
        || name.ends_with(".rst")
        || name.starts_with("README")
        || name == "METADATA"
}

/// The documents under `dir` (symbolic links are not followed), in path order; files that are
/// not UTF-8, out of the size bounds, or the same bytes as one already taken are left out.
/// `seen` holds the hashes of the documents taken so far, across folders.
pub(crate) fn read(dir: &Path, seen: &mut HashSet<u64>) -> anyhow::Result<Vec<String>> {
    anyhow::ensure!(dir.is_dir(), "--local-docs {}: not a folder", dir.display());
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut entries = 0usize;
    while let Some(folder) = stack.pop() {
        let Ok(list) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in list.flatten() {
            entries += 1;
            if entries > MAX_ENTRIES {
                break;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                && entry.file_name().to_str().is_some_and(is_document)
                && entry
                    .metadata()
                    .is_ok_and(|m| (MIN_BYTES..=MAX_BYTES).contains(&m.len()))
            {
                paths.push(path);
            }
        }
    }
    paths.sort();
    let mut texts = Vec::new();
    for path in paths {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        if seen.insert(crate::data::fnv1a(text.as_bytes())) {
            texts.push(text);
        }
    }
    Ok(texts)
}

/// What flagged a document: nothing, the classifier, or a rule or other check.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flag {
    No,
    Model,
    Rule,
}

/// The verdict on one document, by the threat of highest confidence.
fn flag(engine: &SecurityEngine, text: &str, document: bool, threshold: f32) -> Flag {
    let analysis = if document {
        engine.analyze_document(text)
    } else {
        engine.analyze(text)
    };
    let Ok(analysis) = analysis else {
        return Flag::Rule;
    };
    if analysis.score() < threshold {
        return Flag::No;
    }
    let top = analysis
        .threats()
        .iter()
        .max_by(|a, b| a.confidence.total_cmp(&b.confidence));
    match top {
        Some(t) if t.rule.starts_with("model.") => Flag::Model,
        _ => Flag::Rule,
    }
}

/// The report's section on the local documents: per folder, how many were flagged as a prompt
/// and as a document, and by what.
pub(crate) fn section(
    out: &mut String,
    dirs: &[PathBuf],
    full: &SecurityEngine,
    threshold: f32,
) -> anyhow::Result<()> {
    if dirs.is_empty() {
        return Ok(());
    }
    let mut seen = HashSet::new();
    let mut found: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (i, dir) in dirs.iter().enumerate() {
        found.insert(i, read(dir, &mut seen)?);
    }
    writeln!(
        out,
        "\n## Documents from elsewhere (`--local-docs`, never trained on)\n"
    )?;
    writeln!(
        out,
        "Markdown, reStructuredText, README and Python `METADATA` files found under each folder \
         on the machine that wrote this report (200 B to {} KiB, UTF-8, each distinct text \
         once), scored whole by the full model at the balanced threshold, as a prompt \
         (`analyze`) and as a document (`analyze_document`). None of them trains, and their \
         styles (other languages' API guides, JSON examples, package descriptions) are not \
         the crates': a check of how the model does on benign documents it never saw. *By the \
         classifier* counts documents whose strongest finding is the classifier's.\n",
        MAX_BYTES / 1024
    )?;
    writeln!(
        out,
        "| folder | documents | `analyze` flagged % | by the classifier | `analyze_document` flagged % |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|")?;
    let (mut all, mut all_plain, mut all_model, mut all_doc) = (0, 0, 0, 0);
    for (i, texts) in &found {
        let flags: Vec<(Flag, Flag)> = texts
            .par_iter()
            .map(|t| {
                (
                    flag(full, t, false, threshold),
                    flag(full, t, true, threshold),
                )
            })
            .collect();
        let plain = flags.iter().filter(|f| f.0 != Flag::No).count();
        let model = flags.iter().filter(|f| f.0 == Flag::Model).count();
        let doc = flags.iter().filter(|f| f.1 != Flag::No).count();
        writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            dirs[*i].display(),
            texts.len(),
            share(plain, texts.len()),
            model,
            share(doc, texts.len())
        )?;
        all += texts.len();
        all_plain += plain;
        all_model += model;
        all_doc += doc;
    }
    writeln!(
        out,
        "| **all** | {all} | {} | {all_model} | {} |",
        share(all_plain, all),
        share(all_doc, all)
    )?;
    Ok(())
}

/// `part` of `whole` as a percentage with one decimal (a dash for none).
fn share(part: usize, whole: usize) -> String {
    crate::train::pct((whole > 0).then(|| part as f64 / whole as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_documents_once_within_bounds() {
        let dir =
            std::env::temp_dir().join(format!("llm-security-local-docs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        let long = "A paragraph of ordinary documentation. ".repeat(10);
        std::fs::write(dir.join("a/README.md"), &long).unwrap();
        // The same bytes under another name count once; another text counts.
        std::fs::write(dir.join("a/b/guide.rst"), &long).unwrap();
        std::fs::write(dir.join("a/b/METADATA"), format!("{long} More.")).unwrap();
        // Too short, not a document's name, not UTF-8.
        std::fs::write(dir.join("a/notes.md"), "short").unwrap();
        std::fs::write(dir.join("a/main.rs"), &long).unwrap();
        std::fs::write(dir.join("a/bad.md"), [0xff; 300]).unwrap();
        let mut seen = HashSet::new();
        let texts = read(&dir, &mut seen).unwrap();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(texts.contains(&long));
        // A second folder holding the same text adds nothing.
        assert!(read(&dir.join("a/b"), &mut seen).unwrap().is_empty());
        // A missing folder is an error that names it.
        let err = read(&dir.join("missing"), &mut seen)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing") && err.contains("not a folder"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
