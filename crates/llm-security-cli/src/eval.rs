//! `eval`: how well the engine separates attacks from benign text in a labelled file.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use rayon::prelude::*;
use serde::Serialize;

use crate::data::{Row, read_rows};
use crate::engine_args::EngineArgs;
use crate::metrics::{Metrics, SWEEP, Scored, metrics, threshold_for_fpr};

/// Arguments of `eval`.
#[derive(Debug, Args)]
pub(crate) struct EvalArgs {
    /// JSON Lines with a text and a label (`benign`, `injection`, `jailbreak`, or 0/1).
    #[arg(long, short)]
    input: PathBuf,
    /// Break results down by this field.
    #[arg(long, value_enum, default_value_t = By::Source)]
    by: By,
    /// The field holding the text.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// The field holding the label.
    #[arg(long, default_value = "label")]
    label_field: String,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum By {
    Source,
    Category,
    None,
}

#[derive(Debug, Serialize)]
struct Report {
    threshold: f32,
    pooled: Metrics,
    threshold_at_1pct_fpr: Option<f32>,
    at_1pct_fpr: Option<Metrics>,
    groups: BTreeMap<String, Metrics>,
    sweep: Vec<Metrics>,
}

fn pct(x: Option<f64>) -> String {
    x.map_or("     –".to_owned(), |v| format!("{:6.1}", v * 100.0))
}

/// Runs the evaluation; exit 0 when it completed.
pub(crate) fn run(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let engine = args.engine.engine()?;
    let rows = read_rows(&args.input, &args.text_field, &args.label_field)?;
    let scored: Vec<(Scored, &Row)> = rows
        .par_iter()
        .map(|r| {
            let score = engine.analyze(&r.text).map_or(1.0, |a| a.score());
            (
                Scored {
                    score,
                    attack: r.label.is_attack(),
                },
                r,
            )
        })
        .collect();
    let all: Vec<Scored> = scored.iter().map(|(s, _)| s.clone()).collect();
    let threshold = engine.config().effective_threshold();
    let mut groups: BTreeMap<String, Vec<Scored>> = BTreeMap::new();
    if args.by != By::None {
        for (s, r) in &scored {
            let key = if args.by == By::Source {
                r.group.clone()
            } else {
                r.category.clone()
            };
            groups.entry(key).or_default().push(s.clone());
        }
    }
    let at = threshold_for_fpr(&all, 0.01);
    let report = Report {
        threshold,
        pooled: metrics(&all, threshold),
        threshold_at_1pct_fpr: at,
        at_1pct_fpr: at.map(|t| metrics(&all, t)),
        groups: groups
            .iter()
            .map(|(k, v)| (k.clone(), metrics(v, threshold)))
            .collect(),
        sweep: SWEEP.iter().map(|&t| metrics(&all, t)).collect(),
    };
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let line = |out: &mut io::StdoutLock<'_>, name: &str, m: &Metrics| {
        writeln!(
            out,
            "{name:<48} {:>6} {:>6} {} {} {} {} {} {}",
            m.attacks,
            m.benign,
            pct(m.tpr),
            pct(m.fpr),
            pct(m.precision),
            pct(m.f1),
            pct(m.balanced_accuracy),
            m.auc.map_or("     –".to_owned(), |a| format!("{a:6.3}"))
        )
    };
    writeln!(
        out,
        "{:<48} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "", "attack", "benign", "TPR%", "FPR%", "prec%", "F1%", "bal%", "AUC"
    )?;
    line(&mut out, &format!("pooled @ {threshold}"), &report.pooled)?;
    if let (Some(t), Some(m)) = (report.threshold_at_1pct_fpr, &report.at_1pct_fpr) {
        line(&mut out, &format!("pooled @ {t:.3} (FPR <= 1%)"), m)?;
    }
    for (name, m) in &report.groups {
        line(
            &mut out,
            &format!("  {}", name.chars().take(46).collect::<String>()),
            m,
        )?;
    }
    writeln!(out, "threshold sweep:")?;
    for m in &report.sweep {
        line(&mut out, &format!("  @ {:.2}", m.threshold), m)?;
    }
    Ok(ExitCode::SUCCESS)
}
