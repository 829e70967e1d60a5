//! Events to PostgreSQL.
//!
//! Run with
//! ```not_rust
//! DATABASE_URL=$(scripts/services/start-postgres.sh /tmp/pg | tail -1) cargo run -p example-stores --bin postgres
//! ```

use llm_security::SinkOptions;
use llm_security::postgres::{PostgresConfig, PostgresSink};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = async {
        let url = example_stores::env("DATABASE_URL")?;
        let sink = PostgresSink::connect(&PostgresConfig::new(url))
            .await
            .map_err(|e| e.to_string())?;
        example_stores::demo(sink, SinkOptions::default()).await
    };
    example_stores::exit_code(result.await)
}
