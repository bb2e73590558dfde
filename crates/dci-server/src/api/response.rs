//! Response bodies. Decisions, statistics, validation reports and the metric
//! catalog are the engine's own serialized types (`dci_eligibility`,
//! `dci_metrics`, with their `openapi` feature); the types here are what the
//! server puts around them.

use dci_eligibility::io::ResultJson;
use dci_eligibility::stream::StreamStats;
use dci_eligibility::{BatchStats, Validation};
use dci_metrics::MetricInfo;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ErrorBody;

// The handler writes this body as bytes: the results rendered by `dci_eligibility::io` (each
// a `ResultJson`) on the pool, then the summary serialized. The tests check the bytes against
// this schema.

/// The body of a JSON evaluation.
#[derive(Clone, Debug, ToSchema)]
pub struct EvaluateResponse {
    /// One per beneficiary, in request order.
    pub results: Vec<ResultJson<'static>>,
    /// What the evaluation did.
    pub summary: Summary,
}

/// One line of a streamed (NDJSON) evaluation: a result per beneficiary line, in order; an
/// error when the input was cut short after the stream started; the summary last.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EvaluateLine {
    /// The result of a beneficiary line.
    Result(ResultJson<'static>),
    /// Why the input ended early (the results before it stand).
    Error(ErrorBody),
    /// The last line.
    Summary(SummaryLine),
}

/// The last line of a streamed (NDJSON) evaluation.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SummaryLine {
    /// What the evaluation did.
    pub summary: Summary,
}

/// What an evaluation did: the engine's statistics (a stream's summed over its chunks) and
/// what the server adds.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Summary {
    /// The evaluation date, `YYYY-MM-DD`.
    #[schema(format = Date, example = "2026-01-01")]
    pub as_of: String,
    /// The engine's statistics.
    #[serde(flatten)]
    pub stats: BatchStats,
    /// Messages sent to registries (all registries).
    pub round_trips: u64,
    /// Registry lookups answered by the cache (all registries).
    pub cache_hits: usize,
    /// Chunks evaluated (streamed requests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<usize>,
    /// The request's wall time in milliseconds, reading and writing included.
    pub wall_ms: u64,
}

impl Summary {
    /// The summary of a batch.
    pub fn of_batch(stats: &BatchStats, as_of: chrono::NaiveDate, wall_ms: u64) -> Self {
        Summary {
            as_of: as_of.format("%Y-%m-%d").to_string(),
            round_trips: stats.registries.iter().map(|r| r.fetch.round_trips).sum(),
            cache_hits: stats.registries.iter().map(|r| r.fetch.cache_hits).sum(),
            stats: stats.clone(),
            chunks: None,
            wall_ms,
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
    pub rules: Vec<Validation>,
    /// Every rule is valid.
    pub valid: bool,
}

/// `GET /v1/metrics`: the metric catalog.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CatalogResponse {
    /// Every metric rules can name.
    pub metrics: Vec<MetricInfo>,
    /// Every function a rule can call as `f(...)` (`age_years`, `math.abs`, ...).
    pub functions: Vec<&'static str>,
    /// Every method a rule can call as `x.f(...)` (`exists`, `contains`, ...).
    pub methods: Vec<&'static str>,
}

/// `POST /v1/diff`: what changing a rule does to a list of beneficiaries.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DiffResponse {
    /// The counts, the beneficiaries whose outcome changed and the items that could not be read.
    #[serde(flatten)]
    pub report: dci_eligibility::diff::DiffReport,
    /// What the evaluation did (rules `old` and `new`, decided in one pass).
    pub summary: Summary,
}

/// `POST /v1/rules/export-test`: a rule test file for `elig test`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ExportTestResponse {
    /// The test file (YAML): the rule, the as-of date, the registry values the decisions saw, and one
    /// case per beneficiary expecting the outcome it has now.
    pub yaml: String,
    /// A name to save it under.
    #[schema(example = "rule-test.yaml")]
    pub file_name: String,
    /// Cases in the file.
    pub cases: usize,
}

/// `GET /v1/samples`: example beneficiaries to try rules on.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SamplesResponse {
    /// Where they come from.
    pub source: &'static str,
    /// The beneficiaries, as an evaluation request takes them.
    #[schema(value_type = Vec<crate::api::Beneficiary>)]
    pub beneficiaries: Vec<serde_json::Value>,
    /// The seed rules (`fixtures/rules.toml`), in order.
    pub rules: Vec<SampleRule>,
}

/// A seed rule, by name.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SampleRule {
    /// Its name: `elderly_alive`.
    pub name: String,
    /// The rule.
    pub rule: String,
}

/// `GET /healthz`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: String,
}

/// `GET /v1/registries`: each configured registry's connection check.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RegistriesResponse {
    /// Every registry passed every step.
    pub ok: bool,
    /// How old the checks are, in seconds: they are made at most once per
    /// `registries_check_secs`, and served from the last one in between.
    pub checked_secs_ago: u64,
    /// Each registry's steps, in order, up to the first that failed.
    pub registries: Vec<dci_client::RegistryCheck>,
}

/// `GET /.well-known/jwks.json`: the public keys our requests are signed with.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PublicKeys {
    /// JWKs (RFC 7517): `kty`, `crv`, `x`, `kid`, `alg`, `use`.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}

/// `GET /readyz`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// Every configured registry is ready, and the server is not saturated.
    pub ready: bool,
    /// Every evaluation slot of a lane is taken by an evaluation that has run longer than
    /// `request_timeout_secs`: new requests of that lane could only wait.
    pub saturated: bool,
    /// The evaluation slots of each lane.
    pub lanes: LanesStatus,
    /// Each registry of the catalog.
    pub registries: Vec<dci_metrics::Readiness>,
    /// The shared fact tier (Redis), when one is configured: `degraded` while
    /// it is unreachable, which does not make the server unready (decisions go
    /// on from the in-process cache and the registries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_cache: Option<dci_metrics::SharedStatus>,
}

/// What a lane is doing now, for `/readyz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct LaneStatus {
    /// Evaluations running.
    pub running: usize,
    /// Evaluations waiting for a slot.
    pub waiting: usize,
    /// Slots of the lane.
    pub slots: usize,
    /// Every slot is taken by an evaluation that has run longer than `request_timeout_secs`.
    pub saturated: bool,
}

/// Both lanes, for `/readyz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct LanesStatus {
    /// Small requests: at most 64 evaluations estimated at 100,000 steps in all.
    pub interactive: LaneStatus,
    /// Every other request, and NDJSON streams.
    pub bulk: LaneStatus,
}
