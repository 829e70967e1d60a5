//! Events to a Kafka topic (which must exist).
//!
//! Run with
//! ```not_rust
//! KAFKA_BROKERS=127.0.0.1:9092 KAFKA_TOPIC=security-events cargo run -p example-streams --bin kafka
//! ```

use llm_security::kafka::{Compression, KafkaConfig, KafkaSink};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = async {
        let brokers = example_stores::env("KAFKA_BROKERS")?;
        let topic = example_stores::env("KAFKA_TOPIC")?;
        let config = KafkaConfig::new(brokers, topic).with_compression(Compression::Lz4);
        let sink = KafkaSink::new(&config).map_err(|e| e.to_string())?;
        example_stores::demo(sink, KafkaSink::recommended_options()).await
    };
    example_stores::exit_code(result.await)
}
