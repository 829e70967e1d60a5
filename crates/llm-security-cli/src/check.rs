//! `analyze` and `validate`: one text, one verdict.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use llm_security::{Analysis, AnalysisContext, Direction, JsonlFileSink, Pipeline, SinkOptions};

use crate::engine_args::EngineArgs;

/// Arguments of `analyze` and `validate`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The text; read from standard input when absent.
    text: Option<String>,
    /// Print the analysis as JSON (`is_secure`, `confidence`, `score`, `threats`, `analysis_time_ms`).
    #[arg(long)]
    json: bool,
    /// Print the text with every finding replaced by a typed placeholder instead of a verdict
    /// (the exit code still tells the verdict).
    #[arg(long, conflicts_with = "json")]
    redact: bool,
    /// Also append the security event to this JSON Lines file.
    #[arg(long, env = "LLM_SECURITY_EVENTS", value_name = "FILE")]
    events: Option<PathBuf>,
    /// User id recorded in the event.
    #[arg(long)]
    user_id: Option<String>,
    /// Session id recorded in the event.
    #[arg(long)]
    session_id: Option<String>,
    /// With `analyze`: the text is retrieved content (a document, web page, e-mail or tool
    /// result put into the model's context), so the document rules run too.
    #[arg(long)]
    document: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Runs the check; exit 0 when secure, 1 when a threat reached the threshold.
pub(crate) fn run(args: &CheckArgs, direction: Direction) -> anyhow::Result<ExitCode> {
    if args.document && direction == Direction::Output {
        bail!("--document applies to `analyze` (model input), not to `validate`");
    }
    let engine = args.engine.engine()?;
    let text = match &args.text {
        Some(t) => t.clone(),
        None => read_stdin(engine.config().max_input_bytes)?,
    };
    let analysis = match &args.events {
        None => match direction {
            Direction::Input if args.document => engine.analyze_document(&text)?,
            Direction::Input => engine.analyze(&text)?,
            Direction::Output => engine.validate(&text)?,
        },
        Some(path) => record(engine, &text, direction, path, args)?,
    };
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &analysis)?;
        writeln!(out)?;
    } else if args.redact {
        writeln!(out, "{}", analysis.redact(&text))?;
    } else {
        print_human(&mut out, &analysis)?;
    }
    out.flush()?;
    Ok(if analysis.is_secure() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn record(
    engine: llm_security::SecurityEngine,
    text: &str,
    direction: Direction,
    path: &std::path::Path,
    args: &CheckArgs,
) -> anyhow::Result<Analysis> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let sink = JsonlFileSink::open(path)
            .with_context(|| "cannot open the events file".to_owned())?
            .with_fsync(true);
        let options = SinkOptions {
            batch: llm_security::BatchConfig {
                max_events: 1,
                ..Default::default()
            },
            ..Default::default()
        };
        let pipeline = Pipeline::builder().sink_with(sink, options).build()?;
        let engine = engine.with_pipeline(pipeline.clone());
        let mut context = AnalysisContext::new();
        context.user_id.clone_from(&args.user_id);
        context.session_id.clone_from(&args.session_id);
        let analysis = match direction {
            Direction::Input if args.document => {
                engine.analyze_document_input_with(text, &context).await?
            }
            Direction::Input => engine.analyze_input_with(text, &context).await?,
            Direction::Output => engine.validate_output_with(text, &context).await?,
        };
        engine.shutdown(Duration::from_secs(10)).await;
        let stats = &pipeline.stats()[0];
        if stats.failed + stats.dropped > 0 {
            bail!("the event could not be written to {}", path.display());
        }
        Ok(analysis)
    })
}

/// Reads standard input as UTF-8, refusing more than `max` bytes.
pub(crate) fn read_stdin(max: usize) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    io::stdin()
        .lock()
        .take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .context("cannot read standard input")?;
    if bytes.len() > max {
        bail!("standard input exceeds the limit of {max} bytes (see --max-input-bytes)");
    }
    String::from_utf8(bytes).context("standard input is not valid UTF-8")
}

fn print_human(out: &mut impl Write, analysis: &Analysis) -> io::Result<()> {
    let verdict = if analysis.is_secure() {
        "SECURE"
    } else {
        "THREAT"
    };
    writeln!(
        out,
        "{verdict}  score={:.2} confidence={:.2} time={:.1}µs",
        analysis.score(),
        analysis.confidence(),
        analysis.analysis_time().as_secs_f64() * 1e6
    )?;
    for t in analysis.threats() {
        let span = t
            .spans
            .first()
            .map(|s| format!("[{}..{}]", s.start, s.end))
            .unwrap_or_default();
        writeln!(
            out,
            "  {:<8} {:<18} {:<40} {span} {:?}",
            t.severity.as_str(),
            t.kind.as_str(),
            t.rule,
            t.evidence
        )?;
    }
    Ok(())
}
