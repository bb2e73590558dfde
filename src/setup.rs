//! Building the engine: from `elig.toml`, or, when asked (`--simulator`,
//! `demo`, `playground`), against the built-in registry simulator serving the
//! fixture compiled into the binary.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use dci_client::DataSource;
use dci_eligibility::{Engine, EngineConfig, Rule};
use dci_registry_sim::{RegistryData, RegistryKind, SimConfig, Simulator};

use crate::files;

/// The committed fixture, embedded so that `elig demo` works from any directory.
pub mod fixture {
    /// CRVS records.
    pub const CRVS: &str = include_str!("../fixtures/registries/crvs.ndjson");
    /// IBR records.
    pub const IBR: &str = include_str!("../fixtures/registries/ibr.ndjson");
    /// DR records.
    pub const DR: &str = include_str!("../fixtures/registries/dr.ndjson");
    /// The beneficiary list (also the server's sample beneficiaries).
    pub const BENEFICIARIES: &str = dci_server::SAMPLE_BENEFICIARIES;
}

fn records(text: &str) -> Result<Vec<serde_json::Value>> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(index, line)| serde_json::from_str(line).with_context(|| format!("embedded fixture line {}", index + 1)))
        .collect()
}

/// Starts the simulator on an ephemeral loopback port with the embedded fixture.
pub async fn fixture_simulator(config: SimConfig) -> Result<Simulator> {
    let config = config
        .with_data(RegistryData::from_records(RegistryKind::Crvs, records(fixture::CRVS)?)?)
        .with_data(RegistryData::from_records(RegistryKind::Ibr, records(fixture::IBR)?)?)
        .with_data(RegistryData::from_records(RegistryKind::Dr, records(fixture::DR)?)?);
    Ok(Simulator::start(config).await?)
}

/// Data sources pointing at a running simulator, verifying its signatures.
pub fn simulator_sources(sim: &Simulator) -> Vec<DataSource> {
    let mut sources = dci_bench::simulator_sources(sim);
    for (source, kind) in sources.iter_mut().zip(RegistryKind::ALL) {
        source.verify_responses = true;
        source.label = Some(SIMULATOR_LABEL.to_owned());
        source.fixed_identity = Some(fixture_identity(kind));
    }
    sources
}

/// The identity of the built-in simulator's `kind` registry: its data (a
/// hash of the embedded fixture), not its address, which changes each run.
fn fixture_identity(kind: RegistryKind) -> String {
    let text = match kind {
        RegistryKind::Crvs => fixture::CRVS,
        RegistryKind::Ibr => fixture::IBR,
        RegistryKind::Dr => fixture::DR,
    };
    // FNV-1a: stable across builds and platforms, which is all a cache key needs here.
    let hash = text
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("built-in simulator, fixture {kind:?} {hash:016x}")
}

/// How the built-in simulator is named wherever decisions say who answered.
pub const SIMULATOR_LABEL: &str = "built-in simulator (committed fixture data, not a real registry)";

/// A command line that cannot be run as given (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The engine for a command: from `config`, or against the built-in
/// simulator when `simulator` asks for it (returned, to keep it running,
/// and said on stderr), or with no registry at all. The simulator never
/// stands in unasked: see [`require_registries`].
pub async fn engine(config: Option<&Path>, simulator: bool) -> Result<(Engine, Option<Simulator>)> {
    match (config, simulator) {
        (Some(_), true) => {
            Err(UsageError("--config and --simulator name two sources of registries: give one".to_owned()).into())
        }
        (Some(path), false) => {
            let config = files::config(path)?;
            Ok((Engine::from_config(&config).with_context(|| format!("{}", path.display()))?, None))
        }
        (None, true) => {
            let sim = fixture_simulator(SimConfig::default()).await?;
            crate::commands::tell(format_args!(
                "note: --simulator: the registries are the built-in simulator with the committed fixture data (CRVS, IBR, DR at {}), not real ones",
                sim.local_addr()
            ));
            let config = EngineConfig { registries: simulator_sources(&sim), ..Default::default() };
            Ok((Engine::from_config(&config)?, Some(sim)))
        }
        (None, false) => Ok((Engine::from_config(&EngineConfig::default())?, None)),
    }
}

/// Where a command's registries come from.
#[derive(clap::Args, Debug)]
pub struct RegistrySource {
    /// Deployment configuration (registries, cache, metrics).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Decide against the built-in registry simulator and its committed fixture data, not real
    /// registries (without it or --config, rules reading dci.* are refused).
    #[arg(long)]
    pub simulator: bool,
}

impl RegistrySource {
    /// The engine for these registries ([`engine`]).
    pub async fn engine(&self) -> Result<(Engine, Option<Simulator>)> {
        engine(self.config.as_deref(), self.simulator).await
    }
}

/// Refuses to decide rules that read registries when none is configured:
/// every decision needing one would rest on nothing.
pub fn require_registries<'r>(engine: &Engine, rules: impl IntoIterator<Item = &'r Rule>) -> Result<()> {
    if engine.store().has_registries() {
        return Ok(());
    }
    let reading: Vec<&str> = rules.into_iter().filter(|rule| !rule.metrics().is_empty()).map(Rule::name).collect();
    if reading.is_empty() {
        return Ok(());
    }
    Err(UsageError(format!(
        "rule {} reads registries (dci.*) and none is configured: pass --config <file> naming them \
         ([[registry]]), or --simulator to decide against the built-in simulator's fixture data",
        reading.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
    ))
    .into())
}

/// Today's date in UTC, for the default as-of date (read once per command).
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}
