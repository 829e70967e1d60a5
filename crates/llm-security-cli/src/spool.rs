//! `spool`: inspect and operate the durable spools of a (stopped) server.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use llm_security::spool::{Store, store::FILE_NAME};
use llm_security_server::ServerConfig;

/// Arguments of `spool`.
#[derive(Debug, Args)]
pub(crate) struct SpoolArgs {
    #[command(subcommand)]
    action: Action,
    /// The spool folder: one sub-folder per sink, or one sink's folder (default: the
    /// server configuration's `spool.dir`, else `data_dir/spool`).
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Server configuration (TOML) to take the spool folder from.
    #[arg(
        long,
        global = true,
        env = "LLM_SECURITY_SERVER_CONFIG",
        value_name = "FILE"
    )]
    config: Option<PathBuf>,
    /// Only the spool of this sink (its folder name).
    #[arg(long, global = true, value_name = "NAME")]
    sink: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// One JSON line per spool: pending and dead-lettered events and bytes, oldest event age.
    Status,
    /// Move dead-lettered events back to the queue; the server delivers them on its next start.
    Replay,
    /// Delete spooled events for good. Needs --yes.
    Purge {
        /// Delete only the dead letters, keeping undelivered events.
        #[arg(long)]
        dead_only: bool,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
    },
}

/// The spool folders `args` points at, by sink name.
fn spools(args: &SpoolArgs) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let root = match &args.dir {
        Some(dir) => dir.clone(),
        None => {
            let config = ServerConfig::load(args.config.as_deref())?;
            config
                .spool
                .and_then(|s| s.dir)
                .unwrap_or_else(|| config.data_dir.join("spool"))
        }
    };
    let name_of = |p: &Path| {
        p.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    };
    let mut found = Vec::new();
    if root.join(FILE_NAME).is_file() {
        found.push((name_of(&root), root.clone()));
    } else {
        let entries = std::fs::read_dir(&root)
            .with_context(|| format!("cannot read the spool folder {}", root.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.join(FILE_NAME).is_file() {
                found.push((name_of(&path), path));
            }
        }
        found.sort();
    }
    if let Some(sink) = &args.sink {
        found.retain(|(name, _)| name == sink);
    }
    if found.is_empty() {
        bail!("no spool found under {}", root.display());
    }
    Ok(found)
}

fn open(dir: &Path) -> anyhow::Result<Store> {
    Store::open(dir, u64::MAX).map_err(|e| match e {
        llm_security::spool::SpoolError::InUse(path) => anyhow::anyhow!(
            "the spool at {path} is open in a running server; stop it first (its /metrics \
             report the spool while it runs)"
        ),
        other => other.into(),
    })
}

/// Runs the action; exit 0.
pub(crate) fn run(args: &SpoolArgs) -> anyhow::Result<ExitCode> {
    let spools = spools(args)?;
    if let Action::Purge { yes: false, .. } = args.action {
        bail!("purge deletes events for good; add --yes to confirm");
    }
    let mut out = io::stdout().lock();
    for (name, dir) in spools {
        let store = open(&dir)?;
        let line = match args.action {
            Action::Status => {
                let u = store.usage()?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                serde_json::json!({
                    "sink": name,
                    "dir": dir.display().to_string(),
                    "pending_events": u.pending_events,
                    "pending_bytes": u.pending_bytes,
                    "dead_events": u.dead_events,
                    "dead_bytes": u.dead_bytes,
                    "oldest_age_seconds": u.oldest_spooled_at_ms
                        .map(|at| now.saturating_sub(u128::from(at)) as f64 / 1000.0),
                })
            }
            Action::Replay => {
                let moved = store.requeue_dead()?;
                serde_json::json!({"sink": name, "requeued": moved})
            }
            Action::Purge { dead_only, .. } => {
                let (pending, dead) = store.purge(!dead_only, true)?;
                serde_json::json!({"sink": name, "purged_pending": pending, "purged_dead": dead})
            }
        };
        writeln!(out, "{line}")?;
    }
    Ok(ExitCode::SUCCESS)
}
