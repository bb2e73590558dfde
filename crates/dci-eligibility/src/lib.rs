#![doc = include_str!("../README.md")]
//!
//! # Module map
//!
//! A rule and a list of beneficiaries go through four stages, one folder each:
//!
//! * [`rules`]: a rule's text becomes a [`Rule`]: the dialect's tokens
//!   (`dialect`), the CEL parse with our macros (`cel_macros`), the names
//!   one may call (`callable`), the checks and the demand analysis
//!   (`compile`), the cost estimate (`cost`), and the diagnostics written for
//!   people (`diagnostic`, `syntax`); `validate` answers "is this rule valid,
//!   and what does it read".
//! * [`data`]: beneficiaries are read from JSON lines, arrays or streams
//!   (`io`, `stream`) into [`Beneficiary`] values (`beneficiary`).
//! * [`engine`]: [`Engine`] decides a batch (`batch`): it screens on local
//!   fields, fetches only what is still needed, binds each household's
//!   values (`table`, `bind`), evaluates natively where it can (`native`) and
//!   through CEL otherwise (`evaluate`, with the library of `functions`),
//!   metering every step (`meter`, `metered`) on a bounded pool (`pool`);
//!   `logic` and `unknown` keep unknown values out of definite answers, and
//!   `explain` says why.
//! * [`report`]: what comes out: decisions and batch statistics (`results`),
//!   the comparison of two rules (`diff`), and rule-test files (`rule_tests`).
//!
//! `names` holds what the stages share (the roots a rule reads, the limits,
//! the internal function names); `config` builds an [`Engine`] from
//! `elig.toml`'s sections.

mod config;
pub mod data;
pub mod engine;
mod names;
pub mod report;
pub mod rules;

pub use config::{EngineConfig, EngineError};
pub use data::beneficiary::{Beneficiary, BeneficiaryError, MAX_ID_BYTES, MAX_IDENTIFIERS, MAX_MEMBERS, MemberReading};
pub use data::{io, stream};
pub use engine::batch::{Engine, EvaluationOptions, WITHHELD_ERROR};
pub use engine::evaluate::MAX_SHOWN_VALUE_BYTES;
pub use engine::functions::{whole_months, whole_years};
pub use engine::meter::{Cancellation, LaneChange};
pub use engine::pool;
pub use engine::reason::CLAUSE_WORDS_BYTES;
pub use names::{BYTES_PER_STEP, DEFAULT_MAX_DEPTH, Limits};
pub use report::diff;
pub use report::results::{
    BatchResult, BatchStats, ClauseResult, Decision, Explanation, ItemResult, MetricTrace, Missing, Outcome,
    RegistryUse, RuleCounts, Timings, TraceSource, UsedValue,
};
pub use report::rule_tests;
pub use rules::callable::{function_names, method_names};
pub use rules::compile::{
    Clause, Compiler, Demand, INLINE_PARSE_BYTES, Level, MAX_DIAGNOSTICS, MAX_RULE_NAME_BYTES, MetricUse, Rule,
    RuleError,
};
pub use rules::cost::Estimate;
pub use rules::diagnostic::{PREVIEW_CHARS, RuleDiagnostic, Severity, preview};
pub use rules::field_types::{FieldType, FieldTypes};
pub use rules::validate::{NeededMetric, Validation};
