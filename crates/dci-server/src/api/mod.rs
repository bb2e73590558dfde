//! The API's request and response bodies, with their OpenAPI schemas.

mod request;
mod response;

pub use request::{Beneficiary, EvaluateOptions, EvaluateRequest, Identifier, Member, RuleSet, ValidateRequest};
pub(crate) use request::{Count, EvaluateBody};
pub use response::{
    Breaker, CatalogMetric, CatalogResponse, CelType, ClauseValue, Decision, Diagnostic, EvaluateResponse,
    EvaluatedItem, Health, InvalidItem, ItemError, Level, MissingValue, NeededMetric, Outcome, Readiness,
    RegistryDemand, RegistryReadiness, RegistrySummary, ResultItem, RuleSummary, RuleValidation, Severity, Span,
    Summary, SummaryLine, Timings, UnknownCause, ValidateResponse,
};
