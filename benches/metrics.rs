//! Warm metric reads from the evaluator's side: `Resolution::read`.
//!
//! `cargo bench --bench metrics`

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dci_metrics::{Catalog, MetricRead, MetricValue, Resolution, Source};

fn reads(c: &mut Criterion) {
    let catalog = Catalog::default();
    let metrics: Vec<_> = ["dci.dr.has_disability", "dci.dr.disability_level", "dci.dr.disability_types"]
        .iter()
        .map(|m| catalog.metric(m).expect("metric"))
        .collect();
    let facts: Vec<Resolution> = (0..100_000)
        .map(|i| match i % 10 {
            0 => Resolution::NotFound(Source::Cache),
            _ => Resolution::Found(
                Arc::from(vec![
                    MetricValue::Bool(i % 3 == 0),
                    MetricValue::Int(i % 5),
                    MetricValue::strings(["MOBILITY"]),
                ]),
                Source::Cache,
            ),
        })
        .collect();
    let mut group = c.benchmark_group("metric_reads");
    group.throughput(Throughput::Elements((facts.len() * metrics.len()) as u64));
    group.bench_function("warm_read_one_core", |b| {
        b.iter(|| {
            let mut known = 0usize;
            for resolution in &facts {
                for metric in &metrics {
                    if let MetricRead::Value(_) =
                        std::hint::black_box(resolution.read(&catalog, *metric, chrono::NaiveDate::MAX))
                    {
                        known += 1;
                    }
                }
            }
            known
        })
    });
    group.finish();
}

criterion_group!(benches, reads);
criterion_main!(benches);
