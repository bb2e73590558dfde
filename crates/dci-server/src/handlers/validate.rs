//! `POST /v1/rules/validate`.

use axum::Json;
use axum::extract::{Request, State};
use dci_eligibility::{FieldTypes, Validation};

use crate::api::{ValidateRequest, ValidateResponse};
use crate::body::whole_body;
use crate::error::ApiError;
use crate::handlers::{read_object, rule_sources};
use crate::pool::{Lane, on_pool};
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
        crate::api::BodyErrors,
        (status = 200, description = "One report per rule", body = ValidateResponse),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn validate(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<ValidateResponse>, ApiError> {
    let limits = state.limits().clone();
    let body = whole_body(request, &limits).await?;
    let compiler = state.engine().compiler().clone();
    let rules: Vec<Validation> = on_pool(Lane::Interactive, move || -> Result<_, ApiError> {
        let request: ValidateRequest = read_object(&body, 0)?;
        let sources = rule_sources(request.rules, request.rule, &limits)?;
        let compiler = match &request.data {
            Some(samples) if samples.len() > limits.max_beneficiaries => {
                let message = format!("{} sample beneficiaries; at most {}", samples.len(), limits.max_beneficiaries);
                return Err(ApiError::invalid("data", message));
            }
            Some(samples) => {
                let declared = compiler.field_types().cloned().unwrap_or_default();
                compiler.with_field_types(FieldTypes::from_samples(samples).overridden_by(&declared))
            }
            None => compiler,
        };
        Ok(sources.iter().map(|(name, source)| Validation::of(&compiler, name, source)).collect())
    })
    .await?;
    let valid = rules.iter().all(|r| r.valid);
    Ok(Json(ValidateResponse { rules, valid }))
}
