//! Events to a RabbitMQ topic exchange (`llm-security`, declared on start); bind a queue with
//! `threat.*` to receive only threats.
//!
//! Run with
//! ```not_rust
//! AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f cargo run -p example-streams --bin rabbitmq
//! ```

use llm_security::SinkOptions;
use llm_security::rabbitmq::{RabbitConfig, RabbitSink};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let result = async {
        let url = example_stores::env("AMQP_URL")?;
        let sink = RabbitSink::connect(RabbitConfig::new(url))
            .await
            .map_err(|e| e.to_string())?;
        example_stores::demo(sink, SinkOptions::default()).await
    };
    example_stores::exit_code(result.await)
}
