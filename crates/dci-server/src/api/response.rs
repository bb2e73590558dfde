//! Response bodies: the engine's results and reports converted into types of
//! this crate, so that the OpenAPI document describes exactly what is sent.

use std::collections::{BTreeMap, HashMap};

use dci_eligibility::stream::StreamStats;
use dci_eligibility::{BatchStats, RuleDiagnostic, Validation};
use dci_metrics::{BreakerState, MetricInfo, MetricType};
use serde::Serialize;
use utoipa::ToSchema;

/// The response of a JSON evaluation (written by the handler as bytes, in this shape).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EvaluateResponse {
    /// One per beneficiary, in request order.
    pub results: Vec<ResultItem>,
    /// What the evaluation did.
    pub summary: Summary,
}

/// The result for one beneficiary: its decisions, or why it could not be read.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ResultItem {
    /// The beneficiary was read.
    Evaluated(EvaluatedItem),
    /// The beneficiary could not be read; the others are unaffected.
    Invalid(InvalidItem),
}

/// Decisions for one beneficiary.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct EvaluatedItem {
    /// The beneficiary's id.
    pub id: String,
    /// One decision per rule, by rule name.
    pub outcomes: HashMap<String, Decision>,
}

/// The decision of one rule for one beneficiary.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Decision {
    /// The outcome.
    pub outcome: Outcome,
    /// For `undetermined`: each missing value and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<MissingValue>>,
    /// For `error`: what went wrong, naming the field or operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For an `error` that is not the data's fault: `budget_exceeded` (the evaluation passed
    /// the rule's budget of steps or bytes) or `cancelled` (its request ended first).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "budget_exceeded")]
    pub code: Option<String>,
    /// With `explain`: the value of each top-level clause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clauses: Option<Vec<ClauseValue>>,
}

/// The outcome of a rule for a beneficiary.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The rule is true.
    Eligible,
    /// The rule is false.
    Ineligible,
    /// The rule depends on something unknown (a registry value, an absent field): see `missing`.
    Undetermined,
    /// The rule cannot be applied to this beneficiary's data: see `error`.
    Error,
}

/// A value a decision needed and did not have.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MissingValue {
    /// `dci.crvs.is_alive`, `members[1].dci.dr.has_disability`, `birthdate`.
    pub name: String,
    /// Why it is unknown.
    pub cause: UnknownCause,
}

/// Why a value is unknown.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnknownCause {
    /// The registry was not asked.
    NotFetched,
    /// The registry answered with an error.
    RegistryError,
    /// The registry did not answer in time.
    Timeout,
    /// The registry rejected the lookup.
    Rejected,
    /// The person has no identifier this registry accepts.
    NoIdentifier,
    /// Not in the registry, and for this metric that proves nothing.
    NotFound,
    /// The registry is considered down (circuit breaker open).
    RegistryUnavailable,
    /// The registry's record has no value for this metric.
    NotRecorded,
    /// A field absent from the beneficiary's data.
    MissingField,
    /// A `null` where a value is needed.
    NullValue,
    /// The registry's answer was larger than the data source allows.
    ResponseTooLarge,
}

/// The value of one top-level clause of a rule.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClauseValue {
    /// The clause's text.
    pub clause: String,
    /// `true`, `false`, `"unknown"` or `"error"`.
    pub value: serde_json::Value,
    /// What the clause missed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<MissingValue>>,
    /// The error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A beneficiary that could not be read.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct InvalidItem {
    /// What is wrong.
    pub error: ItemError,
    /// The NDJSON line (streamed requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// What is wrong with one beneficiary.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ItemError {
    /// Always `invalid_beneficiary`.
    #[schema(example = "invalid_beneficiary")]
    pub code: String,
    /// What, naming the field.
    pub message: String,
    /// Where in the item: `members[2].identifiers[0].value`.
    pub path: String,
}

/// The last line of a streamed (NDJSON) evaluation.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SummaryLine {
    /// What the evaluation did.
    pub summary: Summary,
}

/// What an evaluation did.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct Summary {
    /// The evaluation date.
    pub as_of: String,
    /// Beneficiaries received.
    pub items: usize,
    /// Beneficiaries that could not be read.
    pub invalid: usize,
    /// Decisions per outcome, per rule, in rule order.
    pub rules: Vec<RuleSummary>,
    /// Registry use, in the order registries were asked.
    pub registries: Vec<RegistrySummary>,
    /// Messages sent to registries (all registries).
    pub round_trips: u64,
    /// Registry lookups answered by the cache (all registries).
    pub cache_hits: usize,
    /// CEL evaluations run.
    pub evaluations: u64,
    /// Chunks evaluated (streamed requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<usize>,
    /// Where the time went.
    pub timings: Timings,
}

/// Decisions of one rule.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct RuleSummary {
    /// The rule's name.
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

/// What one registry was asked.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct RegistrySummary {
    /// The registry (`crvs`, `ibr`, `dr`).
    pub registry: String,
    /// Fetch rounds.
    pub rounds: u32,
    /// Persons looked up.
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
    pub failures: BTreeMap<String, usize>,
    /// Time spent fetching, in milliseconds.
    pub fetch_ms: u64,
}

/// Where the time went, in milliseconds.
#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct Timings {
    /// CEL evaluation (all rounds).
    pub evaluate_ms: u64,
    /// Waiting for registries.
    pub fetch_ms: u64,
    /// Detailed re-evaluation (missing values, errors, explanations).
    pub detail_ms: u64,
    /// Putting the results together in input order.
    pub assemble_ms: u64,
    /// The engine's time (streamed: summed over chunks).
    pub total_ms: u64,
    /// The request's wall time, reading and writing included.
    pub wall_ms: u64,
}

impl Summary {
    /// The summary of a batch.
    pub fn of_batch(stats: &BatchStats, as_of: chrono::NaiveDate, wall_ms: u64) -> Self {
        let registries: Vec<RegistrySummary> = stats
            .registries
            .iter()
            .map(|r| RegistrySummary {
                registry: r.registry.clone(),
                rounds: r.rounds,
                requested: r.requested,
                no_identifier: r.no_identifier,
                cache_hits: r.cache_hits,
                merged: r.merged,
                fetched: r.fetched,
                round_trips: r.round_trips,
                failures: r.failures.iter().map(|(cause, n)| (cause.as_str().to_owned(), *n)).collect(),
                fetch_ms: r.fetch_ms,
            })
            .collect();
        Summary {
            as_of: as_of.format("%Y-%m-%d").to_string(),
            items: stats.items,
            invalid: stats.invalid,
            rules: stats
                .rules
                .iter()
                .map(|r| RuleSummary {
                    rule: r.rule.clone(),
                    eligible: r.eligible,
                    ineligible: r.ineligible,
                    undetermined: r.undetermined,
                    error: r.error,
                })
                .collect(),
            round_trips: registries.iter().map(|r| r.round_trips).sum(),
            cache_hits: registries.iter().map(|r| r.cache_hits).sum(),
            registries,
            evaluations: stats.evaluations,
            chunks: None,
            timings: Timings {
                evaluate_ms: stats.timings.evaluate_ms,
                fetch_ms: stats.timings.fetch_ms,
                detail_ms: stats.timings.detail_ms,
                assemble_ms: stats.timings.assemble_ms,
                total_ms: stats.timings.total_ms,
                wall_ms,
            },
        }
    }

    /// The summary of a stream.
    pub fn of_stream(stats: &StreamStats, as_of: chrono::NaiveDate, wall_ms: u64) -> Self {
        Summary { chunks: Some(stats.chunks), ..Summary::of_batch(&stats.batch, as_of, wall_ms) }
    }
}

/// `POST /v1/rules/validate`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ValidateResponse {
    /// One report per rule, in request order.
    pub rules: Vec<RuleValidation>,
    /// Every rule is valid.
    pub valid: bool,
}

/// The validation of one rule.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RuleValidation {
    /// The rule's name.
    pub name: String,
    /// No errors.
    pub valid: bool,
    /// Errors, then warnings.
    pub diagnostics: Vec<Diagnostic>,
    /// Metrics read (valid rules only).
    pub metrics: Vec<NeededMetric>,
    /// Registries needed (valid rules only).
    pub registries: RegistryDemand,
    /// Registrant fields read (valid rules only).
    pub fields: Vec<String>,
}

/// A problem in a rule, with its place.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Diagnostic {
    /// `error` or `warning`.
    pub severity: Severity,
    /// Stable code: `syntax`, `unknown_metric`, `unknown_registry`, `disabled_metric`,
    /// `unknown_function`, `arity`, `misplaced_dci`, `too_long`, `too_deep` (the parsed expression
    /// or its brackets nest deeper than `max_depth`), `cost_too_high` (the estimated worst case
    /// passes `max_steps` or `max_bytes`); warnings `not_precedence`, `cost_depends_on_data`.
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte range in the rule.
    pub span: Span,
    /// The rule's line with a caret under the problem.
    pub snippet: String,
}

/// A byte range.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The rule cannot be used.
    Error,
    /// The rule works but may not mean what the author thinks.
    Warning,
}

/// A metric a rule reads.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NeededMetric {
    /// `dci.crvs.is_alive`.
    pub name: String,
    /// `registrant` or `member`.
    pub level: Level,
    /// CEL type.
    #[serde(rename = "type")]
    pub cel_type: CelType,
    /// Registry.
    pub registry: String,
    /// Cache TTL, seconds.
    pub ttl_secs: u64,
}

/// Whose metric.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The registrant's.
    Registrant,
    /// A household member's.
    Member,
}

/// Registries a rule may need.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RegistryDemand {
    /// Asked about the registrant.
    pub registrant: Vec<String>,
    /// Asked about household members.
    pub members: Vec<String>,
}

impl From<&RuleDiagnostic> for Diagnostic {
    fn from(d: &RuleDiagnostic) -> Self {
        Diagnostic {
            severity: match d.severity {
                dci_eligibility::Severity::Error => Severity::Error,
                dci_eligibility::Severity::Warning => Severity::Warning,
            },
            code: d.code.to_owned(),
            message: d.message.clone(),
            help: d.help.clone(),
            line: d.line,
            column: d.column,
            span: Span { start: d.span.start, end: d.span.end },
            snippet: d.snippet.clone(),
        }
    }
}

impl From<&Validation> for RuleValidation {
    fn from(v: &Validation) -> Self {
        RuleValidation {
            name: v.name.clone(),
            valid: v.valid,
            diagnostics: v.diagnostics.iter().map(Diagnostic::from).collect(),
            metrics: v
                .metrics
                .iter()
                .map(|m| NeededMetric {
                    name: m.name.clone(),
                    level: match m.level {
                        dci_eligibility::Level::Registrant => Level::Registrant,
                        dci_eligibility::Level::Member => Level::Member,
                    },
                    cel_type: m.cel_type.into(),
                    registry: m.registry.clone(),
                    ttl_secs: m.ttl_secs,
                })
                .collect(),
            registries: RegistryDemand {
                registrant: v.registries.registrant.clone(),
                members: v.registries.members.clone(),
            },
            fields: v.fields.clone(),
        }
    }
}

/// `GET /v1/metrics`: the metric catalog.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CatalogResponse {
    /// Every metric rules can name.
    pub metrics: Vec<CatalogMetric>,
}

/// A metric of the catalog.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CatalogMetric {
    /// `dci.crvs.is_alive`.
    pub name: String,
    /// CEL type.
    #[serde(rename = "type")]
    pub cel_type: CelType,
    /// Registry.
    pub registry: String,
    /// How long a fetched value is reused, in seconds.
    pub ttl_secs: u64,
    /// What it means.
    pub description: String,
    /// Value when the person is not in the registry: a JSON value, or `"unknown"`.
    pub when_not_found: serde_json::Value,
    /// Whether rules may use it in this deployment.
    pub enabled: bool,
}

/// The CEL type of a metric.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CelType {
    /// `bool`
    Bool,
    /// `int`
    Int,
    /// `double`
    Double,
    /// `string`
    String,
    /// timestamp
    Timestamp,
    /// timestamp or null
    TimestampOrNull,
    /// list of strings
    StringList,
}

impl From<MetricType> for CelType {
    fn from(t: MetricType) -> Self {
        match t {
            MetricType::Bool => CelType::Bool,
            MetricType::Int => CelType::Int,
            MetricType::Double => CelType::Double,
            MetricType::String => CelType::String,
            MetricType::Timestamp => CelType::Timestamp,
            MetricType::TimestampOrNull => CelType::TimestampOrNull,
            MetricType::StringList => CelType::StringList,
        }
    }
}

impl From<MetricInfo> for CatalogMetric {
    fn from(m: MetricInfo) -> Self {
        CatalogMetric {
            name: m.name,
            cel_type: m.cel_type.into(),
            registry: m.registry,
            ttl_secs: m.ttl_secs,
            description: m.description,
            when_not_found: m.when_not_found,
            enabled: m.enabled,
        }
    }
}

/// `GET /healthz`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: String,
}

/// `GET /readyz`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// Every configured registry is ready, and the server is not saturated.
    pub ready: bool,
    /// Every evaluation slot is taken by an evaluation that has run longer than
    /// `request_timeout_secs`: new requests could only wait.
    pub saturated: bool,
    /// Each registry of the catalog.
    pub registries: Vec<RegistryReadiness>,
}

/// Whether one registry can be used now.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RegistryReadiness {
    /// The registry.
    pub registry: String,
    /// A data source is configured.
    pub configured: bool,
    /// Configured, a token could be obtained, breaker not open.
    pub ready: bool,
    /// The circuit breaker (configured registries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker: Option<Breaker>,
    /// What is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// A circuit breaker's state.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Breaker {
    /// Requests flow.
    Closed,
    /// Requests are refused until the cool-down ends.
    Open,
    /// One probe is in flight.
    HalfOpen,
}

impl From<BreakerState> for Breaker {
    fn from(state: BreakerState) -> Self {
        match state {
            BreakerState::Closed => Breaker::Closed,
            BreakerState::Open => Breaker::Open,
            BreakerState::HalfOpen => Breaker::HalfOpen,
        }
    }
}
