//! Rule compilation, single evaluations and warm bulk evaluation, per seed rule.
//!
//! `cargo bench --bench engine` (numbers in BENCHMARKS.md).

use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dci_bench::{Population, SEED_RULES, as_of};
use dci_eligibility::{Compiler, EvaluationOptions};
use dci_metrics::Catalog;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

fn compile(c: &mut Criterion) {
    let compiler = Compiler::new(Arc::new(Catalog::default()));
    let mut group = c.benchmark_group("compile");
    for (name, source) in SEED_RULES {
        group.bench_function(name, |b| {
            b.iter(|| compiler.compile(name, std::hint::black_box(source)).expect("compiles"))
        });
    }
    group.finish();
}

/// A population of `households` served by the simulator, its facts already
/// cached (warm).
fn warm(runtime: &tokio::runtime::Runtime, households: u64) -> (Population, dci_eligibility::Engine) {
    runtime.block_on(async {
        let dir = std::env::temp_dir().join(format!("elig-bench-population-{households}"));
        let population = Population::start(&dir, households, 1, 0).await.expect("population");
        let engine = population.engine().expect("engine");
        let rules: Vec<_> =
            SEED_RULES.iter().map(|(n, s)| engine.compiler().compile(n, s).expect("compiles")).collect();
        let options = EvaluationOptions { demand_driven: false, ..EvaluationOptions::new(as_of()) };
        engine.evaluate_batch(&rules, population.beneficiaries().expect("beneficiaries"), &options).await;
        (population, engine)
    })
}

fn single(c: &mut Criterion) {
    let runtime = runtime();
    let (population, engine) = warm(&runtime, 1_000);
    let one = population.beneficiaries().expect("beneficiaries").into_iter().take(1).collect::<Vec<_>>();
    let mut group = c.benchmark_group("single_evaluation");
    for (name, source) in SEED_RULES {
        let rule = engine.compiler().compile(name, source).expect("compiles");
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(engine.evaluate_batch(
                    std::slice::from_ref(&rule),
                    one.clone(),
                    &EvaluationOptions::new(as_of()),
                ))
            })
        });
    }
    group.finish();
    runtime.block_on(population.sim.shutdown());
}

/// Warm bulk evaluation of 100,000 beneficiaries, per seed rule.
fn bulk(c: &mut Criterion) {
    const HOUSEHOLDS: u64 = 100_000;
    let runtime = runtime();
    let (population, engine) = warm(&runtime, HOUSEHOLDS);
    let items = population.beneficiaries().expect("beneficiaries");
    let mut group = c.benchmark_group("warm_bulk_100k");
    group.sample_size(10).measurement_time(Duration::from_secs(20)).throughput(Throughput::Elements(HOUSEHOLDS));
    for (name, source) in SEED_RULES {
        let rule = engine.compiler().compile(name, source).expect("compiles");
        group.bench_with_input(BenchmarkId::from_parameter(name), &rule, |b, rule| {
            b.iter_batched(
                || items.clone(),
                |batch| {
                    runtime.block_on(engine.evaluate_batch(
                        std::slice::from_ref(rule),
                        batch,
                        &EvaluationOptions::new(as_of()),
                    ))
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();
    runtime.block_on(population.sim.shutdown());
}

criterion_group!(benches, compile, single, bulk);
criterion_main!(benches);
