//! The Kafka sink against a real Kafka-API broker (Tansu) that `./scripts/test.sh` starts.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use llm_security_core::{EventSink, Pipeline, SecurityEvent};
use llm_security_sink_kafka::{
    HEADER_EVENT_ID, HEADER_EVENT_TYPE, HEADER_SCHEMA_VERSION, KafkaConfig, KafkaError, KafkaSink,
    message_key,
};
use llm_security_testkit::{deliver_all, delivery_options, sample_event, tagged_events};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Headers as _, Message as _};
use tokio::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::const_new(());

fn brokers() -> String {
    std::env::var("LLMSEC_TEST_KAFKA_BROKERS").expect(
        "LLMSEC_TEST_KAFKA_BROKERS is not set: run ./scripts/test.sh, which starts a Kafka-API broker",
    )
}

async fn create_topic(name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .unwrap();
    let results = admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .unwrap();
    for r in results {
        if let Err((topic, code)) = r {
            assert!(
                code == rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists,
                "create {topic}: {code:?}"
            );
        }
    }
}

/// Events spread over 7 sessions (and some without a session), with ids `tag:i`.
fn events(tag: u128, n: u64) -> Vec<SecurityEvent> {
    let mut all = tagged_events(tag, n);
    for (i, e) in all.iter_mut().enumerate() {
        e.session_id = (i % 10 < 7).then(|| format!("session-{}", i % 7));
    }
    all
}

struct Received {
    id: String,
    key: String,
    partition: i32,
    event_type: String,
    schema_version: String,
}

/// Reads `topic` from the beginning until `want` messages arrived (or 30 s passed).
fn consume_all(topic: &str, want: usize) -> Vec<Received> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set(
            "group.id",
            format!("llmsec-test-{topic}-{}", std::process::id()),
        )
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut out = Vec::new();
    while out.len() < want && std::time::Instant::now() < deadline {
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.unwrap();
        let header = |name: &str| {
            message
                .headers()
                .and_then(|h| h.iter().find(|x| x.key == name))
                .and_then(|x| x.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        let event: SecurityEvent = serde_json::from_slice(message.payload().unwrap()).unwrap();
        assert_eq!(header(HEADER_EVENT_ID), event.id.to_string());
        out.push(Received {
            id: event.id.to_string(),
            key: String::from_utf8_lossy(message.key().unwrap()).into_owned(),
            partition: message.partition(),
            event_type: header(HEADER_EVENT_TYPE),
            schema_version: header(HEADER_SCHEMA_VERSION),
        });
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_exactly_n_keyed_messages_with_headers() {
    let _serial = SERIAL.lock().await;
    let topic = format!("llmsec-events-{}", std::process::id());
    create_topic(&topic, 3).await;
    let sink = KafkaSink::new(&KafkaConfig::new(brokers(), &topic)).unwrap();
    sink.healthcheck().await.unwrap();
    let all = events(1, 600);
    let stats = deliver_all(
        sink,
        delivery_options(100, Duration::from_millis(100), 5),
        &all,
    )
    .await;
    assert_eq!((stats.delivered, stats.failed, stats.dropped), (600, 0, 0));
    let topic2 = topic.clone();
    let got = tokio::task::spawn_blocking(move || consume_all(&topic2, 600))
        .await
        .unwrap();
    assert_eq!(got.len(), 600, "exactly N");
    let by_id: BTreeMap<String, &SecurityEvent> =
        all.iter().map(|e| (e.id.to_string(), e)).collect();
    let ids: BTreeSet<_> = got.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 600);
    let mut partition_of_key: BTreeMap<String, i32> = BTreeMap::new();
    let mut last_of_key: BTreeMap<String, String> = BTreeMap::new();
    for r in &got {
        let event = by_id[&r.id];
        assert_eq!(r.key, message_key(event));
        assert_eq!(r.event_type, event.event_type.as_str());
        assert_eq!(r.schema_version, event.schema_version.to_string());
        // One key, one partition, in the order the events were emitted.
        assert_eq!(
            *partition_of_key.entry(r.key.clone()).or_insert(r.partition),
            r.partition
        );
        if let Some(prev) = last_of_key.insert(r.key.clone(), r.id.clone()) {
            assert!(prev < r.id, "conversation order kept for {}", r.key);
        }
    }
    assert!(
        partition_of_key.values().collect::<BTreeSet<_>>().len() > 1,
        "keys spread over partitions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_stream_loses_nothing() {
    let _serial = SERIAL.lock().await;
    let Ok(restart) = std::env::var("LLMSEC_TEST_KAFKA_RESTART") else {
        panic!("LLMSEC_TEST_KAFKA_RESTART is not set: run ./scripts/test.sh");
    };
    let topic = format!("llmsec-restart-{}", std::process::id());
    create_topic(&topic, 3).await;
    let sink = KafkaSink::new(&KafkaConfig::new(brokers(), &topic)).unwrap();
    let all = events(2, 1500);
    let pipeline = Pipeline::builder()
        .sink_with(sink, delivery_options(100, Duration::from_millis(200), 30))
        .build()
        .unwrap();
    for (i, e) in all.iter().enumerate() {
        pipeline.emit(e.clone());
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if i == 500 {
            let status = tokio::process::Command::new("sh")
                .args(["-c", &restart])
                .status()
                .await
                .unwrap();
            assert!(status.success(), "broker restart");
        }
    }
    pipeline.shutdown(Duration::from_secs(60)).await;
    let stats = &pipeline.stats()[0];
    assert_eq!((stats.failed, stats.dropped), (0, 0), "{stats:?}");
    let topic2 = topic.clone();
    let got = tokio::task::spawn_blocking(move || consume_all(&topic2, 1500))
        .await
        .unwrap();
    let ids: BTreeSet<_> = got.iter().map(|r| r.id.clone()).collect();
    let want: BTreeSet<_> = all.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(
        ids, want,
        "every event arrived (re-deliveries carry the same event_id)"
    );
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let err = KafkaSink::new(&KafkaConfig::new("", "t")).unwrap_err();
    assert!(matches!(err, KafkaError::Config(_)), "{err}");
    let err = KafkaSink::new(&KafkaConfig::new("127.0.0.1:9092", "bad topic!")).unwrap_err();
    assert!(err.to_string().contains("invalid topic name"), "{err}");
    let err = KafkaSink::new(
        &KafkaConfig::new("127.0.0.1:9092", "t").with_property("no.such.property", "1"),
    )
    .unwrap_err();
    assert!(matches!(err, KafkaError::Client(_)), "{err}");
    let secret = KafkaConfig::new("127.0.0.1:9092", "t").with_property("sasl.password", "hunter2");
    assert!(!format!("{secret:?}").contains("hunter2"));
}

#[tokio::test]
async fn an_unreachable_broker_fails_health_and_delivery_as_retriable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sink = KafkaSink::new(
        &KafkaConfig::new(format!("127.0.0.1:{closed}"), "t")
            .with_delivery_timeout(Duration::from_millis(1500)),
    )
    .unwrap();
    assert!(sink.healthcheck().await.is_err());
    let batch = vec![std::sync::Arc::new(sample_event(0))];
    let err = sink.send_batch(&batch).await.unwrap_err();
    assert!(err.is_retriable(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_event_is_refused_alone_and_the_rest_delivered() {
    let _serial = SERIAL.lock().await;
    let topic = format!("llmsec-oversized-{}", std::process::id());
    create_topic(&topic, 1).await;
    let sink = KafkaSink::new(&KafkaConfig::new(brokers(), &topic)).unwrap();
    let mut batch = events(3, 4);
    // Over the producer's default message.max.bytes (1,000,000).
    batch[1]
        .metadata
        .insert("blob".into(), "x".repeat(1_200_000).into());
    let batch: Vec<_> = batch.into_iter().map(std::sync::Arc::new).collect();
    let report = sink.send_batch(&batch).await.unwrap();
    assert_eq!((report.delivered, report.rejected), (3, 1));
    assert_eq!(report.rejected_indices, [1]);
    let topic2 = topic.clone();
    let got = tokio::task::spawn_blocking(move || consume_all(&topic2, 3))
        .await
        .unwrap();
    let ids: BTreeSet<_> = got.iter().map(|r| r.id.clone()).collect();
    let want: BTreeSet<_> = [0, 2, 3].iter().map(|&i| batch[i].id.to_string()).collect();
    assert_eq!(ids, want);
}
