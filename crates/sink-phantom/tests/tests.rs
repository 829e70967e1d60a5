//! SOAR sink tests against `SoarReceiver`, a test receiver of the SOAR REST protocol (SOAR
//! cannot be installed here; see SERVICES.md).

use std::sync::Arc;
use std::time::Duration;

use llm_security_core::{EventSink, Pipeline, SinkOptions};
use llm_security_sink_phantom::{SoarConfig, SoarError, SoarSink, container};
use llm_security_testkit::{
    Failure, SoarReceiver, assert_golden, canonical_json, delivery_options, sample_event,
};

const TOKEN: &str = "soar-automation-token";

fn options() -> SinkOptions {
    delivery_options(10, Duration::from_millis(10), 5)
}

#[tokio::test]
async fn one_container_per_threat_event_exactly_once() {
    let soar = SoarReceiver::start(TOKEN, &["events"]).await;
    let sink = SoarSink::new(SoarConfig::new(soar.url(), TOKEN)).unwrap();
    sink.healthcheck().await.unwrap();
    let pipeline = Pipeline::builder()
        .sink_with(sink, options())
        .build()
        .unwrap();
    for n in 0..40 {
        pipeline.emit(sample_event(n)); // 20 threats, 20 clean
    }
    pipeline.shutdown(Duration::from_secs(10)).await;
    let containers = soar.items();
    assert_eq!(containers.len(), 20);
    let c = &containers[0];
    assert_eq!(c["label"], "events");
    assert_eq!(c["source_data_identifier"], sample_event(0).id.to_string());
    assert!(c["artifacts"][0]["cef"]["llmDetector"].is_string());
    assert_eq!(soar.requests()[0].headers["ph-auth-token"], TOKEN);

    // Re-delivery: SOAR answers "duplicate", nothing new is created.
    let again = SoarSink::new(SoarConfig::new(soar.url(), TOKEN)).unwrap();
    let batch: Vec<_> = (0..4).map(|n| Arc::new(sample_event(n))).collect();
    let report = again.send_batch(&batch).await.unwrap();
    assert_eq!((report.delivered, report.duplicates), (0, 2));
    assert_eq!(soar.items().len(), 20);
}

#[tokio::test]
async fn retries_503_and_429_not_400() {
    let soar = SoarReceiver::start(TOKEN, &["events"]).await;
    soar.fail_next([
        Failure::status(503, "maintenance"),
        Failure::status(429, "slow").retry_after("1"),
    ]);
    let pipeline = Pipeline::builder()
        .sink_with(
            SoarSink::new(SoarConfig::new(soar.url(), TOKEN)).unwrap(),
            options(),
        )
        .build()
        .unwrap();
    pipeline.emit(sample_event(0));
    pipeline.shutdown(Duration::from_secs(10)).await;
    assert_eq!(soar.items().len(), 1);
    assert_eq!(pipeline.stats()[0].retried, 2);

    let bad_label =
        SoarSink::new(SoarConfig::new(soar.url(), TOKEN).with_label("no-such-label")).unwrap();
    let attempts = soar.attempts();
    let err = bad_label
        .send_batch(&[Arc::new(sample_event(2))])
        .await
        .unwrap_err();
    assert!(
        !err.is_retriable() && err.to_string().contains("label"),
        "{err}"
    );
    assert_eq!(soar.attempts(), attempts + 1);
}

#[tokio::test]
async fn bad_credentials_and_configuration() {
    let soar = SoarReceiver::start(TOKEN, &["events"]).await;
    let wrong = SoarSink::new(SoarConfig::new(soar.url(), "wrong")).unwrap();
    assert!(
        !wrong
            .send_batch(&[Arc::new(sample_event(0))])
            .await
            .unwrap_err()
            .is_retriable()
    );
    assert!(wrong.healthcheck().await.is_err());
    assert!(matches!(
        SoarSink::new(SoarConfig::new("soar", TOKEN)),
        Err(SoarError::Endpoint { .. })
    ));
    assert_eq!(
        SoarSink::new(SoarConfig::new("https://soar.example", "")).unwrap_err(),
        SoarError::Empty("token")
    );
    assert!(!format!("{:?}", SoarConfig::new("https://x", TOKEN)).contains(TOKEN));
}

#[test]
fn golden_container() {
    let config = SoarConfig::new("https://soar.example", TOKEN);
    let body = canonical_json(&container(&sample_event(0), &config));
    assert_golden(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/container.json"),
        &body,
    );
}
