//! The API's request and response bodies, with their OpenAPI schemas.

mod request;
mod response;
mod route_errors;
mod schema;

pub(crate) use request::with_limits as request_schemas;
pub(crate) use request::{Count, DiffBody, EvaluateBody, ExplainBody, ExportTestBody};
pub use request::{
    DiffRequest, EvaluateOptions, EvaluateRequest, ExplainRequest, ExportTestRequest, RuleSet, ValidateRequest,
};
pub use response::{
    CatalogResponse, DiffResponse, EvaluateLine, EvaluateResponse, ExportTestResponse, Health, LaneStatus, LanesStatus,
    PublicKeys, Readiness, RegistriesResponse, SampleRule, SamplesResponse, Summary, SummaryLine, ValidateResponse,
};
pub(crate) use route_errors::error_response;
pub use route_errors::{BodyErrors, WorkErrors};
pub use schema::{Beneficiary, Identifier, Member};
