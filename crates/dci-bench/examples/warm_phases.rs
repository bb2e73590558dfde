//! The criterion warm-bulk scenario (`benches/engine.rs`), with the time of each
//! phase printed: 100,000 generated households, facts cached, each seed rule.
//! `cargo run --release -p dci-bench --example warm_phases -- 100000 5`
//! (arguments: households, passes, and optionally one seed rule's number). Each rule is timed batch by batch
//! (median and best), then over batches run back to back, which counts the
//! time to free each batch, as a server running one batch after another sees.

use std::time::Instant;

use dci_bench::{Population, SEED_RULES, as_of};
use dci_eligibility::EvaluationOptions;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let argument = |n: usize, what: &str| {
        std::env::args().nth(n).map(|a| a.parse::<u64>().unwrap_or_else(|_| panic!("{what}: a number, not `{a}`")))
    };
    let households = argument(1, "households").unwrap_or(100_000);
    let passes = argument(2, "passes").unwrap_or(5) as usize;
    let only = argument(3, "the seed rule's number (1-4)").map(|rule| rule as usize);
    let dir = std::env::temp_dir().join(format!("elig-bench-population-{households}"));
    let population = Population::start(&dir, households, 1, 0).await.expect("population");
    let engine = population.engine().expect("engine");
    let items = population.beneficiaries().expect("beneficiaries");
    let rules: Vec<_> = SEED_RULES.iter().map(|(n, s)| engine.compiler().compile(n, s).expect("compiles")).collect();
    let cold = EvaluationOptions { demand_driven: false, ..EvaluationOptions::new(as_of()) };
    engine.evaluate_batch(&rules, items.clone(), &cold).await;
    for (number, rule) in rules.iter().enumerate() {
        if only.is_some_and(|only| only != number + 1) {
            continue;
        }
        let mut times = Vec::with_capacity(passes);
        for pass in 0..passes {
            let batch = items.clone();
            let started = Instant::now();
            let result =
                engine.evaluate_batch(std::slice::from_ref(rule), batch, &EvaluationOptions::new(as_of())).await;
            let seconds = started.elapsed().as_secs_f64();
            times.push(seconds);
            println!(
                "{} pass {pass}: {:.1} ms, {:.0} decisions/s, {:?}",
                rule.name(),
                seconds * 1e3,
                households as f64 / seconds,
                result.stats.timings
            );
        }
        times.sort_by(f64::total_cmp);
        if let (Some(best), Some(median)) = (times.first(), times.get(times.len() / 2)) {
            println!(
                "{}: median {:.1} ms ({:.0} decisions/s), best {:.1} ms ({:.0} decisions/s)",
                rule.name(),
                median * 1e3,
                households as f64 / median,
                best * 1e3,
                households as f64 / best
            );
        }
        // Back to back, as a server sees consecutive batches: each batch's
        // memory is freed (in the background) while the next one runs.
        let batches: Vec<_> = (0..passes).map(|_| items.clone()).collect();
        let started = Instant::now();
        for batch in batches {
            let result =
                engine.evaluate_batch(std::slice::from_ref(rule), batch, &EvaluationOptions::new(as_of())).await;
            drop(result);
        }
        rayon::broadcast(|_| ()); // the last batch freed too
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{}: back to back, freeing included: {:.1} ms per batch ({:.0} decisions/s)",
            rule.name(),
            seconds * 1e3 / passes as f64,
            (households * passes as u64) as f64 / seconds
        );
    }
    population.sim.shutdown().await;
}
