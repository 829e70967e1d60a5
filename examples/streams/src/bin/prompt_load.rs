//! Load for `llm-security consume`: produces N prompts (the lines of a JSON Lines file, each
//! given an id, round-robin) to a topic, keyed by a rotating session id.
//!
//! ```not_rust
//! cargo run --release -p example-streams --bin prompt_load -- BROKERS TOPIC N [FILE]
//! ```

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer as _, ThreadedProducer};

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [brokers, topic, n, rest @ ..] = args.as_slice() else {
        return Err("usage: prompt_load BROKERS TOPIC N [FILE]".into());
    };
    let n: usize = n.parse().map_err(|e| format!("N: {e}"))?;
    let file = rest
        .first()
        .map_or("examples/data/prompts.jsonl", String::as_str);
    let texts: Vec<String> = std::fs::read_to_string(file)
        .map_err(|e| format!("{file}: {e}"))?
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_owned))
        .collect();
    if texts.is_empty() {
        return Err(format!("{file} has no lines with a \"text\" field"));
    }
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("compression.type", "lz4")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    for i in 0..n {
        let payload =
            serde_json::json!({"id": format!("p-{i}"), "text": texts[i % texts.len()]}).to_string();
        let key = format!("session-{}", i % 1024);
        let mut record = BaseRecord::to(topic).key(&key).payload(&payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer
        .flush(Duration::from_secs(60))
        .map_err(|e| e.to_string())?;
    eprintln!(
        "produced {n} prompts in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
