//! `serve`: the HTTP server.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use llm_security_server::{ServerConfig, build_state, serve, shutdown_signal};

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Server configuration (TOML). Without it the server runs on the defaults and the embedded
    /// SQLite store ./llm-security-data/events.db.
    #[arg(long, env = "LLM_SECURITY_SERVER_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on (PORT or FUNCTIONS_CUSTOMHANDLER_PORT take precedence when set).
    #[arg(long)]
    listen: Option<String>,
}

/// Runs until Ctrl-C or SIGTERM, then drains the sinks.
pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = ServerConfig::load(args.config.as_deref())?;
    if let Some(listen) = &args.listen {
        config.listen.clone_from(listen);
    }
    let address = config.listen_address(|k| std::env::var(k).ok());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let state = build_state(config).await?;
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        tracing::info!(address = %listener.local_addr()?, "Listening.");
        eprintln!(
            "llm-security listening on http://{}",
            listener.local_addr()?
        );
        serve(listener, state, shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}
