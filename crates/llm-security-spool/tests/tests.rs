//! The spool against real destinations: a PostgreSQL outage under load, a `kill -9` with
//! events on disk, and the size bound under both policies.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use llm_security_core::{EventSink, Pipeline, SecurityEvent};
use llm_security_sink_postgres::{PostgresConfig, PostgresSink};
use llm_security_spool::{BreakerState, FullPolicy, SpoolConfig, SpooledSink, Store};
use llm_security_testkit::sample_event;
use sqlx::Row as _;
use tokio::io::AsyncBufReadExt as _;
use tokio::sync::Mutex;

/// The PostgreSQL tests stop and start the one server; they must not overlap.
static SERIAL: Mutex<()> = Mutex::const_new(());

fn pg_url() -> String {
    std::env::var("LLMSEC_TEST_POSTGRES_URL").expect(
        "LLMSEC_TEST_POSTGRES_URL is not set: run ./scripts/test.sh, which starts PostgreSQL",
    )
}

/// A tag no earlier run used, so that counts only see this run's rows.
fn fresh_tag() -> u128 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    (nanos & 0xFFFF_FFFF_FFFF) | (0x5B << 56)
}

/// Event `i` of a run: a copy of one of two sample events with the id `tag:i`.
fn event(templates: &[SecurityEvent; 2], tag: u128, i: u64) -> Arc<SecurityEvent> {
    let mut e = templates[(i % 2) as usize].clone();
    e.id = uuid::Uuid::from_u128((tag << 64) | u128::from(i));
    Arc::new(e)
}

fn templates() -> [SecurityEvent; 2] {
    [sample_event(0), sample_event(1)]
}

async fn ids_in_postgres(sink: &PostgresSink, tag: u128) -> Vec<u64> {
    let low = uuid::Uuid::from_u128(tag << 64);
    let high = uuid::Uuid::from_u128((tag << 64) | u128::from(u64::MAX));
    sqlx::query("SELECT id FROM llm_security_events WHERE id BETWEEN $1 AND $2 ORDER BY id")
        .bind(low)
        .bind(high)
        .fetch_all(sink.pool())
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let id: uuid::Uuid = row.get(0);
            (id.as_u128() & u128::from(u64::MAX)) as u64
        })
        .collect()
}

/// Runs `pg_ctl ACTION` on the test cluster as the postgres user.
async fn pg_ctl(action: &str) {
    let data = std::env::var("LLMSEC_TEST_POSTGRES_DATA")
        .expect("LLMSEC_TEST_POSTGRES_DATA is not set: run ./scripts/test.sh");
    let bin = std::fs::read_to_string(format!("{data}/postgres.bin"))
        .unwrap()
        .trim()
        .to_owned();
    let port = pg_url()
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next().map(str::to_owned))
        .unwrap();
    let command = match action {
        "stop" => format!("'{bin}/pg_ctl' -D '{data}/pgdata' -m fast -w stop"),
        "start" => format!(
            "'{bin}/pg_ctl' -D '{data}/pgdata' -l '{data}/postgres.log' -w -o \
             \"-c listen_addresses=127.0.0.1 -p {port} -k '{data}' -c fsync=off\" start"
        ),
        other => panic!("unknown action {other}"),
    };
    let status = tokio::process::Command::new("su")
        .args(["postgres", "-s", "/bin/sh", "-c", &command])
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(status.success(), "pg_ctl {action} failed");
}

fn fast_retries(config: SpoolConfig) -> SpoolConfig {
    config
        .with_retry(llm_security_core::RetryConfig {
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
            max_retries: u32::MAX,
        })
        .with_breaker(llm_security_spool::BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_millis(200),
            max_open: Duration::from_secs(1),
        })
}

/// Under a steady load, PostgreSQL is stopped for 30 s and started again: every event arrives
/// exactly once by id, and the breaker opened while it was down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thirty_second_outage_under_load_loses_and_duplicates_nothing() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = PostgresConfig::new(pg_url());
    config.connect_timeout = Duration::from_secs(1);
    let sink = PostgresSink::connect(&config).await.unwrap();
    let spooled = SpooledSink::open(
        sink,
        fast_retries(
            SpoolConfig::new(dir.path())
                .with_batch_events(200)
                .with_request_timeout(Duration::from_secs(2)),
        ),
    )
    .unwrap();
    let spool = spooled.handle();
    let pipeline = Pipeline::builder()
        .sink_with(spooled, SpooledSink::recommended_options())
        .build()
        .unwrap();
    let tag = fresh_tag();
    let t = templates();
    // 40 events every 100 ms (400/s) for 3 s, through a 30 s outage, and 3 s after it.
    let mut n = 0u64;
    let mut saw_open = false;
    let mut pending_during_outage = 0;
    let start = tokio::time::Instant::now();
    let mut stopped = false;
    let mut restarted = false;
    while start.elapsed() < Duration::from_secs(36) {
        for _ in 0..40 {
            pipeline.emit((*event(&t, tag, n)).clone());
            n += 1;
        }
        let elapsed = start.elapsed();
        if !stopped && elapsed >= Duration::from_secs(3) {
            pg_ctl("stop").await;
            stopped = true;
        }
        if stopped && !restarted {
            let stats = spool.stats().unwrap();
            saw_open |= stats.breaker != BreakerState::Closed;
            pending_during_outage = pending_during_outage.max(stats.pending_events);
            if elapsed >= Duration::from_secs(33) {
                pg_ctl("start").await;
                restarted = true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pipeline.flush(Duration::from_secs(10)).await.unwrap();
    assert!(
        spool.wait_drained(Duration::from_secs(60)).await,
        "{:?}",
        spool.stats()
    );
    let stats = spool.stats().unwrap();
    pipeline.shutdown(Duration::from_secs(10)).await;
    let pstats = &pipeline.stats()[0];
    assert_eq!((pstats.failed, pstats.dropped), (0, 0), "{pstats:?}");
    assert!(saw_open, "the breaker opened during the outage: {stats:?}");
    assert!(
        pending_during_outage > 5000,
        "events waited on disk during the outage: {pending_during_outage}"
    );
    assert_eq!(stats.spooled, n);
    assert_eq!(stats.delivered + stats.duplicates, n, "{stats:?}");
    assert!(stats.retried > 0);
    let check = PostgresSink::connect(&PostgresConfig::new(pg_url()))
        .await
        .unwrap();
    let ids = ids_in_postgres(&check, tag).await;
    assert_eq!(ids, (0..n).collect::<Vec<_>>(), "every event exactly once");
}

/// The child side of the crash test: spools events into PostgreSQL through the spool in
/// `LLMSEC_SPOOL_CHILD_DIR`, printing how many were acknowledged, until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child_writes_until_killed() {
    let (Ok(dir), Ok(tag)) = (
        std::env::var("LLMSEC_SPOOL_CHILD_DIR"),
        std::env::var("LLMSEC_SPOOL_CHILD_TAG"),
    ) else {
        // Only meaningful when started by the crash test below.
        return;
    };
    let tag: u128 = tag.parse().unwrap();
    let sink = PostgresSink::connect(&PostgresConfig::new(pg_url()))
        .await
        .unwrap();
    // Small deliveries, large appends: the spool fills faster than it drains.
    let spooled = SpooledSink::open(sink, SpoolConfig::new(dir).with_batch_events(10)).unwrap();
    let t = templates();
    let mut n = 0u64;
    loop {
        let batch: Vec<_> = (n..n + 500).map(|i| event(&t, tag, i)).collect();
        spooled.send_batch(&batch).await.unwrap();
        n += 500;
        println!("acked {n}");
    }
}

/// `kill -9` of a process with events in its spool: after a restart on the same directory,
/// every event the spool had acknowledged reaches PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_with_events_on_disk_loses_nothing() {
    if std::env::var("LLMSEC_SPOOL_CHILD_DIR").is_ok() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let tag = fresh_tag();
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_writes_until_killed",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("LLMSEC_SPOOL_CHILD_DIR", dir.path())
        .env("LLMSEC_SPOOL_CHILD_TAG", tag.to_string())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = 0u64;
    while acked < 5000 {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the child keeps acknowledging")
            .unwrap()
            .expect("the child is alive");
        if let Some(count) = line.strip_prefix("acked ") {
            acked = count.parse().unwrap();
        }
    }
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    let on_disk = {
        let store = Store::open(dir.path(), 1 << 30).unwrap();
        store.usage().unwrap().pending_events
    };
    assert!(on_disk > 0, "the child died with events in its spool");
    let sink = PostgresSink::connect(&PostgresConfig::new(pg_url()))
        .await
        .unwrap();
    let spooled = SpooledSink::open(sink, SpoolConfig::new(dir.path())).unwrap();
    let spool = spooled.handle();
    assert!(spool.wait_drained(Duration::from_secs(60)).await);
    spooled.shutdown(Duration::from_secs(5)).await.unwrap();
    let check = PostgresSink::connect(&PostgresConfig::new(pg_url()))
        .await
        .unwrap();
    let ids = ids_in_postgres(&check, tag).await;
    assert!(
        ids.len() as u64 >= acked,
        "{} of {acked} acknowledged events arrived",
        ids.len()
    );
    assert_eq!(
        ids[..acked as usize],
        (0..acked).collect::<Vec<_>>(),
        "every acknowledged event arrived, once"
    );
}

/// A webhook sink whose endpoint is down (nothing listens on the port).
fn unreachable_webhook() -> llm_security_sink_webhook::WebhookSink {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    llm_security_sink_webhook::WebhookSink::new(
        llm_security_sink_webhook::WebhookConfig::new()
            .with_url(format!("http://127.0.0.1:{port}/hook"))
            .with_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    )
    .unwrap()
}

fn encoded_size(e: &SecurityEvent) -> u64 {
    llm_security_spool::store::encode_record(0, e).len() as u64
}

/// A spool bounded to about 50 events in front of a webhook whose endpoint is down.
struct Full {
    dir: tempfile::TempDir,
    t: [SecurityEvent; 2],
    tag: u128,
    bound: u64,
    spooled: SpooledSink,
    spool: llm_security_spool::SpoolHandle,
}

fn full_spool(policy: FullPolicy) -> Full {
    let dir = tempfile::tempdir().unwrap();
    let t = templates();
    let tag = fresh_tag();
    let bound = encoded_size(&event(&t, tag, 0)) * 50;
    let spooled = SpooledSink::open(
        unreachable_webhook(),
        SpoolConfig::new(dir.path())
            .with_max_bytes(bound)
            .with_when_full(policy),
    )
    .unwrap();
    let spool = spooled.handle();
    Full {
        dir,
        t,
        tag,
        bound,
        spooled,
        spool,
    }
}

#[tokio::test]
async fn a_full_spool_drops_the_oldest_and_counts_them() {
    let Full {
        dir,
        t,
        tag,
        bound,
        spooled,
        spool,
    } = full_spool(FullPolicy::DropOldest);
    let batch: Vec<_> = (0..200).map(|i| event(&t, tag, i)).collect();
    for chunk in batch.chunks(20) {
        spooled.send_batch(chunk).await.unwrap();
    }
    let stats = spool.stats().unwrap();
    assert!(stats.pending_bytes + stats.dead_bytes <= bound, "{stats:?}");
    assert!(stats.pending_events >= 45, "{stats:?}");
    assert_eq!(stats.spooled, 200);
    assert_eq!(
        stats.evicted + stats.pending_events,
        200,
        "every event is either kept or counted as evicted"
    );
    // The newest are the ones kept.
    spooled.shutdown(Duration::from_millis(500)).await.unwrap();
    drop((spooled, spool));
    let store_view = Store::open(dir.path(), bound)
        .unwrap()
        .peek(1000)
        .unwrap()
        .0;
    let last = store_view.last().unwrap().event.id.as_u128() & u128::from(u64::MAX);
    assert_eq!(last, 199);
}

#[tokio::test]
async fn a_full_spool_blocks_the_writer_and_the_pipeline_counts_what_waits() {
    let Full {
        dir: _dir,
        t,
        tag,
        bound,
        spooled,
        spool,
    } = full_spool(FullPolicy::Block);
    // Straight to the sink: the call does not return while the spool is full.
    let batch: Vec<_> = (0..80).map(|i| event(&t, tag, i)).collect();
    let blocked =
        tokio::time::timeout(Duration::from_millis(1500), spooled.send_batch(&batch)).await;
    assert!(blocked.is_err(), "the writer waits for space");
    let stats = spool.stats().unwrap();
    assert!(
        stats.pending_events >= 50 && stats.pending_events < 80 && stats.pending_bytes <= bound,
        "as many as fit, and no more: {stats:?}"
    );
    assert_eq!(stats.evicted, 0);
    // Through a pipeline with a small queue: what cannot wait is counted as dropped there.
    let mut options = SpooledSink::recommended_options();
    options.queue_capacity = 100;
    let pipeline = Pipeline::builder()
        .sink_with(spooled, options)
        .build()
        .unwrap();
    for i in 100..400 {
        pipeline.emit((*event(&t, tag, i)).clone());
    }
    let pstats = pipeline.stats()[0].clone();
    assert!(pstats.dropped > 0, "{pstats:?}");
    assert_eq!(pstats.accepted + pstats.dropped, 300);
    let stats = spool.stats().unwrap();
    assert!(stats.pending_bytes <= bound);
    assert_eq!(stats.evicted, 0, "blocking never evicts");
    pipeline.shutdown(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn bad_configuration_and_a_spool_in_use_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = SpooledSink::open(
        unreachable_webhook(),
        SpoolConfig::new(dir.path()).with_max_bytes(0),
    )
    .unwrap_err();
    assert!(err.to_string().contains("must be non-zero"), "{err}");
    let _first = SpooledSink::open(unreachable_webhook(), SpoolConfig::new(dir.path())).unwrap();
    let err = SpooledSink::open(unreachable_webhook(), SpoolConfig::new(dir.path())).unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let err = SpooledSink::open(unreachable_webhook(), SpoolConfig::new(&file)).unwrap_err();
    assert!(err.to_string().contains("spool storage error"), "{err}");
}

/// An event the destination refuses inside an accepted batch is kept as a dead letter, not
/// dropped: Splunk HEC (the test kit's HEC receiver) names the one event it cannot take.
#[tokio::test]
async fn an_event_refused_inside_a_batch_becomes_a_dead_letter() {
    const TOKEN: &str = "0b5f7c1e-2d4a-4e8b-9c3f-6a1d2e3f4b5c";
    let hec = llm_security_testkit::HecReceiver::start(TOKEN, false, &["main"]).await;
    hec.fail_next([llm_security_testkit::Failure::status(
        400,
        r#"{"text":"Invalid data format","code":6,"invalid-event-number":2}"#,
    )]);
    let dir = tempfile::tempdir().unwrap();
    let sink = llm_security_sink_splunk::HecSink::new(llm_security_sink_splunk::HecConfig::new(
        hec.url(),
        TOKEN,
    ))
    .unwrap();
    let spooled = SpooledSink::open(sink, SpoolConfig::new(dir.path())).unwrap();
    let spool = spooled.handle();
    let t = templates();
    let tag = fresh_tag();
    let batch: Vec<_> = (0..5).map(|i| event(&t, tag, i)).collect();
    spooled.send_batch(&batch).await.unwrap();
    assert!(spool.wait_drained(Duration::from_secs(10)).await);

    let stats = spool.stats().unwrap();
    assert_eq!(
        (stats.delivered, stats.rejected, stats.dead_lettered),
        (4, 1, 1),
        "{stats:?}"
    );
    assert_eq!(
        (stats.pending_events, stats.dead_events),
        (0, 1),
        "{stats:?}"
    );
    assert_eq!(hec.items().len(), 4);

    // The dead letter is the refused event, and it can be sent again.
    spooled.shutdown(Duration::from_secs(1)).await.unwrap();
    drop((spooled, spool));
    let store = Store::open(dir.path(), u64::MAX).unwrap();
    assert_eq!(store.requeue_dead().unwrap(), 1);
    let (records, unreadable) = store.peek(10).unwrap();
    assert!(unreadable.is_empty());
    let ids: Vec<_> = records.iter().map(|r| r.event.id).collect();
    assert_eq!(ids, [batch[2].id]);
}
