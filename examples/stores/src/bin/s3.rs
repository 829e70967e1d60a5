//! Events to S3 (or an S3-compatible store) as gzipped NDJSON, then the daily report.
//!
//! Run with
//! ```not_rust
//! S3_ENDPOINT=$(scripts/services/start-s3.sh /tmp/tools /tmp/s3 | tail -1) S3_BUCKET=llmsec-events \
//!   AWS_ACCESS_KEY_ID=llmsec AWS_SECRET_ACCESS_KEY=llmsec-secret cargo run -p example-stores --bin s3
//! ```

use llm_security::s3::{S3Config, S3Sink};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = async {
        let mut config = S3Config::new(
            example_stores::env("S3_BUCKET")?,
            std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
            example_stores::env("AWS_ACCESS_KEY_ID")?,
            example_stores::env("AWS_SECRET_ACCESS_KEY")?,
        )
        .with_gzip(true);
        if let Ok(endpoint) = std::env::var("S3_ENDPOINT") {
            config = config.with_endpoint(endpoint);
        }
        let sink = S3Sink::new(config).map_err(|e| e.to_string())?;
        // Flush quickly in a demo; production keeps the recommended 300 s / 10 MB.
        let mut options = S3Sink::recommended_options();
        options.batch.timeout = std::time::Duration::from_secs(1);
        example_stores::demo(sink, options).await
    };
    example_stores::exit_code(result.await)
}
