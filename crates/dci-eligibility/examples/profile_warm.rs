//! Warm evaluation only (facts cached, registries in memory), for profiling.
//! `cargo run --release -p dci-eligibility --example profile_warm -- 100000 5`
//! (arguments: beneficiaries, passes).

use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use dci_eligibility::{Beneficiary, Compiler, Engine, EvaluationOptions};
use dci_metrics::{Catalog, FixedResolver, MetricStore, MetricValue, RegistryResolver, StoreConfig, dr_spec, ibr_spec};
use serde_json::json;

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let passes: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let mut dr = FixedResolver::new(dr_spec());
    let mut ibr = FixedResolver::new(ibr_spec());
    for i in 0..n {
        let uin = format!("{i:09}");
        if i % 10 == 0 {
            dr = dr.found(
                "UIN",
                &uin,
                vec![MetricValue::Bool(true), MetricValue::Int((i % 4) as i64 + 1), MetricValue::strings(["MOBILITY"])],
            );
        }
        if i % 4 == 0 {
            ibr = ibr.found(
                "UIN",
                &uin,
                vec![MetricValue::Bool(true), MetricValue::Int(1), MetricValue::strings(["CG"])],
            );
        }
    }
    let catalog = Arc::new(Catalog::default());
    let resolvers: Vec<Arc<dyn RegistryResolver>> = vec![Arc::new(dr), Arc::new(ibr)];
    let store = Arc::new(MetricStore::new(catalog.clone(), resolvers, &StoreConfig::default()).expect("store"));
    let engine = Engine::new(Compiler::new(catalog), store);
    let items: Vec<_> = (0..n)
        .map(|i| {
            Beneficiary::from_json(
                json!({"id": format!("B{i}"), "identifiers": [{"type": "UIN", "value": format!("{i:09}")}],
                "birthdate": "1950-01-01", "poverty_score": (i % 100) as f64 / 100.0,
                "members": [{"identifiers": [{"type": "UIN", "value": format!("{:09}", (i * 7 + 3) % n)}]}]}),
            )
        })
        .collect();
    let rule = engine
        .compiler()
        .compile(
            "rule1",
            "dci.dr.has_disability == true and dci.dr.disability_level >= 3 and dci.ibr.is_enrolled == false",
        )
        .expect("compiles");
    let options = EvaluationOptions::new(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"));
    for pass in 0..passes {
        let batch = items.clone();
        let started = Instant::now();
        let result = engine.evaluate_batch(std::slice::from_ref(&rule), batch, &options).await;
        let seconds = started.elapsed().as_secs_f64();
        println!("pass {pass}: {seconds:.3} s, {:.0} decisions/s, {:?}", n as f64 / seconds, result.stats.timings);
    }
    // The cache probe alone: one lookup per registrant in the DR.
    let identifiers: Vec<_> = items.iter().filter_map(|b| b.as_ref().ok()?.identifiers.first().cloned()).collect();
    let dr_index = engine.compiler().catalog().registry_index("dr").expect("dr");
    for _ in 0..3 {
        let started = Instant::now();
        let found = engine.store().known(dr_index, &identifiers);
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "cache probe: {} lookups in {:.1} ms ({:.0} ns each), {} found",
            identifiers.len(),
            seconds * 1e3,
            seconds * 1e9 / identifiers.len() as f64,
            found.iter().filter(|f| f.is_some()).count()
        );
    }
}
