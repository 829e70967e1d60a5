//! `llm-security`: the command line of llm-security.
//!
//! Exit codes (a contract scripts rely on): `0` the text is secure (or a `scan` completed),
//! `1` a threat was found, `2` a usage, configuration or I/O error.

mod buried;
mod check;
mod consume;
mod data;
mod engine_args;
mod eval;
mod events;
mod lines;
mod local_docs;
mod metrics;
mod report;
mod sanitize;
mod scan;
mod serve;
mod spool;
mod train;
#[cfg(feature = "semantic")]
mod train_semantic;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Guard what goes into a language model and what comes out.
#[derive(Debug, Parser)]
#[command(name = "llm-security", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Analyze text going into a model (TEXT, or standard input). Exit 0 secure, 1 threat.
    Analyze(check::CheckArgs),
    /// Validate text a model produced (TEXT, or standard input). Exit 0 secure, 1 threat.
    Validate(check::CheckArgs),
    /// Clean text of Unicode abuse (TEXT, or standard input). Exit 0 unchanged, 1 cleaned.
    Sanitize(sanitize::SanitizeArgs),
    /// Analyze every line of a JSON Lines file, writing one verdict line per input line.
    Scan(scan::ScanArgs),
    /// Measure detection on a labelled JSON Lines file (TPR, FPR, precision, F1, balanced
    /// accuracy, ROC AUC, pooled and per source, with a threshold sweep).
    Eval(eval::EvalArgs),
    /// List stored security events from the embedded store, by time and type.
    Events(events::EventsArgs),
    /// Build the daily security report from the embedded store; optionally upload it to S3.
    Report(report::ReportArgs),
    /// Serve the engine over HTTP: REST, GraphQL, metrics, inbound webhooks.
    Serve(serve::ServeArgs),
    /// Inspect and operate the durable spools of a stopped server: status, replay, purge.
    Spool(spool::SpoolArgs),
    /// Scale-out analysis on Kafka: read prompts as a member of a consumer group, produce one
    /// verdict each; offsets are committed only after the verdict is acknowledged.
    Consume(consume::ConsumeArgs),
    /// Train the classifier from labelled corpora (permissive licences only), or measure it with
    /// whole sources held out (--loso).
    Train(train::TrainArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LLM_SECURITY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => check::run(&args, llm_security::Direction::Input),
        Command::Validate(args) => check::run(&args, llm_security::Direction::Output),
        Command::Sanitize(args) => sanitize::run(&args),
        Command::Scan(args) => scan::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Events(args) => events::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Spool(args) => spool::run(&args),
        Command::Consume(args) => consume::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
