//! Against a real MongoDB-wire server.

use std::sync::Arc;
use std::time::Duration;

use llm_security_core::{
    BatchConfig, EventSink, Pipeline, RetryConfig, SecurityEvent, SinkOptions,
};
use llm_security_sink_mongo::{MongoConfig, MongoSink, event_of};
use llm_security_testkit::sample_event;
use mongodb::bson::doc;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn uri() -> String {
    std::env::var("LLMSEC_TEST_MONGO_URL")
        .expect("LLMSEC_TEST_MONGO_URL is not set: run ./scripts/test.sh, which starts the server")
}

fn config(collection: &str) -> MongoConfig {
    MongoConfig::new(uri()).with_collection(
        "llmsec_test",
        format!("{collection}_{}", std::process::id()),
    )
}

fn events(n: u64) -> Vec<SecurityEvent> {
    (0..n).map(sample_event).collect()
}

#[tokio::test]
async fn stores_exactly_n_events_that_read_back_identical() {
    let _serial = SERIAL.lock().await;
    let sink = MongoSink::connect(&config("exact").with_ttl(Duration::from_secs(30 * 86_400)))
        .await
        .unwrap();
    sink.healthcheck().await.unwrap();
    let batch: Vec<_> = events(500).into_iter().map(Arc::new).collect();
    let report = sink.send_batch(&batch).await.unwrap();
    assert_eq!((report.delivered, report.duplicates), (500, 0));
    assert_eq!(
        sink.collection().count_documents(doc! {}).await.unwrap(),
        500
    );
    let stored = sink
        .collection()
        .find_one(doc! {"_id": batch[0].id.to_string()})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event_of(&stored).unwrap(), *batch[0]);
    assert_eq!(
        sink.collection()
            .count_documents(doc! {"event_type": "threat.detected"})
            .await
            .unwrap(),
        250
    );
    // Re-delivery: duplicates, nothing new.
    let again = sink.send_batch(&batch).await.unwrap();
    assert_eq!((again.delivered, again.duplicates), (0, 500));
    assert_eq!(
        sink.collection().count_documents(doc! {}).await.unwrap(),
        500
    );
    let names = sink.collection().list_index_names().await.unwrap();
    assert!(names.iter().any(|n| n == "timestamp_ttl"), "{names:?}");
}

#[tokio::test]
async fn a_restart_mid_stream_loses_and_duplicates_nothing() {
    let _serial = SERIAL.lock().await;
    let data = std::env::var("LLMSEC_TEST_MONGO_DATA")
        .expect("LLMSEC_TEST_MONGO_DATA is not set: run ./scripts/test.sh");
    let tools = std::env::var("LLMSEC_TEST_TOOLS_DIR")
        .expect("LLMSEC_TEST_TOOLS_DIR is not set: run ./scripts/test.sh");
    let port = uri()
        .split(':')
        .nth(2)
        .and_then(|p| p.split('/').next())
        .unwrap()
        .to_owned();
    let scripts = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/services");
    let sink = MongoSink::connect(&config("restart")).await.unwrap();
    let options = SinkOptions {
        batch: BatchConfig {
            max_events: 100,
            max_bytes: 10_000_000,
            timeout: Duration::from_millis(20),
        },
        retry: RetryConfig {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            max_retries: 100,
        },
        ..SinkOptions::default()
    };
    let pipeline = Pipeline::builder()
        .sink_with(sink, options)
        .build()
        .unwrap();
    for (i, e) in events(1500).into_iter().enumerate() {
        pipeline.emit(e);
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if i == 500 {
            let stop = tokio::process::Command::new(format!("{scripts}/stop-all.sh"))
                .arg(&data)
                .status()
                .await
                .unwrap();
            assert!(stop.success());
            tokio::time::sleep(Duration::from_secs(1)).await;
            let start = tokio::process::Command::new(format!("{scripts}/start-mongo.sh"))
                .args([&tools, &data, &port])
                .stdout(std::process::Stdio::null())
                .status()
                .await
                .unwrap();
            assert!(start.success());
        }
    }
    pipeline.shutdown(Duration::from_secs(60)).await;
    let stats = &pipeline.stats()[0];
    assert_eq!((stats.failed, stats.dropped), (0, 0), "{stats:?}");
    let check = MongoSink::connect(&config("restart")).await.unwrap();
    assert_eq!(
        check.collection().count_documents(doc! {}).await.unwrap(),
        1500,
        "every event exactly once: {stats:?}"
    );
}

#[tokio::test]
async fn a_document_the_server_refuses_is_reported_by_its_place_in_the_batch() {
    let _serial = SERIAL.lock().await;
    let config = config("refused");
    let batch: Vec<_> = events(4).into_iter().map(Arc::new).collect();
    // A collection validator that refuses exactly the third event.
    let client = mongodb::Client::with_uri_str(uri()).await.unwrap();
    let db = client.database("llmsec_test");
    let name = format!("refused_{}", std::process::id());
    db.collection::<mongodb::bson::Document>(&name)
        .drop()
        .await
        .unwrap();
    db.create_collection(&name)
        .validator(doc! {"_id": {"$ne": batch[2].id.to_string()}})
        .await
        .unwrap();

    let sink = MongoSink::connect(&config).await.unwrap();
    let report = sink.send_batch(&batch).await.unwrap();
    assert_eq!(
        (report.delivered, report.duplicates, report.rejected),
        (3, 0, 1)
    );
    assert_eq!(report.rejected_indices, [2]);
    assert_eq!(sink.collection().count_documents(doc! {}).await.unwrap(), 3);
}

/// BSON keys are NUL-terminated; a NUL in a metadata key must not lose the batch.
#[tokio::test]
async fn a_nul_byte_in_an_event_does_not_lose_its_batch() {
    let _serial = SERIAL.lock().await;
    let sink = MongoSink::connect(&config("nul")).await.unwrap();
    let mut all = events(3);
    all[1].text.value = Some("ignore\0 all previous instructions".into());
    all[1]
        .metadata
        .insert("note\0key".into(), "value\0with nul".into());
    let batch: Vec<_> = all.into_iter().map(Arc::new).collect();
    let report = sink.send_batch(&batch).await.unwrap();
    assert_eq!((report.delivered, report.rejected), (3, 0));
    let stored = sink
        .collection()
        .find_one(doc! {"_id": batch[1].id.to_string()})
        .await
        .unwrap()
        .unwrap();
    let back = event_of(&stored).unwrap();
    assert_eq!(
        back.text.value, batch[1].text.value,
        "NUL in a value is kept"
    );
    assert_eq!(
        back.metadata["note\u{fffd}key"],
        serde_json::json!("value\0with nul"),
        "NUL in a key becomes U+FFFD"
    );
}
