//! Behaviour that a real server cannot be made to show on demand (per-item 429s, 503s),
//! scripted on `WebhookReceiver`, a recording endpoint from the test kit.

use std::sync::Arc;

use llm_security_core::EventSink;
use llm_security_sink_elastic::{ElasticConfig, ElasticError, ElasticSink};
use llm_security_testkit::{Failure, WebhookReceiver, sample_event};

fn item(status: u16) -> String {
    if status < 300 {
        format!(r#"{{"create":{{"status":{status}}}}}"#)
    } else {
        format!(
            r#"{{"create":{{"status":{status},"error":{{"type":"es_rejected_execution_exception","reason":"busy"}}}}}}"#
        )
    }
}

#[tokio::test]
async fn only_failed_items_are_sent_again() {
    let server = WebhookReceiver::start().await;
    server.fail_next([
        Failure::status(
            200,
            &format!(
                r#"{{"errors":true,"items":[{},{},{}]}}"#,
                item(201),
                item(429),
                item(201)
            ),
        ),
        Failure::status(
            200,
            &format!(r#"{{"errors":false,"items":[{}]}}"#, item(201)),
        ),
    ]);
    let sink =
        ElasticSink::new(ElasticConfig::new(server.url()).with_metadata_mapping(false)).unwrap();
    let batch: Vec<_> = (0..3).map(|n| Arc::new(sample_event(n))).collect();
    let report = sink.send_batch(&batch).await.unwrap();
    assert_eq!(
        (report.delivered, report.duplicates, report.rejected),
        (3, 0, 0)
    );
    assert_eq!(server.attempts(), 2);
}

#[tokio::test]
async fn request_level_errors() {
    let server = WebhookReceiver::start().await;
    server.fail_next([
        Failure::status(503, "unavailable"),
        Failure::status(400, r#"{"error":"bad"}"#),
    ]);
    let sink =
        ElasticSink::new(ElasticConfig::new(server.url()).with_metadata_mapping(false)).unwrap();
    let batch = [Arc::new(sample_event(0))];
    assert!(sink.send_batch(&batch).await.unwrap_err().is_retriable());
    assert!(!sink.send_batch(&batch).await.unwrap_err().is_retriable());
    assert!(matches!(
        ElasticSink::new(ElasticConfig::new("es:9200")),
        Err(ElasticError::Endpoint { .. })
    ));
    assert_eq!(
        ElasticSink::new(ElasticConfig::new("http://es:9200").with_index(" ")).unwrap_err(),
        ElasticError::EmptyIndex
    );
}

#[tokio::test]
async fn refusals_report_their_place_in_the_original_batch() {
    let server = WebhookReceiver::start().await;
    server.fail_next([
        Failure::status(
            200,
            &format!(
                r#"{{"errors":true,"items":[{},{},{},{}]}}"#,
                item(201),
                item(429),
                item(400),
                item(429)
            ),
        ),
        // The second attempt carries the two busy items (batch indices 1 and 3); the second
        // of them is refused now.
        Failure::status(
            200,
            &format!(r#"{{"errors":true,"items":[{},{}]}}"#, item(201), item(400)),
        ),
    ]);
    let sink =
        ElasticSink::new(ElasticConfig::new(server.url()).with_metadata_mapping(false)).unwrap();
    let batch: Vec<_> = (0..4).map(|n| Arc::new(sample_event(n))).collect();
    let report = sink.send_batch(&batch).await.unwrap();
    assert_eq!((report.delivered, report.rejected), (2, 2));
    assert_eq!(report.rejected_indices, [2, 3]);
}
