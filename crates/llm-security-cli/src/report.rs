//! `report`: the daily security report from the embedded store, printed and optionally uploaded
//! to S3.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Args;
use llm_security::s3::{S3Config, S3Sink, SecurityReport};
use llm_security::sqlite::{EventQuery, SqliteSink};

/// Arguments of `report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The store (default: $LLM_SECURITY_DATA_DIR/events.db, else ./llm-security-data/events.db).
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
    /// The day, YYYY-MM-DD (UTC); today when absent.
    #[arg(long)]
    date: Option<String>,
    /// Upload the report to this bucket as {prefix}/reports/{date}.json. Credentials come from
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    #[arg(long)]
    bucket: Option<String>,
    /// Region of the bucket.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Endpoint of an S3-compatible store (path-style addressing).
    #[arg(long)]
    endpoint: Option<String>,
    /// Key prefix.
    #[arg(long, default_value = "llm-security")]
    prefix: String,
}

/// Prints the report as JSON (and the uploaded key on stderr); exit 0.
pub(crate) fn run(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.clone().unwrap_or_else(|| {
        std::env::var_os("LLM_SECURITY_DATA_DIR")
            .map_or_else(|| PathBuf::from("llm-security-data"), PathBuf::from)
            .join("events.db")
    });
    if !store.exists() {
        bail!("no event store at {}", store.display());
    }
    let date = match &args.date {
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .with_context(|| format!("--date {d:?}: expected YYYY-MM-DD"))?,
        None => chrono::Utc::now().date_naive(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let since = date.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        let events = SqliteSink::open(&store)
            .await?
            .query(&EventQuery {
                since,
                ..EventQuery::default()
            })
            .await?;
        let report = SecurityReport::build(date, &events);
        let mut out = io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
        if let Some(bucket) = &args.bucket {
            let key_id =
                std::env::var("AWS_ACCESS_KEY_ID").context("AWS_ACCESS_KEY_ID is not set")?;
            let secret = std::env::var("AWS_SECRET_ACCESS_KEY")
                .context("AWS_SECRET_ACCESS_KEY is not set")?;
            let mut config = S3Config::new(bucket, &args.region, key_id, secret);
            config.prefix.clone_from(&args.prefix);
            if let Some(e) = &args.endpoint {
                config = config.with_endpoint(e);
            }
            let key = S3Sink::new(config)?.upload_report(&report).await?;
            eprintln!("uploaded s3://{bucket}/{key}");
        }
        Ok(ExitCode::SUCCESS)
    })
}
