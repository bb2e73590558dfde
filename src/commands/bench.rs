//! `elig bench`: reproducible measurements on generated populations.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use dci_bench::{Population, SEED_RULES, naive, registry_delta};
use dci_registry_sim::RegistryKind;
use dci_registry_sim::population::GenConfig;
use serde_json::Value;

/// Measure elig on generated populations (see BENCHMARKS.md).
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  elig bench lists --beneficiaries 10000,100000 --rules 1,3 --latency-ms 2\n  elig bench prefetch --persons 100000 --latency-ms 2\n  elig bench naive --persons 200 --latency-ms 2\n  elig bench cache-memory --entries 1000000"
)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand, Debug)]
enum What {
    /// Large lists: `elig eval` cold then warm (with --cache-file) per size, against the simulator, with the naive design for comparison.
    Lists(ListsArgs),
    /// Cold prefetch of CRVS facts for every batch size × in-flight limit.
    Prefetch(PrefetchArgs),
    /// The naive design alone: one request per person per registry, fresh connection and token each time.
    Naive(NaiveArgs),
    /// Resident memory per cached person.
    CacheMemory(MemoryArgs),
}

#[derive(Args, Debug)]
struct Common {
    /// Where populations and outputs go (kept between runs: populations are generated once).
    #[arg(long, default_value = "bench-out")]
    dir: PathBuf,
    /// Added latency per registry message, milliseconds.
    #[arg(long, default_value_t = 2)]
    latency_ms: u64,
    /// Population seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Args, Debug)]
struct ListsArgs {
    #[command(flatten)]
    common: Common,
    /// List sizes: beneficiaries (households of 1-6 persons, about 3 on average) per run, comma-separated.
    #[arg(long = "beneficiaries", alias = "persons", value_delimiter = ',', default_value = "10000,100000")]
    persons: Vec<u64>,
    /// Seed rules to run (1-4), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    rules: Vec<usize>,
    /// Beneficiaries the naive design is timed on (its cost is extrapolated per person).
    #[arg(long, default_value_t = 200)]
    naive_sample: usize,
    /// Also run each rule cold with demand-driven fetching off (`elig eval --no-demand-driven`:
    /// every person the rule mentions is looked up), to compare the registry items asked.
    #[arg(long)]
    eager: bool,
    /// Share of persons (0 to 1) holding a second identifier, each registry knowing them by one
    /// (`elig gen --two-identifier-rate`): what asking every identifier before "not found" costs.
    #[arg(long, default_value_t = 0.0)]
    two_identifier_rate: f64,
}

#[derive(Args, Debug)]
struct PrefetchArgs {
    #[command(flatten)]
    common: Common,
    /// Persons to look up.
    #[arg(long, default_value_t = 100_000)]
    persons: u64,
    /// Batch sizes.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100")]
    batch_sizes: Vec<usize>,
    /// In-flight limits.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    in_flight: Vec<usize>,
}

#[derive(Args, Debug)]
struct NaiveArgs {
    #[command(flatten)]
    common: Common,
    /// Beneficiaries.
    #[arg(long, default_value_t = 200)]
    persons: u64,
    /// Seed rule (1-4).
    #[arg(long, default_value_t = 1)]
    rule: usize,
}

#[derive(Args, Debug)]
struct MemoryArgs {
    /// Cache entries.
    #[arg(long, default_value_t = 1_000_000)]
    entries: usize,
}

pub async fn run(args: BenchArgs) -> Result<ExitCode> {
    match args.what {
        What::Lists(args) => lists(args).await,
        What::Prefetch(args) => prefetch(args).await,
        What::Naive(args) => naive_only(args).await,
        What::CacheMemory(args) => {
            let bytes = dci_bench::cache_memory(args.entries).await?;
            println!("{} cached persons: {bytes:.0} bytes of resident memory each", args.entries);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn seed_rule(number: usize) -> Result<(&'static str, &'static str)> {
    match number.checked_sub(1).and_then(|i| SEED_RULES.get(i)) {
        Some(rule) => Ok(*rule),
        None => bail!("seed rules are numbered 1 to 4, not {number}"),
    }
}

async fn population(common: &Common, households: u64, two_identifier_rate: f64) -> Result<Population> {
    let mut name = format!("population-{households}-seed{}", common.seed);
    if two_identifier_rate > 0.0 {
        name += &format!("-two-ids{two_identifier_rate}");
    }
    let dir = common.dir.join(name);
    let started = Instant::now();
    let config = GenConfig {
        households,
        seed: common.seed,
        as_of: dci_bench::as_of(),
        two_identifier_rate,
        ..GenConfig::default()
    };
    let population = Population::start_generated(&dir, &config, common.latency_ms).await?;
    eprintln!(
        "population {}: {} households, {} persons (ready in {:.1} s, simulator load {:.1} s, {} ms per message)",
        dir.display(),
        population.summary.households,
        population.summary.persons,
        started.elapsed().as_secs_f64(),
        population.load_secs,
        common.latency_ms
    );
    Ok(population)
}

struct Row {
    persons: u64,
    rule: &'static str,
    run: &'static str,
    wall: f64,
    trips: [u64; 3],
    items: [u64; 3],
    hit_ratio: f64,
    peak_rss: u64,
    /// Lookups by a person's identifiers after the first the registry accepts.
    other_ids: u64,
}

async fn lists(args: ListsArgs) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the elig binary")?;
    let mut rows = Vec::new();
    let mut naive_rows = Vec::new();
    let mut floors = Vec::new();
    for &households in &args.persons {
        let population = population(&args.common, households, args.two_identifier_rate).await?;
        let config = population.dir.join("elig-bench.toml");
        std::fs::write(&config, population.config_toml())?;
        for &number in &args.rules {
            let (name, source) = seed_rule(number)?;
            let cache = population.dir.join(format!("facts-{name}.bin"));
            let _ = std::fs::remove_file(&cache);
            let runs: &[&'static str] = if args.eager { &["cold", "warm", "eager"] } else { &["cold", "warm"] };
            for &run in runs {
                let stats_path = population.dir.join(format!("stats-{name}-{run}.json"));
                let before = population.sim.stats();
                let started = Instant::now();
                let mut command = Command::new(&exe);
                command
                    .args(["eval", "--no-progress", "--as-of", "2026-01-01", "--rule", source, "--beneficiaries"])
                    .arg(population.dir.join("beneficiaries.ndjson"))
                    .arg("--out")
                    .arg(population.dir.join(format!("decisions-{name}-{run}.ndjson")))
                    .arg("--config")
                    .arg(&config)
                    .arg("--stats-json")
                    .arg(&stats_path)
                    .stderr(Stdio::null());
                if run == "eager" {
                    command.arg("--no-demand-driven"); // cold, no cache file
                } else {
                    command.arg("--cache-file").arg(&cache);
                }
                let status = command.status()?;
                let wall = started.elapsed().as_secs_f64();
                if !status.success() {
                    bail!("elig eval failed ({status}) for {name}, {households} households");
                }
                let after = population.sim.stats();
                let stats: Value = serde_json::from_slice(&std::fs::read(&stats_path)?)?;
                let registries = stats["stats"]["registries"].as_array().cloned().unwrap_or_default();
                let sum = |key: &str| registries.iter().map(|r| r[key].as_u64().unwrap_or(0)).sum::<u64>();
                let (hits, fetched) = (sum("cache_hits"), sum("fetched"));
                let hit_ratio = if hits + fetched == 0 { 1.0 } else { hits as f64 / (hits + fetched) as f64 };
                let mut trips = [0; 3];
                let mut items = [0; 3];
                for (i, kind) in RegistryKind::ALL.into_iter().enumerate() {
                    (trips[i], items[i]) = registry_delta(&before, &after, kind);
                }
                rows.push(Row {
                    persons: households,
                    rule: name,
                    run,
                    wall,
                    trips,
                    items,
                    hit_ratio: hit_ratio.min(1.0),
                    peak_rss: stats["peak_rss_bytes"].as_u64().unwrap_or(0),
                    other_ids: sum("other_identifiers"),
                });
            }
            if args.naive_sample > 0 {
                let engine = population.engine()?;
                let rule = engine.compiler().compile(name, source).map_err(|e| anyhow::anyhow!("{e}"))?;
                let sample: Vec<_> =
                    population.beneficiaries()?.into_iter().filter_map(Result::ok).take(args.naive_sample).collect();
                let run = naive::run(&rule, &population.sources(1, 1), &sample).await?;
                naive_rows.push((households, name, run));
            }
        }
        // After the runs, so that the file is in the page cache for it as it was for the warm run.
        floors.push((households, parse_only(&population.dir.join("beneficiaries.ndjson"))?));
        population.sim.shutdown().await;
    }
    println!(
        "\n{:>9} {:<28} {:<5} {:>8} {:>11} {:>20} {:>26} {:>10} {:>9} {:>9} {:>11}",
        "benefic.",
        "rule",
        "run",
        "wall s",
        "decisions/s",
        "round trips c/i/d",
        "items crvs/ibr/dr",
        "items/1k",
        "cache hit",
        "peak RSS",
        "by other id"
    );
    for row in &rows {
        let items: u64 = row.items.iter().sum();
        println!(
            "{:>9} {:<28} {:<5} {:>8.2} {:>11.0} {:>20} {:>26} {:>10.1} {:>8.0}% {:>7.0} MiB {:>11}",
            row.persons,
            row.rule,
            row.run,
            row.wall,
            row.persons as f64 / row.wall,
            format!("{}/{}/{}", row.trips[0], row.trips[1], row.trips[2]),
            format!("{}/{}/{}", row.items[0], row.items[1], row.items[2]),
            items as f64 * 1000.0 / row.persons as f64,
            row.hit_ratio * 100.0,
            row.peak_rss as f64 / (1024.0 * 1024.0),
            row.other_ids
        );
    }
    print_floor(&rows, &floors);
    if !naive_rows.is_empty() {
        println!(
            "\nnaive design (fresh connection + token + one-item search per person per registry), timed on a sample:"
        );
        println!(
            "{:>9} {:<28} {:>14} {:>16} {:>16} {:>12} {:>12}",
            "benefic.", "rule", "s/beneficiary", "requests/benef.", "est. wall s", "× our cold", "× trips"
        );
        for (households, name, run) in &naive_rows {
            let ours = rows.iter().find(|r| r.persons == *households && r.rule == *name && r.run == "cold");
            let estimated = run.per_beneficiary() * *households as f64;
            let requests = run.requests as f64 / run.beneficiaries.max(1) as f64 * *households as f64;
            let (wall_ratio, trip_ratio) = ours
                .map(|r| (estimated / r.wall, requests / r.trips.iter().sum::<u64>().max(1) as f64))
                .unwrap_or_default();
            println!(
                "{:>9} {:<28} {:>14.5} {:>16.2} {:>16.0} {:>11.0}× {:>11.0}×",
                households,
                name,
                run.per_beneficiary(),
                run.requests as f64 / run.beneficiaries.max(1) as f64,
                estimated,
                wall_ratio,
                trip_ratio
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The floor of a run over `path`: reading the file and parsing every line into
/// `serde_json::de::IgnoredAny` on one thread, nothing else; in seconds.
fn parse_only(path: &std::path::Path) -> Result<f64> {
    let started = Instant::now();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    for line in bytes.split(|b| *b == b'\n').filter(|line| !line.is_empty()) {
        serde_json::from_slice::<serde::de::IgnoredAny>(line).context("a line of the generated list is not JSON")?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Each warm run against the parse-only pass over its file: the gap to the floor.
fn print_floor(rows: &[Row], floors: &[(u64, f64)]) {
    let warm: Vec<&Row> = rows.iter().filter(|row| row.run == "warm").collect();
    if warm.is_empty() {
        return;
    }
    println!(
        "\nthe warm run against a parse-only pass over the same file (read + serde_json into IgnoredAny, one thread):"
    );
    println!("{:>9} {:<28} {:>8} {:>14} {:>18}", "benefic.", "rule", "warm s", "parse-only s", "warm / parse-only");
    for row in warm {
        let Some((_, floor)) = floors.iter().find(|(households, _)| *households == row.persons) else { continue };
        println!("{:>9} {:<28} {:>8.2} {:>14.2} {:>17.2}×", row.persons, row.rule, row.wall, floor, row.wall / floor);
    }
}

async fn prefetch(args: PrefetchArgs) -> Result<ExitCode> {
    let population = population(&args.common, args.persons, 0.0).await?;
    println!(
        "{:>10} {:>9} {:>9} {:>9} {:>12} {:>12}",
        "batch size", "in flight", "persons", "wall s", "round trips", "items/s"
    );
    for cell in dci_bench::prefetch_grid(&population, args.persons as usize, &args.batch_sizes, &args.in_flight).await?
    {
        println!(
            "{:>10} {:>9} {:>9} {:>9.2} {:>12} {:>12.0}",
            cell.batch_size, cell.in_flight, cell.persons, cell.seconds, cell.round_trips, cell.items_per_second
        );
    }
    population.sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn naive_only(args: NaiveArgs) -> Result<ExitCode> {
    let (name, source) = seed_rule(args.rule)?;
    let population = population(&args.common, args.persons, 0.0).await?;
    let engine = population.engine()?;
    let rule = engine.compiler().compile(name, source).map_err(|e| anyhow::anyhow!("{e}"))?;
    let sample: Vec<_> = population.beneficiaries()?.into_iter().filter_map(Result::ok).collect();
    let run = naive::run(&rule, &population.sources(1, 1), &sample).await?;
    println!("{}", serde_json::to_string_pretty(&run)?);
    println!(
        "{:.5} s and {:.2} requests per beneficiary",
        run.per_beneficiary(),
        run.requests as f64 / run.beneficiaries.max(1) as f64
    );
    population.sim.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
