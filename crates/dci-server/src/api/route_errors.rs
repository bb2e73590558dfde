//! The errors a family of routes answers, listed once for the OpenAPI document. A route names
//! its family first in `responses(...)`, then only what it answers differently (its 200, and a
//! 413 or 422 whose details are its own), which replaces the family's line.
//!
//! Errors every route can answer (a request line that is not HTTP, headers too large) and the
//! 401 of every route behind an API key are added to the document by `openapi.rs`.

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{IntoResponses, PartialSchema, ToSchema};

use crate::error::ErrorBody;

/// An `ErrorBody` answer described by `description`.
pub(crate) fn error_response(description: &str) -> ResponseBuilder {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(ErrorBody::name()))).build();
    ResponseBuilder::new().description(description).content("application/json", content)
}

fn listed(errors: &[(&str, &str)]) -> BTreeMap<String, RefOr<Response>> {
    errors
        .iter()
        .map(|(status, description)| ((*status).to_owned(), error_response(description).build().into()))
        .collect()
}

/// The errors of a route that reads a JSON body.
pub struct BodyErrors;

impl IntoResponses for BodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        listed(&[
            ("400", "`malformed_json` (details: line, column) or `invalid_request` (the body cannot be read)"),
            ("408", "`timeout`: the body stopped arriving"),
            ("413", "`payload_too_large`"),
            ("422", "`invalid_request` (details: field, or line and column)"),
            ("504", "`timeout`"),
        ])
    }
}

/// The errors of a route that reads a JSON body and decides beneficiaries in an evaluation
/// slot: those of [`BodyErrors`], a body that is not JSON, and a full queue.
pub struct WorkErrors;

impl IntoResponses for WorkErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = BodyErrors::responses();
        responses.extend(listed(&[("415", "`unsupported_media_type`: send `application/json`")]));
        let retry_after = HeaderBuilder::new().schema(Some(u64::schema())).description(Some("Seconds to wait")).build();
        let overloaded = error_response(
            "`overloaded` (every slot taken) or `audit_unavailable` (the request's audit record could \
                            not be written, so its answer is withheld): retry after `Retry-After` seconds",
        )
        .header("Retry-After", retry_after);
        responses.insert("503".to_owned(), overloaded.build().into());
        responses
    }
}
