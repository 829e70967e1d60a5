//! The SQLite store, on real files.

use std::sync::Arc;
use std::time::Duration;

use llm_security_core::{EventSink, EventType, Pipeline};
use llm_security_sink_sqlite::{EventQuery, SqliteError, SqliteSink};
use llm_security_testkit::sample_event;

#[tokio::test]
async fn writes_exactly_n_and_queries_by_time_and_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/events.db");
    let sink = SqliteSink::open(&path).await.unwrap();
    let pipeline = Pipeline::builder().sink(sink).build().unwrap();
    for n in 0..100 {
        pipeline.emit(sample_event(n));
    }
    pipeline.shutdown(Duration::from_secs(10)).await;
    let store = SqliteSink::open(&path).await.unwrap();
    let all = store.query(&EventQuery::default()).await.unwrap();
    assert_eq!(all.len(), 100);
    assert_eq!(
        all[0],
        sample_event(0),
        "events read back identical, oldest first"
    );
    let threats = store
        .query(&EventQuery {
            event_type: Some(EventType::ThreatDetected),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(threats.len(), 50);
    let since = sample_event(90).timestamp;
    let recent = store
        .query(&EventQuery {
            since: Some(since),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(recent.len(), 10);
    let last = store
        .query(&EventQuery {
            limit: Some(3),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        last.iter().map(|e| e.id).collect::<Vec<_>>(),
        (97..100).map(|n| sample_event(n).id).collect::<Vec<_>>()
    );
    // A retried batch inserts nothing new.
    let again = store
        .send_batch(&[Arc::new(sample_event(5))])
        .await
        .unwrap();
    assert_eq!((again.delivered, again.duplicates), (0, 1));
}

#[tokio::test]
async fn an_unusable_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let err = SqliteSink::open(file.join("events.db")).await.unwrap_err();
    assert!(
        matches!(err, SqliteError::Open { .. }) && err.to_string().contains("events.db"),
        "{err}"
    );
}

#[tokio::test]
async fn an_event_with_nul_bytes_is_stored_and_reads_back_identical() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SqliteSink::open(dir.path().join("events.db"))
        .await
        .unwrap();
    let mut odd = sample_event(1);
    odd.text.value = Some("ignore\0 all previous instructions".into());
    odd.metadata
        .insert("note\0key".into(), "value\0with nul".into());
    let batch = [Arc::new(sample_event(0)), Arc::new(odd.clone())];
    let report = sink.send_batch(&batch).await.unwrap();
    assert_eq!(report.delivered, 2);
    let all = sink.query(&EventQuery::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1], odd);
}
