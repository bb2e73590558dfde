//! Benchmark harnesses of `elig`, shared by `elig bench` and the criterion
//! benchmarks in `benches/`:
//!
//! * [`Population`]: a generated population (`elig gen`) served by the registry
//!   simulator in-process, with configurable latency, and data sources for it;
//! * [`naive`]: the design `elig` replaces — one registry request per person per
//!   registry, one after another, each with a fresh connection and token;
//! * [`prefetch_grid`]: cold prefetch across batch sizes and in-flight limits;
//! * [`cache_memory`]: memory per cached person.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dci_client::{DataSource, RegistryType, SecretSource};
use dci_eligibility::io::{Line, parse_line};
use dci_eligibility::{Beneficiary, BeneficiaryError, Engine, EngineConfig};
use dci_metrics::{Catalog, MetricStore, StoreConfig, resolver_for};
use dci_protocol::records::Identifier;
use dci_registry_sim::population::{GenConfig, GenSummary, generate};
use dci_registry_sim::{FaultConfig, RegistryKind, SimConfig, SimStats, Simulator};
use serde::Serialize;

pub mod naive;

/// The seed's four rules, by name.
pub const SEED_RULES: [(&str, &str); 4] = [
    (
        "seed1_disabled_not_enrolled",
        "dci.dr.has_disability == true and dci.dr.disability_level >= 3 and dci.ibr.is_enrolled == false",
    ),
    ("seed2_elderly_alive", "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60"),
    ("seed3_poor_not_enrolled", "poverty_score >= 0.7 and dci.ibr.program_count == 0"),
    ("seed4_household_disability", "members.exists(m, m.dci.dr.has_disability == true)"),
];

/// The as-of date generated populations assume.
pub fn as_of() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
}

/// Why a harness failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Generating the population.
    #[error(transparent)]
    Generate(#[from] dci_registry_sim::population::GenError),
    /// Starting the simulator.
    #[error(transparent)]
    Simulator(#[from] dci_registry_sim::SimError),
    /// Building the engine or a client.
    #[error(transparent)]
    Engine(#[from] dci_eligibility::EngineError),
    /// A client.
    #[error(transparent)]
    Client(#[from] dci_client::ClientError),
    /// Files.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A generated population in a directory, generated once and reused.
pub fn ensure_population(dir: &Path, households: u64, seed: u64) -> Result<GenSummary, BenchError> {
    ensure_generated(dir, &GenConfig { households, seed, as_of: as_of(), ..GenConfig::default() })
}

/// The population `config` describes in `dir`, generated once and reused
/// (the directory's name must tell configurations other than households and
/// seed apart).
pub fn ensure_generated(dir: &Path, config: &GenConfig) -> Result<GenSummary, BenchError> {
    let summary = dir.join("summary.json");
    if let Ok(text) = std::fs::read_to_string(&summary)
        && let Ok(existing) = serde_json::from_str::<GenSummary>(&text)
        && existing.households == config.households
        && existing.seed == config.seed
        && (existing.two_identifiers > 0) == (config.two_identifier_rate > 0.0)
    {
        return Ok(existing);
    }
    Ok(generate(config, dir)?)
}

/// A population served by the simulator in this process.
pub struct Population {
    /// Where its files are.
    pub dir: PathBuf,
    /// What was generated.
    pub summary: GenSummary,
    /// The simulator serving it.
    pub sim: Simulator,
    /// Seconds to load it into the simulator.
    pub load_secs: f64,
}

impl Population {
    /// Generates (if needed) and serves `households` households; every registry adds `latency_ms` per message.
    pub async fn start(dir: &Path, households: u64, seed: u64, latency_ms: u64) -> Result<Population, BenchError> {
        let config = GenConfig { households, seed, as_of: as_of(), ..GenConfig::default() };
        Self::start_generated(dir, &config, latency_ms).await
    }

    /// [`Population::start`] for any generator configuration.
    pub async fn start_generated(dir: &Path, config: &GenConfig, latency_ms: u64) -> Result<Population, BenchError> {
        let summary = ensure_generated(dir, config)?;
        let started = Instant::now();
        let mut config =
            SimConfig { data_dir: Some(dir.to_owned()), max_items_per_message: 10_000, ..SimConfig::default() };
        for kind in RegistryKind::ALL {
            config = config.with_faults(kind, FaultConfig { latency_ms, ..FaultConfig::default() });
        }
        let sim = Simulator::start(config).await?;
        Ok(Population { dir: dir.to_owned(), summary, sim, load_secs: started.elapsed().as_secs_f64() })
    }

    /// Data sources for the simulator, with this batch size and in-flight limit.
    pub fn sources(&self, batch_size: usize, max_in_flight: usize) -> Vec<DataSource> {
        sources(&self.sim, batch_size, max_in_flight)
    }

    /// An engine over the simulator, with the default `[cache]`.
    pub fn engine(&self) -> Result<Engine, BenchError> {
        self.engine_with_cache(StoreConfig::default())
    }

    /// An engine over the simulator with this `[cache]` (a shared tier, say).
    pub fn engine_with_cache(&self, cache: StoreConfig) -> Result<Engine, BenchError> {
        Ok(Engine::from_config(&EngineConfig { registries: self.sources(100, 4), cache, ..Default::default() })?)
    }

    /// The beneficiary list, read whole.
    pub fn beneficiaries(&self) -> Result<Vec<Result<Beneficiary, BeneficiaryError>>, BenchError> {
        read_beneficiaries(&self.dir.join("beneficiaries.ndjson"))
    }

    /// An `elig.toml` pointing at the simulator.
    pub fn config_toml(&self) -> String {
        let registries: Vec<toml::Value> = self
            .sources(100, 4)
            .iter()
            .map(|source| toml::Value::try_from(source).unwrap_or(toml::Value::Table(Default::default())))
            .collect();
        let mut table = toml::Table::new();
        table.insert("registry".into(), toml::Value::Array(registries));
        toml::to_string(&table).unwrap_or_default()
    }
}

/// A data source for each registry of a running simulator, in the order of `RegistryKind::ALL`
/// (CRVS, IBR, DR), as its demo client,
/// with the client's defaults otherwise.
pub fn simulator_sources(sim: &Simulator) -> Vec<DataSource> {
    [
        (RegistryType::Crvs, RegistryKind::Crvs),
        (RegistryType::Ibr, RegistryKind::Ibr),
        (RegistryType::Dr, RegistryKind::Dr),
    ]
    .into_iter()
    .map(|(registry, kind)| {
        let secret = SecretSource::Value(dci_registry_sim::DEMO_CLIENT_SECRET.into());
        DataSource::new(registry, sim.base_url(kind), dci_registry_sim::DEMO_CLIENT_ID, secret)
    })
    .collect()
}

/// Data sources for a running simulator, with a batch size and messages in flight.
pub fn sources(sim: &Simulator, batch_size: usize, max_in_flight: usize) -> Vec<DataSource> {
    let mut sources = simulator_sources(sim);
    for source in &mut sources {
        source.batch_size = batch_size;
        source.max_in_flight = max_in_flight;
    }
    sources
}

/// Reads an NDJSON beneficiary list.
pub fn read_beneficiaries(path: &Path) -> Result<Vec<Result<Beneficiary, BeneficiaryError>>, BenchError> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_line(&Line::Text(i + 1, l.to_owned())))
        .collect())
}

/// Messages and items a registry received between two snapshots of the simulator's counters.
pub fn registry_delta(before: &SimStats, after: &SimStats, kind: RegistryKind) -> (u64, u64) {
    let (b, a) = (before.registry(kind), after.registry(kind));
    (a.messages - b.messages, a.items - b.items)
}

/// One cell of the prefetch grid.
#[derive(Clone, Debug, Serialize)]
pub struct GridCell {
    /// Items per message.
    pub batch_size: usize,
    /// Messages in flight.
    pub in_flight: usize,
    /// Persons looked up.
    pub persons: usize,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Messages sent.
    pub round_trips: u64,
    /// Persons per second.
    pub items_per_second: f64,
}

/// Cold prefetch of `persons` registrants' CRVS facts for each batch size × in-flight limit.
pub async fn prefetch_grid(
    population: &Population,
    persons: usize,
    batch_sizes: &[usize],
    in_flight: &[usize],
) -> Result<Vec<GridCell>, BenchError> {
    let identifiers: Vec<Identifier> = population
        .beneficiaries()?
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|b| b.identifiers.iter().find(|i| i.identifier_type == "UIN").cloned())
        .take(persons)
        .collect();
    let mut cells = Vec::new();
    for &batch_size in batch_sizes {
        for &flight in in_flight {
            let catalog = Arc::new(Catalog::default());
            let resolvers = vec![resolver_for(sources(&population.sim, batch_size, flight).remove(0))?];
            let store = MetricStore::new(catalog.clone(), resolvers, &StoreConfig::default())
                .map_err(|e| BenchError::Other(e.to_string()))?;
            let crvs = catalog.registry_index("crvs").ok_or_else(|| BenchError::Other("no crvs registry".into()))?;
            let before = population.sim.stats();
            let started = Instant::now();
            let prefetch = store.fetch(crvs, &identifiers).await;
            let seconds = started.elapsed().as_secs_f64();
            let (messages, _) = registry_delta(&before, &population.sim.stats(), RegistryKind::Crvs);
            cells.push(GridCell {
                batch_size,
                in_flight: flight,
                persons: prefetch.unique,
                seconds,
                round_trips: messages,
                items_per_second: prefetch.unique as f64 / seconds.max(1e-9),
            });
        }
    }
    Ok(cells)
}

/// Bytes of resident memory per cached person: fills a store with `entries`
/// CRVS-shaped facts and compares the process's resident memory before and after.
pub async fn cache_memory(entries: usize) -> Result<f64, BenchError> {
    use dci_metrics::{FixedResolver, MetricValue, crvs_spec};
    let timestamp = chrono::DateTime::parse_from_rfc3339("1950-03-02T00:00:00+00:00")
        .map_err(|e| BenchError::Other(e.to_string()))?;
    let mut resolver = FixedResolver::new(crvs_spec());
    let identifiers: Vec<Identifier> =
        (0..entries).map(|i| Identifier::new("UIN", format!("{:09}", 800_000_000 + i))).collect();
    for identifier in &identifiers {
        resolver = resolver.found(
            "UIN",
            &identifier.identifier_value,
            vec![
                MetricValue::Bool(true),
                MetricValue::Bool(true),
                MetricValue::Timestamp(timestamp),
                MetricValue::Null,
            ],
        );
    }
    let catalog = Arc::new(Catalog::default());
    let store = MetricStore::new(
        catalog.clone(),
        vec![Arc::new(resolver)],
        &StoreConfig { max_entries: entries as u64 * 2, ..Default::default() },
    )
    .map_err(|e| BenchError::Other(e.to_string()))?;
    let crvs = catalog.registry_index("crvs").ok_or_else(|| BenchError::Other("no crvs registry".into()))?;
    let before = resident_bytes().unwrap_or(0);
    for chunk in identifiers.chunks(100_000) {
        let prefetch = store.fetch(crvs, chunk).await;
        drop(prefetch);
    }
    store.sweep();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = resident_bytes().unwrap_or(0);
    let cached = store.stats().cache_entries.max(1);
    drop(identifiers);
    Ok(after.saturating_sub(before) as f64 / cached as f64)
}

/// Current resident memory of this process (Linux), in bytes.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}
