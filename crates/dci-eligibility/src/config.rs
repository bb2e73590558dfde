//! The engine's part of `elig.toml`: data sources, catalog adjustments,
//! cache bounds and rule limits.

use std::sync::Arc;

use dci_client::{ClientError, DataSource};
use dci_metrics::{Catalog, CatalogConfig, CatalogError, MetricStore, StoreConfig, resolver_for};
use serde::{Deserialize, Serialize};

use crate::batch::Engine;
use crate::compile::{Compiler, Limits};

/// Everything the engine needs from the configuration file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// Data sources, one per registry (`[[registry]]`).
    #[serde(default, rename = "registry")]
    pub registries: Vec<DataSource>,
    /// Catalog adjustments (`[metrics]`).
    #[serde(default)]
    pub metrics: CatalogConfig,
    /// Fact cache, circuit breakers, encryption key and shared tier (`[cache]`, `[cache.redis]`).
    #[serde(default)]
    pub cache: StoreConfig,
    /// Rule limits (`[rules]`).
    #[serde(default)]
    pub rules: Limits,
}

/// Why an engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The `[metrics]` section is wrong.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A data source is wrong (e.g. its secret's environment variable is unset).
    #[error(transparent)]
    DataSource(#[from] ClientError),
    /// The fact store's keys or shared tier are wrong (`[cache]`).
    #[error(transparent)]
    Store(#[from] dci_metrics::SharedError),
    /// Two data sources for one registry.
    #[error("two [[registry]] entries for registry {0}")]
    DuplicateRegistry(String),
}

impl Engine {
    /// Builds the catalog, the clients, the resolvers and the fact cache.
    pub fn from_config(config: &EngineConfig) -> Result<Engine, EngineError> {
        let catalog = Arc::new(Catalog::default().configure(&config.metrics)?);
        let mut resolvers = Vec::new();
        let mut seen = Vec::new();
        for source in &config.registries {
            if seen.contains(&source.registry) {
                return Err(EngineError::DuplicateRegistry(source.registry.to_string()));
            }
            seen.push(source.registry);
            resolvers.push(resolver_for(source.clone())?);
        }
        let store = Arc::new(MetricStore::new(catalog.clone(), resolvers, &config.cache)?);
        Ok(Engine::new(Compiler::new(catalog).with_limits(config.rules.clone()), store))
    }
}
