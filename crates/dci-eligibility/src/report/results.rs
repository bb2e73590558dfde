//! What a batch evaluation answers, as it is serialized: decisions, their
//! outcomes and explanations, and the statistics of a batch.

use std::collections::BTreeMap;

use compact_str::CompactString;
use dci_metrics::{FetchCounts, UnknownCause};
use serde::Serialize;

use crate::data::beneficiary::BeneficiaryError;

/// A value the evaluation needed but did not have.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Missing {
    /// What: `dci.crvs.is_alive`, `members[1].dci.dr.has_disability`, `birthdate`.
    pub name: String,
    /// Why.
    pub cause: UnknownCause,
}

/// The outcome of a rule for a beneficiary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The rule evaluated to `true`.
    Eligible,
    /// The rule evaluated to `false`.
    Ineligible,
    /// The value depends on something unknown (see `missing`).
    Undetermined,
    /// The rule cannot be applied to this beneficiary's data (see `error`).
    Error,
}

impl Outcome {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Eligible => "eligible",
            Outcome::Ineligible => "ineligible",
            Outcome::Undetermined => "undetermined",
            Outcome::Error => "error",
        }
    }
}

/// A value a clause used, for explanations: a registry metric, a field of
/// the beneficiary's data, or what one of the library's functions made of
/// them (the age from a birthdate).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsedValue {
    /// The sub-expression, as written: `age_years(r.birthdate)`, `dci.crvs.is_alive`.
    pub expr: String,
    /// Its value (`"unknown"` when it was not known).
    pub value: serde_json::Value,
}

/// The value of one top-level clause, for explanations.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClauseResult {
    /// The clause's text.
    pub clause: String,
    /// `true`, `false`, `"unknown"`, `"not_needed"` (it reads a registry
    /// that was not asked because the other clauses decided) or `"error"`
    /// (or another value the clause gave).
    pub value: serde_json::Value,
    /// The clause in words, from the values it used: "aged 67 (born
    /// 1958-03-02)", "the civil registry records this person as not alive".
    pub says: String,
    /// The values it used.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub used: Vec<UsedValue>,
    /// What the clause missed, when unknown.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Missing>,
    /// The error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The decision of one rule for one beneficiary.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decision {
    /// The outcome.
    pub outcome: Outcome,
    /// For `undetermined`: each missing value and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Missing>,
    /// For `error`: what went wrong, naming the field or operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For an `error` that is not the data's fault: `budget_exceeded` (the
    /// evaluation passed the rule's budget) or `cancelled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "budget_exceeded"))]
    pub code: Option<&'static str>,
    /// With `explain`: the value of each top-level clause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clauses: Option<Vec<ClauseResult>>,
    /// With `explain`: the decision in words, from the clauses that decided
    /// it: "Ineligible: the civil registry records this person as not alive."
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The result for one input item.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ItemResult {
    /// The beneficiary was read; one decision per rule, in rule order.
    Decided {
        /// The beneficiary's id.
        id: CompactString,
        /// One per rule.
        decisions: Vec<Decision>,
    },
    /// The beneficiary's data could not be read.
    Invalid {
        /// What is wrong, naming the field.
        error: BeneficiaryError,
    },
}

/// Decisions per outcome, for one rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleCounts {
    /// The rule.
    pub rule: String,
    /// `eligible` decisions.
    pub eligible: u64,
    /// `ineligible` decisions.
    pub ineligible: u64,
    /// `undetermined` decisions.
    pub undetermined: u64,
    /// `error` decisions.
    pub error: u64,
}

impl RuleCounts {
    pub(crate) fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Eligible => self.eligible += 1,
            Outcome::Ineligible => self.ineligible += 1,
            Outcome::Undetermined => self.undetermined += 1,
            Outcome::Error => self.error += 1,
        }
    }
}

/// What one registry was asked in a batch.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistryUse {
    /// The registry.
    pub registry: String,
    /// Who answered for it: its data source's label and identity (base URL,
    /// client and sender id), or that none is configured; the built-in
    /// simulator says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
    /// Fetch rounds: the registry was needed again after re-evaluation, or
    /// asked about persons under their other identifiers.
    pub rounds: u32,
    /// Persons without a usable identifier (not looked up).
    pub no_identifier: usize,
    /// Lookups by a person's identifiers after the first the registry accepts
    /// (the cost of asking a person holding several under each, so that "not
    /// found" means under none and records under two of them are merged).
    pub other_identifiers: usize,
    /// What the lookups did, summed over the batch.
    #[serde(flatten)]
    pub fetch: FetchCounts,
}

/// Where the time went, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Timings {
    /// Evaluations (all rounds).
    pub evaluate_ms: u64,
    /// Waiting for registries.
    pub fetch_ms: u64,
    /// Detailed re-evaluation (missing values, errors, explanations).
    pub detail_ms: u64,
    /// Putting the results together in input order.
    pub assemble_ms: u64,
    /// Everything.
    pub total_ms: u64,
}

/// Statistics of a batch.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchStats {
    /// Items in the batch.
    pub items: usize,
    /// Items whose data could not be read.
    pub invalid: usize,
    /// Decisions per outcome, per rule.
    pub rules: Vec<RuleCounts>,
    /// Registry use, in the order registries were asked.
    pub registries: Vec<RegistryUse>,
    /// CEL evaluations run (all rounds, detail included).
    pub evaluations: u64,
    /// Time per phase.
    pub timings: Timings,
}

/// The results of a batch, in input order, and its statistics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BatchResult {
    /// One per input item, in order.
    pub items: Vec<ItemResult>,
    /// What it took.
    pub stats: BatchStats,
}

/// Where a traced metric value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TraceSource {
    /// The fact cache (fetched earlier, still fresh).
    Cache,
    /// The registry, during this evaluation.
    Registry,
    /// Not known.
    Unknown,
}

/// One metric read by a rule, for one person.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricTrace {
    /// `registrant` or `members[k]`.
    pub person: String,
    /// The metric.
    pub metric: String,
    /// Its value, when known.
    pub value: Option<serde_json::Value>,
    /// Where it came from.
    pub source: TraceSource,
    /// Whether the registry holds a record of the person: `false` when it
    /// answered "not found" (the value, if any, is the metric's not-found
    /// value); absent when it was not asked or did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<bool>,
    /// The identifier the registry answered under, `TYPE:value` (the first
    /// of `found_under`; for a person it does not know, the first asked);
    /// absent when the person has none it accepts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// Every identifier the registry was asked with, in order, when there were
    /// several: "not found" means not found under any of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub asked: Vec<String>,
    /// Of `asked`, those the registry holds records under: their records are
    /// merged by the metric's rule (`GET /v1/metrics`, `merge`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub found_under: Vec<String>,
    /// Why it is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<UnknownCause>,
    /// The cause in plain words ("not needed for this decision").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause_text: Option<&'static str>,
    /// More about the source (e.g. "not in the registry", an error message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A decision explained.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Explanation {
    /// The beneficiary.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: CompactString,
    /// The rule.
    pub rule: String,
    /// The decision, with the value of each clause.
    pub decision: Decision,
    /// Every metric the rule reads, per person.
    pub metrics: Vec<MetricTrace>,
    /// What it took.
    pub stats: BatchStats,
}

impl BatchStats {
    /// Adds another batch's statistics to these: every counter summed,
    /// rules matched by position (adopted when these have none), registries
    /// by name, each registry's first failure kept from the first.
    pub fn absorb(&mut self, other: &BatchStats) {
        Tally::add(self, other);
    }
}

/// Statistics that add up: a stream sums those of its chunks.
///
/// Each statistics type is summed by `tally!`, which names every field
/// once: its pattern has no `..`, so a field added to the type does not
/// compile until it is given here, and cannot be forgotten in the sum.
pub(crate) trait Tally {
    /// Adds `other` to `self`.
    fn add(&mut self, other: &Self);
}

/// Implements `Tally` for a struct: `tally!(Type { summed, ... } keys { key, ... })`.
/// Key fields (the rule's or registry's name) identify what is summed and
/// are kept; every other field is added with its own [`Tally`].
macro_rules! tally {
    ($type:ident { $($field:ident),* $(,)? } $(keys { $($key:ident),* $(,)? })?) => {
        impl Tally for $type {
            fn add(&mut self, other: &Self) {
                let $type { $($field,)* $($($key: _,)*)? } = other;
                $(Tally::add(&mut self.$field, $field);)*
            }
        }
    };
}

tally!(BatchStats { items, invalid, rules, registries, evaluations, timings });
tally!(RuleCounts { eligible, ineligible, undetermined, error } keys { rule });
tally!(RegistryUse { rounds, no_identifier, other_identifiers, fetch } keys { registry, answered_by });
tally!(FetchCounts {
    requested,
    cache_hits,
    shared_hits,
    merged,
    fetched,
    round_trips,
    failures,
    first_failure,
    fetch_ms
});
tally!(Timings { evaluate_ms, fetch_ms, detail_ms, assemble_ms, total_ms });

macro_rules! tally_numbers {
    ($($number:ty),*) => {
        $(impl Tally for $number {
            fn add(&mut self, other: &Self) {
                *self += *other;
            }
        })*
    };
}

tally_numbers!(u32, u64, usize);

/// Counts by key (failures by cause): summed key by key.
impl<K: Ord + Clone, V: Tally + Default> Tally for BTreeMap<K, V> {
    fn add(&mut self, other: &Self) {
        for (key, value) in other {
            self.entry(key.clone()).or_default().add(value);
        }
    }
}

/// A first failure: the first one known is kept.
impl Tally for Option<String> {
    fn add(&mut self, other: &Self) {
        if self.is_none() {
            self.clone_from(other);
        }
    }
}

/// Per-rule counts: every batch of a stream has the same rules, in the same
/// order; statistics without rules yet (the start of a sum) adopt them.
impl Tally for Vec<RuleCounts> {
    fn add(&mut self, other: &Self) {
        if self.is_empty() {
            self.clone_from(other);
            return;
        }
        for (mine, theirs) in self.iter_mut().zip(other) {
            Tally::add(mine, theirs);
        }
    }
}

/// Per-registry use: matched by registry name, a registry first seen in
/// `other` added at the end (the order registries were asked).
impl Tally for Vec<RegistryUse> {
    fn add(&mut self, other: &Self) {
        for theirs in other {
            let ours = registry_use(self, &theirs.registry);
            if ours.answered_by.is_none() {
                ours.answered_by.clone_from(&theirs.answered_by);
            }
            Tally::add(ours, theirs);
        }
    }
}

/// The use of `registry` among `registries`, added at the end when missing.
pub(crate) fn registry_use<'a>(registries: &'a mut Vec<RegistryUse>, registry: &str) -> &'a mut RegistryUse {
    let position = match registries.iter().position(|r| r.registry == registry) {
        Some(position) => position,
        None => {
            registries.push(RegistryUse { registry: registry.to_owned(), ..RegistryUse::default() });
            registries.len() - 1
        }
    };
    &mut registries[position]
}

/// The schemas of serialized types declared in modules that hold no schema
/// code (a metric's level, a rule's demand and cost estimate, a diagnostic's
/// byte range). The tests below check each against what serde writes.
#[cfg(feature = "openapi")]
pub(crate) mod schema {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
    use utoipa::{PartialSchema, ToSchema};

    use crate::rules::compile::{Demand, Level};
    use crate::rules::cost::Estimate;

    /// Every level, in declaration order.
    pub(crate) fn levels() -> [Level; 2] {
        // Exhaustive on purpose: a new level does not compile until it is listed here.
        match Level::Registrant {
            Level::Registrant | Level::Member => {}
        }
        [Level::Registrant, Level::Member]
    }

    impl PartialSchema for Level {
        fn schema() -> RefOr<Schema> {
            let names = levels().map(|level| serde_json::to_value(level).unwrap_or_default());
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("Whose metric: `registrant` (`dci.*`, `r.dci.*`) or `member` (`m.dci.*`)"))
                .enum_values(Some(names))
                .into()
        }
    }

    impl ToSchema for Level {}

    impl PartialSchema for Demand {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(
                    "The registries a rule may need, in the order the rule mentions them: \
                     `registrant` (asked about the registrant), `members` (asked about household members)",
                ))
                .property("registrant", <Vec<String>>::schema())
                .required("registrant")
                .property("members", <Vec<String>>::schema())
                .required("members")
                .into()
        }
    }

    impl ToSchema for Demand {}

    impl PartialSchema for Estimate {
        fn schema() -> RefOr<Schema> {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(
                    "The worst-case cost of one evaluation: `steps` and `bytes` of values built \
                     (see the `[rules]` limits `max_steps` and `max_bytes`)",
                ))
                .property("steps", u64::schema())
                .required("steps")
                .property("bytes", u64::schema())
                .required("bytes")
                .into()
        }
    }

    impl ToSchema for Estimate {}

    #[cfg(test)]
    mod tests {
        use std::collections::BTreeSet;

        use serde_json::Value;

        use super::*;

        fn keys(value: &Value) -> BTreeSet<String> {
            value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
        }

        /// The properties and required names of `schema` are the keys serde writes for `sample`.
        fn describes(schema: &Value, sample: impl serde::Serialize) {
            let written = keys(&serde_json::to_value(sample).expect("serializes"));
            assert_eq!(keys(&schema["properties"]), written, "{schema}");
            let required: BTreeSet<String> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(Into::into))
                .collect();
            assert_eq!(required, written, "{schema}");
        }

        #[test]
        fn hand_written_schemas_match_what_serde_writes() {
            let json = |schema: RefOr<Schema>| serde_json::to_value(schema).expect("schema");
            describes(&json(Demand::schema()), Demand::default());
            describes(&json(Estimate::schema()), Estimate::default());
            describes(&json(crate::rules::diagnostic::byte_range_schema().into()), 3..7);
            let names: Vec<Value> = levels().iter().map(|l| serde_json::to_value(l).expect("level")).collect();
            assert_eq!(json(Level::schema())["enum"], Value::Array(names));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Statistics with every counter set, each to a different value.
    fn sample() -> BatchStats {
        let registry = |name: &str, base: usize| RegistryUse {
            registry: name.to_owned(),
            answered_by: Some(format!("https://{name}.example as elig")),
            rounds: base as u32 + 1,
            no_identifier: base + 3,
            other_identifiers: base + 12,
            fetch: FetchCounts {
                requested: base + 2,
                cache_hits: base + 4,
                shared_hits: base + 11,
                merged: base + 5,
                fetched: base + 6,
                round_trips: base as u64 + 7,
                failures: BTreeMap::from([(UnknownCause::Timeout, base + 8), (UnknownCause::Rejected, base + 9)]),
                first_failure: Some(format!("{name} refused")),
                fetch_ms: base as u64 + 10,
            },
        };
        BatchStats {
            items: 11,
            invalid: 12,
            rules: vec![RuleCounts { rule: "a".into(), eligible: 13, ineligible: 14, undetermined: 15, error: 16 }],
            registries: vec![registry("crvs", 20), registry("dr", 40)],
            evaluations: 17,
            timings: Timings { evaluate_ms: 18, fetch_ms: 19, detail_ms: 20, assemble_ms: 21, total_ms: 22 },
        }
    }

    /// `value` with every number doubled.
    fn doubled(value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::Number(n) => Value::from(n.as_u64().expect("a count") * 2),
            Value::Array(items) => Value::Array(items.iter().map(doubled).collect()),
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), doubled(v))).collect()),
            other => other.clone(),
        }
    }

    #[test]
    fn absorbing_sums_every_counter_and_keeps_names_and_the_first_failure() {
        let one = sample();
        let mut sum = BatchStats::default();
        sum.absorb(&one);
        assert_eq!(sum, one, "absorbed into nothing, statistics are unchanged");
        sum.absorb(&one);
        let json = |stats: &BatchStats| serde_json::to_value(stats).expect("serializes");
        assert_eq!(json(&sum), doubled(&json(&one)), "every number is summed; names and texts are kept");
    }

    #[test]
    fn registries_are_matched_by_name_and_the_first_failure_is_kept() {
        let mut sum = sample();
        let other = BatchStats {
            registries: vec![
                RegistryUse {
                    registry: "ibr".into(),
                    fetch: FetchCounts { requested: 5, ..FetchCounts::default() },
                    ..RegistryUse::default()
                },
                RegistryUse {
                    registry: "dr".into(),
                    fetch: FetchCounts { requested: 1, first_failure: Some("later".into()), ..FetchCounts::default() },
                    ..RegistryUse::default()
                },
            ],
            ..BatchStats::default()
        };
        sum.absorb(&other);
        let names: Vec<&str> = sum.registries.iter().map(|r| r.registry.as_str()).collect();
        assert_eq!(names, ["crvs", "dr", "ibr"], "a new registry goes last, a known one is summed in place");
        assert_eq!(sum.registries[1].fetch.requested, 43);
        assert_eq!(sum.registries[1].fetch.first_failure.as_deref(), Some("dr refused"));
        assert_eq!(sum.registries[2].fetch.requested, 5);
        assert_eq!(sum.rules, sample().rules, "statistics without rules add nothing to the counts");
    }
}
