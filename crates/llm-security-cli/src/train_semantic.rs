//! `train --semantic`: embed the corpora with the semantic tier's encoder, fit its head, and
//! measure the cascade (fast tier, then the semantic tier for unsure inputs) with whole sources
//! held out.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufReader, BufWriter, Read as _, Write as _};
use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;
use llm_security::SecurityEngine;
use llm_security::classifier;
use llm_security::semantic::{DIM, Embedding, Encoder, Head, TrainOptions};
use rayon::prelude::*;

use crate::data::{Row, permissive};
use crate::metrics::{Scored, metrics, threshold_for_fpr};
use crate::train::{TrainArgs, held_out_scores, machine_translated, mostly_latin, pct};

/// The fast-tier score at and above which an input is flagged anyway: the semantic tier cannot
/// change the verdict there, so it is never consulted.
const FAST_FLAGS: f32 = 0.5;

fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Lower ends of the consulted band that the report compares.
const BANDS: [f32; 5] = [0.0, 0.02, 0.05, 0.1, 0.2];

/// Where the semantic tier's model and head live, and what to measure.
pub(crate) struct SemanticArgs<'a> {
    pub(crate) model_dir: &'a Path,
    pub(crate) head_out: &'a Path,
    pub(crate) cache: &'a Path,
    pub(crate) latency: Option<usize>,
    /// Documents (`--cargo-docs`) and this project's own rows (`--own`): they train the fast
    /// tier's held-out models, as they train the shipped one, but neither the head nor the
    /// report uses them.
    pub(crate) extra: &'a [Row],
}

/// Runs `train --semantic`.
pub(crate) fn run(
    rows: &[Row],
    args: &TrainArgs,
    semantic: &SemanticArgs<'_>,
) -> anyhow::Result<()> {
    let encoder = Encoder::load(semantic.model_dir)?;
    if let Some(n) = semantic.latency {
        let report = latency(rows, &encoder, n)?;
        print!("{report}");
        return Ok(());
    }
    let embeddings = embed_all(&encoder, rows, semantic.cache)?;
    let training = training_rows(rows);
    match &args.loso {
        None => {
            let head = fit(rows, &embeddings, &training, None);
            let sources: BTreeSet<String> = training
                .iter()
                .map(|&i| format!("{} ({})", rows[i].group, rows[i].license))
                .collect();
            let head = head.with_trained_on(sources.into_iter().collect());
            std::fs::write(semantic.head_out, head.to_json() + "\n")
                .with_context(|| format!("cannot write {}", semantic.head_out.display()))?;
            eprintln!(
                "wrote {} from {} rows",
                semantic.head_out.display(),
                training.len()
            );
        }
        Some(report) => {
            let trainable: Vec<&Row> = rows
                .iter()
                .chain(semantic.extra)
                .filter(|r| permissive(&r.license) && r.split == "train")
                .collect();
            eprintln!("fast tier, leave-one-source-out ...");
            let fast = held_out_scores(rows, &trainable, args)?.scores;
            eprintln!("semantic tier, leave-one-source-out ...");
            let slow = semantic_held_out(rows, &embeddings, &training);
            let text = loso_report(rows, &fast, &slow)?;
            std::fs::write(report, text)
                .with_context(|| format!("cannot write {}", report.display()))?;
            eprintln!("wrote {}", report.display());
        }
    }
    Ok(())
}

/// Indices of the rows the head may learn from: permissive licence, train split, and the same
/// filters as the fast tier (at least three tokens, mostly Latin letters, no machine
/// translations).
fn training_rows(rows: &[Row]) -> Vec<usize> {
    rows.iter()
        .enumerate()
        .filter(|(_, r)| {
            permissive(&r.license)
                && r.split == "train"
                && classifier::tokens_of(&r.text).len() >= 3
                && mostly_latin(&r.text)
                && !machine_translated(r)
        })
        .map(|(i, _)| i)
        .collect()
}

/// Fits a head on the training rows, leaving out one source if asked. Every window of a row
/// is an example with the row's label.
fn fit(
    rows: &[Row],
    embeddings: &[Vec<Embedding>],
    training: &[usize],
    without: Option<&str>,
) -> Head {
    let examples: Vec<(Embedding, bool)> = training
        .iter()
        .filter(|&&i| Some(rows[i].group.as_str()) != without)
        .flat_map(|&i| {
            let attack = rows[i].label.is_attack();
            embeddings[i].iter().map(move |e| (e.clone(), attack))
        })
        .collect();
    Head::train(&examples, TrainOptions::default())
}

fn score_with(head: &Head, windows: &[Embedding]) -> f32 {
    windows
        .iter()
        .map(|e| head.probability(e))
        .fold(0.0, f32::max)
}

/// The semantic score of every row from a head that never saw the row's source.
fn semantic_held_out(rows: &[Row], embeddings: &[Vec<Embedding>], training: &[usize]) -> Vec<f32> {
    let groups: BTreeSet<&str> = training.iter().map(|&i| rows[i].group.as_str()).collect();
    let heads: BTreeMap<&str, Head> = groups
        .par_iter()
        .map(|g| (*g, fit(rows, embeddings, training, Some(g))))
        .collect();
    let full = fit(rows, embeddings, training, None);
    rows.iter()
        .zip(embeddings)
        .map(|(r, e)| score_with(heads.get(r.group.as_str()).unwrap_or(&full), e))
        .collect()
}

/// Embeds every row's windows. Embeddings are kept in `cache` by text (and window settings),
/// saved as they are computed, so an interrupted run resumes where it stopped.
fn embed_all(encoder: &Encoder, rows: &[Row], cache: &Path) -> anyhow::Result<Vec<Vec<Embedding>>> {
    let settings = format!("{:?}", encoder.limits());
    let key = |text: &str| fnv(&[settings.as_bytes(), &[0], text.as_bytes()]);
    let mut known = read_cache(cache);
    let keys: Vec<u64> = rows.par_iter().map(|r| key(&r.text)).collect();
    let texts: BTreeMap<u64, &str> = keys
        .iter()
        .zip(rows)
        .filter(|(k, _)| !known.contains_key(k))
        .map(|(k, r)| (*k, r.text.as_str()))
        .collect();
    let mut missing: Vec<(u64, Vec<Vec<u32>>)> = texts
        .into_par_iter()
        .map(|(k, text)| {
            encoder
                .windows(text)
                .map(|ws| (k, ws.into_iter().map(|w| w.tokens).collect()))
        })
        .collect::<Result<_, _>>()?;
    eprintln!(
        "{} texts embedded before, {} to embed",
        known.len(),
        missing.len()
    );
    // Short texts first, and texts of similar length together, so that padding costs little.
    missing.sort_by_key(|(_, ws)| ws.iter().map(Vec::len).sum::<usize>());
    let started = Instant::now();
    let mut done = 0usize;
    for group in missing.chunks(512) {
        // One call barely uses a second core; two calls at once do.
        let embedded: Vec<(u64, Vec<Embedding>)> = group
            .par_iter()
            .map(|(k, ws)| Ok((*k, encoder.embed_tokens(ws)?)))
            .collect::<anyhow::Result<_>>()?;
        known.extend(embedded);
        done += group.len();
        write_cache(cache, &known)
            .with_context(|| format!("cannot write the embedding cache {}", cache.display()))?;
        eprintln!(
            "embedded {done}/{} texts ({:.1}/s)",
            missing.len(),
            done as f64 / started.elapsed().as_secs_f64()
        );
    }
    Ok(keys
        .iter()
        .map(|k| known.get(k).cloned().unwrap_or_default())
        .collect())
}

/// FNV-1a over byte strings.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Reads the cache: records of (text key, window count, windows of `DIM` floats). A damaged or
/// missing file reads as whatever complete records it holds.
fn read_cache(path: &Path) -> BTreeMap<u64, Vec<Embedding>> {
    let mut out = BTreeMap::new();
    let Ok(file) = std::fs::File::open(path) else {
        return out;
    };
    let mut r = BufReader::new(file);
    let mut word = [0u8; 8];
    let mut small = [0u8; 4];
    while r.read_exact(&mut word).is_ok() && r.read_exact(&mut small).is_ok() {
        let windows = u32::from_le_bytes(small) as usize;
        let mut row = Vec::with_capacity(windows.min(64));
        for _ in 0..windows {
            let mut bytes = vec![0u8; DIM * 4];
            if r.read_exact(&mut bytes).is_err() {
                return out;
            }
            row.push(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            );
        }
        out.insert(u64::from_le_bytes(word), row);
    }
    out
}

fn write_cache(path: &Path, rows: &BTreeMap<u64, Vec<Embedding>>) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = path.with_extension("partial");
    let mut w = BufWriter::new(std::fs::File::create(&partial)?);
    for (key, windows) in rows {
        w.write_all(&key.to_le_bytes())?;
        w.write_all(
            &u32::try_from(windows.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        )?;
        for e in windows {
            for x in e {
                w.write_all(&x.to_le_bytes())?;
            }
        }
    }
    w.flush()?;
    drop(w);
    std::fs::rename(partial, path)
}

/// The cascade's score: the fast score, or, where the fast tier is unsure, both fused as the
/// engine fuses its detectors (noisy-OR).
fn cascade(fast: f32, slow: f32, from: f32) -> f32 {
    if (from..FAST_FLAGS).contains(&fast) {
        1.0 - (1.0 - fast) * (1.0 - slow)
    } else {
        fast
    }
}

fn scored(rows: &[Row], scores: impl Iterator<Item = f32>) -> Vec<Scored> {
    rows.iter()
        .zip(scores)
        .map(|(r, score)| Scored {
            score,
            attack: r.label.is_attack(),
        })
        .collect()
}

fn loso_report(rows: &[Row], fast: &[f32], slow: &[f32]) -> anyhow::Result<String> {
    let mut out = String::new();
    writeln!(out, "# Semantic tier evaluation (generated)\n")?;
    writeln!(
        out,
        "Generated by `LLM_SECURITY_SEMANTIC_MODEL=DIR cargo run --release -p llm-security-cli --features semantic -- train --semantic --cargo-docs Cargo.lock --loso docs/semantic-eval.md`."
    )?;
    writeln!(
        out,
        "Every score comes from models that never saw the row's source (leave-one-source-out for the"
    )?;
    writeln!(
        out,
        "permissively licensed sources; the full models for the rest). The cascade consults the"
    )?;
    writeln!(
        out,
        "semantic tier when the fast score lies in `[from, {FAST_FLAGS})` and fuses both scores by noisy-OR,\nas the engine fuses its detectors.\n"
    )?;
    writeln!(out, "## Pooled\n")?;
    writeln!(
        out,
        "| detector | consulted % | threshold | TPR % | FPR % | balanced acc. % | ROC AUC |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|")?;
    let benign_rows = rows.iter().filter(|r| !r.label.is_attack()).count().max(1);
    let mut line = |name: &str, consulted: Option<f64>, s: &[Scored]| -> anyhow::Result<()> {
        for (label, t) in [
            ("0.5".to_owned(), 0.5),
            (
                "FPR ≤ 1%".to_owned(),
                threshold_for_fpr(s, 0.01).unwrap_or(1.0),
            ),
        ] {
            let m = metrics(s, t);
            writeln!(
                out,
                "| {name} | {} | {label} ({t:.3}) | {} | {} | {} | {:.3} |",
                consulted.map_or("–".to_owned(), |c| format!("{:.1}", c * 100.0)),
                pct(m.tpr),
                pct(m.fpr),
                pct(m.balanced_accuracy),
                m.auc.unwrap_or(f64::NAN)
            )?;
        }
        Ok(())
    };
    line(
        "fast tier alone",
        Some(0.0),
        &scored(rows, fast.iter().copied()),
    )?;
    line(
        "semantic tier alone",
        Some(1.0),
        &scored(rows, slow.iter().copied()),
    )?;
    for from in BANDS {
        let consulted = rows
            .iter()
            .zip(fast)
            .filter(|(r, f)| !r.label.is_attack() && (from..FAST_FLAGS).contains(*f))
            .count() as f64
            / benign_rows as f64;
        let s = scored(
            rows,
            fast.iter().zip(slow).map(|(f, s)| cascade(*f, *s, from)),
        );
        line(&format!("cascade from {from}"), Some(consulted), &s)?;
    }
    writeln!(
        out,
        "\n\"consulted\" is the share of benign rows (ordinary traffic) that reach the semantic tier.\n"
    )?;
    // The engine's default lower end of the consulted band.
    let consult_from = llm_security::Cascade::default().consult_from;
    writeln!(
        out,
        "## The head's prior, for the cascade from {consult_from}, at the engine's threshold 0.5\n"
    )?;
    writeln!(
        out,
        "The head is trained on balanced classes and its bias then set for an assumed share of attacks"
    )?;
    writeln!(
        out,
        "in traffic. A lower prior lowers every semantic score; the shipped head uses {}.\n",
        TrainOptions::default().attack_prior
    )?;
    writeln!(out, "| attack prior | TPR % | FPR % | balanced acc. % |")?;
    writeln!(out, "|---:|---:|---:|---:|")?;
    let trained = TrainOptions::default().attack_prior;
    for prior in [0.1f32, 0.05, 0.02, 0.01, 0.005] {
        let shift = logit(prior) - logit(trained);
        let s = scored(
            rows,
            fast.iter()
                .zip(slow)
                .map(|(f, s)| cascade(*f, sigmoid(logit(*s) + shift), consult_from)),
        );
        let m = metrics(&s, 0.5);
        writeln!(
            out,
            "| {prior} | {} | {} | {} |",
            pct(m.tpr),
            pct(m.fpr),
            pct(m.balanced_accuracy)
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "## Per source: fast tier alone and cascade from {consult_from}, at threshold 0.5\n"
    )?;
    writeln!(
        out,
        "| source | attacks | benign | fast TPR % | cascade TPR % | fast FPR % | cascade FPR % |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|")?;
    let mut groups: BTreeMap<&str, (Vec<Scored>, Vec<Scored>)> = BTreeMap::new();
    for ((r, f), s) in rows.iter().zip(fast).zip(slow) {
        let e = groups.entry(r.group.as_str()).or_default();
        let attack = r.label.is_attack();
        e.0.push(Scored { score: *f, attack });
        e.1.push(Scored {
            score: cascade(*f, *s, consult_from),
            attack,
        });
    }
    for (g, (f, c)) in &groups {
        let (mf, mc) = (metrics(f, 0.5), metrics(c, 0.5));
        writeln!(
            out,
            "| {g} | {} | {} | {} | {} | {} | {} |",
            mf.attacks,
            mf.benign,
            pct(mf.tpr),
            pct(mc.tpr),
            pct(mf.fpr),
            pct(mc.fpr)
        )?;
    }
    Ok(out)
}

/// Per-prompt latency of the fast tier, the semantic tier and the cascade, over `n` rows spread
/// over the corpora. Run it with `RAYON_NUM_THREADS=1` (and `taskset -c 0`) for one core.
fn latency(rows: &[Row], encoder: &Encoder, n: usize) -> anyhow::Result<String> {
    let head = Head::shipped()?;
    let engine = SecurityEngine::new();
    let step = (rows.len() / n.max(1)).max(1);
    let sample: Vec<&Row> = rows.iter().step_by(step).take(n).collect();
    let mut fast = Vec::new();
    let mut slow = Vec::new();
    let mut both: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for r in &sample {
        let t = Instant::now();
        let f = engine.analyze(&r.text).map_or(1.0, |a| a.score());
        let tf = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let windows = encoder.embed_windows(&r.text)?;
        let _ = score_with(&head, &windows);
        let ts = t.elapsed().as_secs_f64();
        fast.push(tf);
        slow.push(tf + ts);
        for from in BANDS {
            let key = (from * 100.0).round() as u32;
            let cost = if (from..FAST_FLAGS).contains(&f) {
                tf + ts
            } else {
                tf
            };
            both.entry(key).or_default().push(cost);
        }
    }
    let mut out = String::new();
    writeln!(
        out,
        "| path | prompts | p50 ms | p90 ms | p99 ms | mean ms |\n|---|---:|---:|---:|---:|---:|"
    )?;
    let mut row = |name: String, v: &mut Vec<f64>| -> anyhow::Result<()> {
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize] * 1e3;
        let mean = v.iter().sum::<f64>() / v.len() as f64 * 1e3;
        writeln!(
            out,
            "| {name} | {} | {:.3} | {:.3} | {:.3} | {mean:.3} |",
            v.len(),
            q(0.5),
            q(0.9),
            q(0.99)
        )?;
        Ok(())
    };
    row("fast tier alone".to_owned(), &mut fast)?;
    row("fast + semantic on every prompt".to_owned(), &mut slow)?;
    for (key, mut v) in both {
        row(
            format!("cascade from {:.2}", f64::from(key) / 100.0),
            &mut v,
        )?;
    }
    Ok(out)
}
