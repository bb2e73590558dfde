//! `POST /v1/rules/validate`.

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use dci_eligibility::Validation;

use crate::api::{RuleValidation, ValidateRequest, ValidateResponse};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::handlers::rule_sources;
use crate::pool::on_pool;
use crate::state::AppState;

/// Compiles rules and reports, per rule, its diagnostics (line, column, code, message, help,
/// caret snippet), the metrics and registries it needs and the fields it reads. Invalid rules
/// are a 200 with `valid: false`, not an error.
#[utoipa::path(
    post,
    path = "/v1/rules/validate",
    tag = "rules",
    request_body = ValidateRequest,
    responses(
        (status = 200, description = "One report per rule", body = ValidateResponse),
        (status = 400, description = "`malformed_json`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 422, description = "`invalid_request`", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn validate(
    State(state): State<AppState>,
    request: Result<Json<ValidateRequest>, JsonRejection>,
) -> Result<Json<ValidateResponse>, ApiError> {
    let Json(request) = request.map_err(json_rejection)?;
    let sources = rule_sources(request.rules, request.rule, state.limits())?;
    let compiler = state.engine().compiler().clone();
    let rules: Vec<RuleValidation> = on_pool(move || {
        sources.iter().map(|(name, source)| RuleValidation::from(&Validation::of(&compiler, name, source))).collect()
    })
    .await;
    let valid = rules.iter().all(|r| r.valid);
    Ok(Json(ValidateResponse { rules, valid }))
}

/// axum's JSON rejections as API errors.
pub(crate) fn json_rejection(rejection: JsonRejection) -> ApiError {
    use std::error::Error;
    match rejection {
        JsonRejection::JsonSyntaxError(_) | JsonRejection::JsonDataError(_) => {
            let mut source: Option<&(dyn Error + 'static)> = Some(&rejection);
            while let Some(error) = source {
                if let Some(json) = error.downcast_ref::<serde_json::Error>() {
                    return ApiError::from_json(json, 0);
                }
                source = error.source();
            }
            ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::MalformedJson, rejection.body_text())
        }
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(rejection) => super::evaluate::body_error(rejection),
        other => ApiError::new(other.status(), ErrorCode::InvalidRequest, other.body_text()),
    }
}
