//! The API's request and response bodies, with their OpenAPI schemas.

mod accepted;
mod request;
mod response;

pub(crate) use accepted::with_limits as request_schemas;
pub use request::{Beneficiary, EvaluateOptions, EvaluateRequest, Identifier, Member, RuleSet, ValidateRequest};
pub(crate) use request::{Count, EvaluateBody};
pub use response::{
    CatalogResponse, EvaluateLine, EvaluateResponse, Health, Readiness, Summary, SummaryLine, ValidateResponse,
};
