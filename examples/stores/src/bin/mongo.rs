//! Events to MongoDB, expiring after 30 days.
//!
//! Run with
//! ```not_rust
//! MONGODB_URI=$(scripts/services/start-mongo.sh /tmp/tools /tmp/mongo | tail -1) cargo run -p example-stores --bin mongo
//! ```

use std::time::Duration;

use llm_security::SinkOptions;
use llm_security::mongo::{MongoConfig, MongoSink};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = async {
        let uri = example_stores::env("MONGODB_URI")?;
        let config = MongoConfig::new(uri).with_ttl(Duration::from_secs(30 * 86_400));
        let sink = MongoSink::connect(&config)
            .await
            .map_err(|e| e.to_string())?;
        example_stores::demo(sink, SinkOptions::default()).await
    };
    example_stores::exit_code(result.await)
}
