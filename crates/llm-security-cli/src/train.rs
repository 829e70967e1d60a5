//! `train`: fit the classifier from labelled prompts, reproducibly; `--loso` measures it with
//! whole sources held out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use llm_security::classifier::{self, CLASSES};
use llm_security::{Classifier, SecurityConfig, SecurityEngine};
use rayon::prelude::*;

use crate::data::{DOCUMENT, Row, cargo_home, crate_docs, is_own, permissive, read_own, read_rows};
use crate::metrics::{Scored, metrics, threshold_for_fpr};

/// The benign prior the shipped model assumes, as a log-odds shift against each attack class
/// (2.1 is about 0.80 benign against 0.10 per attack class). Chosen so that the balanced
/// threshold (0.5) flags at most 1 % of benign prompts held out by source
/// (`docs/detection-eval.md`): one number tuned on the evaluation data.
const PRIOR_SHIFT: f32 = 2.1;
/// Where `train` looks for this project's own rows when `--own` is not given.
const OWN_DEFAULT: &str = "data/prompts";
/// Tokens per window and stride for long texts.
const WINDOW: u32 = 32;
const STRIDE: u32 = 16;

/// Arguments of `train`.
#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    /// Folder with the labelled corpora (jailbreak, injection, benign, benign_noncommercial).
    #[arg(long, default_value = "../shared/data/prompts")]
    data: PathBuf,
    /// Where to write the model.
    #[arg(long, default_value = "crates/llm-security-core/model/classifier.bin")]
    out: PathBuf,
    /// Passes over the training rows.
    #[arg(long, default_value_t = 6)]
    epochs: usize,
    /// AdaGrad learning rate.
    #[arg(long, default_value_t = 0.3)]
    learning_rate: f32,
    /// L2 regularization per update.
    #[arg(long, default_value_t = 1e-4)]
    l2: f32,
    /// How much a row's weight shrinks with its source's size (`size^-x`; 0 weighs every row
    /// alike, 1 every source alike within a class).
    #[arg(long, default_value_t = 0.5)]
    source_balance: f32,
    /// One training text in this many is also trained on inside a data container (JSON, YAML
    /// or an HTML page), labelled as the text is; 0 adds no such copies.
    #[arg(long, default_value_t = 2)]
    wrap_every: u64,
    /// Hash bits: the model has 2^bits buckets per class, one byte each.
    #[arg(long, default_value_t = 18, value_parser = clap::value_parser!(u32).range(8..=24))]
    bits: u32,
    /// Seed of the row order.
    #[arg(long, default_value_t = 20261126)]
    seed: u64,
    /// Models trained on different row orders (seeds `seed`, `seed + 1`, ...) whose weights
    /// are averaged into the one shipped.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=64))]
    orders: u64,
    /// Also train on benign documents: the README and other Markdown files (change logs,
    /// guides, API documentation) of every crates.io package this lock file pins (run `cargo
    /// fetch` first, so that Cargo has unpacked them). Rows whose crate licence
    /// is permissive train, in chunks of a few paragraphs, as the classifier sees long texts in
    /// windows; the shipped model is trained with `--cargo-docs Cargo.lock`.
    #[arg(long, value_name = "Cargo.lock")]
    cargo_docs: Option<PathBuf>,
    /// Labelled rows written for this project (every `*.jsonl` in the folder, in the corpora's
    /// schema, with sources named `llm-security:...`): prompts the public corpora lack, such as
    /// follow-up messages in a chat. Rows with `split = train` train the fast classifier; the
    /// evaluation reports these sources apart from the public corpora. Default: `data/prompts`
    /// when the current folder has one (the repository root does), else none, with a note.
    #[arg(long, value_name = "DIR")]
    own: Option<PathBuf>,
    /// Instead of writing a model, measure with each training source held out in turn (plus
    /// the sources that may not train at all) and write a Markdown report here.
    #[arg(long, value_name = "REPORT.md")]
    pub(crate) loso: Option<PathBuf>,
    /// With `--loso`: also score the documents under this folder (Markdown, reStructuredText,
    /// READMEs, Python `METADATA`; repeatable) with the full model, as benign documents that
    /// never train, and report per folder how many are flagged.
    #[arg(long, value_name = "DIR", requires = "loso")]
    local_docs: Vec<PathBuf>,
    /// With `--loso`: also write every row's held-out score here (JSON Lines: source,
    /// category, label, score, text), for error analysis.
    #[arg(long, value_name = "SCORES.jsonl", requires = "loso")]
    scores_out: Option<PathBuf>,
    /// Train (or with `--loso`, measure) the semantic tier's head instead of the fast
    /// classifier. Needs the encoder's folder (`--model-dir`).
    #[cfg(feature = "semantic")]
    #[arg(long)]
    semantic: bool,
    /// The all-MiniLM-L6-v2 folder (config.json, tokenizer.json, model.safetensors).
    #[cfg(feature = "semantic")]
    #[arg(long, env = "LLM_SECURITY_SEMANTIC_MODEL", value_name = "DIR")]
    model_dir: Option<PathBuf>,
    /// Where `--semantic` writes the head.
    #[cfg(feature = "semantic")]
    #[arg(long, default_value = "crates/llm-security-semantic/model/head.json")]
    head_out: PathBuf,
    /// Cache of the corpora's embeddings (recomputed when the texts change).
    #[cfg(feature = "semantic")]
    #[arg(long, default_value = "target/semantic-embeddings.bin")]
    embedding_cache: PathBuf,
    /// With `--semantic`: instead of training, time the fast tier, the semantic tier and the
    /// cascade on this many prompts and print a Markdown table.
    #[cfg(feature = "semantic")]
    #[arg(long, value_name = "PROMPTS")]
    latency: Option<usize>,
}

const FILES: [&str; 4] = [
    "jailbreak.jsonl",
    "injection.jsonl",
    "benign.jsonl",
    "benign_noncommercial.jsonl",
];

/// Runs the command.
pub(crate) fn run(args: &TrainArgs) -> anyhow::Result<ExitCode> {
    let mut rows = Vec::new();
    for f in FILES {
        rows.extend(read_rows(&args.data.join(f), "text", "label")?);
    }
    // Rows that train the fast classifier but are not the public corpora: documents and this
    // project's own rows.
    let mut extra = Vec::new();
    if let Some(lock) = &args.cargo_docs {
        let found = crate_docs(lock, &cargo_home()?)?;
        eprintln!(
            "{} crate documents from {} ({} pinned packages not unpacked, `cargo fetch` unpacks them; {} READMEs over {} KiB skipped)",
            found.rows.len(),
            lock.display(),
            found.missing,
            found.oversized,
            crate::data::MAX_README_BYTES / 1024
        );
        extra = found.rows;
    }
    match &args.own {
        Some(dir) => extra.extend(read_own(dir)?),
        None if Path::new(OWN_DEFAULT).is_dir() => extra.extend(read_own(Path::new(OWN_DEFAULT))?),
        None => eprintln!(
            "no {OWN_DEFAULT} here: training without this project's own rows (run from the repository root, or pass --own DIR)"
        ),
    }
    #[cfg(feature = "semantic")]
    if args.semantic {
        let model_dir = args.model_dir.as_deref().context(
            "--semantic needs the encoder's folder: --model-dir DIR or LLM_SECURITY_SEMANTIC_MODEL",
        )?;
        crate::train_semantic::run(
            &rows,
            args,
            &crate::train_semantic::SemanticArgs {
                model_dir,
                head_out: &args.head_out,
                cache: &args.embedding_cache,
                latency: args.latency,
                extra: &extra,
            },
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    rows.extend(extra);
    let trainable: Vec<&Row> = rows
        .iter()
        .filter(|r| permissive(&r.license) && r.split == "train")
        .collect();
    eprintln!(
        "{} rows, {} may train (permissive licence, train split)",
        rows.len(),
        trainable.len()
    );

    match &args.loso {
        None => {
            let bytes = train(&trainable, args);
            if let Some(dir) = args.out.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(&args.out, &bytes)
                .with_context(|| format!("cannot write {}", args.out.display()))?;
            let sources: BTreeSet<&str> = trainable.iter().map(|r| r.group.as_str()).collect();
            let licences: BTreeSet<&str> = trainable.iter().map(|r| r.license.as_str()).collect();
            eprintln!(
                "wrote {} ({} bytes) from {} sources under: {}",
                args.out.display(),
                bytes.len(),
                sources.len(),
                licences.into_iter().collect::<Vec<_>>().join("; ")
            );
        }
        Some(report) => {
            let text = loso(&rows, &trainable, args)?;
            std::fs::write(report, text)
                .with_context(|| format!("cannot write {}", report.display()))?;
            eprintln!("wrote {}", report.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A training example: bucket counts, their normalization factor, and the class.
type Example = (Vec<(usize, f32)>, f32, usize, f32);

/// Multinomial logistic regression with AdaGrad, class-balanced and source-balanced weights.
fn train(rows: &[&Row], args: &TrainArgs) -> Vec<u8> {
    let dim = 1usize << args.bits;
    // A row's weight shrinks with the size of its source's share of its class
    // (`size^-source_balance`): one big source must not define what an attack looks like.
    // Documents train in chunks of a few paragraphs: the classifier reads long texts in
    // windows, so a window of a README is what it must learn to call benign. A chunk counts as
    // one row of its source.
    let copies: Vec<(&Row, String)> = rows
        .iter()
        .filter(|r| r.category != DOCUMENT)
        .filter_map(|r| wrapped(&r.text, args.wrap_every).map(|t| (*r, t)))
        .collect();
    let texts: Vec<(&Row, &str)> = rows
        .iter()
        .flat_map(|r| {
            let parts = if r.category == DOCUMENT {
                chunks(&r.text)
            } else {
                vec![r.text.as_str()]
            };
            parts.into_iter().map(move |t| (*r, t))
        })
        .chain(copies.iter().map(|(r, t)| (*r, t.as_str())))
        .collect();
    let mut sizes: BTreeMap<(&str, usize), usize> = BTreeMap::new();
    for (r, _) in &texts {
        *sizes
            .entry((r.group.as_str(), r.label.index()))
            .or_default() += 1;
    }
    let group_weight = |r: &Row| {
        let n = sizes[&(r.group.as_str(), r.label.index())] as f32;
        (100.0 / n).powf(args.source_balance)
    };
    let data: Vec<Example> = texts
        .par_iter()
        .filter_map(|(r, text)| {
            let tokens = classifier::tokens_of(text);
            // Texts of one or two tokens ("hello", "password?") are game moves whose label says
            // more about the game than about the text; they teach the model noise.
            (tokens.len() >= 3 && mostly_latin(text) && !machine_translated(r)).then(|| {
                let (features, norm) = Classifier::features(args.bits, &tokens);
                (features, norm, r.label.index(), group_weight(r))
            })
        })
        .collect();
    let mut counts = [0.0f32; CLASSES];
    for d in &data {
        counts[d.2] += d.3;
    }
    let total: f32 = counts.iter().sum();
    let class_weight: [f32; CLASSES] =
        std::array::from_fn(|c| total / (CLASSES as f32 * counts[c].max(1.0)));
    // One model per row order, averaged: the order alone moved held-out balanced accuracy by
    // up to 1.7 points between seeds.
    let fits: Vec<(Vec<f32>, [f32; CLASSES])> = (0..args.orders)
        .into_par_iter()
        .map(|k| fit(&data, class_weight, args.seed.wrapping_add(k), args))
        .collect();
    let scale = 1.0 / fits.len() as f32;
    let mut w = vec![0.0f32; dim * CLASSES];
    let mut b = [0.0f32; CLASSES];
    for (fw, fb) in &fits {
        for (a, x) in w.iter_mut().zip(fw) {
            *a += x * scale;
        }
        for (a, x) in b.iter_mut().zip(fb) {
            *a += x * scale;
        }
    }
    // Training balances the classes; traffic does not. Shift the prior towards benign, so that
    // a text with little evidence scores low.
    b[classifier::BENIGN] += PRIOR_SHIFT;
    Classifier::to_bytes(args.bits, WINDOW, STRIDE, b, &w)
}

/// A copy of a training text inside a data container (a JSON record, list or envelope, a YAML
/// item, an HTML page), for one text in `every` (chosen by a hash of the text; `every = 0`
/// wraps none), else `None`. Prompts carry JSON, YAML and web pages (tool results, API
/// responses, configuration, retrieved content) whatever their intent; seen around attacks and
/// benign texts alike, the containers' brackets, braces, colons and tags cannot stand for
/// either class. Without the copies, the model took `[]` and `{}` for a jailbreak's tags and
/// called plain JSON a jailbreak, and took `<html><head><title>` (the frame of PurpleLlama's
/// web-page injections) for an injection (`docs/model-card.md`).
fn wrapped(text: &str, every: u64) -> Option<String> {
    let h = crate::data::fnv1a(text.as_bytes());
    if every == 0 || !h.is_multiple_of(every) {
        return None;
    }
    let pick = (h / every) % 5;
    let quoted = serde_json::Value::from(text).to_string();
    let id = (h >> 20) % 10_000;
    Some(match pick {
        0 => format!("{{\"id\": {id}, \"text\": {quoted}, \"tags\": [], \"metadata\": {{}}}}"),
        1 => format!(
            "[{{\"input\": {quoted}, \"labels\": [], \"score\": null}}, {{\"input\": \"\", \"labels\": []}}]"
        ),
        2 => {
            let body: String = text.lines().map(|l| format!("    {l}\n")).collect();
            format!("- id: {id}\n  body: |\n{body}  tags: []\n  extra: {{}}\n")
        }
        3 => format!(
            "{{\"records\": [{{\"field\": \"message\", \"value\": {quoted}}}], \"errors\": [], \"next\": null}}"
        ),
        _ => {
            let escaped = text
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            let title = ["Home", "Article", "Search results", "Product"][(id % 4) as usize];
            format!(
                "<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{escaped}</p><img src=\"/img/{id}.png\" alt=\"\"></body></html>"
            )
        }
    })
}

/// Most chunks one document trains on, so that a long README does not outweigh short ones.
const MAX_CHUNKS: usize = 24;
/// A chunk grows paragraph by paragraph until it has this many bytes.
const CHUNK_BYTES: usize = 400;

/// A document cut at blank lines into chunks of at least [`CHUNK_BYTES`] (the last may be
/// shorter), at most [`MAX_CHUNKS`] of them.
fn chunks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut search = 0;
    while out.len() < MAX_CHUNKS {
        match text[search..].find("\n\n") {
            Some(at) => {
                let end = search + at;
                search = end + 2;
                if end - start >= CHUNK_BYTES {
                    out.push(text[start..end].trim());
                    start = search;
                }
            }
            None => {
                if !text[start..].trim().is_empty() {
                    out.push(text[start..].trim());
                }
                break;
            }
        }
    }
    out
}

/// Multinomial logistic regression fitted by AdaGrad over `args.epochs` passes of `data`, in
/// the row order `seed` gives: the weights and biases.
fn fit(
    data: &[Example],
    class_weight: [f32; CLASSES],
    seed: u64,
    args: &TrainArgs,
) -> (Vec<f32>, [f32; CLASSES]) {
    let dim = 1usize << args.bits;
    let mut w = vec![0.0f32; dim * CLASSES];
    let mut g2 = vec![1e-6f32; dim * CLASSES];
    let mut b = [0.0f32; CLASSES];
    let mut bg2 = [1e-6f32; CLASSES];
    let (lr, l2) = (args.learning_rate, args.l2);
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut rng = fastrand_like(seed);
    for _ in 0..args.epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, (rng() % (i as u64 + 1)) as usize);
        }
        for &k in &order {
            let (features, norm, y, row_weight) = &data[k];
            let mut z = b;
            for &(i, n) in features {
                for c in 0..CLASSES {
                    z[c] += w[i * CLASSES + c] * n * norm;
                }
            }
            let p = classifier::softmax(z);
            for c in 0..CLASSES {
                let g = (p[c] - f32::from(u8::from(c == *y))) * class_weight[*y] * row_weight;
                for &(i, n) in features {
                    let j = i * CLASSES + c;
                    let grad = g * n * norm + l2 * w[j];
                    g2[j] += grad * grad;
                    w[j] -= lr * grad / g2[j].sqrt();
                }
                bg2[c] += g * g;
                b[c] -= lr * g / bg2[c].sqrt();
            }
        }
    }
    (w, b)
}

/// Languages a corpus names as the last part of a row's category when the row is a machine
/// translation of another (PurpleLlama's `.../different_user_input_language/Spanish`).
const TRANSLATION_LANGUAGES: [&str; 17] = [
    "Arabic",
    "Bengali",
    "Chinese",
    "French",
    "German",
    "Hindi",
    "Indonesian",
    "Italian",
    "Japanese",
    "Korean",
    "Portuguese",
    "Russian",
    "Spanish",
    "Tagalog",
    "Thai",
    "Turkish",
    "Vietnamese",
];

/// Whether a row is a machine translation of another row, by its category. Every such row in
/// the corpora is an attack, so training on them teaches "Portuguese, so an attack": the
/// English original trains, the translations do not. Other languages are the rules' job.
pub(crate) fn machine_translated(r: &Row) -> bool {
    r.category
        .rsplit('/')
        .next()
        .is_some_and(|last| TRANSLATION_LANGUAGES.contains(&last))
}

/// Whether most letters of `text` are Latin. Nearly every non-Latin row of the corpora is a
/// translated attack, so a model trained on them learns "not English, so an attack" and flags
/// ordinary users writing in their own language. Other languages are covered by the rules.
pub(crate) fn mostly_latin(text: &str) -> bool {
    let (mut latin, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        latin += usize::from(c.is_ascii_alphabetic() || ('\u{00C0}'..='\u{024F}').contains(&c));
    }
    letters == 0 || latin * 10 >= letters * 8
}

/// A small deterministic generator (SplitMix64) so training is reproducible everywhere.
fn fastrand_like(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

pub(crate) fn engine_with(bytes: &[u8]) -> anyhow::Result<SecurityEngine> {
    Ok(SecurityEngine::try_with_config(SecurityConfig::new())?
        .with_classifier(Classifier::from_bytes(bytes)?))
}

fn score_all(engine: &SecurityEngine, rows: &[&Row]) -> Vec<Scored> {
    rows.par_iter()
        .map(|r| Scored {
            score: engine.analyze(&r.text).map_or(1.0, |a| a.score()),
            attack: r.label.is_attack(),
        })
        .collect()
}

/// A rate as a percentage with one decimal, or a dash when undefined.
pub(crate) fn pct(x: Option<f64>) -> String {
    x.map_or("–".to_owned(), |v| format!("{:.1}", v * 100.0))
}

/// Whether a row is retrieved content that an application would analyze with
/// `analyze_document`: the crate documents, and BIPIA's e-mails, tables and code answers (clean,
/// or with a planted instruction).
fn retrieved(r: &Row) -> bool {
    r.category == DOCUMENT
        || (r.group.contains("BIPIA")
            && (r.category.starts_with("bipia_context/")
                || r.category.starts_with("bipia_indirect/")))
}

/// Every row's fast-tier score from a model that never saw the row's source, and the models.
pub(crate) struct HeldOut {
    /// The score of every row, in `rows` order.
    pub(crate) scores: Vec<f32>,
    /// For [`retrieved`] rows, also the score as a document (`analyze_document`).
    pub(crate) as_documents: Vec<Option<f32>>,
    /// The model trained on every trainable row.
    pub(crate) full: SecurityEngine,
    /// For each training source, the model trained without it.
    per_group: BTreeMap<String, SecurityEngine>,
}

impl HeldOut {
    /// Held-out scores from one engine for every source, as if none trained: for tests of what
    /// reads them.
    #[cfg(test)]
    pub(crate) fn from_one(rows: &[Row], engine: SecurityEngine) -> Self {
        Self {
            scores: rows
                .iter()
                .map(|r| engine.analyze(&r.text).map_or(1.0, |a| a.score()))
                .collect(),
            as_documents: vec![None; rows.len()],
            full: engine,
            per_group: BTreeMap::new(),
        }
    }

    /// The engine that never saw `r`'s source: the one trained without it, or the full model
    /// for sources that do not train.
    pub(crate) fn engine_for(&self, r: &Row) -> &SecurityEngine {
        self.per_group.get(r.group.as_str()).unwrap_or(&self.full)
    }
}

/// The fast tier's score of every row (in `rows` order) from a model that never saw the row's
/// source: each training source is scored by a model trained without it, every other source by
/// the full model.
pub(crate) fn held_out_scores(
    rows: &[Row],
    trainable: &[&Row],
    args: &TrainArgs,
) -> anyhow::Result<HeldOut> {
    let train_groups: BTreeSet<&str> = trainable.iter().map(|r| r.group.as_str()).collect();
    let per_group: Vec<(String, SecurityEngine)> = train_groups
        .par_iter()
        .map(|g| {
            let without: Vec<&Row> = trainable
                .iter()
                .copied()
                .filter(|r| r.group != *g)
                .collect();
            Ok(((*g).to_owned(), engine_with(&train(&without, args))?))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut held = HeldOut {
        scores: Vec::new(),
        as_documents: Vec::new(),
        full: engine_with(&train(trainable, args))?,
        per_group: per_group.into_iter().collect(),
    };
    let (scores, as_documents) = rows
        .par_iter()
        .map(|r| {
            let engine = held.engine_for(r);
            let document =
                retrieved(r).then(|| engine.analyze_document(&r.text).map_or(1.0, |a| a.score()));
            (engine.analyze(&r.text).map_or(1.0, |a| a.score()), document)
        })
        .unzip();
    held.scores = scores;
    held.as_documents = as_documents;
    Ok(held)
}

/// Writes one JSON line per row with its held-out score.
fn write_scores(path: &std::path::Path, rows: &[Row], scores: &[f32]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    for (r, score) in rows.iter().zip(scores) {
        let line = serde_json::json!({
            "source": r.group,
            "category": r.category,
            "label": format!("{:?}", r.label).to_lowercase(),
            "split": r.split,
            "score": score,
            "text": r.text,
        });
        writeln!(out, "{line}").with_context(|| format!("cannot write {}", path.display()))?;
    }
    out.flush()
        .with_context(|| format!("cannot write {}", path.display()))
}

fn loso(rows: &[Row], trainable: &[&Row], args: &TrainArgs) -> anyhow::Result<String> {
    let train_groups: BTreeSet<&str> = trainable.iter().map(|r| r.group.as_str()).collect();
    let held_out = held_out_scores(rows, trainable, args)?;
    let (scores, as_documents, full) = (&held_out.scores, &held_out.as_documents, &held_out.full);
    if let Some(path) = &args.scores_out {
        write_scores(path, rows, scores)?;
    }
    let mut by_group: BTreeMap<&str, Vec<Scored>> = BTreeMap::new();
    // The target is defined on the prompt corpora: documents get their own section.
    let mut documents: Vec<Scored> = Vec::new();
    // So do the rows written for this project: they are not a public source.
    let mut own: BTreeMap<&str, Vec<Scored>> = BTreeMap::new();
    for (r, score) in rows.iter().zip(scores) {
        if is_own(r) {
            own.entry(r.group.as_str()).or_default().push(Scored {
                score: *score,
                attack: r.label.is_attack(),
            });
            continue;
        }
        if r.category == DOCUMENT {
            documents.push(Scored {
                score: *score,
                attack: false,
            });
            continue;
        }
        by_group.entry(r.group.as_str()).or_default().push(Scored {
            score: *score,
            attack: r.label.is_attack(),
        });
    }
    let mut held: Vec<(String, bool, Vec<Scored>)> = by_group
        .into_iter()
        .map(|(g, s)| (g.to_owned(), train_groups.contains(g), s))
        .collect();
    let pooled: Vec<Scored> = held
        .iter()
        .flat_map(|(_, _, s)| s.iter().cloned())
        .collect();
    let (docs_dev, dev): (Vec<&Row>, Vec<&Row>) = rows
        .iter()
        .filter(|r| permissive(&r.license) && r.split == "dev")
        .partition(|r| r.category == DOCUMENT);
    let (own_dev, dev): (Vec<&Row>, Vec<&Row>) = dev.into_iter().partition(|r| is_own(r));
    let dev_scores = score_all(full, &dev);
    let docs_dev_scores = score_all(full, &docs_dev);
    let threshold = SecurityConfig::new().effective_threshold();
    let at_1pct = threshold_for_fpr(&pooled, 0.01).unwrap_or(1.0);

    let mut out = String::new();
    writeln!(out, "# Detection evaluation (generated)\n")?;
    writeln!(
        out,
        "Generated by `cargo run --release -p llm-security-cli -- train --cargo-docs Cargo.lock --loso docs/detection-eval.md{}`.",
        args.local_docs
            .iter()
            .map(|d| format!(" --local-docs {}", d.display()))
            .collect::<String>()
    )?;
    writeln!(
        out,
        "Engine: rules + classifier + Unicode checks, balanced sensitivity (threshold {threshold})."
    )?;
    writeln!(
        out,
        "Every score below comes from a model that never saw the row's source: each permissively"
    )?;
    writeln!(
        out,
        "licensed source is held out in turn (leave-one-source-out), and sources that may not train a"
    )?;
    writeln!(
        out,
        "shipped model (unspecified, GPL, non-commercial, share-alike licences) are scored by the full model.\n"
    )?;
    writeln!(out, "## Pooled over held-out sources\n")?;
    writeln!(
        out,
        "| threshold | attacks | benign | TPR % | FPR % | precision % | F1 % | balanced acc. % | ROC AUC |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    let levels = [
        ("strict (0.3)".to_owned(), 0.3),
        (format!("balanced ({threshold})"), threshold),
        ("low (0.8)".to_owned(), 0.8),
        (format!("FPR ≤ 1% ({at_1pct:.3})"), at_1pct),
    ];
    for (name, t) in levels {
        let m = metrics(&pooled, t);
        writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {:.3} |",
            m.attacks,
            m.benign,
            pct(m.tpr),
            pct(m.fpr),
            pct(m.precision),
            pct(m.f1),
            pct(m.balanced_accuracy),
            m.auc.unwrap_or(f64::NAN)
        )?;
    }
    writeln!(out, "\n## Per source (held out)\n")?;
    writeln!(
        out,
        "| source | trains shipped model | attacks | benign | TPR % (attacks caught) | FPR % (benign flagged) |"
    )?;
    writeln!(out, "|---|---|---:|---:|---:|---:|")?;
    held.sort_by(|a, b| a.0.cmp(&b.0));
    for (g, trains, s) in &held {
        let m = metrics(s, threshold);
        writeln!(
            out,
            "| {g} | {} | {} | {} | {} | {} |",
            if *trains {
                "yes (held out here)"
            } else {
                "no (licence)"
            },
            m.attacks,
            m.benign,
            pct(m.tpr),
            pct(m.fpr)
        )?;
    }
    writeln!(
        out,
        "\n## Random dev split (for comparison; templates leak across it)\n"
    )?;
    let m = metrics(&dev_scores, threshold);
    writeln!(
        out,
        "Dev rows {} ({} attacks, {} benign): TPR {} %, FPR {} %, balanced accuracy {} %, ROC AUC {:.3}.",
        m.n,
        m.attacks,
        m.benign,
        pct(m.tpr),
        pct(m.fpr),
        pct(m.balanced_accuracy),
        m.auc.unwrap_or(f64::NAN)
    )?;
    writeln!(
        out,
        "\n## Retrieved content: `analyze` and `analyze_document`\n"
    )?;
    writeln!(
        out,
        "Rows that an application would pass as retrieved content, held out as above, analyzed as \
         a prompt and as a document (the input checks plus the document rules), at the balanced \
         threshold. The document rules were written after reading BIPIA's planted instructions: \
         their recall there is not evidence that they generalize; the benign columns are the \
         precision check.\n"
    )?;
    writeln!(
        out,
        "| rows | attacks | benign | `analyze` TPR % | `analyze_document` TPR % | `analyze` FPR % | `analyze_document` FPR % |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|")?;
    let mut kinds: BTreeMap<String, (Vec<Scored>, Vec<Scored>)> = BTreeMap::new();
    for ((r, score), document) in rows.iter().zip(scores).zip(as_documents) {
        let Some(document) = document else { continue };
        let kind = if r.category == DOCUMENT {
            "crate documents".to_owned()
        } else {
            format!("BIPIA {}", r.category.split('/').nth(1).unwrap_or_default())
        };
        let entry = kinds.entry(kind).or_default();
        let attack = r.label.is_attack();
        entry.0.push(Scored {
            score: *score,
            attack,
        });
        entry.1.push(Scored {
            score: *document,
            attack,
        });
    }
    for (kind, (plain, document)) in &kinds {
        let (p, d) = (metrics(plain, threshold), metrics(document, threshold));
        writeln!(
            out,
            "| {kind} | {} | {} | {} | {} | {} | {} |",
            p.attacks,
            p.benign,
            pct(p.tpr),
            pct(d.tpr),
            pct(p.fpr),
            pct(d.fpr)
        )?;
    }
    if !documents.is_empty() {
        let held_out = metrics(&documents, threshold);
        let split = metrics(&docs_dev_scores, threshold);
        writeln!(
            out,
            "\n## Documents (benign crate READMEs and other Markdown files, `--cargo-docs`)\n"
        )?;
        writeln!(
            out,
            "Not in the pooled figures above, which are the prompt corpora's. Scored whole, as \
             `analyze` sees a document (windows of {WINDOW} tokens, stride {STRIDE}), at the \
             balanced threshold.\n"
        )?;
        writeln!(out, "| model | documents | flagged % |")?;
        writeln!(out, "|---|---:|---:|")?;
        writeln!(
            out,
            "| trained without any crate document (source held out) | {} | {} |",
            held_out.benign,
            pct(held_out.fpr)
        )?;
        writeln!(
            out,
            "| trained on the other crates' documents (dev split by crate name) | {} | {} |",
            split.benign,
            pct(split.fpr)
        )?;
    }
    crate::local_docs::section(&mut out, &args.local_docs, full, threshold)?;
    crate::buried::section(&mut out, rows, &held_out, threshold)?;
    own_section(&mut out, &own, &own_dev, full, threshold)?;
    Ok(out)
}

/// The report's section on the rows written for this project: each source scored by a model
/// that never saw it, and its dev split by the model trained on its train split.
fn own_section(
    out: &mut String,
    held_out: &BTreeMap<&str, Vec<Scored>>,
    dev: &[&Row],
    full: &SecurityEngine,
    threshold: f32,
) -> anyhow::Result<()> {
    if held_out.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n## Rows written for this project (`data/prompts`)\n")?;
    writeln!(
        out,
        "Not in the pooled figures above, which are the public corpora's. Rows the corpora \
         lack, written for this project, one source per file (what each holds: \
         `data/prompts/README.md`). \"Held out\" is a model that never saw \
         the source; \"dev split\" is the shipped model, trained on the source's train split, on \
         the rows it never trained on. Same author for both splits: the dev split measures \
         the fix, the held-out column the problem.\n"
    )?;
    writeln!(
        out,
        "| source | rows | model | flagged % at strict (0.3) | flagged % at balanced ({threshold}) |"
    )?;
    writeln!(out, "|---|---:|---|---:|---:|")?;
    for (group, scored) in held_out {
        let of_group: Vec<&Row> = dev.iter().copied().filter(|r| r.group == *group).collect();
        let dev_scored = score_all(full, &of_group);
        for (model, s) in [("held out", scored), ("dev split", &dev_scored)] {
            writeln!(
                out,
                "| {group} | {} | {model} | {} | {} |",
                s.len(),
                pct(metrics(s, 0.3).fpr),
                pct(metrics(s, threshold).fpr)
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_cut_into_bounded_chunks_at_blank_lines() {
        let para = "word ".repeat(50); // 250 bytes
        let doc = vec![para.as_str(); 100].join("\n\n");
        let parts = chunks(&doc);
        assert_eq!(parts.len(), MAX_CHUNKS);
        // Two paragraphs make a chunk of at least CHUNK_BYTES, cut at a blank line.
        assert!(
            parts
                .iter()
                .all(|p| p.len() >= CHUNK_BYTES && p.len() < 2 * CHUNK_BYTES)
        );
        assert!(
            parts
                .iter()
                .all(|p| !p.starts_with('\n') && !p.ends_with('\n'))
        );
        // A short document is one chunk; an empty one none.
        assert_eq!(chunks("# Title\n\nOne line."), ["# Title\n\nOne line."]);
        assert!(chunks("  \n\n ").is_empty());
    }

    #[test]
    fn a_share_of_texts_is_also_seen_inside_data_containers() {
        let texts: Vec<String> = (0..400)
            .map(|i| format!("Text number {i} says \"hi\" & <b>bye</b>\nand ends."))
            .collect();
        let copies: Vec<(String, String)> = texts
            .iter()
            .filter_map(|t| wrapped(t, 2).map(|c| (t.clone(), c)))
            .collect();
        // About one text in two, always the same ones; none when `every` is 0.
        assert!((150..=250).contains(&copies.len()), "{}", copies.len());
        assert!(texts.iter().all(|t| wrapped(t, 0).is_none()));
        assert!(
            copies
                .iter()
                .all(|(t, c)| wrapped(t, 2).as_ref() == Some(c))
        );
        let mut shapes = BTreeSet::new();
        for (text, copy) in &copies {
            match serde_json::from_str::<serde_json::Value>(copy) {
                // The JSON shapes hold the text itself, as one string value.
                Ok(json) => {
                    let mut strings = Vec::new();
                    collect_strings(&json, &mut strings);
                    assert!(strings.contains(text), "{copy}");
                    shapes.insert(copy.chars().take(5).collect::<String>());
                }
                // The HTML one holds the text with its markup characters escaped.
                Err(_) if copy.starts_with("<html>") => {
                    let number = text.split_whitespace().nth(2).unwrap_or_default();
                    assert!(
                        copy.contains(&format!(
                            "<p>Text number {number} says \"hi\" &amp; &lt;b&gt;bye&lt;/b&gt;\nand ends.</p>"
                        )),
                        "{copy}"
                    );
                    assert!(!copy.contains("<b>"), "{copy}");
                    shapes.insert("html".to_owned());
                }
                // The YAML one holds each of its lines, indented in a block scalar.
                Err(_) => {
                    assert!(
                        copy.starts_with("- id: ") && copy.contains("  body: |\n"),
                        "{copy}"
                    );
                    assert!(text.lines().all(|l| copy.contains(&format!("\n    {l}\n"))));
                    shapes.insert("yaml".to_owned());
                }
            }
        }
        assert_eq!(shapes.len(), 5, "{shapes:?}");
    }

    fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
            serde_json::Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
            _ => {}
        }
    }

    #[test]
    fn machine_translations_are_told_by_their_category() {
        let row = |category: &str| Row {
            text: "x".into(),
            label: crate::data::Label::Injection,
            group: "github:meta-llama/PurpleLlama".into(),
            category: category.into(),
            license: "MIT".into(),
            split: "train".into(),
        };
        for category in [
            "cyberseceval/direct/persuasion/Spanish",
            "cyberseceval/indirect/system_mode/Filipino/Tagalog",
            "cyberseceval/direct/few_shot_attack/Hindi",
        ] {
            assert!(machine_translated(&row(category)), "{category}");
        }
        for category in [
            "cyberseceval/direct/persuasion",
            "chat/de",
            "deepset",
            "",
            "German speakers",
        ] {
            assert!(!machine_translated(&row(category)), "{category}");
        }
    }
}
