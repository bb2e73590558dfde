//! The OpenAPI document, generated from the handlers' annotations and the
//! serialized types: the engine's results, statistics, validation reports and
//! catalog entries are described by the types that write them.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;
use crate::config::ServerLimits;
use crate::error::{ErrorBody, ErrorCode, ErrorDetail};
use crate::handlers;

/// The OpenAPI 3 document of the API, with the default limits; `GET /openapi.json` serves
/// [`document`], with the running server's.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "elig",
        description = "Decides who is eligible for social-protection programmes, from CEL rules and DCI registries \
                       (CRVS, IBR, DR). Batch evaluation for OpenSPP: JSON, or NDJSON streamed both ways. \
                       Request limits are the server's configuration (`[server.limits]`): the document served \
                       by a server states its own.",
    ),
    paths(
        handlers::evaluate::evaluate,
        handlers::validate::validate,
        handlers::workbench::explain,
        handlers::workbench::diff,
        handlers::workbench::export_test,
        handlers::workbench::samples,
        handlers::info::access,
        handlers::info::catalog,
        handlers::info::registries,
        handlers::info::jwks,
        handlers::info::health,
        handlers::info::ready,
        handlers::info::prometheus,
        handlers::info::openapi,
    ),
    components(schemas(
        api::EvaluateRequest, api::EvaluateOptions, api::Beneficiary, api::Member, api::Identifier,
        api::EvaluateResponse, api::EvaluateLine, api::SummaryLine, api::Summary,
        api::ValidateRequest, api::ValidateResponse, api::CatalogResponse,
        api::ExplainRequest, api::DiffRequest, api::DiffResponse, api::ExportTestRequest, api::ExportTestResponse,
        api::SamplesResponse,
        api::SampleRule,
        api::Health, api::Readiness, api::RegistriesResponse, api::PublicKeys, dci_client::RegistryCheck, dci_client::CheckStep,
        dci_client::Step, dci_metrics::Readiness, dci_metrics::SharedStatus, dci_metrics::SharedHealth,
        ErrorBody, ErrorDetail, ErrorCode,
    )),
    modifiers(&BearerKey, &AnyRouteErrors),
    tags(
        (name = "evaluation", description = "Rules over beneficiaries"),
        (name = "rules", description = "Rule validation and the metric catalog"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// The document with `limits` in the request schemas.
pub(crate) fn document(limits: &ServerLimits) -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    let components = document.components.get_or_insert_with(Default::default);
    for (name, schema) in api::request_schemas(limits) {
        components.schemas.insert(name.into_owned(), schema);
    }
    document
}

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

/// Adds the errors any route can answer, from layers in front of every handler, and the 401 of
/// every route behind an API key.
struct AnyRouteErrors;

impl Modify for AnyRouteErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let errors = [
            ("400", "`invalid_request`: the request line or a header cannot be read as HTTP/1.1"),
            ("414", "`uri_too_long`: the path and query are longer than 65,534 bytes"),
            ("431", "`headers_too_large`: the request's headers are larger than `max_header_bytes`"),
            ("500", "`internal`: a bug; `X-Request-Id` finds it in the server's log"),
        ];
        let open = crate::routes::open_paths();
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                let keyed = !open.contains(&path.as_str())
                    && operation.security.iter().flatten().any(|requirement| {
                        serde_json::to_value(requirement).is_ok_and(|value| value.get("api_key").is_some())
                    });
                let unauthorized =
                    keyed.then_some(("401", "`unauthorized`: no API key, or not one of `server.api_keys`"));
                for (status, description) in errors.into_iter().chain(unauthorized) {
                    let response = api::error_response(description).build();
                    operation.responses.responses.entry(status.to_owned()).or_insert(response.into());
                }
            }
        }
        // A route that needs a scope answers 403 to a key without it; one that reads registry
        // facts may answer 429 (the key's lookup bound) and 503 (the audit record not written).
        for (method, path, scope) in crate::routes::route_scopes() {
            let Some(scope) = scope.filter(|_| !open.contains(&path)) else { continue };
            let Some(item) = openapi.paths.paths.get_mut(path) else { continue };
            let operation = if method == axum::http::Method::POST { &mut item.post } else { &mut item.get };
            let Some(operation) = operation else { continue };
            let forbidden = format!("`forbidden`: the API key has no `{}` scope", scope.as_str());
            let mut added = vec![("403", forbidden)];
            if scope != crate::access::Scope::Admin && path != "/v1/rules/validate" {
                added.push((
                    "429",
                    "`too_many_lookups`: the key's distinct identifiers this hour would pass its \
                     `max_identifiers_per_hour`; retry after `Retry-After` seconds"
                        .to_owned(),
                ));
            }
            for (status, description) in added {
                let response = api::error_response(&description).build();
                operation.responses.responses.entry(status.to_owned()).or_insert(response.into());
            }
        }
    }
}
