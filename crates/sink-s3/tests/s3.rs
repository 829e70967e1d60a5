//! Against s3s-fs, an S3-compatible server that verifies SigV4, at `$LLMSEC_TEST_S3_URL`.

use std::collections::HashSet;
use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

use llm_security_core::{EventSink, Pipeline, SecurityEvent, SinkOptions};
use llm_security_sink_s3::{S3Config, S3Sink, SecurityReport};
use llm_security_testkit::{delivery_options, sample_event};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn url() -> String {
    std::env::var("LLMSEC_TEST_S3_URL")
        .expect("LLMSEC_TEST_S3_URL is not set: run ./scripts/test.sh, which starts s3s-fs")
}

fn config(prefix: &str) -> S3Config {
    let mut c = S3Config::new("llmsec-events", "us-east-1", "llmsec", "llmsec-secret")
        .with_endpoint(url())
        .with_gzip(true);
    c.prefix = format!("{prefix}-{}", std::process::id());
    c
}

fn events(tag: u128, n: u64) -> Vec<SecurityEvent> {
    (0..n)
        .map(|i| {
            let mut e = sample_event(i);
            e.id = uuid::Uuid::from_u128((tag << 64) | u128::from(i));
            e
        })
        .collect()
}

/// Every event id stored under `prefix`, with repetitions.
async fn stored_ids(sink: &S3Sink, prefix: &str) -> Vec<String> {
    let listed = sink
        .client()
        .list_objects_v2()
        .bucket("llmsec-events")
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for object in listed.contents() {
        let got = sink
            .client()
            .get_object()
            .bucket("llmsec-events")
            .key(object.key().unwrap())
            .send()
            .await
            .unwrap();
        let bytes = got.body.collect().await.unwrap().into_bytes();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        for line in text.lines() {
            let e: SecurityEvent = serde_json::from_str(line).unwrap();
            ids.push(e.id.to_string());
        }
    }
    ids
}

fn options() -> SinkOptions {
    delivery_options(100, Duration::from_millis(100), 100)
}

#[tokio::test]
async fn writes_exactly_n_events_in_gzipped_ndjson() {
    let _serial = SERIAL.lock().await;
    let config = config("exact");
    let prefix = config.prefix.clone();
    let sink = S3Sink::new(config.clone()).unwrap();
    sink.healthcheck().await.unwrap();
    let pipeline = Pipeline::builder()
        .sink_with(sink, options())
        .build()
        .unwrap();
    for e in events(1, 1000) {
        pipeline.emit(e);
    }
    pipeline.shutdown(Duration::from_secs(30)).await;
    let reader = S3Sink::new(config).unwrap();
    let ids = stored_ids(&reader, &prefix).await;
    assert_eq!(ids.len(), 1000);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        1000,
        "each event exactly once"
    );
    // A retried batch rewrites its own object: still exactly once.
    let batch: Vec<_> = events(1, 100).into_iter().map(Arc::new).collect();
    reader.send_batch(&batch).await.unwrap();
    reader.send_batch(&batch).await.unwrap();
    let ids = stored_ids(&reader, &prefix).await;
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 1000);
}

#[tokio::test]
async fn a_restart_mid_stream_loses_and_duplicates_nothing() {
    let _serial = SERIAL.lock().await;
    let data = std::env::var("LLMSEC_TEST_S3_DATA")
        .expect("LLMSEC_TEST_S3_DATA is not set: run ./scripts/test.sh");
    let tools = std::env::var("LLMSEC_TEST_TOOLS_DIR")
        .expect("LLMSEC_TEST_TOOLS_DIR is not set: run ./scripts/test.sh");
    let port = url().rsplit(':').next().unwrap().to_owned();
    let scripts = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/services");
    let config = config("restart");
    let prefix = config.prefix.clone();
    let pipeline = Pipeline::builder()
        .sink_with(S3Sink::new(config.clone()).unwrap(), options())
        .build()
        .unwrap();
    for (i, e) in events(2, 1500).into_iter().enumerate() {
        pipeline.emit(e);
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if i == 500 {
            assert!(
                tokio::process::Command::new(format!("{scripts}/stop-all.sh"))
                    .arg(&data)
                    .status()
                    .await
                    .unwrap()
                    .success()
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
            let start = tokio::process::Command::new(format!("{scripts}/start-s3.sh"))
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
    let ids = stored_ids(&S3Sink::new(config).unwrap(), &prefix).await;
    assert_eq!(
        ids.len(),
        1500,
        "nothing lost, nothing duplicated: {stats:?}"
    );
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 1500);
}

#[tokio::test]
async fn the_report_uploads_and_reads_back() {
    let _serial = SERIAL.lock().await;
    let sink = S3Sink::new(config("report")).unwrap();
    let all = events(3, 20);
    let report =
        SecurityReport::build(chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(), &all);
    let key = sink.upload_report(&report).await.unwrap();
    let got = sink
        .client()
        .get_object()
        .bucket("llmsec-events")
        .key(&key)
        .send()
        .await
        .unwrap();
    let read: SecurityReport =
        serde_json::from_slice(&got.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(read, report);
}

#[tokio::test]
async fn wrong_secrets_and_missing_buckets_are_clear_permanent_errors() {
    let _serial = SERIAL.lock().await;
    let batch = [Arc::new(sample_event(0))];
    let mut wrong = config("wrong");
    wrong.secret_access_key = "not-the-secret".into();
    let err = S3Sink::new(wrong)
        .unwrap()
        .send_batch(&batch)
        .await
        .unwrap_err();
    assert!(
        !err.is_retriable() && err.to_string().contains("Signature"),
        "{err}"
    );
    let mut missing = config("missing");
    missing.bucket = "no-such-bucket".into();
    // s3s-fs creates a missing bucket on PutObject (S3 answers NoSuchBucket), so a missing bucket
    // is checked where the sink can rely on it: the health check, which HeadBucket fails.
    let sink = S3Sink::new(missing).unwrap();
    let err = sink.healthcheck().await.unwrap_err();
    assert!(!err.is_retriable(), "{err}");
}
