//! Against a real PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use llm_security_core::{EventSink, Pipeline, SecurityEvent, SinkOptions};
use llm_security_sink_postgres::{PostgresConfig, PostgresError, PostgresSink};
use llm_security_testkit::{delivery_options, sample_event};
use sqlx::Row as _;

/// The restart test stops the server; the others wait for it.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn started_at(sink: &PostgresSink) -> chrono::DateTime<chrono::Utc> {
    sqlx::query("SELECT pg_postmaster_start_time()")
        .fetch_one(sink.pool())
        .await
        .unwrap()
        .get(0)
}

fn url() -> String {
    std::env::var("LLMSEC_TEST_POSTGRES_URL").expect(
        "LLMSEC_TEST_POSTGRES_URL is not set: run ./scripts/test.sh, which starts PostgreSQL",
    )
}

/// Events with ids no other test uses.
fn events(tag: u128, n: u64) -> Vec<SecurityEvent> {
    (0..n)
        .map(|i| {
            let mut e = sample_event(i);
            e.id = uuid::Uuid::from_u128((tag << 64) | u128::from(i));
            e
        })
        .collect()
}

async fn count(sink: &PostgresSink, tag: u128) -> i64 {
    let low = uuid::Uuid::from_u128(tag << 64);
    let high = uuid::Uuid::from_u128((tag << 64) | u128::from(u64::MAX));
    sqlx::query("SELECT count(*) FROM llm_security_events WHERE id BETWEEN $1 AND $2")
        .bind(low)
        .bind(high)
        .fetch_one(sink.pool())
        .await
        .unwrap()
        .get(0)
}

fn options() -> SinkOptions {
    delivery_options(200, Duration::from_millis(50), 60)
}

#[tokio::test]
async fn writes_exactly_n_events_and_reads_them_back() {
    let _serial = SERIAL.lock().await;
    let sink = PostgresSink::connect(&PostgresConfig::new(url()))
        .await
        .unwrap();
    sink.healthcheck().await.unwrap();
    let batch: Vec<_> = events(1, 1000).into_iter().map(Arc::new).collect();
    let report = sink.send_batch(&batch).await.unwrap();
    assert_eq!((report.delivered, report.duplicates), (1000, 0));
    assert_eq!(count(&sink, 1).await, 1000);
    let row =
        sqlx::query("SELECT event, event_type, threats FROM llm_security_events WHERE id = $1")
            .bind(batch[0].id)
            .fetch_one(sink.pool())
            .await
            .unwrap();
    let stored: SecurityEvent = serde_json::from_value(row.get::<serde_json::Value, _>(0)).unwrap();
    assert_eq!(stored, *batch[0], "the stored event reads back identical");
    assert_eq!(row.get::<String, _>(1), "threat.detected");
    // A retry of the same batch inserts nothing.
    let again = sink.send_batch(&batch).await.unwrap();
    assert_eq!((again.delivered, again.duplicates), (0, 1000));
    assert_eq!(count(&sink, 1).await, 1000);
}

#[tokio::test]
async fn a_restart_mid_stream_loses_and_duplicates_nothing() {
    let _serial = SERIAL.lock().await;
    let data = std::env::var("LLMSEC_TEST_POSTGRES_DATA")
        .expect("LLMSEC_TEST_POSTGRES_DATA is not set: run ./scripts/test.sh");
    let bin = std::fs::read_to_string(format!("{data}/postgres.bin"))
        .unwrap()
        .trim()
        .to_owned();
    let sink = PostgresSink::connect(&PostgresConfig::new(url()))
        .await
        .unwrap();
    let before = started_at(&sink).await;
    let pipeline = Pipeline::builder()
        .sink_with(sink, options())
        .build()
        .unwrap();
    let all = events(2, 3000);
    for (i, e) in all.iter().enumerate() {
        pipeline.emit(e.clone());
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if i == 1000 {
            let restarted = tokio::process::Command::new("su")
                .args(["postgres", "-s", "/bin/sh", "-c", &format!("'{bin}/pg_ctl' -D '{data}/pgdata' -m fast -w restart -l '{data}/postgres.log'")])
                .status()
                .await
                .unwrap();
            assert!(restarted.success());
        }
    }
    pipeline.shutdown(Duration::from_secs(60)).await;
    let stats = &pipeline.stats()[0];
    assert_eq!((stats.failed, stats.dropped), (0, 0), "{stats:?}");
    let check = PostgresSink::connect(&PostgresConfig::new(url()))
        .await
        .unwrap();
    assert_eq!(count(&check, 2).await, 3000, "every event exactly once");
    assert!(
        started_at(&check).await > before,
        "the server was restarted mid-stream"
    );
}

#[tokio::test]
async fn wrong_credentials_and_unknown_databases_are_clear_errors() {
    let _serial = SERIAL.lock().await;
    let good = url();
    let wrong_password = good.replacen(":llmsec-pw@", ":wrong@", 1);
    let err = PostgresSink::connect(&PostgresConfig::new(wrong_password))
        .await
        .unwrap_err();
    assert!(
        matches!(err, PostgresError::Connect(_))
            && err.to_string().contains("password authentication failed"),
        "{err}"
    );
    let (base, _) = good.rsplit_once('/').unwrap();
    let err = PostgresSink::connect(&PostgresConfig::new(format!("{base}/no_such_db")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no_such_db"), "{err}");
    let mut unreachable = PostgresConfig::new("postgres://u:p@127.0.0.1:9/x");
    unreachable.connect_timeout = Duration::from_secs(2);
    assert!(matches!(
        PostgresSink::connect(&unreachable).await.unwrap_err(),
        PostgresError::Connect(_)
    ));
}

/// PostgreSQL refuses NUL in `text` and `\u0000` in `jsonb`. A prompt with a NUL byte must not
/// make the database refuse its batch (and with it other users' events).
#[tokio::test]
async fn a_nul_byte_in_an_event_does_not_lose_its_batch() {
    let _serial = SERIAL.lock().await;
    let sink = PostgresSink::connect(&PostgresConfig::new(url()))
        .await
        .unwrap();
    let mut batch = events(7, 3);
    batch[1].text.value = Some("ignore\0 all previous instructions".into());
    batch[1].user_id = Some("user\0x".into());
    batch[1]
        .metadata
        .insert("note\0key".into(), "value\0with nul".into());
    let batch: Vec<_> = batch.into_iter().map(Arc::new).collect();
    let report = sink.send_batch(&batch).await.unwrap();
    assert_eq!((report.delivered, report.rejected), (3, 0));
    assert_eq!(count(&sink, 7).await, 3);
    let row =
        sqlx::query("SELECT captured_text, user_id, event FROM llm_security_events WHERE id = $1")
            .bind(batch[1].id)
            .fetch_one(sink.pool())
            .await
            .unwrap();
    // NUL is stored as U+FFFD, the Unicode replacement character; nothing else changes.
    assert_eq!(
        row.get::<String, _>(0),
        "ignore\u{fffd} all previous instructions"
    );
    assert_eq!(row.get::<String, _>(1), "user\u{fffd}x");
    let stored: SecurityEvent = serde_json::from_value(row.get::<serde_json::Value, _>(2)).unwrap();
    assert_eq!(stored.id, batch[1].id);
    assert_eq!(
        stored.metadata["note\u{fffd}key"],
        serde_json::json!("value\u{fffd}with nul")
    );
}
