//! The OpenAPI document, generated from the handlers' annotations and the API types.

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::api;
use crate::error::{ErrorBody, ErrorCode, ErrorDetail};
use crate::handlers;

/// The OpenAPI 3 document of the API (`GET /openapi.json`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "elig",
        description = "Decides who is eligible for social-protection programmes, from CEL rules and DCI registries \
                       (CRVS, IBR, DR). Batch evaluation for OpenSPP: JSON, or NDJSON streamed both ways.",
    ),
    paths(
        handlers::evaluate::evaluate,
        handlers::validate::validate,
        handlers::info::catalog,
        handlers::info::health,
        handlers::info::ready,
        handlers::info::prometheus,
        handlers::info::openapi,
    ),
    components(schemas(
        api::EvaluateRequest, api::EvaluateOptions, api::Beneficiary, api::Member, api::Identifier,
        api::EvaluateResponse, api::ResultItem, api::EvaluatedItem, api::InvalidItem, api::ItemError,
        api::Decision, api::Outcome, api::MissingValue, api::UnknownCause, api::ClauseValue,
        api::Summary, api::SummaryLine, api::RuleSummary, api::RegistrySummary, api::Timings,
        api::ValidateRequest, api::ValidateResponse, api::RuleValidation, api::Diagnostic, api::Span,
        api::Severity, api::NeededMetric, api::Level, api::RegistryDemand,
        api::CatalogResponse, api::CatalogMetric, api::CelType,
        api::Health, api::Readiness, api::RegistryReadiness, api::Breaker,
        ErrorBody, ErrorDetail, ErrorCode,
    )),
    modifiers(&BearerKey),
    tags(
        (name = "evaluation", description = "Rules over beneficiaries"),
        (name = "rules", description = "Rule validation and the metric catalog"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// Declares the `api_key` bearer scheme.
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key from the server's `server.api_keys`"))
                    .build(),
            ),
        );
    }
}
