//! `elig demo`: the seed's four rules over the committed fixture, through the
//! real client and cache path against the built-in registry simulator.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, anyhow};
use clap::Args;
use dci_eligibility::io::{Line, parse_line};
use dci_eligibility::{Engine, EngineConfig, EvaluationOptions, ItemResult, Outcome};
use dci_registry_sim::SimConfig;

use crate::commands::explain::render;
use crate::setup;

/// The seed's example rules, verbatim.
pub const SEED_RULES: [(&str, &str); 4] = [
    (
        "disabled_not_enrolled",
        "dci.dr.has_disability == true and dci.dr.disability_level >= 3 and dci.ibr.is_enrolled == false",
    ),
    ("elderly_alive", "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60"),
    ("poor_not_enrolled", "poverty_score >= 0.7 and dci.ibr.program_count == 0"),
    ("household_disability", "members.exists(m, m.dci.dr.has_disability == true)"),
];

/// Run the seed rules over the committed fixture against the built-in registry simulator.
#[derive(Args, Debug)]
#[command(after_help = "Example:\n  cargo run --release -- demo")]
pub struct DemoArgs {
    /// Evaluation date (the fixture's cases assume 2026-01-01).
    #[arg(long, default_value = "2026-01-01")]
    as_of: chrono::NaiveDate,
}

pub async fn run(args: DemoArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let sim = setup::fixture_simulator(SimConfig::default()).await?;
    let engine =
        Engine::from_config(&EngineConfig { registries: setup::simulator_sources(&sim), ..Default::default() })?;
    let beneficiaries: Vec<_> = setup::fixture::BENEFICIARIES
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| parse_line(&Line::Text(index + 1, line.to_owned())))
        .collect();
    println!(
        "elig demo: the seed's {} rules over {} fixture households, as of {}, against the built-in DCI registry simulator at {}\n",
        SEED_RULES.len(),
        beneficiaries.len(),
        args.as_of,
        sim.local_addr()
    );
    println!(
        "{:<22} {:>8} {:>10} {:>12} {:>5} {:>11} {:>6} {:>10} {:>8}",
        "rule", "eligible", "ineligible", "undetermined", "error", "round trips", "items", "cache hits", "time"
    );
    let options = EvaluationOptions::new(args.as_of);
    let mut compiled = Vec::new();
    let mut all_results = Vec::new();
    for (name, source) in SEED_RULES {
        let rule = engine.compiler().compile(name, source).map_err(|e| anyhow!("{e}"))?;
        let clock = Instant::now();
        let result = engine.evaluate_batch(std::slice::from_ref(&rule), beneficiaries.clone(), &options).await;
        let elapsed = clock.elapsed();
        let counts = &result.stats.rules[0];
        let round_trips: u64 = result.stats.registries.iter().map(|r| r.fetch.round_trips).sum();
        let items: usize = result.stats.registries.iter().map(|r| r.fetch.fetched).sum();
        let hits: usize = result.stats.registries.iter().map(|r| r.fetch.cache_hits).sum();
        println!(
            "{:<22} {:>8} {:>10} {:>12} {:>5} {:>11} {:>6} {:>10} {:>6.1}ms",
            name,
            counts.eligible,
            counts.ineligible,
            counts.undetermined,
            counts.error,
            round_trips,
            items,
            hits,
            elapsed.as_secs_f64() * 1000.0
        );
        compiled.push(rule);
        all_results.push(result);
    }
    println!(
        "\n(round trips: DCI search messages sent; items: persons looked up; cache hits: answered by the TTL cache.)"
    );

    // A few decisions explained: an eligible one, an undetermined one, one decided without asking any registry.
    let picks = [
        (0, Outcome::Eligible, "eligible"),
        (1, Outcome::Undetermined, "undetermined: the CRVS cannot say"),
        (2, Outcome::Ineligible, "ineligible without asking any registry"),
    ];
    for (rule_index, wanted, why) in picks {
        let candidates = all_results[rule_index].items.iter().enumerate().filter_map(|(position, item)| match item {
            ItemResult::Decided { decisions, .. } if decisions[0].outcome == wanted => Some(position),
            _ => None,
        });
        for position in candidates {
            let Some(Ok(beneficiary)) = beneficiaries.get(position).cloned() else { continue };
            let explanation = engine.explain(&compiled[rule_index], beneficiary, args.as_of).await;
            let asked_nothing =
                explanation.metrics.iter().all(|m| m.cause == Some(dci_metrics::UnknownCause::NotFetched));
            if wanted == Outcome::Ineligible && !asked_nothing {
                continue;
            }
            println!("\n— {why}:");
            print!("{}", render(&compiled[rule_index], &explanation));
            break;
        }
    }
    let stats = sim.stats();
    println!(
        "\nregistry messages in all: CRVS {}, IBR {}, DR {}; finished in {:.2} s",
        stats.crvs.messages,
        stats.ibr.messages,
        stats.dr.messages,
        started.elapsed().as_secs_f64()
    );
    sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
