//! `sanitize`: clean a text of Unicode abuse and say what changed.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Args;

use crate::check::read_stdin;
use crate::engine_args::EngineArgs;

/// Arguments of `sanitize`.
#[derive(Debug, Args)]
pub(crate) struct SanitizeArgs {
    /// The text; read from standard input when absent.
    text: Option<String>,
    /// Print `{text, changes, hidden}` as JSON instead of the cleaned text alone.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Prints the cleaned text; exit 0 when nothing changed, 1 when something was cleaned.
pub(crate) fn run(args: &SanitizeArgs) -> anyhow::Result<ExitCode> {
    let engine = args.engine.engine()?;
    let text = match &args.text {
        Some(t) => t.clone(),
        None => read_stdin(engine.config().max_input_bytes)?,
    };
    let sanitized = engine.sanitize(&text)?;
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &sanitized)?;
        writeln!(out)?;
    } else {
        out.write_all(sanitized.text.as_bytes())?;
        if args.text.is_some() {
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(if sanitized.is_changed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
