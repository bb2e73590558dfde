//! Cold prefetch against the simulator with 2 ms per message, and the naive
//! per-record design on the same data (per-person cost).
//!
//! `cargo bench --bench registries`

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dci_bench::{Population, SEED_RULES, naive, sources};
use dci_metrics::{Catalog, MetricStore, StoreConfig, resolver_for};
use dci_protocol::records::Identifier;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PERSONS: usize = 2_000;

fn registries(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let population = runtime.block_on(async {
        let dir = std::env::temp_dir().join("elig-bench-population-2000");
        Population::start(&dir, PERSONS as u64, 1, 2).await.expect("population")
    });
    let beneficiaries: Vec<_> =
        population.beneficiaries().expect("beneficiaries").into_iter().filter_map(Result::ok).collect();
    let identifiers: Vec<Identifier> = beneficiaries
        .iter()
        .filter_map(|b| b.identifiers.iter().find(|i| i.identifier_type == "UIN").cloned())
        .collect();

    let mut group = c.benchmark_group("cold_prefetch_2ms");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .throughput(Throughput::Elements(identifiers.len() as u64));
    for (batch, flight) in [(100, 4), (100, 16), (10, 16)] {
        group.bench_function(format!("batch{batch}_inflight{flight}"), |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let catalog = Arc::new(Catalog::default());
                    let resolver = resolver_for(sources(&population.sim, batch, flight).remove(0)).expect("resolver");
                    let store =
                        MetricStore::new(catalog.clone(), vec![resolver], &StoreConfig::default()).expect("store");
                    store.fetch(catalog.registry_index("crvs").expect("crvs"), &identifiers).await
                })
            })
        });
    }
    group.finish();

    let engine = population.engine().expect("engine");
    let rule = engine.compiler().compile(SEED_RULES[0].0, SEED_RULES[0].1).expect("compiles");
    let sample = &beneficiaries[..20];
    let mut group = c.benchmark_group("naive_2ms");
    group.sample_size(10).throughput(Throughput::Elements(sample.len() as u64));
    group.bench_function("seed1_per_record", |b| {
        b.iter(|| runtime.block_on(naive::run(&rule, &population.sources(1, 1), sample)).expect("naive run"))
    });
    group.finish();
    runtime.block_on(population.sim.shutdown());
}

criterion_group!(benches, registries);
criterion_main!(benches);
