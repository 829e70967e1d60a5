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

/// How the sources of rows written for this project begin.
pub(crate) const OWN_PREFIX: &str = "llm-security:";

/// Whether a row was written for this project (see [`read_own`]).
pub(crate) fn is_own(r: &Row) -> bool {
    r.group.starts_with(OWN_PREFIX)
}

/// Reads the rows written for this project: every `*.jsonl` file in `dir`, in name order.
/// Each row's source must begin with [`OWN_PREFIX`], so that they are never mistaken for
/// (or pooled with) the public corpora's.
pub(crate) fn read_own(dir: &Path) -> anyhow::Result<Vec<Row>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            files.push(path);
        }
    }
    files.sort();
    let mut rows = Vec::new();
    for path in files {
        let read = read_rows(&path, "text", "label")?;
        if let Some(r) = read.iter().find(|r| !is_own(r)) {
            bail!(
                "{}: source {:?} does not begin with {OWN_PREFIX:?}; rows written for this project name their source that way",
                path.display(),
                r.group
            );
        }
        rows.extend(read);
    }
    Ok(rows)
}

/// The source name of the crate documentation rows.
pub(crate) const CRATE_DOCS: &str = "crates.io documents (Cargo.lock)";
/// The category that marks a row as a whole document rather than a prompt.
pub(crate) const DOCUMENT: &str = "document";

/// Cargo's home folder: `$CARGO_HOME`, else `$HOME/.cargo`.
pub(crate) fn cargo_home() -> anyhow::Result<std::path::PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")
}

/// Largest README read by [`crate_docs`], in bytes: far below the engine's default input limit
/// (1 MiB), so that every document read can be analyzed whole. The largest README pinned today
/// is 43 KB.
pub(crate) const MAX_README_BYTES: u64 = 256 * 1024;

/// What [`crate_docs`] found.
#[derive(Debug, Default)]
pub(crate) struct CrateDocs {
    /// One benign document per file read.
    pub(crate) rows: Vec<Row>,
    /// Pinned packages that Cargo has not unpacked.
    pub(crate) missing: usize,
    /// READMEs skipped for being larger than [`MAX_README_BYTES`].
    pub(crate) oversized: usize,
}

/// Benign documents: the README and the other Markdown files (see [`other_docs`]) of every
/// crates.io package that `lock` pins and that Cargo has unpacked under
/// `cargo_home/registry/src` (`cargo fetch` unpacks them all). Each row carries
/// its crate's licence (the `license` field of its `Cargo.toml`), the category [`DOCUMENT`],
/// and a split from its crate name (one in five to `dev`). Pinned packages not found and
/// READMEs over [`MAX_README_BYTES`] are counted, not read.
pub(crate) fn crate_docs(lock: &Path, cargo_home: &Path) -> anyhow::Result<CrateDocs> {
    let text =
        std::fs::read_to_string(lock).with_context(|| format!("cannot read {}", lock.display()))?;
    let lock: toml::Value =
        toml::from_str(&text).with_context(|| format!("{} is not TOML", lock.display()))?;
    let registries: Vec<std::path::PathBuf> =
        match std::fs::read_dir(cargo_home.join("registry/src")) {
            Ok(dir) => {
                let mut all: Vec<_> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
                all.sort();
                all
            }
            Err(_) => Vec::new(),
        };
    let mut found = CrateDocs::default();
    let packages = lock.get("package").and_then(toml::Value::as_array);
    for package in packages.into_iter().flatten() {
        let field = |k: &str| package.get(k).and_then(toml::Value::as_str);
        let (Some(name), Some(version), Some(source)) =
            (field("name"), field("version"), field("source"))
        else {
            continue;
        };
        if !source.starts_with("registry+") {
            continue;
        }
        let Some(dir) = registries
            .iter()
            .map(|r| r.join(format!("{name}-{version}")))
            .find(|d| d.is_dir())
        else {
            found.missing += 1;
            continue;
        };
        let split = if fnv1a(name.as_bytes()).is_multiple_of(5) {
            "dev"
        } else {
            "train"
        };
        let row = |text: String, license: &str| Row {
            text,
            label: Label::Benign,
            group: CRATE_DOCS.to_owned(),
            category: DOCUMENT.to_owned(),
            license: license.to_owned(),
            split: split.to_owned(),
        };
        let (readme, license) = match readme_of(&dir) {
            Readme::Read(text, license, path) => (Some((text, path)), license),
            Readme::Oversized(license) => {
                found.oversized += 1;
                (None, license)
            }
            Readme::None(Some(license)) => (None, license),
            Readme::None(None) => continue,
        };
        let readme_path = readme.as_ref().map(|(_, p)| p.clone());
        if let Some((text, _)) = readme {
            found.rows.push(row(text, &license));
        }
        for text in other_docs(&dir, readme_path.as_deref()) {
            found.rows.push(row(text, &license));
        }
    }
    Ok(found)
}

/// Most Markdown files besides the README read from one crate (the first in path order).
const MAX_OTHER_DOCS: usize = 48;

/// File names of instructions written for coding assistants: text addressed to a model, which
/// must not teach the classifier that instructions in a document are benign.
const ASSISTANT_FILES: [&str; 3] = ["agents.md", "claude.md", "copilot-instructions.md"];

/// The other Markdown files of an unpacked crate (change logs, guides, API documentation),
/// in path order, skipping hidden folders, `readme` and the top folder's `README.md` (read as
/// the README or left out on purpose), files for coding assistants, empty files and files over
/// [`MAX_README_BYTES`]; at most [`MAX_OTHER_DOCS`].
fn other_docs(dir: &Path, readme: Option<&Path>) -> Vec<String> {
    let hidden_folder = |e: &walkdir::DirEntry| {
        e.depth() > 0 && e.file_type().is_dir() && e.file_name().to_string_lossy().starts_with('.')
    };
    let mut paths: Vec<std::path::PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| !hidden_folder(e))
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_lowercase();
            e.file_type().is_file()
                && name.ends_with(".md")
                && !ASSISTANT_FILES.contains(&name.as_str())
                && !(name == "readme.md" && e.depth() == 1)
                && readme.is_none_or(|r| r != e.path())
        })
        .map(walkdir::DirEntry::into_path)
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() <= MAX_README_BYTES))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter(|t| !t.trim().is_empty())
        .take(MAX_OTHER_DOCS)
        .collect()
}

/// A crate's README, as [`readme_of`] finds it.
enum Readme {
    /// The text, the crate's licence and the README's path.
    Read(String, String, std::path::PathBuf),
    /// Larger than [`MAX_README_BYTES`]; the crate's licence.
    Oversized(String),
    /// No README, or an empty or unreadable one; the crate's licence if it states one.
    None(Option<String>),
}

/// A crate's README text and licence, from its unpacked folder.
fn readme_of(dir: &Path) -> Readme {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok();
    let manifest: Option<toml::Value> = manifest.and_then(|m| toml::from_str(&m).ok());
    let Some(package) = manifest.as_ref().and_then(|m| m.get("package")) else {
        return Readme::None(None);
    };
    let Some(license) = package.get("license").and_then(toml::Value::as_str) else {
        return Readme::None(None);
    };
    let license = license.to_owned();
    let readme = match package.get("readme") {
        Some(toml::Value::String(path)) => dir.join(path),
        Some(toml::Value::Boolean(false)) => return Readme::None(Some(license)),
        _ => dir.join("README.md"),
    };
    if readme
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Readme::None(Some(license));
    }
    match std::fs::metadata(&readme) {
        Ok(m) if m.len() > MAX_README_BYTES => return Readme::Oversized(license),
        Ok(_) => {}
        Err(_) => return Readme::None(Some(license)),
    }
    match std::fs::read_to_string(&readme) {
        Ok(text) if !text.trim().is_empty() => Readme::Read(text, license, readme),
        _ => Readme::None(Some(license)),
    }
}

/// FNV-1a, for a split that does not change with the order of the lock file.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
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
    fn crate_docs_reads_pinned_readmes_with_their_licences() {
        let home = tempfile::tempdir().unwrap();
        let registry = home.path().join("registry/src/index.crates.io-0");
        let unpack = |dir: &str, manifest: &str, readme: Option<(&str, &str)>| {
            let d = registry.join(dir);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("Cargo.toml"), manifest).unwrap();
            if let Some((name, text)) = readme {
                std::fs::write(d.join(name), text).unwrap();
            }
        };
        unpack(
            "alpha-1.0.0",
            "[package]\nname = \"alpha\"\nlicense = \"MIT OR Apache-2.0\"\n",
            Some(("README.md", "# alpha\n\nParses things.")),
        );
        // Other Markdown files are read in path order, but not those in hidden folders, those
        // written for coding assistants, or empty ones.
        let alpha = registry.join("alpha-1.0.0");
        std::fs::create_dir_all(alpha.join("docs/guide")).unwrap();
        std::fs::create_dir_all(alpha.join(".github")).unwrap();
        std::fs::write(alpha.join("CHANGELOG.md"), "## 1.0.0\n\nFirst.").unwrap();
        std::fs::write(alpha.join("docs/guide/start.MD"), "Start here.").unwrap();
        std::fs::write(alpha.join("docs/notes.txt"), "not Markdown").unwrap();
        std::fs::write(alpha.join("docs/empty.md"), " \n").unwrap();
        std::fs::write(alpha.join("AGENTS.md"), "Run the tests first.").unwrap();
        std::fs::write(alpha.join(".github/ISSUE.md"), "hidden").unwrap();
        unpack(
            "beta-0.2.0",
            "[package]\nname = \"beta\"\nlicense = \"MPL-2.0\"\nreadme = \"docs/INTRO.md\"\n",
            None,
        );
        std::fs::create_dir_all(registry.join("beta-0.2.0/docs")).unwrap();
        std::fs::write(registry.join("beta-0.2.0/docs/INTRO.md"), "Beta intro.").unwrap();
        unpack(
            "gamma-3.0.0",
            "[package]\nname = \"gamma\"\nlicense = \"MIT\"\nreadme = false\n",
            Some(("README.md", "not to be read")),
        );
        // Without a README, its other documents are still read, at most MAX_OTHER_DOCS.
        for i in 0..MAX_OTHER_DOCS + 2 {
            let at = registry.join(format!("gamma-3.0.0/doc{i:03}.md"));
            std::fs::write(at, format!("gamma page {i}")).unwrap();
        }
        // Too large to analyze whole: counted, not read.
        unpack(
            "huge-1.0.0",
            "[package]\nname = \"huge\"\nlicense = \"MIT\"\n",
            Some((
                "README.md",
                &"word ".repeat(MAX_README_BYTES as usize / 5 + 1),
            )),
        );
        // An older version of alpha, not pinned: ignored.
        unpack(
            "alpha-0.9.0",
            "[package]\nname = \"alpha\"\nlicense = \"MIT\"\n",
            Some(("README.md", "old alpha")),
        );
        let crates_io = "registry+https://github.com/rust-lang/crates.io-index";
        let lock = home.path().join("Cargo.lock");
        std::fs::write(
            &lock,
            format!(
                "version = 4\n\n[[package]]\nname = \"alpha\"\nversion = \"1.0.0\"\nsource = \"{crates_io}\"\n\n\
                 [[package]]\nname = \"beta\"\nversion = \"0.2.0\"\nsource = \"{crates_io}\"\n\n\
                 [[package]]\nname = \"gamma\"\nversion = \"3.0.0\"\nsource = \"{crates_io}\"\n\n\
                 [[package]]\nname = \"huge\"\nversion = \"1.0.0\"\nsource = \"{crates_io}\"\n\n\
                 [[package]]\nname = \"delta\"\nversion = \"1.0.0\"\nsource = \"{crates_io}\"\n\n\
                 [[package]]\nname = \"local\"\nversion = \"0.1.0\"\n"
            ),
        )
        .unwrap();
        let CrateDocs {
            rows,
            missing,
            oversized,
        } = crate_docs(&lock, home.path()).unwrap();
        assert_eq!(missing, 1, "delta is pinned but not unpacked");
        assert_eq!(oversized, 1, "huge's README is over the limit");
        let got: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.text.as_str(), r.license.as_str()))
            .collect();
        let gamma: Vec<String> = (0..MAX_OTHER_DOCS)
            .map(|i| format!("gamma page {i}"))
            .collect();
        let mut expected = vec![
            ("# alpha\n\nParses things.", "MIT OR Apache-2.0"),
            ("## 1.0.0\n\nFirst.", "MIT OR Apache-2.0"),
            ("Start here.", "MIT OR Apache-2.0"),
            ("Beta intro.", "MPL-2.0"),
        ];
        expected.extend(gamma.iter().map(|t| (t.as_str(), "MIT")));
        assert_eq!(got, expected);
        assert!(rows.iter().all(|r| r.label == Label::Benign
            && r.category == DOCUMENT
            && r.group == CRATE_DOCS
            && (r.split == "train" || r.split == "dev")));
        assert!(permissive(&rows[0].license) && !permissive(&rows[3].license));
        assert!(crate_docs(&home.path().join("nope.lock"), home.path()).is_err());
    }

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
