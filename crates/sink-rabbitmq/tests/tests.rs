//! The RabbitMQ sink against a real broker that `./scripts/test.sh` starts.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use lapin::options::{
    BasicAckOptions, BasicGetOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use llm_security_core::{EventSink, Pipeline, SecurityEvent};
use llm_security_sink_rabbitmq::{RabbitConfig, RabbitError, RabbitSink, routing_key};
use llm_security_testkit::{deliver_all, delivery_options, tagged_events as events};
use tokio::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::const_new(());

fn url() -> String {
    std::env::var("LLMSEC_TEST_RABBITMQ_URL")
        .expect("LLMSEC_TEST_RABBITMQ_URL is not set: run ./scripts/test.sh, which starts RabbitMQ")
}

/// A queue bound to `exchange` with `pattern`, declared by a separate consumer connection.
async fn queue(exchange: &str, name: &str, pattern: &str) -> lapin::Channel {
    let connection = Connection::connect(&url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let _ = channel
        .queue_delete(name.into(), QueueDeleteOptions::default())
        .await;
    channel
        .queue_declare(
            name.into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            name.into(),
            exchange.into(),
            pattern.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
}

/// Drains `name`: (message id, routing key, delivery mode) of every message.
async fn drain(name: &str) -> Vec<(String, String, Option<u8>)> {
    let connection = Connection::connect(&url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let mut out = Vec::new();
    while let Some(message) = channel
        .basic_get(name.into(), BasicGetOptions::default())
        .await
        .unwrap()
    {
        let delivery = &message.delivery;
        let id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        let event: SecurityEvent = serde_json::from_slice(&delivery.data).unwrap();
        assert_eq!(event.id.to_string(), id, "message_id is the event id");
        out.push((
            id,
            delivery.routing_key.as_str().to_owned(),
            *delivery.properties.delivery_mode(),
        ));
        delivery.ack(BasicAckOptions::default()).await.unwrap();
    }
    out
}

#[tokio::test]
async fn publishes_exactly_n_persistent_messages_with_routing_keys() {
    let _serial = SERIAL.lock().await;
    let exchange = "llmsec-test-n";
    let sink = RabbitSink::connect(RabbitConfig::new(url()).with_exchange(exchange))
        .await
        .unwrap();
    sink.healthcheck().await.unwrap();
    let _all = queue(exchange, "llmsec-all", "#").await;
    let _threats = queue(exchange, "llmsec-threats", "threat.*").await;
    let all = events(1, 500);
    let stats = deliver_all(
        sink,
        delivery_options(100, Duration::from_millis(50), 5),
        &all,
    )
    .await;
    assert_eq!((stats.delivered, stats.failed, stats.dropped), (500, 0, 0));
    let got = drain("llmsec-all").await;
    assert_eq!(got.len(), 500, "exactly N");
    let by_id: HashMap<String, &SecurityEvent> =
        all.iter().map(|e| (e.id.to_string(), e)).collect();
    for (id, key, mode) in &got {
        assert_eq!(key, &routing_key(by_id[id]), "routing key of {id}");
        assert_eq!(*mode, Some(2), "persistent");
    }
    let ids: BTreeSet<_> = got.iter().map(|g| g.0.clone()).collect();
    assert_eq!(ids.len(), 500);
    let threats = drain("llmsec-threats").await;
    assert_eq!(threats.len(), 250, "only the threat events match threat.*");
    assert!(threats.iter().all(|t| t.1 == "threat.prompt_injection"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_stream_loses_nothing() {
    let _serial = SERIAL.lock().await;
    let exchange = "llmsec-test-restart";
    let sink = RabbitSink::connect(RabbitConfig::new(url()).with_exchange(exchange))
        .await
        .unwrap();
    let _q = queue(exchange, "llmsec-restart", "#").await;
    let all = events(2, 2000);
    let pipeline = Pipeline::builder()
        .sink_with(sink, delivery_options(50, Duration::from_millis(200), 30))
        .build()
        .unwrap();
    // 2000 events over about 10 s; the broker is stopped and started meanwhile.
    let mut restart = None;
    for (i, e) in all.iter().enumerate() {
        pipeline.emit(e.clone());
        if i % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if i == 300 {
            // The whole node: SIGTERM to the Erlang VM, then a new one on the same port and data.
            restart = Some(tokio::spawn(async {
                let data = std::env::var("LLMSEC_TEST_RABBITMQ_DATA")
                    .expect("LLMSEC_TEST_RABBITMQ_DATA is not set: run ./scripts/test.sh");
                let status = tokio::process::Command::new(format!("{data}/restart.sh"))
                    .status()
                    .await
                    .unwrap();
                assert!(status.success(), "broker restart");
            }));
        }
    }
    restart.unwrap().await.unwrap();
    pipeline.shutdown(Duration::from_secs(60)).await;
    let stats = &pipeline.stats()[0];
    assert_eq!((stats.failed, stats.dropped), (0, 0), "{stats:?}");
    assert!(stats.retried > 0, "the restart was noticed: {stats:?}");
    let got = drain("llmsec-restart").await;
    let ids: BTreeSet<_> = got.iter().map(|g| g.0.clone()).collect();
    let want: BTreeSet<_> = all.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(
        ids, want,
        "every event arrived (re-sends are identifiable by message id)"
    );
}

#[tokio::test]
async fn bad_uris_credentials_and_exchanges_are_clear_errors() {
    let err = RabbitSink::connect(RabbitConfig::new("http://localhost"))
        .await
        .unwrap_err();
    assert!(matches!(err, RabbitError::Config(_)), "{err}");
    let wrong = url().replacen("guest:guest@", "guest:wrong@", 1);
    let err = RabbitSink::connect(RabbitConfig::new(wrong))
        .await
        .unwrap_err();
    assert!(matches!(err, RabbitError::Connect(_)), "{err}");
    assert!(
        !err.to_string().contains("wrong"),
        "the password is not printed: {err}"
    );
    let err = RabbitSink::connect(RabbitConfig::new(url()).with_exchange("amq.topic"))
        .await
        .unwrap_err();
    assert!(matches!(err, RabbitError::Config(_)), "{err}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = RabbitSink::connect(RabbitConfig::new(format!(
        "amqp://guest:guest@127.0.0.1:{closed}/%2f"
    )))
    .await
    .unwrap_err();
    assert!(matches!(err, RabbitError::Connect(_)), "{err}");
}
