//! Registry resolvers: look up many persons in one registry and turn what it
//! says into metric values. One trait, so that another registry (a social
//! registry, say) plugs in without touching the cache or the engine.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use dci_client::{ClientError, DciClient, ErrorKind};
use dci_client_crvs::{CrvsClient, VitalFacts};
use dci_client_dr::DrClient;
use dci_client_ibr::{Enrolments, IbrClient};
use dci_protocol::records::{
    CrvsPerson, DisabilityFacts, DisabilityRecord, IbrBeneficiary, Identified, Identifier, Reading,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::catalog::{RegistrySpec, crvs_spec, dr_spec, ibr_spec};
use crate::cause::UnknownCause;
use crate::resolution::Failure;
use crate::value::MetricValue;

/// Messages per breaker chunk per `max_in_flight` slot.
const MESSAGES_PER_CHUNK_PER_SLOT: usize = 16;

/// The outcome of looking one person up.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// The registry has records of the person.
    Found {
        /// The values of the registry's metrics, in catalog order.
        values: Vec<MetricValue>,
    },
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

    /// Who answers, and to whom: what the snapshot file and the shared tier
    /// key this registry's facts by, so that facts of one endpoint are never
    /// served for another configured under the same name.
    fn identity(&self) -> String;

    /// Who answers, for people: the identity, after the data source's label when it has one.
    fn answered_by(&self) -> String {
        self.identity()
    }

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

    /// The public key our requests to this registry are signed with, if any.
    fn public_jwk(&self) -> Option<dci_protocol::Jwk> {
        None
    }

    /// The connection check of the registry behind ([`DciClient::check`]);
    /// `None` for a resolver that talks to no registry over DCI.
    async fn check(&self) -> Option<dci_client::RegistryCheck> {
        None
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
        ErrorKind::Incomplete => UnknownCause::IncompleteAnswer,
        ErrorKind::Ambiguous => UnknownCause::AmbiguousRecord,
        ErrorKind::Unavailable => UnknownCause::RegistryUnavailable,
        _ => UnknownCause::RegistryError,
    }
}

fn failed(error: &ClientError) -> Lookup {
    Lookup::Failed(Failure { cause: cause_of(error), message: Arc::from(error.to_string()) })
}

/// What differs between the registries behind a [`ClientResolver`]: the
/// client, the catalog entry, and how a found record becomes metric values.
#[async_trait]
pub trait RegistryClient: Send + Sync + 'static {
    /// A record as the registry sends it.
    type Wire: DeserializeOwned + Serialize + Identified + Send;

    /// What the client reads from a person's records.
    type Record: Send;

    /// A client of this registry over a DCI client.
    fn over(client: DciClient) -> Self;

    /// The DCI client underneath.
    fn dci(&self) -> &DciClient;

    /// The registry's catalog entry.
    fn spec() -> RegistrySpec;

    /// What a person's records (at least one) say.
    fn read(records: Vec<Self::Wire>) -> Self::Record;

    /// The registry's metric values for a found person, in catalog order;
    /// those that changed on dates the records state are
    /// [`MetricValue::Dated`], read at each evaluation's as-of date.
    /// `answered_on` is the day the registry answered: what it says holds
    /// from then on, whatever dates are missing.
    fn values(record: &Self::Record, answered_on: NaiveDate) -> Vec<MetricValue>;
}

#[async_trait]
impl RegistryClient for CrvsClient {
    type Wire = CrvsPerson;
    type Record = Vec<CrvsPerson>;

    fn over(client: DciClient) -> Self {
        CrvsClient::new(client)
    }
    fn dci(&self) -> &DciClient {
        self.client()
    }
    fn spec() -> RegistrySpec {
        crvs_spec()
    }
    fn read(records: Vec<CrvsPerson>) -> Self::Record {
        records
    }
    /// is_alive, is_registered, birth_date, death_date.
    fn values(records: &Self::Record, answered_on: NaiveDate) -> Vec<MetricValue> {
        let facts = VitalFacts::of(records);
        let dates = facts.dates(answered_on);
        let death_unreadable = facts.alive.is_doubtful();
        vec![
            MetricValue::over(dates.iter().copied(), |date| {
                MetricValue::of_reading(facts.alive_on(date, answered_on), MetricValue::Bool)
            }),
            MetricValue::over(dates.iter().copied(), |date| {
                MetricValue::of_reading(facts.registered_on(date, answered_on), MetricValue::Bool)
            }),
            MetricValue::of_reading(facts.birth_date.clone(), MetricValue::Timestamp),
            MetricValue::over(dates.iter().copied(), |date| match facts.death_date_on(date) {
                Reading::Absent if !death_unreadable => MetricValue::Null,
                death => MetricValue::of_reading(death, MetricValue::Timestamp),
            }),
        ]
    }
}

#[async_trait]
impl RegistryClient for IbrClient {
    type Wire = IbrBeneficiary;
    type Record = Enrolments;

    fn over(client: DciClient) -> Self {
        IbrClient::new(client)
    }
    fn dci(&self) -> &DciClient {
        self.client()
    }
    fn spec() -> RegistrySpec {
        ibr_spec()
    }
    fn read(records: Vec<IbrBeneficiary>) -> Enrolments {
        Enrolments::of(&records)
    }
    /// is_enrolled, program_count, programmes, programme_ids.
    fn values(enrolments: &Enrolments, answered_on: NaiveDate) -> Vec<MetricValue> {
        let dates = enrolments.dates(answered_on);
        vec![
            MetricValue::over(dates.iter().copied(), |date| {
                MetricValue::of_reading(enrolments.is_enrolled_on(date, answered_on), MetricValue::Bool)
            }),
            MetricValue::over(dates.iter().copied(), |date| {
                MetricValue::of_reading(enrolments.active_count_on(date, answered_on), |count| {
                    MetricValue::Int(i64::try_from(count).unwrap_or(i64::MAX))
                })
            }),
            MetricValue::over(dates.iter().copied(), |date| {
                MetricValue::of_reading(enrolments.active_programmes_on(date, answered_on).map(Names), |names| {
                    MetricValue::strings(names.0)
                })
            }),
            MetricValue::over(dates.iter().copied(), |date| {
                MetricValue::of_reading(enrolments.active_programme_ids_on(date, answered_on).map(Names), |ids| {
                    MetricValue::strings(ids.0)
                })
            }),
        ]
    }
}

#[async_trait]
impl RegistryClient for DrClient {
    type Wire = DisabilityRecord;
    type Record = DisabilityFacts;

    fn over(client: DciClient) -> Self {
        DrClient::new(client)
    }
    fn dci(&self) -> &DciClient {
        self.client()
    }
    fn spec() -> RegistrySpec {
        dr_spec()
    }
    fn read(records: Vec<DisabilityRecord>) -> DisabilityFacts {
        dci_client_dr::merge(&records)
    }
    /// has_disability, disability_level, disability_types.
    fn values(facts: &DisabilityFacts, _answered_on: NaiveDate) -> Vec<MetricValue> {
        vec![
            MetricValue::of_reading(facts.has_disability.clone(), MetricValue::Bool),
            MetricValue::of_reading(facts.level.clone(), |level| MetricValue::Int(i64::from(level))),
            MetricValue::of_reading(
                facts.types.clone().map(|types| Names(types.iter().map(|t| t.as_str().to_owned()).collect())),
                |names| MetricValue::strings(names.0),
            ),
        ]
    }
}

/// A list of names, shown as a list where a reading needs it displayed.
struct Names(Vec<String>);

impl std::fmt::Display for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}]", self.0.join(", "))
    }
}

/// A resolver over a registry client.
pub struct ClientResolver<C> {
    client: C,
    spec: RegistrySpec,
}

impl<C: RegistryClient> ClientResolver<C> {
    /// A resolver over `client`.
    pub fn new(client: DciClient) -> Self {
        ClientResolver { client: C::over(client), spec: C::spec() }
    }
}

/// Resolves CRVS metrics.
pub type CrvsResolver = ClientResolver<CrvsClient>;
/// Resolves IBR metrics.
pub type IbrResolver = ClientResolver<IbrClient>;
/// Resolves disability-registry metrics.
pub type DrResolver = ClientResolver<DrClient>;

#[async_trait]
impl<C: RegistryClient> RegistryResolver for ClientResolver<C> {
    fn spec(&self) -> &RegistrySpec {
        &self.spec
    }
    fn id_type_priority(&self) -> &[String] {
        &self.client.dci().source().id_type_priority
    }
    fn identity(&self) -> String {
        self.client.dci().source().identity()
    }
    fn answered_by(&self) -> String {
        let source = self.client.dci().source();
        match &source.label {
            Some(label) => format!("{label}: {}", source.identity()),
            None => source.identity(),
        }
    }
    fn chunk_size(&self) -> usize {
        // Each chunk waits for its slowest message (a retry after a 503 waits
        // seconds), so a chunk holds many rounds of messages: the client keeps
        // `max_in_flight` on the wire while others wait to be retried.
        let source = self.client.dci().source();
        source.batch_size.max(1).saturating_mul(source.max_in_flight.max(1)).saturating_mul(MESSAGES_PER_CHUNK_PER_SLOT)
    }
    fn round_trips(&self, count: usize) -> u64 {
        count.div_ceil(self.client.dci().source().batch_size.max(1)) as u64
    }
    async fn probe(&self) -> Result<(), String> {
        self.client.dci().ready().await
    }
    async fn check(&self) -> Option<dci_client::RegistryCheck> {
        Some(self.client.dci().check().await)
    }
    fn public_jwk(&self) -> Option<dci_protocol::Jwk> {
        self.client.dci().public_jwk()
    }
    async fn lookup(&self, identifiers: &[Identifier]) -> Vec<Lookup> {
        // The clock is read here only: what the registry says holds from the day it was asked.
        let answered_on = chrono::Utc::now().date_naive();
        let answers = self.client.dci().search_people::<C::Wire>(identifiers).await;
        answers
            .into_iter()
            .map(|result| match result {
                Ok(found) if found.records.is_empty() => Lookup::NotFound,
                Ok(found) => Lookup::Found { values: C::values(&C::read(found.records), answered_on) },
                Err(error) => failed(&error),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Days, NaiveDate};
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::catalog::Catalog;
    use crate::resolution::{MetricRead, Resolution, Source};

    const ANSWERED_ON: NaiveDate = match NaiveDate::from_ymd_opt(2026, 12, 7) {
        Some(date) => date,
        None => unreachable!(),
    };

    fn day(offset: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(1990, 1, 1).expect("date") + Days::new(u64::from(offset))
    }

    /// What `metric` reads on `as_of` from these facts, cached once.
    fn read_on(facts: &Resolution, metric: &str, as_of: NaiveDate) -> Result<MetricValue, UnknownCause> {
        let catalog = Catalog::default();
        let id = catalog.metric(metric).expect("metric");
        match facts.read(&catalog, id, as_of) {
            MetricRead::Value(value) => Ok(value.clone()),
            MetricRead::Unknown(cause) => Err(cause),
        }
    }

    fn found(values: Vec<MetricValue>) -> Resolution {
        Resolution::Found(values.into(), Source::Cache)
    }

    fn crvs(record: serde_json::Value) -> Resolution {
        let person: CrvsPerson = serde_json::from_value(record).expect("record");
        found(<CrvsClient as RegistryClient>::values(&vec![person], ANSWERED_ON))
    }

    fn ibr(records: Vec<serde_json::Value>) -> Resolution {
        let records: Vec<IbrBeneficiary> =
            records.into_iter().map(|r| serde_json::from_value(r).expect("record")).collect();
        found(<IbrClient as RegistryClient>::values(&Enrolments::of(&records), ANSWERED_ON))
    }

    proptest! {
        /// A person born on B, registered on R and dead on D is alive exactly
        /// on the days from B until D, registered from R on, and has a death
        /// date only from D on: the same cached facts read at every as-of date.
        #[test]
        fn a_life_reads_at_every_as_of_date(born in 0u32..20_000, registered in 0u32..400, lived in 1u32..20_000, as_of in 0u32..45_000) {
            let (born, registered, died, as_of) = (day(born), day(born + registered), day(born + lived), day(as_of));
            let facts = crvs(json!({"identifier": [{"identifier_type": "UIN", "identifier_value": "1"}],
                "birth_date": born.to_string(), "death_date": died.to_string(), "registration_date": registered.to_string()}));
            prop_assert_eq!(read_on(&facts, "dci.crvs.is_alive", as_of), Ok(MetricValue::Bool(born <= as_of && as_of < died)));
            prop_assert_eq!(read_on(&facts, "dci.crvs.is_registered", as_of), Ok(MetricValue::Bool(registered <= as_of)));
            let death = read_on(&facts, "dci.crvs.death_date", as_of).expect("known");
            prop_assert_eq!(matches!(death, MetricValue::Timestamp(_)), died <= as_of, "{}", death);
        }

        /// An enrolment started on S and graduated on E counts exactly on the
        /// days from S until E; one still active counts from S on.
        #[test]
        fn an_enrolment_reads_at_every_as_of_date(start in 0u32..12_000, lasted in 1u32..3_000, as_of in 0u32..16_000) {
            let (start, ended, as_of) = (day(start), day(start + lasted), day(as_of));
            let member = json!({"member_identifier": [{"identifier_type": "UIN", "identifier_value": "1"}]});
            let facts = ibr(vec![
                json!({"member": member, "programme_identifier": [{"programme_identifier": "A", "programme_name": "Alpha"}],
                    "enrollment_date": start.to_string(), "enrollment_status": "3", "graduation_date": ended.to_string()}),
                json!({"member": member, "programme_identifier": [{"programme_identifier": "B", "programme_name": "Beta"}],
                    "enrollment_date": ended.to_string(), "enrollment_status": "1"}),
            ]);
            let in_alpha = start <= as_of && as_of < ended;
            let in_beta = ended <= as_of;
            prop_assert_eq!(read_on(&facts, "dci.ibr.is_enrolled", as_of), Ok(MetricValue::Bool(in_alpha || in_beta)));
            prop_assert_eq!(read_on(&facts, "dci.ibr.program_count", as_of), Ok(MetricValue::Int(i64::from(in_alpha) + i64::from(in_beta))));
            let names: Vec<&str> = [in_alpha.then_some("Alpha"), in_beta.then_some("Beta")].into_iter().flatten().collect();
            prop_assert_eq!(read_on(&facts, "dci.ibr.programmes", as_of), Ok(MetricValue::strings(names)));
        }
    }

    /// Two death records that disagree on the day: alive before both,
    /// ambiguous between them, dead from the later one on.
    #[test]
    fn deaths_on_two_days_are_ambiguous_only_between_them() {
        let person = |death: &str| {
            serde_json::from_value::<CrvsPerson>(
                json!({"identifier": [{"identifier_type": "UIN", "identifier_value": "1"}],
                "birth_date": "1950-01-01", "registration_date": "1950-02-01", "death_date": death}),
            )
            .expect("record")
        };
        let records = vec![person("2020-01-01"), person("2020-03-01")];
        let facts = found(<CrvsClient as RegistryClient>::values(&records, ANSWERED_ON));
        let on = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date");
        assert_eq!(read_on(&facts, "dci.crvs.is_alive", on("2019-12-31")), Ok(MetricValue::Bool(true)));
        assert_eq!(read_on(&facts, "dci.crvs.death_date", on("2019-12-31")), Ok(MetricValue::Null));
        assert_eq!(read_on(&facts, "dci.crvs.is_alive", on("2020-02-01")), Err(UnknownCause::AmbiguousRecord));
        assert_eq!(read_on(&facts, "dci.crvs.is_alive", on("2020-03-01")), Ok(MetricValue::Bool(false)));
        assert_eq!(read_on(&facts, "dci.crvs.death_date", on("2020-03-01")), Err(UnknownCause::AmbiguousRecord));
    }

    /// A date a reading needs and the records leave out: undated before the
    /// day the registry answered, what it said from then on.
    #[test]
    fn a_missing_date_is_undated_until_the_registry_answered() {
        let before = ANSWERED_ON - Days::new(30);
        let unregistered = crvs(
            json!({"identifier": [{"identifier_type": "UIN", "identifier_value": "1"}], "birth_date": "1950-01-01"}),
        );
        assert_eq!(read_on(&unregistered, "dci.crvs.is_registered", before), Err(UnknownCause::Undated));
        assert_eq!(read_on(&unregistered, "dci.crvs.is_registered", ANSWERED_ON), Ok(MetricValue::Bool(true)));
        assert_eq!(read_on(&unregistered, "dci.crvs.is_alive", before), Ok(MetricValue::Bool(true)));
        let unborn = crvs(
            json!({"identifier": [{"identifier_type": "UIN", "identifier_value": "1"}], "registration_date": "1950-01-01"}),
        );
        assert_eq!(read_on(&unborn, "dci.crvs.is_alive", before), Err(UnknownCause::Undated));
        assert_eq!(read_on(&unborn, "dci.crvs.is_alive", ANSWERED_ON), Ok(MetricValue::Bool(true)));

        let member = json!({"member_identifier": [{"identifier_type": "UIN", "identifier_value": "1"}]});
        let suspended = ibr(vec![json!({"member": member, "enrollment_date": "2020-01-01", "enrollment_status": "4"})]);
        assert_eq!(
            read_on(&suspended, "dci.ibr.is_enrolled", day(0)),
            Ok(MetricValue::Bool(false)),
            "before it started"
        );
        assert_eq!(read_on(&suspended, "dci.ibr.is_enrolled", before), Err(UnknownCause::Undated), "suspended when?");
        assert_eq!(read_on(&suspended, "dci.ibr.program_count", before), Err(UnknownCause::Undated));
        assert_eq!(read_on(&suspended, "dci.ibr.is_enrolled", ANSWERED_ON), Ok(MetricValue::Bool(false)));
        let unreadable = ibr(vec![json!({"member": member, "enrollment_date": "2020-01-01", "enrollment_status": "3",
            "graduation_date": "N/A"})]);
        let Resolution::Found(facts, _) = &unreadable else { unreachable!() };
        let MetricValue::Unusable(said) = facts[0].at(before) else { panic!("{}", facts[0]) };
        assert!(said.detail.contains("graduation_date") && said.detail.contains("\"N/A\""), "{}", said.detail);
        // Another enrolment standing on the day settles is_enrolled, not the count.
        let active = json!({"member": member, "programme_identifier": [{"programme_identifier": "B"}],
            "enrollment_date": "2021-01-01", "enrollment_status": "1"});
        let both =
            ibr(vec![json!({"member": member, "enrollment_date": "2020-01-01", "enrollment_status": "4"}), active]);
        assert_eq!(read_on(&both, "dci.ibr.is_enrolled", before), Ok(MetricValue::Bool(true)));
        assert_eq!(read_on(&both, "dci.ibr.program_count", before), Err(UnknownCause::Undated));
    }
}
