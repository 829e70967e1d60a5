//! `events`: read stored security events from the embedded SQLite store.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Args;
use llm_security::EventType;
use llm_security::sqlite::{EventQuery, SqliteSink};

/// Arguments of `events`.
#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// The store (default: $LLM_SECURITY_DATA_DIR/events.db, else ./llm-security-data/events.db).
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
    /// Only events since this time: an RFC 3339 timestamp, or an age such as 30m, 24h, 7d.
    #[arg(long)]
    since: Option<String>,
    /// Only events of this type: analysis.completed, threat.detected, threat.mitigated.
    #[arg(long = "type", value_name = "TYPE")]
    event_type: Option<String>,
    /// Only the newest N events.
    #[arg(long)]
    limit: Option<u32>,
    /// Print one JSON event per line instead of a summary per event.
    #[arg(long)]
    json: bool,
}

fn parse_since(s: &str) -> anyhow::Result<llm_security::DateTimeUtc> {
    if let Ok(t) =
        serde_json::from_value::<llm_security::DateTimeUtc>(serde_json::Value::String(s.to_owned()))
    {
        return Ok(t);
    }
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number
        .parse()
        .with_context(|| format!("--since {s:?}: expected RFC 3339 or an age like 24h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => bail!("--since {s:?}: the unit must be s, m, h or d"),
    };
    let age = std::time::Duration::from_secs(secs);
    Ok(llm_security::DateTimeUtc::from(
        std::time::SystemTime::now() - age,
    ))
}

/// Prints the matching events; exit 0.
pub(crate) fn run(args: &EventsArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.clone().unwrap_or_else(|| {
        std::env::var_os("LLM_SECURITY_DATA_DIR")
            .map_or_else(|| PathBuf::from("llm-security-data"), PathBuf::from)
            .join("events.db")
    });
    if !store.exists() {
        bail!(
            "no event store at {} (run `llm-security serve` first, or pass --store)",
            store.display()
        );
    }
    let event_type = match &args.event_type {
        None => None,
        Some(t) => Some(
            serde_json::from_value::<EventType>(serde_json::Value::String(t.clone()))
                .map_err(|_| anyhow::anyhow!("--type {t:?}: expected analysis.completed, threat.detected or threat.mitigated"))?,
        ),
    };
    let query = EventQuery {
        since: args.since.as_deref().map(parse_since).transpose()?,
        event_type,
        limit: args.limit,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let events = runtime.block_on(async { SqliteSink::open(&store).await?.query(&query).await })?;
    let mut out = io::stdout().lock();
    for e in &events {
        if args.json {
            serde_json::to_writer(&mut out, e)?;
            writeln!(out)?;
        } else {
            let rules: Vec<&str> = e.threats.iter().map(|t| t.rule.as_str()).collect();
            writeln!(
                out,
                "{}  {:<18} {:<6} {}  {}",
                e.timestamp.to_rfc3339(),
                e.event_type.as_str(),
                e.direction.as_str(),
                e.id,
                rules.join(",")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
