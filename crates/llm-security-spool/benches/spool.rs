//! Spool throughput: appending a batch (one fsynced transaction), and the delivery side's
//! read-then-remove of a batch. `cargo bench -p llm-security-spool --bench spool`.

use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use llm_security_spool::{FullPolicy, Store};
use llm_security_testkit::sample_event;

fn bench(c: &mut Criterion) {
    let templates = [sample_event(0), sample_event(1)];
    let batch = |n: usize| -> Vec<Arc<_>> {
        (0..n)
            .map(|i| {
                let mut e = templates[i % 2].clone();
                e.id = uuid::Uuid::now_v7();
                Arc::new(e)
            })
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), u64::MAX).unwrap();
    let mut group = c.benchmark_group("spool");
    for n in [1usize, 100, 500] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("append_{n}"), |b| {
            b.iter_batched(
                || batch(n),
                |events| store.append(&events, FullPolicy::Block).unwrap(),
                BatchSize::SmallInput,
            );
        });
    }
    group.throughput(Throughput::Elements(500));
    group.bench_function("peek_ack_500", |b| {
        b.iter_batched(
            || {
                store.append(&batch(500), FullPolicy::Block).unwrap();
            },
            |()| {
                let (records, _) = store.peek(500).unwrap();
                let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
                store.ack(&seqs).unwrap();
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
