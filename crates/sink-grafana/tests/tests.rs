//! Grafana sink tests against `GrafanaReceiver`, a test receiver of Grafana's annotations API
//! (Grafana cannot be installed here; see SERVICES.md).

use std::sync::Arc;
use std::time::Duration;

use llm_security_core::{EventSink, Pipeline, SinkOptions};
use llm_security_sink_grafana::{GrafanaConfig, GrafanaError, GrafanaSink, annotation};
use llm_security_testkit::{
    Failure, GrafanaReceiver, assert_golden, canonical_json, delivery_options, sample_event,
};

const TOKEN: &str = "glsa_test_token";

fn options() -> SinkOptions {
    delivery_options(10, Duration::from_millis(10), 5)
}

#[tokio::test]
async fn one_annotation_per_threat_event() {
    let grafana = GrafanaReceiver::start(TOKEN).await;
    let sink = GrafanaSink::new(
        GrafanaConfig::new(grafana.url(), TOKEN).with_dashboard("llmsec", Some(2)),
    )
    .unwrap();
    sink.healthcheck().await.unwrap();
    let pipeline = Pipeline::builder()
        .sink_with(sink, options())
        .build()
        .unwrap();
    for n in 0..30 {
        pipeline.emit(sample_event(n));
    }
    pipeline.shutdown(Duration::from_secs(10)).await;
    let items = grafana.items();
    assert_eq!(items.len(), 15);
    assert!(
        items
            .iter()
            .all(|a| a["dashboardUID"] == "llmsec" && a["panelId"] == 2 && a["time"].is_i64())
    );
    assert!(
        items[0]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "prompt_injection")
    );
}

#[tokio::test]
async fn retries_server_errors_not_client_errors() {
    let grafana = GrafanaReceiver::start(TOKEN).await;
    grafana.fail_next([
        Failure::status(503, "restarting"),
        Failure::status(429, "").retry_after("1"),
    ]);
    let pipeline = Pipeline::builder()
        .sink_with(
            GrafanaSink::new(GrafanaConfig::new(grafana.url(), TOKEN)).unwrap(),
            options(),
        )
        .build()
        .unwrap();
    pipeline.emit(sample_event(0));
    pipeline.shutdown(Duration::from_secs(10)).await;
    assert_eq!(grafana.items().len(), 1);
    assert_eq!(pipeline.stats()[0].retried, 2);
    grafana.fail_next([Failure::status(400, r#"{"message":"bad request data"}"#)]);
    let sink = GrafanaSink::new(GrafanaConfig::new(grafana.url(), TOKEN)).unwrap();
    assert!(
        !sink
            .send_batch(&[Arc::new(sample_event(2))])
            .await
            .unwrap_err()
            .is_retriable()
    );
}

#[tokio::test]
async fn bad_token_and_configuration() {
    let grafana = GrafanaReceiver::start(TOKEN).await;
    let wrong = GrafanaSink::new(GrafanaConfig::new(grafana.url(), "nope")).unwrap();
    let err = wrong
        .send_batch(&[Arc::new(sample_event(0))])
        .await
        .unwrap_err();
    assert!(
        !err.is_retriable() && err.to_string().contains("401"),
        "{err}"
    );
    assert!(matches!(
        GrafanaSink::new(GrafanaConfig::new("grafana", TOKEN)),
        Err(GrafanaError::Endpoint { .. })
    ));
    assert_eq!(
        GrafanaSink::new(GrafanaConfig::new("https://g.example", "")).unwrap_err(),
        GrafanaError::EmptyToken
    );
}

#[test]
fn golden_annotation() {
    let config = GrafanaConfig::new("https://g.example", TOKEN);
    let body = canonical_json(&annotation(&sample_event(0), &config));
    assert_golden(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/annotation.json"
        ),
        &body,
    );
}
