//! Building the engine: from `elig.toml`, or, without one, against the
//! built-in registry simulator serving the fixture compiled into the binary.

use std::path::Path;

use anyhow::{Context, Result};
use dci_client::{DataSource, RegistryType, SecretSource};
use dci_eligibility::{Engine, EngineConfig};
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

/// The demo client of the simulator.
const DEMO_CLIENT: (&str, &str) = ("elig-demo", "elig-demo-secret");

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
    [
        (RegistryType::Crvs, RegistryKind::Crvs),
        (RegistryType::Ibr, RegistryKind::Ibr),
        (RegistryType::Dr, RegistryKind::Dr),
    ]
    .into_iter()
    .map(|(registry, kind)| {
        let mut source =
            DataSource::new(registry, sim.base_url(kind), DEMO_CLIENT.0, SecretSource::Value(DEMO_CLIENT.1.into()));
        source.verify_responses = true;
        source
    })
    .collect()
}

/// The engine for a command: from `config`, or against the built-in simulator
/// (returned, to keep it running), saying so on stderr.
pub async fn engine(config: Option<&Path>) -> Result<(Engine, Option<Simulator>)> {
    match config {
        Some(path) => {
            let config = files::config(path)?;
            Ok((Engine::from_config(&config).with_context(|| format!("{}", path.display()))?, None))
        }
        None => {
            let sim = fixture_simulator(SimConfig::default()).await?;
            crate::commands::tell(format_args!(
                "note: no --config given: using the built-in registry simulator with the committed fixture data (CRVS, IBR, DR at {})",
                sim.local_addr()
            ));
            let config = EngineConfig { registries: simulator_sources(&sim), ..Default::default() };
            Ok((Engine::from_config(&config)?, Some(sim)))
        }
    }
}

/// Today's date in UTC, for the default as-of date (read once per command).
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}
