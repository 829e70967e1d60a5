//! Against a real OpenSearch-API server at `$LLMSEC_TEST_OPENSEARCH_URL`.

use std::sync::Arc;
use std::time::Duration;

use llm_security_core::{BatchConfig, EventSink, Pipeline, RetryConfig, SinkOptions};
use llm_security_sink_elastic::{ElasticConfig, ElasticSink};
use llm_security_testkit::sample_event;
use serde_json::Value;

fn url() -> String {
    std::env::var("LLMSEC_TEST_OPENSEARCH_URL").expect(
        "LLMSEC_TEST_OPENSEARCH_URL is not set: run ./scripts/test.sh, which starts the server",
    )
}

async fn get(path: &str) -> Value {
    let body = reqwest::get(format!("{}{path}", url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&body).unwrap()
}

async fn refresh(index: &str) {
    reqwest::Client::new()
        .post(format!("{}/{index}/_refresh", url()))
        .send()
        .await
        .unwrap();
}

fn index(name: &str) -> String {
    format!("llmsec-test-{name}-{}", std::process::id())
}

#[tokio::test]
async fn delivers_exactly_n_ecs_documents_and_never_duplicates() {
    let index = index("exact");
    let sink = ElasticSink::new(ElasticConfig::new(url()).with_index(&index)).unwrap();
    sink.healthcheck().await.unwrap();
    let options = SinkOptions {
        batch: BatchConfig {
            max_events: 50,
            max_bytes: 10_000_000,
            timeout: Duration::from_millis(20),
        },
        retry: RetryConfig {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(1),
            max_retries: 3,
        },
        ..SinkOptions::default()
    };
    let pipeline = Pipeline::builder()
        .sink_with(sink, options)
        .build()
        .unwrap();
    for n in 0..200 {
        pipeline.emit(sample_event(n));
    }
    pipeline.shutdown(Duration::from_secs(20)).await;
    refresh(&index).await;
    assert_eq!(get(&format!("/{index}/_count")).await["count"], 200);
    let doc = get(&format!("/{index}/_doc/{}", sample_event(0).id)).await;
    let source = &doc["_source"];
    assert_eq!(source["event"]["kind"], "alert");
    assert_eq!(source["event"]["category"][0], "intrusion_detection");
    assert_eq!(source["threat"]["framework"], "MITRE ATLAS");
    assert_eq!(source["llm_security"]["id"], sample_event(0).id.to_string());

    // Sending the same events again stores nothing new: each is a duplicate.
    let again = ElasticSink::new(ElasticConfig::new(url()).with_index(&index)).unwrap();
    let batch: Vec<_> = (0..200).map(|n| Arc::new(sample_event(n))).collect();
    let report = again.send_batch(&batch).await.unwrap();
    assert_eq!((report.delivered, report.duplicates), (0, 200));
    refresh(&index).await;
    assert_eq!(get(&format!("/{index}/_count")).await["count"], 200);
}

#[tokio::test]
async fn refused_documents_are_counted_not_retried() {
    let sink = ElasticSink::new(ElasticConfig::new(url()).with_index("Not_A_Valid_Index")).unwrap();
    let report = sink.send_batch(&[Arc::new(sample_event(1))]).await.unwrap();
    assert_eq!((report.delivered, report.rejected), (0, 1));
    assert_eq!(report.rejected_indices, [0]);
}

#[tokio::test]
async fn an_unreachable_cluster_is_a_retriable_error() {
    let sink = ElasticSink::new(ElasticConfig::new("http://127.0.0.1:9")).unwrap();
    assert!(sink.healthcheck().await.is_err());
    assert!(
        sink.send_batch(&[Arc::new(sample_event(1))])
            .await
            .unwrap_err()
            .is_retriable()
    );
}

/// Metadata is the calling application's: `{"order": 17}` in one event and `{"order": "A-17"}`
/// in the next must not make the cluster refuse the second.
#[tokio::test]
async fn metadata_of_different_types_under_one_key_is_stored() {
    let mapped = index("metadata");
    let mut first = sample_event(1);
    first.metadata.insert("order".into(), 17.into());
    let mut second = sample_event(2);
    second.metadata.insert("order".into(), "A-17".into());
    second
        .metadata
        .insert("nested".into(), serde_json::json!({"order": [1, "two"]}));

    let sink = ElasticSink::new(ElasticConfig::new(url()).with_index(&mapped)).unwrap();
    for event in [first, second.clone()] {
        let report = sink.send_batch(&[Arc::new(event)]).await.unwrap();
        assert_eq!((report.delivered, report.rejected), (1, 0));
    }
    refresh(&mapped).await;
    assert_eq!(get(&format!("/{mapped}/_count")).await["count"], 2);
    let doc = get(&format!("/{mapped}/_doc/{}", second.id)).await;
    assert_eq!(doc["_source"]["llm_security"]["metadata"]["order"], "A-17");
    let mapping = get(&format!("/{mapped}/_mapping")).await;
    assert_eq!(
        mapping[&mapped]["mappings"]["properties"]["llm_security"]["properties"]["metadata"]["enabled"],
        false
    );

    // Without the mapping (an index template of the user's decides), the cluster maps the
    // key from the first event and refuses the second: what the mapping prevents.
    let unmapped = index("metadata-unmapped");
    let sink = ElasticSink::new(
        ElasticConfig::new(url())
            .with_index(&unmapped)
            .with_metadata_mapping(false),
    )
    .unwrap();
    let mut first = sample_event(3);
    first.metadata.insert("order".into(), 17.into());
    let mut second = sample_event(4);
    second.metadata.insert("order".into(), "A-17".into());
    sink.send_batch(&[Arc::new(first)]).await.unwrap();
    let report = sink.send_batch(&[Arc::new(second)]).await.unwrap();
    assert_eq!((report.delivered, report.rejected), (0, 1));
}
