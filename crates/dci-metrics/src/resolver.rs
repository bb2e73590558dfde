//! Registry resolvers: look up many persons in one registry and turn what it
//! says into metric values. One trait, so that another registry (a social
//! registry, say) plugs in without touching the cache or the engine.

use std::sync::Arc;

use async_trait::async_trait;
use dci_client::{ClientError, DciClient, ErrorKind};
use dci_client_crvs::{CrvsClient, VitalFacts};
use dci_client_dr::DrClient;
use dci_client_ibr::{Enrolments, IbrClient};
use dci_protocol::records::{DisabilityFacts, Identifier};

use crate::catalog::{RegistrySpec, crvs_spec, dr_spec, ibr_spec};
use crate::resolution::{Failure, UnknownCause};
use crate::value::MetricValue;

/// The outcome of looking one person up.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// The values of the registry's metrics, in catalog order.
    Found(Vec<MetricValue>),
    /// The registry has no record of the person.
    NotFound,
    /// The lookup failed.
    Failed(Failure),
}

/// Looks persons up in one registry.
#[async_trait]
pub trait RegistryResolver: Send + Sync {
    /// The registry's catalog entry; `Lookup::Found` values follow its metric order.
    fn spec(&self) -> &RegistrySpec;

    /// Identifier types the registry accepts, most preferred first.
    fn id_type_priority(&self) -> &[String];

    /// How many identifiers one `lookup` call should carry, so that a circuit
    /// breaker can stop a dead registry between calls (e.g. `batch_size × max_in_flight`).
    fn chunk_size(&self) -> usize;

    /// Messages one lookup of `count` identifiers costs.
    fn round_trips(&self, count: usize) -> u64;

    /// Looks these persons up; one `Lookup` per identifier, in order.
    async fn lookup(&self, identifiers: &[Identifier]) -> Vec<Lookup>;

    /// Checks the registry can be used now (e.g. a token is obtainable), for readiness probes.
    async fn probe(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The resolver for a data source, by its registry type.
pub fn resolver_for(source: dci_client::DataSource) -> Result<Arc<dyn RegistryResolver>, ClientError> {
    let client = DciClient::new(source)?;
    Ok(match client.source().registry {
        dci_client::RegistryType::Crvs => Arc::new(CrvsResolver::new(client)),
        dci_client::RegistryType::Ibr => Arc::new(IbrResolver::new(client)),
        dci_client::RegistryType::Dr => Arc::new(DrResolver::new(client)),
    })
}

/// The unknown-cause of a client error.
pub fn cause_of(error: &ClientError) -> UnknownCause {
    match error.kind() {
        ErrorKind::Timeout => UnknownCause::Timeout,
        ErrorKind::Rejected => UnknownCause::Rejected,
        ErrorKind::TooLarge => UnknownCause::ResponseTooLarge,
        _ => UnknownCause::RegistryError,
    }
}

fn failed(error: &ClientError) -> Lookup {
    Lookup::Failed(Failure { cause: cause_of(error), message: Arc::from(error.to_string()) })
}

fn messages(client: &DciClient, count: usize) -> u64 {
    count.div_ceil(client.source().batch_size.max(1)) as u64
}

fn chunk(client: &DciClient) -> usize {
    client.source().batch_size.max(1) * client.source().max_in_flight.max(1)
}

/// Resolves CRVS metrics.
pub struct CrvsResolver {
    client: CrvsClient,
    spec: RegistrySpec,
}

impl CrvsResolver {
    /// A resolver over a CRVS client.
    pub fn new(client: DciClient) -> Self {
        CrvsResolver { client: CrvsClient::new(client), spec: crvs_spec() }
    }

    /// The CRVS metric values of a found person: is_alive, is_registered, birth_date, death_date.
    pub fn values(facts: &VitalFacts) -> Vec<MetricValue> {
        vec![
            MetricValue::Bool(facts.alive),
            MetricValue::Bool(true),
            facts.birth_date.map_or(MetricValue::NotRecorded, MetricValue::Timestamp),
            match (facts.alive, facts.death_date) {
                (true, _) => MetricValue::Null,
                (false, Some(date)) => MetricValue::Timestamp(date),
                (false, None) => MetricValue::NotRecorded,
            },
        ]
    }
}

#[async_trait]
impl RegistryResolver for CrvsResolver {
    fn spec(&self) -> &RegistrySpec {
        &self.spec
    }
    fn id_type_priority(&self) -> &[String] {
        &self.client.client().source().id_type_priority
    }
    fn chunk_size(&self) -> usize {
        chunk(self.client.client())
    }
    fn round_trips(&self, count: usize) -> u64 {
        messages(self.client.client(), count)
    }
    async fn probe(&self) -> Result<(), String> {
        self.client.client().check_token().await.map_err(|e| e.to_string())
    }
    async fn lookup(&self, identifiers: &[Identifier]) -> Vec<Lookup> {
        self.client
            .persons(identifiers)
            .await
            .into_iter()
            .map(|result| match result {
                Ok(Some(person)) => Lookup::Found(Self::values(&VitalFacts::of(&person))),
                Ok(None) => Lookup::NotFound,
                Err(error) => failed(&error),
            })
            .collect()
    }
}

/// Resolves IBR metrics.
pub struct IbrResolver {
    client: IbrClient,
    spec: RegistrySpec,
}

impl IbrResolver {
    /// A resolver over an IBR client.
    pub fn new(client: DciClient) -> Self {
        IbrResolver { client: IbrClient::new(client), spec: ibr_spec() }
    }

    /// The IBR metric values of a found person: is_enrolled, program_count, programmes.
    pub fn values(enrolments: &Enrolments) -> Vec<MetricValue> {
        vec![
            MetricValue::Bool(enrolments.is_enrolled()),
            MetricValue::Int(enrolments.active_count() as i64),
            MetricValue::strings(enrolments.active_programmes()),
        ]
    }
}

#[async_trait]
impl RegistryResolver for IbrResolver {
    fn spec(&self) -> &RegistrySpec {
        &self.spec
    }
    fn id_type_priority(&self) -> &[String] {
        &self.client.client().source().id_type_priority
    }
    fn chunk_size(&self) -> usize {
        chunk(self.client.client())
    }
    fn round_trips(&self, count: usize) -> u64 {
        messages(self.client.client(), count)
    }
    async fn probe(&self) -> Result<(), String> {
        self.client.client().check_token().await.map_err(|e| e.to_string())
    }
    async fn lookup(&self, identifiers: &[Identifier]) -> Vec<Lookup> {
        self.client
            .enrolments_of_many(identifiers)
            .await
            .into_iter()
            .map(|result| match result {
                Ok(Some(enrolments)) => Lookup::Found(Self::values(&enrolments)),
                Ok(None) => Lookup::NotFound,
                Err(error) => failed(&error),
            })
            .collect()
    }
}

/// Resolves disability-registry metrics.
pub struct DrResolver {
    client: DrClient,
    spec: RegistrySpec,
}

impl DrResolver {
    /// A resolver over a DR client.
    pub fn new(client: DciClient) -> Self {
        DrResolver { client: DrClient::new(client), spec: dr_spec() }
    }

    /// The DR metric values of a found person: has_disability, disability_level, disability_types.
    pub fn values(facts: &DisabilityFacts) -> Vec<MetricValue> {
        vec![
            MetricValue::Bool(facts.has_disability),
            MetricValue::Int(i64::from(facts.level)),
            MetricValue::strings(facts.types.iter().map(|t| t.as_str())),
        ]
    }
}

#[async_trait]
impl RegistryResolver for DrResolver {
    fn spec(&self) -> &RegistrySpec {
        &self.spec
    }
    fn id_type_priority(&self) -> &[String] {
        &self.client.client().source().id_type_priority
    }
    fn chunk_size(&self) -> usize {
        chunk(self.client.client())
    }
    fn round_trips(&self, count: usize) -> u64 {
        messages(self.client.client(), count)
    }
    async fn probe(&self) -> Result<(), String> {
        self.client.client().check_token().await.map_err(|e| e.to_string())
    }
    async fn lookup(&self, identifiers: &[Identifier]) -> Vec<Lookup> {
        self.client
            .disability_of_many(identifiers)
            .await
            .into_iter()
            .map(|result| match result {
                Ok(Some(facts)) => Lookup::Found(Self::values(&facts)),
                Ok(None) => Lookup::NotFound,
                Err(error) => failed(&error),
            })
            .collect()
    }
}
