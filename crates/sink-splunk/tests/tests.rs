//! HEC sink tests against `HecReceiver`, a test receiver of the HEC protocol (no real Splunk can
//! be installed here; see SERVICES.md).

use std::sync::Arc;
use std::time::Duration;

use llm_security_core::{EventSink, Pipeline, SinkOptions};
use llm_security_sink_splunk::{HecConfig, HecError, HecSink, encode};
use llm_security_testkit::{
    Failure, HecReceiver, assert_golden, canonical_ndjson, delivery_options, sample_event,
};

const TOKEN: &str = "6c3b6b0e-6e2a-4f5e-9d7e-2f0b7d1c9a11";

fn options() -> SinkOptions {
    delivery_options(25, Duration::from_millis(10), 5)
}

#[tokio::test]
async fn delivers_exactly_n_events_in_batches() {
    let hec = HecReceiver::start(TOKEN, false, &["main", "llm"]).await;
    let sink = HecSink::new(HecConfig::new(hec.url(), TOKEN).with_index("llm")).unwrap();
    sink.healthcheck().await.unwrap();
    let pipeline = Pipeline::builder()
        .sink_with(sink, options())
        .build()
        .unwrap();
    for n in 0..100 {
        pipeline.emit(sample_event(n));
    }
    pipeline.shutdown(Duration::from_secs(10)).await;
    let items = hec.items();
    assert_eq!(items.len(), 100);
    assert!(
        hec.requests().len() >= 4,
        "batched: {} requests",
        hec.requests().len()
    );
    let mut ids: Vec<_> = items
        .iter()
        .map(|i| i["event"]["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 100, "each event exactly once");
    assert!(items.iter().all(|i| i["index"] == "llm"
        && i["sourcetype"] == "llm_security:event"
        && i["time"].is_f64()));
    assert_eq!(
        hec.requests()[0].headers["authorization"],
        format!("Splunk {TOKEN}")
    );
}

#[tokio::test]
async fn indexer_acknowledgement_is_awaited() {
    let hec = HecReceiver::start(TOKEN, true, &["main"]).await;
    let mut config = HecConfig::new(hec.url(), TOKEN).with_acknowledgements(true);
    config.ack_interval = Duration::from_millis(10);
    let sink = HecSink::new(config).unwrap();
    let batch: Vec<_> = (0..5).map(|n| Arc::new(sample_event(n))).collect();
    assert_eq!(sink.send_batch(&batch).await.unwrap().delivered, 5);
    assert!(
        hec.requests()[0]
            .headers
            .contains_key("x-splunk-request-channel")
    );
    // Without acknowledgements the ack-enabled receiver refuses: code 10, a configuration error.
    let plain = HecSink::new(HecConfig::new(hec.url(), TOKEN)).unwrap();
    let err = plain.send_batch(&batch).await.unwrap_err();
    assert!(
        !err.is_retriable() && err.to_string().contains("channel"),
        "{err}"
    );
}

#[tokio::test]
async fn retries_busy_and_throttled_but_not_bad_requests() {
    let hec = HecReceiver::start(TOKEN, false, &["main"]).await;
    hec.fail_next([
        Failure::status(503, r#"{"text":"Server is busy","code":9}"#),
        Failure::status(429, "slow down").retry_after("1"),
    ]);
    let pipeline = Pipeline::builder()
        .sink_with(
            HecSink::new(HecConfig::new(hec.url(), TOKEN)).unwrap(),
            options(),
        )
        .build()
        .unwrap();
    for n in 0..10 {
        pipeline.emit(sample_event(n));
    }
    pipeline.shutdown(Duration::from_secs(10)).await;
    assert_eq!(hec.items().len(), 10);
    assert_eq!(pipeline.stats()[0].retried, 2);

    hec.fail_next([Failure::status(
        400,
        r#"{"text":"Incorrect index","code":7}"#,
    )]);
    let sink = HecSink::new(HecConfig::new(hec.url(), TOKEN)).unwrap();
    let attempts = hec.attempts();
    let err = sink
        .send_batch(&[Arc::new(sample_event(1))])
        .await
        .unwrap_err();
    assert!(
        !err.is_retriable() && err.to_string().contains("index"),
        "{err}"
    );
    assert_eq!(hec.attempts(), attempts + 1);
}

#[tokio::test]
async fn a_refused_event_is_taken_out_and_counted() {
    let hec = HecReceiver::start(TOKEN, false, &["main"]).await;
    hec.fail_next([Failure::status(
        400,
        r#"{"text":"Invalid data format","code":6,"invalid-event-number":2}"#,
    )]);
    let sink = HecSink::new(HecConfig::new(hec.url(), TOKEN)).unwrap();
    let batch: Vec<_> = (0..5).map(|n| Arc::new(sample_event(n))).collect();
    let report = sink.send_batch(&batch).await.unwrap();
    assert_eq!((report.delivered, report.rejected), (4, 1));
    assert_eq!(
        report.rejected_indices,
        [2],
        "the refused event's place in the batch"
    );
    let ids: Vec<_> = hec
        .items()
        .iter()
        .map(|i| i["event"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!ids.contains(&batch[2].id.to_string()));
}

#[tokio::test]
async fn bad_tokens_and_configuration_are_clear_errors() {
    let hec = HecReceiver::start(TOKEN, false, &["main"]).await;
    let wrong = HecSink::new(HecConfig::new(hec.url(), "wrong-token")).unwrap();
    let err = wrong
        .send_batch(&[Arc::new(sample_event(0))])
        .await
        .unwrap_err();
    assert!(
        !err.is_retriable() && err.to_string().contains("token"),
        "{err}"
    );
    assert!(wrong.healthcheck().await.is_err());
    let index = HecSink::new(HecConfig::new(hec.url(), TOKEN).with_index("secret-index")).unwrap();
    assert!(
        index
            .send_batch(&[Arc::new(sample_event(0))])
            .await
            .unwrap_err()
            .to_string()
            .contains("index")
    );
    assert!(matches!(
        HecSink::new(HecConfig::new("splunk:8088", TOKEN)),
        Err(HecError::Endpoint { .. })
    ));
    assert_eq!(
        HecSink::new(HecConfig::new("https://splunk.example", " ")).unwrap_err(),
        HecError::EmptyToken
    );
    assert!(!format!("{:?}", HecConfig::new("https://x", TOKEN)).contains(TOKEN));
}

#[test]
fn golden_envelopes() {
    let events = [sample_event(0), sample_event(1)];
    let refs: Vec<_> = events.iter().collect();
    let config = HecConfig::new("https://splunk.example", TOKEN).with_index("llm");
    let body = String::from_utf8(encode(&refs, &config, "host-1")).unwrap();
    assert_golden(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hec_batch.json"),
        &canonical_ndjson(&body),
    );
}
