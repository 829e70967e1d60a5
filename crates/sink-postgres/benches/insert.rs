//! Events per second into PostgreSQL, in batches of 1000 (the pipeline's `send_batch` path).
//!
//! Needs a server: `LLMSEC_BENCH_POSTGRES_URL=$(scripts/services/start-postgres.sh /tmp/pg | tail -1)
//! cargo bench -p llm-security-sink-postgres --bench insert`. Every iteration inserts new ids.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use llm_security_core::EventSink;
use llm_security_sink_postgres::{PostgresConfig, PostgresSink};
use llm_security_testkit::sample_event;

fn bench(c: &mut Criterion) {
    let Ok(url) = std::env::var("LLMSEC_BENCH_POSTGRES_URL") else {
        eprintln!("LLMSEC_BENCH_POSTGRES_URL is not set; see the header of benches/insert.rs");
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sink = runtime
        .block_on(PostgresSink::connect(&PostgresConfig::new(url)))
        .expect("connect");
    let template: Vec<_> = (0..1000).map(sample_event).collect();
    let next = AtomicU64::new(1);
    let mut group = c.benchmark_group("postgres");
    group.throughput(Throughput::Elements(1000));
    group.sample_size(20);
    group.bench_function("insert_1000", |b| {
        b.to_async(&runtime).iter(|| async {
            let round = next.fetch_add(1, Ordering::Relaxed);
            let batch: Vec<_> = template
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let mut e = e.clone();
                    e.id = uuid::Uuid::from_u128((u128::from(round) << 32) | i as u128);
                    Arc::new(e)
                })
                .collect();
            let report = sink.send_batch(&batch).await.expect("insert");
            assert_eq!(report.delivered, 1000);
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
