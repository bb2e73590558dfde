//! The metric catalog: what `dci.<registry>.<metric>` names exist, their
//! types, registries, TTLs, and what they are when the registry does not
//! know the person.

use dci_protocol::records::{CodeTable, code_tables};
use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::value::{MetricType, MetricValue};

/// What a metric is when the registry has no record of the person.
#[derive(Clone, Debug, PartialEq)]
pub enum WhenNotFound {
    /// This value (e.g. `is_enrolled` is `false`).
    Value(MetricValue),
    /// Unknown: absence proves nothing (e.g. `is_alive`).
    Unknown,
}

/// One metric of a registry.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSpec {
    /// The field name after `dci.<registry>.`, e.g. `is_alive`.
    pub field: &'static str,
    /// CEL type.
    pub cel_type: MetricType,
    /// Default TTL.
    pub ttl: Duration,
    /// What it means.
    pub description: &'static str,
    /// Value when the person is not in the registry.
    pub when_not_found: WhenNotFound,
    /// The enumerated record fields it is read through (their tables are
    /// [`dci_protocol::records::code_tables`]).
    pub reads: &'static [&'static str],
    /// How its values under two identifiers of one person combine.
    pub merge: Merge,
    /// What it is at an as-of date: which dates of the records it reads.
    pub as_of: &'static str,
    /// How a reason in words says its value (see [`Wording`]).
    pub wording: Wording,
}

/// How an explanation's reason says a metric's value, in plain words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wording {
    /// A yes/no metric: the words when it is true, and when it is false
    /// ("alive per the civil registry", "the civil registry records this
    /// person as not alive").
    YesNo(&'static str, &'static str),
    /// Another metric: a phrase with `{}` where the value goes ("disability
    /// level {}").
    Valued(&'static str),
}

impl Wording {
    /// The words for `value` (a boolean for [`Wording::YesNo`], else the
    /// value as it is written).
    pub fn say(self, value: &str) -> String {
        match self {
            Wording::YesNo(yes, no) => match value {
                "true" => yes.to_owned(),
                "false" => no.to_owned(),
                other => format!("{yes}: {other}"),
            },
            Wording::Valued(phrase) => phrase.replace("{}", value),
        }
    }
}

impl MetricSpec {
    /// The same metric, read through the code tables of `fields`.
    fn reading(self, fields: &'static [&'static str]) -> Self {
        MetricSpec { reads: fields, ..self }
    }

    /// The same metric, read at the as-of date as `meaning` says.
    fn dated(self, meaning: &'static str) -> Self {
        MetricSpec { as_of: meaning, ..self }
    }

    /// The same metric, said in a reason as `wording` says.
    fn worded(self, wording: Wording) -> Self {
        MetricSpec { wording, ..self }
    }
}

/// A registry and the metrics one lookup of a person in it yields.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistrySpec {
    /// Short id used in `dci.<id>.*`, e.g. `crvs`.
    pub id: &'static str,
    /// Human name.
    pub title: &'static str,
    /// Its name in a sentence: "the civil registry".
    pub spoken: &'static str,
    /// Its metrics, in the order resolvers produce their values.
    pub metrics: Vec<MetricSpec>,
}

/// The as-of meaning of a metric its records give no date for.
const UNDATED: &str = "the same at every as-of date: the records give no date for it";

/// The as-of meaning of the IBR's metrics.
const ENROLMENT_AS_OF: &str = "an enrolment counts from its enrollment_date; one whose status is not enrolled \
counted until the date that status took effect (status_change_date, else suspension_date or graduation_date); \
before the day the registry answered, an enrolment without the date it needs is undated";

/// The as-of meaning of the DR's metrics.
const DISABILITY_AS_OF: &str = "the same at every as-of date: DR records carry no assessment or validity date \
(DCI DR API v1.0.0 has registration_date and last_updated only)";

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

fn metric(
    field: &'static str,
    cel_type: MetricType,
    ttl: Duration,
    description: &'static str,
    when_not_found: WhenNotFound,
    merge: Merge,
) -> MetricSpec {
    let wording = Wording::Valued(field);
    MetricSpec { field, cel_type, ttl, description, when_not_found, reads: &[], merge, as_of: UNDATED, wording }
}

/// The CRVS metrics: `is_alive`, `is_registered`, `birth_date`, `death_date`.
pub fn crvs_spec() -> RegistrySpec {
    use MetricType::*;
    use WhenNotFound::*;
    RegistrySpec {
        id: "crvs",
        title: "Civil registration (CRVS)",
        spoken: "the civil registry",
        metrics: vec![
            metric(
                "is_alive",
                Bool,
                DAY,
                "a CRVS record exists and none states a death (a readable death_date)",
                Unknown,
                Merge::AnyFalse,
            )
            .dated(
                "false before birth_date and from death_date on; before the day the registry answered, a record \
                 without a birth_date is undated",
            )
            .worded(Wording::YesNo(
                "alive per the civil registry",
                "the civil registry records this person as not alive",
            )),
            metric("is_registered", Bool, DAY, "a CRVS record exists", Value(MetricValue::Bool(false)), Merge::AnyTrue)
                .dated(
                    "true from the earliest registration_date on; without one, undated before the day the registry \
                     answered",
                )
                .worded(Wording::YesNo("registered in the civil registry", "not registered in the civil registry")),
            metric("birth_date", Timestamp, DAY, "birth_date of the CRVS record", Unknown, Merge::Same)
                .worded(Wording::Valued("born {} per the civil registry")),
            metric(
                "death_date",
                TimestampOrNull,
                DAY,
                "death_date of the CRVS record; null when alive",
                Unknown,
                Merge::DateOverNull,
            )
            .dated("null before death_date, the date from it on")
            .worded(Wording::Valued("date of death {} per the civil registry")),
        ],
    }
}

const ENROLMENT: &[&str] = &["enrollment_status"];

/// The IBR metrics: `is_enrolled`, `program_count`, `programmes`, `programme_ids`.
pub fn ibr_spec() -> RegistrySpec {
    use MetricType::*;
    use WhenNotFound::*;
    RegistrySpec {
        id: "ibr",
        title: "Integrated beneficiary registry (IBR)",
        spoken: "the beneficiary registry",
        metrics: vec![
            metric(
                "is_enrolled",
                Bool,
                HOUR,
                "at least one enrolment whose status counts as enrolled (active, reinstated, awaiting renewal)",
                Value(MetricValue::Bool(false)),
                Merge::AnyTrue,
            )
            .reading(ENROLMENT)
            .dated(ENROLMENT_AS_OF)
            .worded(Wording::YesNo("enrolled in another programme", "not enrolled in another programme")),
            metric(
                "program_count",
                Int,
                HOUR,
                "number of programmes with an enrolment that counts as enrolled",
                Value(MetricValue::Int(0)),
                Merge::CountOf("programme_ids"),
            )
            .reading(ENROLMENT)
            .dated(ENROLMENT_AS_OF)
            .worded(Wording::Valued("enrolled in {} programmes")),
            metric(
                "programmes",
                StringList,
                HOUR,
                "names of the programmes with an enrolment that counts as enrolled",
                Value(MetricValue::strings::<&str>([])),
                Merge::Union,
            )
            .reading(ENROLMENT)
            .dated(ENROLMENT_AS_OF)
            .worded(Wording::Valued("enrolled in programmes {}")),
            metric(
                "programme_ids",
                StringList,
                HOUR,
                "identifiers of the programmes with an enrolment that counts as enrolled (programme_identifier; \
                 the name where a programme has none; an enrolment naming no programme is left out)",
                Value(MetricValue::strings::<&str>([])),
                Merge::Union,
            )
            .reading(ENROLMENT)
            .dated(ENROLMENT_AS_OF)
            .worded(Wording::Valued("enrolled in programmes with identifiers {}")),
        ],
    }
}

/// The disability-registry metrics: `has_disability`, `disability_level`, `disability_types`.
pub fn dr_spec() -> RegistrySpec {
    use MetricType::*;
    use WhenNotFound::*;
    RegistrySpec {
        id: "dr",
        title: "Disability registry (DR)",
        spoken: "the disability registry",
        metrics: vec![
            metric(
                "has_disability",
                Bool,
                DAY,
                "any functional limitation of severity >= 2, or an approved PWD registration",
                Value(MetricValue::Bool(false)),
                Merge::AnyTrue,
            )
            .reading(&["functional_severity", "disability_status", "impairment_level"])
            .dated(DISABILITY_AS_OF)
            .worded(Wording::YesNo(
                "a disability recorded in the disability registry",
                "no disability recorded in the disability registry",
            )),
            metric(
                "disability_level",
                Int,
                DAY,
                "highest functional severity, Washington Group scale 1-4 (PWD levels mapped onto it); 0 when none",
                Value(MetricValue::Int(0)),
                Merge::HighestUpTo(4),
            )
            .reading(&["functional_severity", "disability_status", "impairment_level", "disability_status_level"])
            .dated(DISABILITY_AS_OF)
            .worded(Wording::Valued("disability level {} in the disability registry")),
            metric(
                "disability_types",
                StringList,
                DAY,
                "limitation types of severity >= 2: VISION HEARING MOBILITY COGNITION SELF_CARE COMMUNICATION MENTAL",
                Value(MetricValue::strings::<&str>([])),
                Merge::Union,
            )
            .reading(&[
                "disability_limitation_type",
                "functional_severity",
                "impairment_type",
                "impairment_level",
                "disability_status",
            ])
            .dated(DISABILITY_AS_OF)
            .worded(Wording::Valued("disability types {} in the disability registry")),
        ],
    }
}

/// The most registries a catalog holds: a [`RegistrySet`] is one 64-bit word,
/// so that the evaluator's record of what a decision still needs is a copy.
pub const MAX_REGISTRIES: usize = 64;

/// A registry's position in the catalog (below [`MAX_REGISTRIES`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegistryIndex(u8);

impl RegistryIndex {
    /// The position, for indexing per-registry tables.
    #[inline]
    pub fn get(self) -> usize {
        usize::from(self.0)
    }
}

/// A set of registries of one catalog.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RegistrySet(u64);

impl RegistrySet {
    /// No registry.
    pub const EMPTY: RegistrySet = RegistrySet(0);

    /// Adds `registry`.
    #[inline]
    pub fn insert(&mut self, registry: RegistryIndex) {
        self.0 |= 1 << registry.0;
    }

    /// Whether `registry` is in the set.
    #[inline]
    pub fn contains(self, registry: RegistryIndex) -> bool {
        self.0 & (1 << registry.0) != 0
    }

    /// Whether the set is empty.
    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The registries in either set.
    #[inline]
    pub fn union(self, other: RegistrySet) -> RegistrySet {
        RegistrySet(self.0 | other.0)
    }

    /// The set as one word, for storing in an atomic.
    #[inline]
    pub fn bits(self) -> u64 {
        self.0
    }

    /// The set [`RegistrySet::bits`] gave.
    #[inline]
    pub fn from_bits(bits: u64) -> RegistrySet {
        RegistrySet(bits)
    }
}

/// A metric's place in the catalog: its registry, and its position among that registry's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MetricId {
    /// The registry.
    pub registry: RegistryIndex,
    /// Position in the registry's values.
    pub field: usize,
}

/// A deployment's adjustments to the catalog (`[metrics]` in `elig.toml`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// TTL overrides in seconds, by metric (`"dci.ibr.is_enrolled" = 600`) or
    /// registry (`"dci.ibr" = 600`).
    pub ttl_secs: BTreeMap<String, u64>,
    /// Metrics rules may not use (`["dci.crvs.death_date"]`).
    pub disabled: Vec<String>,
    /// How long "not in the registry" is remembered, in seconds (default: the registry's TTL).
    pub not_found_ttl_secs: Option<u64>,
}

/// A catalog entry as shown to users (`GET /v1/metrics`, `elig check`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricInfo {
    /// Full name, `dci.crvs.is_alive`.
    pub name: String,
    /// CEL type.
    #[serde(rename = "type")]
    pub cel_type: MetricType,
    /// Registry id.
    pub registry: String,
    /// TTL in seconds.
    pub ttl_secs: u64,
    /// What it means.
    pub description: String,
    /// Value when the person is not in the registry: a JSON value, or `"unknown"`.
    pub when_not_found: serde_json::Value,
    /// Whether rules may use it here.
    pub enabled: bool,
    /// The code tables of the enumerated fields it is read through: a value
    /// outside them makes it unknown (`unrecognised_value`).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub codes: Vec<CodeTable>,
    /// How its values combine when the registry holds records of a person
    /// under two of the person's identifiers ([`Merge::describe`]).
    pub merge: String,
    /// What it is at an as-of date: which dates of the records it reads, and
    /// what happens without them.
    pub as_of: String,
}

/// Why a catalog configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("metrics configuration: {0}")]
pub struct CatalogError(pub String);

/// The metrics known to this deployment.
#[derive(Clone, Debug)]
pub struct Catalog {
    registries: Vec<RegistrySpec>,
    ttl: Vec<Vec<Duration>>,
    not_found_ttl: Option<Duration>,
    enabled: Vec<Vec<bool>>,
}

impl Default for Catalog {
    fn default() -> Self {
        Catalog::unchecked(vec![crvs_spec(), ibr_spec(), dr_spec()])
    }
}

impl Catalog {
    /// A catalog of these registries, with their default TTLs, everything
    /// enabled; refused above [`MAX_REGISTRIES`] registries or with two of one id.
    pub fn new(registries: Vec<RegistrySpec>) -> Result<Self, CatalogError> {
        if registries.len() > MAX_REGISTRIES {
            return Err(CatalogError(format!(
                "{} registries; a catalog holds at most {MAX_REGISTRIES}",
                registries.len()
            )));
        }
        for (position, registry) in registries.iter().enumerate() {
            if registries[..position].iter().any(|earlier| earlier.id == registry.id) {
                return Err(CatalogError(format!("registry {:?} is listed twice", registry.id)));
            }
        }
        Ok(Catalog::unchecked(registries))
    }

    fn unchecked(registries: Vec<RegistrySpec>) -> Self {
        let ttl = registries.iter().map(|r| r.metrics.iter().map(|m| m.ttl).collect()).collect();
        let enabled = registries.iter().map(|r| vec![true; r.metrics.len()]).collect();
        Catalog { registries, ttl, not_found_ttl: None, enabled }
    }

    /// Applies a deployment's overrides.
    pub fn configure(mut self, config: &CatalogConfig) -> Result<Self, CatalogError> {
        for (name, secs) in &config.ttl_secs {
            let ttl = Duration::from_secs(*secs);
            if let Some(id) = self.metric(name) {
                self.ttl[id.registry.get()][id.field] = ttl;
            } else if let Some(registry) = name.strip_prefix("dci.").and_then(|r| self.registry_index(r)) {
                self.ttl[registry.get()].iter_mut().for_each(|t| *t = ttl);
            } else {
                return Err(CatalogError(format!("ttl_secs: no metric or registry named {name:?}")));
            }
        }
        for name in &config.disabled {
            let id = self.metric(name).ok_or_else(|| CatalogError(format!("disabled: no metric named {name:?}")))?;
            self.enabled[id.registry.get()][id.field] = false;
        }
        self.not_found_ttl = config.not_found_ttl_secs.map(Duration::from_secs);
        Ok(self)
    }

    /// The registries.
    pub fn registries(&self) -> &[RegistrySpec] {
        &self.registries
    }

    /// The index of registry `id`.
    pub fn registry_index(&self, id: &str) -> Option<RegistryIndex> {
        self.registry_indices().find(|&index| self.registry(index).id == id)
    }

    /// The index of every registry, in catalog order.
    pub fn registry_indices(&self) -> impl Iterator<Item = RegistryIndex> + use<> {
        // `new` holds at most MAX_REGISTRIES (64) registries: each index fits a u8.
        (0..self.registries.len().min(MAX_REGISTRIES)).map(|index| RegistryIndex(index as u8))
    }

    /// The registry at `index`.
    pub fn registry(&self, index: RegistryIndex) -> &RegistrySpec {
        &self.registries[index.get()]
    }

    /// The metric named `dci.<registry>.<field>`, enabled or not.
    pub fn metric(&self, name: &str) -> Option<MetricId> {
        let rest = name.strip_prefix("dci.")?;
        let (registry, field) = rest.split_once('.')?;
        self.field(registry, field)
    }

    /// The metric `field` of `registry`.
    pub fn field(&self, registry: &str, field: &str) -> Option<MetricId> {
        let index = self.registry_index(registry)?;
        let field = self.registry(index).metrics.iter().position(|m| m.field == field)?;
        Some(MetricId { registry: index, field })
    }

    /// The specification of a metric.
    pub fn spec(&self, id: MetricId) -> &MetricSpec {
        &self.registry(id.registry).metrics[id.field]
    }

    /// The full name of a metric.
    pub fn name(&self, id: MetricId) -> String {
        format!("dci.{}.{}", self.registry(id.registry).id, self.spec(id).field)
    }

    /// Whether rules may use the metric.
    pub fn is_enabled(&self, id: MetricId) -> bool {
        self.enabled[id.registry.get()][id.field]
    }

    /// How long a lookup in `registry` stays fresh: the shortest TTL of its enabled metrics.
    pub fn registry_ttl(&self, registry: RegistryIndex) -> Duration {
        let registry = registry.get();
        self.ttl[registry]
            .iter()
            .zip(&self.enabled[registry])
            .filter(|(_, enabled)| **enabled)
            .map(|(ttl, _)| *ttl)
            .min()
            .unwrap_or_else(|| self.ttl[registry].iter().copied().min().unwrap_or(Duration::ZERO))
    }

    /// How long "not in the registry" stays fresh.
    pub fn not_found_ttl(&self, registry: RegistryIndex) -> Duration {
        self.not_found_ttl.unwrap_or_else(|| self.registry_ttl(registry))
    }

    /// The enabled metric names closest to `name` (for "did you mean"), best first.
    pub fn suggest(&self, name: &str) -> Option<String> {
        let mut best: Option<(usize, String)> = None;
        for (r, registry) in self.registries.iter().enumerate() {
            for (f, metric) in registry.metrics.iter().enumerate() {
                if !self.enabled[r][f] {
                    continue;
                }
                let candidate = format!("dci.{}.{}", registry.id, metric.field);
                let distance = edit_distance(name, &candidate);
                if best.as_ref().is_none_or(|(d, _)| distance < *d) {
                    best = Some((distance, candidate));
                }
            }
        }
        best.filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(2)).map(|(_, c)| c)
    }

    /// The catalog as users see it.
    pub fn describe(&self) -> Vec<MetricInfo> {
        let tables = code_tables();
        let mut out = Vec::new();
        for (r, registry) in self.registries.iter().enumerate() {
            for (f, metric) in registry.metrics.iter().enumerate() {
                out.push(MetricInfo {
                    name: format!("dci.{}.{}", registry.id, metric.field),
                    cel_type: metric.cel_type,
                    registry: registry.id.to_owned(),
                    ttl_secs: self.ttl[r][f].as_secs(),
                    description: metric.description.to_owned(),
                    when_not_found: match &metric.when_not_found {
                        WhenNotFound::Value(value) => value.to_json(),
                        WhenNotFound::Unknown => serde_json::Value::String("unknown".into()),
                    },
                    enabled: self.enabled[r][f],
                    merge: metric.merge.describe(),
                    as_of: metric.as_of.to_owned(),
                    codes: tables
                        .iter()
                        .filter(|table| table.registry == registry.id && metric.reads.contains(&table.field))
                        .cloned()
                        .collect(),
                });
            }
        }
        out
    }
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// How a metric's values under two of a person's identifiers combine.
/// Unknown on either side leaves the merged value unknown unless the known
/// side settles it (a `true` for [`Merge::AnyTrue`], a `false` for [`Merge::AnyFalse`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// True when either is true (a record exists, an enrolment counts, a disability counts).
    AnyTrue,
    /// False when either is false: a recorded death is authoritative (`is_alive`).
    AnyFalse,
    /// The same value under both, or one side not recorded; two different values contradict.
    Same,
    /// A date, or null for none: a date is authoritative over null; two different dates contradict.
    DateOverNull,
    /// The larger (a highest level); the top of the scale settles it even when the other side
    /// is unknown, as it does between records under one identifier.
    HighestUpTo(i64),
    /// The union of two lists, each name once.
    Union,
    /// A count of the things a list of the same registry identifies (`program_count` of
    /// `programme_ids`): both counts, less the identities the two sides share.
    CountOf(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_catalog_has_the_documented_metrics() {
        let catalog = Catalog::default();
        let names: Vec<String> = catalog.describe().into_iter().map(|m| m.name).collect();
        assert_eq!(
            names,
            [
                "dci.crvs.is_alive",
                "dci.crvs.is_registered",
                "dci.crvs.birth_date",
                "dci.crvs.death_date",
                "dci.ibr.is_enrolled",
                "dci.ibr.program_count",
                "dci.ibr.programmes",
                "dci.ibr.programme_ids",
                "dci.dr.has_disability",
                "dci.dr.disability_level",
                "dci.dr.disability_types"
            ]
        );
        let ibr = catalog.registry_index("ibr").expect("ibr");
        assert_eq!(catalog.registry_ttl(ibr), Duration::from_secs(3600));
        let alive = catalog.spec(catalog.metric("dci.crvs.is_alive").expect("metric"));
        assert_eq!(alive.when_not_found, WhenNotFound::Unknown);
    }

    #[test]
    fn overrides_change_ttls_and_disable_metrics() {
        let config = CatalogConfig {
            ttl_secs: [("dci.ibr".to_owned(), 600), ("dci.crvs.is_alive".to_owned(), 60)].into(),
            disabled: vec!["dci.crvs.death_date".into()],
            not_found_ttl_secs: Some(30),
        };
        let catalog = Catalog::default().configure(&config).expect("valid");
        assert_eq!(catalog.registry_ttl(catalog.registry_index("ibr").expect("ibr")), Duration::from_secs(600));
        assert_eq!(catalog.registry_ttl(catalog.registry_index("crvs").expect("crvs")), Duration::from_secs(60));
        assert!(!catalog.is_enabled(catalog.metric("dci.crvs.death_date").expect("metric")));
        assert_eq!(catalog.not_found_ttl(catalog.registry_index("crvs").expect("crvs")), Duration::from_secs(30));
        let bad = CatalogConfig { disabled: vec!["dci.crvs.nope".into()], ..Default::default() };
        assert!(Catalog::default().configure(&bad).is_err());
    }

    #[test]
    fn a_catalog_of_too_many_or_repeated_registries_is_refused() {
        let many: Vec<RegistrySpec> = (0..=MAX_REGISTRIES)
            .map(|n| RegistrySpec { id: Box::leak(format!("r{n}").into_boxed_str()), ..ibr_spec() })
            .collect();
        let error = Catalog::new(many.clone()).expect_err("65 registries");
        assert!(error.to_string().contains("65 registries") && error.to_string().contains("64"), "{error}");
        let catalog = Catalog::new(many[..MAX_REGISTRIES].to_vec()).expect("64 registries");
        let mut set = RegistrySet::EMPTY;
        for index in catalog.registry_indices() {
            assert!(!set.contains(index));
            set.insert(index);
            assert!(set.contains(index), "registry {} of 64 has its own member of a set", index.get());
        }
        assert_eq!(catalog.registry_indices().count(), MAX_REGISTRIES);
        let error = Catalog::new(vec![ibr_spec(), ibr_spec()]).expect_err("repeated");
        assert!(error.to_string().contains("\"ibr\" is listed twice"), "{error}");
    }

    #[test]
    fn suggestions_find_near_misses_only() {
        let catalog = Catalog::default();
        assert_eq!(catalog.suggest("dci.crvs.is_alve").as_deref(), Some("dci.crvs.is_alive"));
        assert_eq!(catalog.suggest("dci.dr.disabilty_level").as_deref(), Some("dci.dr.disability_level"));
        assert_eq!(catalog.suggest("dci.ibr.program_counts").as_deref(), Some("dci.ibr.program_count"));
        assert_eq!(catalog.suggest("dci.tax.income"), None);
    }
}
