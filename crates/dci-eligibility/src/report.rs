//! What a batch evaluation answers, as it is serialized: decisions, their
//! outcomes and explanations, and the statistics of a batch.

use std::collections::BTreeMap;

use compact_str::CompactString;
use dci_metrics::UnknownCause;
use serde::Serialize;

use crate::beneficiary::BeneficiaryError;

/// A value the evaluation needed but did not have.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Missing {
    /// What: `dci.crvs.is_alive`, `members[1].dci.dr.has_disability`, `birthdate`.
    pub name: String,
    /// Why.
    pub cause: UnknownCause,
}

/// The outcome of a rule for a beneficiary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
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

/// The value of one top-level clause, for explanations.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClauseResult {
    /// The clause's text.
    pub clause: String,
    /// `true`, `false`, `"unknown"` or `"error"` (or another value the clause gave).
    pub value: serde_json::Value,
    /// What the clause missed, when unknown.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Missing>,
    /// The error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The decision of one rule for one beneficiary.
#[derive(Clone, Debug, PartialEq, Serialize)]
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
    pub code: Option<&'static str>,
    /// With `explain`: the value of each top-level clause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clauses: Option<Vec<ClauseResult>>,
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
pub struct RegistryUse {
    /// The registry.
    pub registry: String,
    /// Fetch rounds (the registry was needed again after re-evaluation).
    pub rounds: u32,
    /// Persons looked up (after dropping those without a usable identifier).
    pub requested: usize,
    /// Persons without a usable identifier.
    pub no_identifier: usize,
    /// Answered by the cache.
    pub cache_hits: usize,
    /// Answered by a lookup already in flight for another request.
    pub merged: usize,
    /// Sent to the registry.
    pub fetched: usize,
    /// Messages sent.
    pub round_trips: u64,
    /// Failed lookups by cause.
    pub failures: BTreeMap<UnknownCause, usize>,
    /// What the registry said when the first lookup failed (the registry and
    /// the cause: authentication refused, unreachable, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<String>,
    /// Time spent fetching, in milliseconds.
    pub fetch_ms: u64,
}

/// Where the time went, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
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
pub struct MetricTrace {
    /// `registrant` or `members[k]`.
    pub person: String,
    /// The metric.
    pub metric: String,
    /// Its value, when known.
    pub value: Option<serde_json::Value>,
    /// Where it came from.
    pub source: TraceSource,
    /// Why it is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<UnknownCause>,
    /// More about the source (e.g. "not in the registry", an error message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A decision explained.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// The beneficiary.
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
    /// Adds another batch's statistics to these.
    pub fn absorb(&mut self, other: &BatchStats) {
        self.items += other.items;
        self.invalid += other.invalid;
        self.evaluations += other.evaluations;
        if self.rules.is_empty() {
            self.rules = other.rules.clone();
        } else {
            for (mine, theirs) in self.rules.iter_mut().zip(&other.rules) {
                mine.eligible += theirs.eligible;
                mine.ineligible += theirs.ineligible;
                mine.undetermined += theirs.undetermined;
                mine.error += theirs.error;
            }
        }
        for theirs in &other.registries {
            let mine = match self.registries.iter_mut().find(|r| r.registry == theirs.registry) {
                Some(mine) => mine,
                None => {
                    self.registries.push(RegistryUse { registry: theirs.registry.clone(), ..Default::default() });
                    self.registries.last_mut().expect("just pushed")
                }
            };
            mine.rounds += theirs.rounds;
            mine.requested += theirs.requested;
            mine.no_identifier += theirs.no_identifier;
            mine.cache_hits += theirs.cache_hits;
            mine.merged += theirs.merged;
            mine.fetched += theirs.fetched;
            mine.round_trips += theirs.round_trips;
            mine.fetch_ms += theirs.fetch_ms;
            for (cause, count) in &theirs.failures {
                *mine.failures.entry(*cause).or_default() += count;
            }
            if mine.first_failure.is_none() {
                mine.first_failure.clone_from(&theirs.first_failure);
            }
        }
        self.timings.evaluate_ms += other.timings.evaluate_ms;
        self.timings.fetch_ms += other.timings.fetch_ms;
        self.timings.detail_ms += other.timings.detail_ms;
        self.timings.assemble_ms += other.timings.assemble_ms;
        self.timings.total_ms += other.timings.total_ms;
    }
}
