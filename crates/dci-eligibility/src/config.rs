//! The engine's part of `elig.toml`: data sources, catalog adjustments,
//! cache bounds and rule limits.

use std::sync::Arc;

use dci_client::{ClientError, DataSource};
use dci_metrics::{Catalog, CatalogConfig, CatalogError, MetricStore, StoreConfig, resolver_for};
use serde::{Deserialize, Serialize};

use crate::engine::batch::Engine;
use crate::names::Limits;
use crate::rules::compile::Compiler;
use crate::rules::field_types::FieldTypes;

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
    /// The types of the beneficiaries' own fields (`[fields]`, e.g. `birthdate = "date"`):
    /// rules are checked against them, and a field not listed is a warning.
    #[serde(default)]
    pub fields: FieldTypes,
    /// Why the registries are asked (`[purpose]`): sent with every search to each registry
    /// whose `[registry.purpose]` does not say otherwise.
    #[serde(default)]
    pub purpose: Option<dci_client::SearchPurpose>,
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
    /// Two data sources sign with different keys under one key id: a registry
    /// verifying us by `kid` would find only one of them in our JWKS.
    #[error(
        "[[registry]] {0} and {1} sign with different keys under the same key id {2:?}: give each key its own signing.key_id"
    )]
    SigningKeyIdReused(String, String, String),
}

/// Whether two published keys are one key (their public members alike,
/// whatever their `kid`, `use` and `alg`), so one `kid` may name both.
fn same_key(a: &dci_protocol::Jwk, b: &dci_protocol::Jwk) -> bool {
    (&a.kty, &a.crv, &a.x, &a.other) == (&b.kty, &b.crv, &b.x, &b.other) && a.alg == b.alg
}

impl EngineConfig {
    /// `source` with what the deployment sets for every registry that does not
    /// say otherwise (`[purpose]`): what the engine and every command asking
    /// a registry use.
    pub fn with_defaults(&self, source: &DataSource) -> DataSource {
        let mut source = source.clone();
        if source.purpose.is_none() {
            source.purpose.clone_from(&self.purpose);
        }
        source
    }

    /// Every data source, with the deployment's defaults ([`EngineConfig::with_defaults`]).
    pub fn data_sources(&self) -> Vec<DataSource> {
        self.registries.iter().map(|source| self.with_defaults(source)).collect()
    }
}

impl Engine {
    /// Builds the catalog, the clients, the resolvers and the fact cache.
    pub fn from_config(config: &EngineConfig) -> Result<Engine, EngineError> {
        let catalog = Arc::new(Catalog::default().configure(&config.metrics)?);
        let mut resolvers: Vec<Arc<dyn dci_metrics::RegistryResolver>> = Vec::new();
        let mut seen = Vec::new();
        for source in &config.registries {
            if seen.contains(&source.registry) {
                return Err(EngineError::DuplicateRegistry(source.registry.to_string()));
            }
            seen.push(source.registry);
            let resolver = resolver_for(config.with_defaults(source))?;
            if let Some(key) = resolver.public_jwk() {
                let earlier = resolvers.iter().zip(&seen).find_map(|(other, registry)| {
                    other.public_jwk().filter(|jwk| jwk.kid == key.kid && !same_key(jwk, &key)).map(|_| *registry)
                });
                if let Some(earlier) = earlier {
                    let kid = key.kid.clone().unwrap_or_default();
                    return Err(EngineError::SigningKeyIdReused(earlier.to_string(), source.registry.to_string(), kid));
                }
            }
            resolvers.push(resolver);
        }
        let store = Arc::new(MetricStore::new(catalog.clone(), resolvers, &config.cache)?);
        let compiler = Compiler::new(catalog).with_limits(config.rules.clone()).with_field_types(config.fields.clone());
        Ok(Engine::new(compiler, store))
    }
}

#[cfg(test)]
mod tests {
    use dci_client::{RegistryType, SecretSource, SigningConfig, SigningScheme};

    use super::*;

    /// A data source signing with the seed of 32 bytes `seed_byte` (1 or 2), base64.
    fn signing(registry: RegistryType, seed_byte: u8, key_id: &str) -> DataSource {
        let mut source = DataSource::new(registry, "http://127.0.0.1:1", "elig", SecretSource::Value("s".into()));
        let seed = if seed_byte == 1 {
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
        } else {
            "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
        }
        .to_owned();
        source.signing = SigningConfig {
            scheme: Some(SigningScheme::Ed25519),
            key_id: key_id.into(),
            key: Some(SecretSource::Value(seed)),
            ..Default::default()
        };
        source
    }

    /// Two keys under one key id would publish only one of them: refused at start, naming both
    /// registries; one key shared by every registry, or two ids, is fine.
    #[test]
    fn two_signing_keys_under_one_key_id_are_refused() {
        let config = |sources| EngineConfig { registries: sources, ..Default::default() };
        let clash = config(vec![signing(RegistryType::Crvs, 1, "k1"), signing(RegistryType::Ibr, 2, "k1")]);
        let error = Engine::from_config(&clash).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("crvs and ibr") && error.contains("signing.key_id"), "{error}");
        let shared = config(vec![signing(RegistryType::Crvs, 1, "k1"), signing(RegistryType::Ibr, 1, "k1")]);
        assert!(Engine::from_config(&shared).is_ok());
        let distinct = config(vec![signing(RegistryType::Crvs, 1, "k1"), signing(RegistryType::Ibr, 2, "k2")]);
        assert!(Engine::from_config(&distinct).is_ok());
    }
}
