//! Events to the embedded SQLite store, then read back.
//!
//! Run with
//! ```not_rust
//! cargo run -p example-stores --bin sqlite
//! ```

use llm_security::SinkOptions;
use llm_security::sqlite::{EventQuery, SqliteSink};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let path = std::env::temp_dir().join(format!("llm-security-example-{}.db", std::process::id()));
    let result = async {
        let sink = SqliteSink::open(&path).await.map_err(|e| e.to_string())?;
        example_stores::demo(sink, SinkOptions::default()).await?;
        let stored = SqliteSink::open(&path)
            .await
            .map_err(|e| e.to_string())?
            .query(&EventQuery::default())
            .await
            .map_err(|e| e.to_string())?;
        println!("{} events in {}", stored.len(), path.display());
        if stored.len() != 2 {
            return Err("expected 2 stored events".to_owned());
        }
        Ok(())
    };
    let outcome = result.await;
    let _ = std::fs::remove_file(&path);
    example_stores::exit_code(outcome)
}
