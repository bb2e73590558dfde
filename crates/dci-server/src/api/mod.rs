//! The API's request and response bodies, with their OpenAPI schemas.

mod accepted;
mod request;
mod response;

pub(crate) use accepted::with_limits as request_schemas;
pub use request::{
    Beneficiary, DiffRequest, EvaluateOptions, EvaluateRequest, ExplainRequest, ExportTestRequest, Identifier, Member,
    RuleSet, ValidateRequest,
};
pub(crate) use request::{Count, DiffBody, EvaluateBody, ExplainBody, ExportTestBody};
pub use response::{
    CatalogResponse, DiffResponse, EvaluateLine, EvaluateResponse, ExportTestResponse, Health, LaneStatus, LanesStatus,
    PublicKeys, Readiness, RegistriesResponse, SamplesResponse, Summary, SummaryLine, ValidateResponse,
};
