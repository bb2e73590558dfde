//! `elig gen`: generate a synthetic population with matching registry data.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use dci_registry_sim::population::{GenConfig, generate};

/// Generate beneficiaries (NDJSON) and consistent CRVS, IBR and DR data, deterministically by seed.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  elig gen --households 330000 --seed 7 --out bench-out/population\n  elig registry --data bench-out/population   # serve it"
)]
pub struct GenArgs {
    /// Households (beneficiaries); each has 1-6 persons.
    #[arg(long)]
    households: u64,
    /// Seed: the same seed gives the same files, byte for byte.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory (created).
    #[arg(long)]
    out: PathBuf,
    /// The date ages are relative to (YYYY-MM-DD).
    #[arg(long)]
    as_of: Option<chrono::NaiveDate>,
    /// Share of persons (0 to 1) holding a second identifier, each registry knowing them under one of the two.
    #[arg(long, default_value_t = 0.0)]
    two_identifier_rate: f64,
}

pub fn run(args: GenArgs) -> Result<ExitCode> {
    let mut config = GenConfig {
        households: args.households,
        seed: args.seed,
        two_identifier_rate: args.two_identifier_rate,
        ..GenConfig::default()
    };
    if let Some(as_of) = args.as_of {
        config.as_of = as_of;
    }
    let started = std::time::Instant::now();
    let summary = generate(&config, &args.out)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    eprintln!(
        "generated {} persons in {} households into {} in {:.1} s",
        summary.persons,
        summary.households,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
