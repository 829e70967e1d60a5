//! `scan`: verdicts for every line of a JSON Lines file, in order, in parallel.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal as _, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use llm_security::SecurityEngine;
use rayon::prelude::*;
use serde_json::{Map, Value, json};

use crate::engine_args::EngineArgs;
use crate::lines::{Line, read_capped_line};

/// Lines analyzed per parallel chunk; output order is kept chunk by chunk.
const CHUNK_LINES: usize = 2048;

/// Arguments of `scan`.
#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// The JSON Lines file to read (`-` for standard input).
    #[arg(long, short)]
    input: PathBuf,
    /// Where to write one verdict line per input line (`-` for standard output).
    #[arg(long, short)]
    output: PathBuf,
    /// Analyze as model input or validate as model output.
    #[arg(long, value_enum, default_value_t = Mode::Input)]
    mode: Mode,
    /// The field holding the text.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Whether records hold model input or model output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Mode {
    /// Text going into a model: `analyze`.
    Input,
    /// Retrieved content going into a model (documents, web pages, e-mails, tool results):
    /// `analyze_document`, the input checks plus the document rules.
    Document,
    /// Text a model produced: `validate`.
    Output,
}

#[derive(Debug, Default)]
struct Summary {
    lines: u64,
    flagged: u64,
    errors: u64,
}

/// Runs the scan; exit 0 when it completed (whatever it found), 2 on an I/O error.
pub(crate) fn run(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let engine = args.engine.engine()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()?;
    let (mut reader, total_bytes): (Box<dyn BufRead>, Option<u64>) =
        if args.input.as_os_str() == "-" {
            (Box::new(BufReader::new(io::stdin())), None)
        } else {
            let file = File::open(&args.input)
                .with_context(|| format!("cannot open {}", args.input.display()))?;
            let len = file.metadata().ok().map(|m| m.len());
            (Box::new(BufReader::with_capacity(1 << 16, file)), len)
        };
    let mut writer: Box<dyn Write> = if args.output.as_os_str() == "-" {
        Box::new(BufWriter::new(io::stdout().lock()))
    } else {
        let file = File::create(&args.output)
            .with_context(|| format!("cannot create {}", args.output.display()))?;
        Box::new(BufWriter::with_capacity(1 << 16, file))
    };
    let progress = progress_bar(total_bytes);
    // A line may carry JSON escaping and other fields on top of the text itself.
    let cap = engine
        .config()
        .max_input_bytes
        .saturating_mul(2)
        .saturating_add(64 * 1024);
    let started = Instant::now();
    let mut summary = Summary::default();
    let mut line_no = 0u64;
    loop {
        let mut chunk = Vec::with_capacity(CHUNK_LINES);
        let mut chunk_bytes = 0u64;
        while chunk.len() < CHUNK_LINES {
            let Some(line) = read_capped_line(&mut reader, cap).context("cannot read the input")?
            else {
                break;
            };
            line_no += 1;
            chunk_bytes += match &line {
                Line::Complete(b) => b.len() as u64 + 1,
                Line::TooLong(n) => *n as u64 + 1,
            };
            chunk.push((line_no, line));
        }
        if chunk.is_empty() {
            break;
        }
        let results: Vec<(String, Outcome)> = pool.install(|| {
            chunk
                .par_iter()
                .map(|(n, line)| verdict(&engine, args, *n, line))
                .collect()
        });
        for (text, outcome) in results {
            writer
                .write_all(text.as_bytes())
                .and_then(|()| writer.write_all(b"\n"))
                .context("cannot write the output")?;
            summary.lines += 1;
            match outcome {
                Outcome::Secure => {}
                Outcome::Flagged => summary.flagged += 1,
                Outcome::Error => summary.errors += 1,
            }
        }
        progress.inc(chunk_bytes);
    }
    writer.flush().context("cannot write the output")?;
    progress.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "scanned {} lines in {secs:.2}s ({:.0} lines/s): {} flagged, {} secure, {} errors",
        summary.lines,
        summary.lines as f64 / secs.max(1e-9),
        summary.flagged,
        summary.lines - summary.flagged - summary.errors,
        summary.errors
    );
    Ok(ExitCode::SUCCESS)
}

enum Outcome {
    Secure,
    Flagged,
    Error,
}

fn verdict(
    engine: &SecurityEngine,
    args: &ScanArgs,
    line_no: u64,
    line: &Line,
) -> (String, Outcome) {
    match analyze_line(engine, args, line) {
        Ok((text, flagged)) => (
            text,
            if flagged {
                Outcome::Flagged
            } else {
                Outcome::Secure
            },
        ),
        Err(error) => (
            json!({"line": line_no, "error": error}).to_string(),
            Outcome::Error,
        ),
    }
}

fn analyze_line(
    engine: &SecurityEngine,
    args: &ScanArgs,
    line: &Line,
) -> Result<(String, bool), String> {
    let bytes = match line {
        Line::Complete(b) => b,
        Line::TooLong(n) => return Err(format!("line of {n} bytes is too long")),
    };
    let (record, flagged) = annotate(engine, args.mode, &args.text_field, bytes)?;
    Ok((Value::Object(record).to_string(), flagged))
}

/// Parses one JSON record, analyzes its `text_field`, and returns the record with
/// `is_secure`, `confidence`, `score` and `threats` added, and whether it was flagged.
pub(crate) fn annotate(
    engine: &SecurityEngine,
    mode: Mode,
    text_field: &str,
    bytes: &[u8],
) -> Result<(Map<String, Value>, bool), String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(mut record) = value else {
        return Err("expected a JSON object".to_owned());
    };
    let text = match record.get(text_field) {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(format!("field {text_field:?} is not a string")),
        None => return Err(format!("missing field {text_field:?}")),
    };
    let analysis = match mode {
        Mode::Input => engine.analyze(text),
        Mode::Document => engine.analyze_document(text),
        Mode::Output => engine.validate(text),
    }
    .map_err(|e| e.to_string())?;
    let threats = serde_json::to_value(analysis.threats()).map_err(|e| e.to_string())?;
    insert(&mut record, "is_secure", Value::Bool(analysis.is_secure()));
    insert(&mut record, "confidence", json!(analysis.confidence()));
    insert(&mut record, "score", json!(analysis.score()));
    insert(&mut record, "threats", threats);
    Ok((record, !analysis.is_secure()))
}

fn insert(record: &mut Map<String, Value>, key: &str, value: Value) {
    record.insert(key.to_owned(), value);
}

fn progress_bar(total: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}
