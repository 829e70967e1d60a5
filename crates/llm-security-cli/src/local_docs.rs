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

/// The documents found under one folder.
pub(crate) struct Found {
    /// Their texts, in path order.
    pub(crate) texts: Vec<String>,
    /// Whether the walk stopped at its limit of entries, leaving documents unread.
    pub(crate) truncated: bool,
}

/// The documents under `dir` (symbolic links are not followed), in path order; files that are
/// not UTF-8, out of the size bounds, or the same bytes as one already taken are left out. The
/// walk looks at `max_entries` entries at most and says when it stopped there. `seen` holds
/// the hashes of the documents taken so far, across folders.
pub(crate) fn read(
    dir: &Path,
    max_entries: usize,
    seen: &mut HashSet<u64>,
) -> anyhow::Result<Found> {
    anyhow::ensure!(dir.is_dir(), "--local-docs {}: not a folder", dir.display());
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut truncated = false;
    for (n, entry) in walkdir::WalkDir::new(dir).into_iter().flatten().enumerate() {
        if n == max_entries {
            truncated = true;
            break;
        }
        if entry.file_type().is_file()
            && entry.file_name().to_str().is_some_and(is_document)
            && entry
                .metadata()
                .is_ok_and(|m| (MIN_BYTES..=MAX_BYTES).contains(&m.len()))
        {
            paths.push(entry.into_path());
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
    Ok(Found { texts, truncated })
}

/// What flagged a document: nothing, the classifier, or a rule or other check.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flag {
    No,
    Model,
    Rule,
}

/// The verdict on one document, by the threat of highest confidence. A document the engine
/// refuses counts as flagged by a check, as a refused row scores 1.0 in the rest of the report.
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
    let mut found: BTreeMap<usize, Found> = BTreeMap::new();
    for (i, dir) in dirs.iter().enumerate() {
        found.insert(i, read(dir, MAX_ENTRIES, &mut seen)?);
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
    for (i, Found { texts, truncated }) in &found {
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
            "| `{}`{} | {} | {} | {} | {} |",
            dirs[*i].display(),
            if *truncated {
                format!(" (the first {MAX_ENTRIES} entries only)")
            } else {
                String::new()
            },
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
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
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
        let found = read(dir, 100, &mut seen).unwrap();
        assert!(!found.truncated);
        assert_eq!(found.texts.len(), 2, "{:?}", found.texts);
        assert!(found.texts.contains(&long));
        // A second folder holding the same text adds nothing.
        assert!(
            read(&dir.join("a/b"), 100, &mut seen)
                .unwrap()
                .texts
                .is_empty()
        );
        // A walk that reaches its limit says so (the folders and files here are 9 entries).
        let found = read(dir, 4, &mut HashSet::new()).unwrap();
        assert!(found.truncated);
        assert!(found.texts.len() <= 2);
        assert!(!read(dir, 9, &mut HashSet::new()).unwrap().truncated);
        // A missing folder is an error that names it.
        let err = read(&dir.join("missing"), 100, &mut seen)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("missing") && err.contains("not a folder"),
            "{err}"
        );
    }
}
