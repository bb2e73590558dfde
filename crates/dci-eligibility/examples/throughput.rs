//! Measures bulk evaluation against a generated population served by the
//! simulator in-process: cold (registries asked) and warm (facts cached),
//! per seed rule. `cargo run --release -p dci-eligibility --example throughput -- 100000`

use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use dci_eligibility::io::{Line, parse_line};
use dci_eligibility::{Engine, EngineConfig, EvaluationOptions};
use dci_registry_sim::population::{GenConfig, generate};
use dci_registry_sim::{SimConfig, Simulator};

const RULES: [&str; 4] = [
    "dci.dr.has_disability == true and dci.dr.disability_level >= 3 and dci.ibr.is_enrolled == false",
    "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60",
    "poverty_score >= 0.7 and dci.ibr.program_count == 0",
    "members.exists(m, m.dci.dr.has_disability == true)",
];

#[tokio::main]
async fn main() {
    let households: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("elig-throughput-{households}"));
    if !dir.join("beneficiaries.ndjson").exists() {
        let started = Instant::now();
        generate(&GenConfig { households, seed: 1, ..GenConfig::default() }, &dir).expect("generate");
        eprintln!("generated {households} households in {:.1} s", started.elapsed().as_secs_f64());
    }
    let started = Instant::now();
    let sim = Simulator::start(SimConfig { data_dir: Some(dir.clone()), ..SimConfig::default() }).await.expect("sim");
    eprintln!("simulator loaded in {:.1} s", started.elapsed().as_secs_f64());
    let sources = dci_bench::simulator_sources(&sim);
    let engine = Engine::from_config(&EngineConfig { registries: sources, ..Default::default() }).expect("engine");
    let text = std::fs::read_to_string(dir.join("beneficiaries.ndjson")).expect("read");
    let started = Instant::now();
    let lines: Vec<Line> = text.lines().enumerate().map(|(i, l)| Line::Text(i + 1, l.to_owned())).collect();
    let items: Vec<_> = lines.iter().map(parse_line).collect();
    eprintln!("parsed {} beneficiaries in {:.2} s", items.len(), started.elapsed().as_secs_f64());
    let options = EvaluationOptions::new(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"));
    for (i, source) in RULES.iter().enumerate() {
        let rule = engine.compiler().compile(&format!("rule{}", i + 1), source).expect("compiles");
        for pass in ["cold", "warm"] {
            let started = Instant::now();
            let result = engine.evaluate_batch(std::slice::from_ref(&rule), items.clone(), &options).await;
            let seconds = started.elapsed().as_secs_f64();
            let fetched: usize = result.stats.registries.iter().map(|r| r.fetch.fetched).sum();
            let trips: u64 = result.stats.registries.iter().map(|r| r.fetch.round_trips).sum();
            println!(
                "rule{} {pass}: {:.3} s, {:.0} decisions/s, fetched {fetched}, round trips {trips}, evaluations {}, timings {:?}",
                i + 1,
                seconds,
                result.items.len() as f64 / seconds,
                result.stats.evaluations,
                result.stats.timings
            );
        }
    }
    sim.shutdown().await;
}
