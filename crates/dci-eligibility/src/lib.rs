#![doc = include_str!("../README.md")]

mod batch;
mod beneficiary;
mod bind;
mod compile;
mod config;
mod cost;
mod diagnostic;
mod dialect;
pub mod diff;
mod evaluate;
mod explain;
mod functions;
pub mod io;
mod known;
mod logic;
mod macros;
mod meter;
mod metered;
mod native;
pub mod pool;
mod registry_path;
mod report;
pub mod stream;
mod syntax;
mod table;
pub mod testing;
mod unknown;
mod validate;

pub use batch::{Engine, EvaluationOptions};
pub use beneficiary::{Beneficiary, BeneficiaryError, MAX_ID_BYTES, MAX_IDENTIFIERS, MAX_MEMBERS};
pub use compile::{
    Clause, Compiler, DEFAULT_MAX_DEPTH, Demand, INLINE_PARSE_BYTES, Level, Limits, MAX_DIAGNOSTICS,
    MAX_RULE_NAME_BYTES, MetricUse, Rule, RuleError,
};
pub use config::{EngineConfig, EngineError};
pub use cost::{BYTES_PER_STEP, Estimate};
pub use diagnostic::{PREVIEW_CHARS, RuleDiagnostic, Severity, preview};
pub use evaluate::MAX_SHOWN_VALUE_BYTES;
pub use functions::{whole_months, whole_years};
pub use known::{function_names, method_names};
pub use meter::{Cancellation, LaneChange};
pub use report::{
    BatchResult, BatchStats, ClauseResult, Decision, Explanation, ItemResult, MetricTrace, Missing, Outcome,
    RegistryUse, RuleCounts, Timings, TraceSource,
};
pub use validate::{NeededMetric, Validation};
