//! `consume`: scale-out analysis on Kafka. Reads prompts from one topic as a member of a
//! consumer group, analyzes them, and produces one verdict per prompt to another topic.
//!
//! At least once: a prompt's offset is stored (and later committed) only after its verdict was
//! acknowledged by the brokers (`acks=all`, idempotent producer). A crash re-reads what was not
//! committed; a re-produced verdict carries the same `id`, partition and offset as the first.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use llm_security::SecurityEngine;
use rdkafka::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message as _};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use serde_json::{Value, json};

use crate::engine_args::EngineArgs;
use crate::scan::{Mode, annotate};

/// Arguments of `consume`.
#[derive(Debug, Args)]
pub(crate) struct ConsumeArgs {
    /// Bootstrap servers, host:port[,host:port...].
    #[arg(long)]
    brokers: String,
    /// Consumer group; instances in one group share the input topic's partitions.
    #[arg(long)]
    group: String,
    /// Topic of prompts: JSON objects with the text and optional ids.
    #[arg(long, default_value = "prompts")]
    input_topic: String,
    /// Topic verdicts go to (same key as the prompt).
    #[arg(long, default_value = "verdicts")]
    output_topic: String,
    /// Field holding the text.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// Whether prompts are model input (analyze) or model output (validate).
    #[arg(long, value_enum, default_value = "input")]
    mode: Mode,
    /// Most prompts analyzed between two waits for delivery.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Stop after this many prompts (for benchmarks and tests); run until SIGTERM otherwise.
    #[arg(long)]
    max_messages: Option<u64>,
    /// Extra librdkafka property for both clients, KEY=VALUE (SASL, TLS); repeatable.
    #[arg(long = "property", value_name = "KEY=VALUE")]
    properties: Vec<String>,
    #[command(flatten)]
    engine: EngineArgs,
}

fn client_config(args: &ConsumeArgs) -> anyhow::Result<ClientConfig> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &args.brokers);
    for p in &args.properties {
        let Some((k, v)) = p.split_once('=') else {
            bail!("--property {p:?}: expected KEY=VALUE");
        };
        config.set(k, v);
    }
    Ok(config)
}

#[derive(Debug, Default)]
struct Totals {
    prompts: u64,
    flagged: u64,
    errors: u64,
}

/// The verdict for one prompt: the prompt's fields plus the analysis, or an error, with where
/// the prompt came from.
fn verdict(
    engine: &SecurityEngine,
    args: &ConsumeArgs,
    m: &BorrowedMessage<'_>,
) -> (Vec<u8>, Option<bool>) {
    let mut record = match m.payload() {
        None => Err("empty message".to_owned()),
        Some(bytes) => annotate(engine, args.mode, &args.text_field, bytes),
    };
    let flagged = record.as_ref().ok().map(|(_, f)| *f);
    let mut value = match record.as_mut() {
        Ok((map, _)) => Value::Object(std::mem::take(map)),
        Err(error) => json!({ "error": error }),
    };
    value["partition"] = json!(m.partition());
    value["offset"] = json!(m.offset());
    (value.to_string().into_bytes(), flagged)
}

/// Why [`produce_all`] returned without delivering everything.
enum NotDelivered {
    /// The producer hit a fatal error (e.g. the idempotent producer lost its sequence after
    /// timeouts), was fenced, or kept failing, and must be replaced.
    Fatal(String),
    /// Shutdown was asked for while retrying.
    Stopping,
}

/// Rounds of failed deliveries after which the producer is replaced even without an error that
/// says it is broken (about 15 s with the backoff).
const ROUNDS_BEFORE_NEW_PRODUCER: u32 = 8;

/// Whether a delivery error means this producer's identity is no longer accepted by the broker,
/// so that producing again with it can never succeed (librdkafka does not always raise these as
/// fatal for an idempotent producer).
fn producer_is_spent(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::ProducerFenced
                | RDKafkaErrorCode::InvalidProducerEpoch
                | RDKafkaErrorCode::UnknownProducerId
                | RDKafkaErrorCode::InvalidProducerIdMapping
                | RDKafkaErrorCode::OutOfOrderSequenceNumber
        )
    )
}

/// Produces every verdict and waits until all are acknowledged, retrying failed ones with
/// backoff. Returns `Ok` only when all are delivered.
async fn produce_all(
    producer: &FutureProducer,
    topic: &str,
    verdicts: &[(Option<Vec<u8>>, Vec<u8>)],
    stopping: &tokio::sync::watch::Receiver<bool>,
) -> Result<(), NotDelivered> {
    let mut todo: Vec<usize> = (0..verdicts.len()).collect();
    let mut backoff = Duration::from_millis(100);
    let mut rounds = 0u32;
    while !todo.is_empty() {
        let mut waits = Vec::with_capacity(todo.len());
        for &i in &todo {
            let (key, payload) = &verdicts[i];
            let mut record = FutureRecord::<[u8], [u8]>::to(topic).payload(payload);
            if let Some(k) = key {
                record = record.key(k.as_slice());
            }
            waits.push((i, producer.send_result(record).map_err(|(e, _)| e)));
        }
        let mut failed = Vec::new();
        let mut last_error = String::new();
        let mut spent = false;
        for (i, wait) in waits {
            let outcome = match wait {
                Ok(delivery) => match delivery.await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err((e, _))) => Err(e),
                    Err(_) => Err(KafkaError::Canceled),
                },
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                failed.push(i);
                spent |= producer_is_spent(&e);
                last_error = e.to_string();
            }
        }
        if !failed.is_empty() {
            rounds += 1;
            if let Some((_, reason)) = producer.client().fatal_error() {
                return Err(NotDelivered::Fatal(reason));
            }
            if spent {
                return Err(NotDelivered::Fatal(last_error));
            }
            if rounds >= ROUNDS_BEFORE_NEW_PRODUCER {
                return Err(NotDelivered::Fatal(format!(
                    "{rounds} rounds not acknowledged, last: {last_error}"
                )));
            }
            tracing::warn!(
                failed = failed.len(),
                error = %last_error,
                "Verdicts not acknowledged; producing them again."
            );
            if *stopping.borrow() {
                return Err(NotDelivered::Stopping);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        todo = failed;
    }
    Ok(())
}

/// The verdict producer: idempotent, `acks=all`, short linger, lz4; a `--property` given for
/// any of these keys wins over the default.
fn producer(args: &ConsumeArgs) -> anyhow::Result<FutureProducer> {
    let mut config = client_config(args)?;
    for (key, value) in [
        ("enable.idempotence", "true"),
        ("acks", "all"),
        ("linger.ms", "5"),
        ("compression.type", "lz4"),
    ] {
        if config.get(key).is_none() {
            config.set(key, value);
        }
    }
    config.create().context("cannot create the Kafka producer")
}

/// Runs until SIGTERM/Ctrl-C (or --max-messages), then commits what was delivered.
pub(crate) fn run(args: &ConsumeArgs) -> anyhow::Result<ExitCode> {
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let engine = args.engine.engine()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // The stream consumer spawns its poll task on the runtime it is created in.
    let _entered = runtime.enter();
    let consumer: StreamConsumer = client_config(args)?
        .set("group.id", &args.group)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .context("cannot create the Kafka consumer")?;
    let mut producer = producer(args)?;
    consumer
        .subscribe(&[&args.input_topic])
        .with_context(|| format!("cannot subscribe to {}", args.input_topic))?;
    let started = Instant::now();
    let totals = runtime.block_on(async {
        let mut totals = Totals::default();
        // Shutdown is watched from a task, so that a delivery retry loop also sees it.
        let (stop_tx, mut stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            llm_security_server::shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        'batches: loop {
            if args.max_messages.is_some_and(|max| totals.prompts >= max) {
                break;
            }
            // Wait for the first prompt of a batch, then take what is already there.
            let first = tokio::select! {
                _ = stop.changed() => break,
                m = consumer.recv() => m,
            };
            let mut batch = Vec::with_capacity(args.batch);
            match first {
                Ok(m) => batch.push(m),
                Err(e) => {
                    tracing::warn!(error = %e, "Kafka consumer error.");
                    continue;
                }
            }
            while batch.len() < args.batch {
                match tokio::time::timeout(Duration::from_millis(5), consumer.recv()).await {
                    Ok(Ok(m)) => batch.push(m),
                    Ok(Err(e)) => tracing::warn!(error = %e, "Kafka consumer error."),
                    Err(_) => break,
                }
            }
            let mut verdicts = Vec::with_capacity(batch.len());
            for m in &batch {
                let (payload, flagged) = verdict(&engine, args, m);
                match flagged {
                    Some(true) => totals.flagged += 1,
                    Some(false) => {}
                    None => totals.errors += 1,
                }
                verdicts.push((m.key().map(<[u8]>::to_vec), payload));
            }
            // Offsets are stored only once the verdicts are acknowledged: a batch cut short by
            // shutdown is consumed again by whichever instance gets its partitions.
            loop {
                match produce_all(&producer, &args.output_topic, &verdicts, &stop).await {
                    Ok(()) => break,
                    Err(NotDelivered::Stopping) => break 'batches,
                    Err(NotDelivered::Fatal(reason)) => {
                        tracing::warn!(%reason, "The Kafka producer failed fatally; starting a new one.");
                        match self::producer(args) {
                            Ok(p) => producer = p,
                            Err(e) => {
                                tracing::error!(error = %e, "Cannot start a new Kafka producer.");
                                break 'batches;
                            }
                        }
                    }
                }
            }
            for m in &batch {
                if let Err(e) = consumer.store_offset_from_message(m) {
                    tracing::warn!(error = %e, "Cannot store an offset (partition revoked?).");
                }
            }
            totals.prompts += batch.len() as u64;
        }
        totals
    });
    if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
        // Nothing stored since the last commit is also reported as an error.
        tracing::info!(error = %e, "Final commit.");
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "consumed {} prompts ({} flagged, {} errors) in {secs:.1} s: {:.0} prompts/s",
        totals.prompts,
        totals.flagged,
        totals.errors,
        totals.prompts as f64 / secs.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
