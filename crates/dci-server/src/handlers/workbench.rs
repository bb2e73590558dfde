//! The rule authors' workbench: one decision explained, the impact of a rule
//! change, a rule test file made from decisions, and sample beneficiaries.

use std::time::Instant;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use dci_eligibility::diff::{DiffEntry, DiffReport};
use dci_eligibility::{Beneficiary, Compiler, EvaluationOptions, Explanation, Rule};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::api::{
    Count, DiffBody, DiffResponse, ExplainBody, ExportTestBody, ExportTestResponse, SampleRule, SamplesResponse,
    Summary,
};
use crate::body::{Media, media};
use crate::config::ServerLimits;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::handlers::evaluate::{prepared_in_slot, read_beneficiaries, run_in_slot};
use crate::handlers::{Asker, as_of, check_explained, check_members, compile, read_object};
use crate::pool::{Lane, on_pool};
use crate::state::AppState;

/// The sample beneficiaries: the committed fixture.
pub const SAMPLE_BENEFICIARIES: &str = include_str!("../../../../fixtures/beneficiaries.ndjson");

/// The seed rules, by name, the workbench offers as examples.
const SAMPLE_RULES: &str = include_str!("../../../../fixtures/rules.toml");

/// The seed rules in their file's order: `name = "expression"` under `[rules]`.
fn sample_rules() -> Vec<SampleRule> {
    let table: toml::Table = toml::from_str(SAMPLE_RULES).unwrap_or_default();
    let Some(toml::Value::Table(rules)) = table.get("rules") else { return Vec::new() };
    rules
        .iter()
        .filter_map(|(name, rule)| Some(SampleRule { name: name.clone(), rule: rule.as_str()?.to_owned() }))
        .collect()
}

/// Explains one rule for one beneficiary: each top-level clause's value, and every metric the
/// rule reads, per person, with its value and where it came from (registry, cache, or unknown
/// and why).
#[utoipa::path(
    post,
    path = "/v1/explain",
    tag = "rules",
    request_body = crate::api::ExplainRequest,
    responses(
        crate::api::WorkErrors,
        (status = 200, description = "The decision explained", body = Explanation),
        (status = 422, description = "`invalid_rule` (details: every diagnostic) or `invalid_request` (details: \
                                      field; a beneficiary that cannot be read names its field)", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn explain(State(state): State<AppState>, request: Request) -> Result<Json<Explanation>, ApiError> {
    require_json(&request)?;
    let asker = Asker::of(&request, "POST /v1/explain");
    let (held, (rule, as_of, beneficiary)) = prepared_in_slot(&state, request, |body, compiler, limits, today| {
        let request: ExplainBody = read_object(body, 0)?;
        let rule = compile_one(compiler, "rule", request.rule)?;
        let as_of = as_of(request.as_of.as_deref(), today)?;
        let beneficiary = read_one(request.beneficiary, "beneficiary", limits)?;
        let lane = Lane::for_rules(std::slice::from_ref(&rule), 1);
        Ok(((rule, as_of, beneficiary), lane))
    })
    .await?;
    asker.admit(&state, std::slice::from_ref(&rule), as_of, std::iter::once(&beneficiary)).await?;
    let options = EvaluationOptions::new(as_of);
    let engine = state.engine().clone();
    let work_rule = rule.clone();
    let explanation = run_in_slot(&state, held, &options.clone(), async move {
        engine.explain_all(&work_rule, vec![beneficiary], &options).await.into_iter().next()
    })
    .await?
    .ok_or_else(|| ApiError::internal("the explanation failed"))?;
    state.telemetry().record(&explanation.stats);
    Ok(Json(explanation))
}

/// Decides an old and a new rule for the same beneficiaries in one pass (a registry fact fetched
/// for one serves the other) and reports what changes: how many gain and lose eligibility, how
/// many become or stop being undetermined, and each beneficiary whose outcome changed with the
/// clause values that differ.
#[utoipa::path(
    post,
    path = "/v1/diff",
    tag = "rules",
    request_body = crate::api::DiffRequest,
    responses(
        crate::api::WorkErrors,
        (status = 200, description = "The impact of the change", body = DiffResponse),
        (status = 413, description = "`payload_too_large` or `too_many_beneficiaries` (details: limit, received)",
            body = ErrorBody),
        (status = 422, description = "`invalid_rule` (details: every diagnostic, per rule `old` or `new`) or \
                                      `invalid_request` (details: field)", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn diff(State(state): State<AppState>, request: Request) -> Result<Json<DiffResponse>, ApiError> {
    let started = Instant::now();
    require_json(&request)?;
    let asker = Asker::of(&request, "POST /v1/diff");
    let (held, (rules, as_of, items)) = prepared_in_slot(&state, request, |body, compiler, limits, today| {
        let request: DiffBody = read_object(body, 0)?;
        let sources = [("old".to_owned(), request.old), ("new".to_owned(), request.new)];
        let rules = compile(compiler, &sources)?;
        let as_of = as_of(request.as_of.as_deref(), today)?;
        let items = read_beneficiaries(request.beneficiaries, limits)?;
        check_explained(items.len(), &rules, limits)?;
        let lane = Lane::for_rules(&rules, items.iter().filter(|item| item.is_ok()).count());
        Ok(((rules, as_of, items), lane))
    })
    .await?;
    asker.admit(&state, &rules, as_of, items.iter().filter_map(|item| item.as_ref().ok())).await?;
    let options = EvaluationOptions { explain: true, ..EvaluationOptions::new(as_of) };
    let engine = state.engine().clone();
    let work_rules = rules.clone();
    let result = run_in_slot(&state, held, &options.clone(), async move {
        engine.evaluate_batch(&work_rules, items, &options).await
    })
    .await?;
    state.telemetry().record(&result.stats);
    let stats = result.stats;
    let report = on_pool(Lane::for_items(result.items.len()), move || {
        let mut report = DiffReport::default();
        for (index, item) in result.items.into_iter().enumerate() {
            report.add(DiffEntry::of(index, item));
        }
        report
    })
    .await;
    let summary = Summary::of_batch(&stats, as_of, started.elapsed().as_millis() as u64);
    Ok(Json(DiffResponse { report, summary }))
}

/// Makes an `elig test` file of a rule, a date and beneficiaries: one case per beneficiary,
/// expecting the outcome it has now (and its missing values or error), with the registry values
/// the decisions saw, so that the test needs no registry.
#[utoipa::path(
    post,
    path = "/v1/rules/export-test",
    tag = "rules",
    request_body = crate::api::ExportTestRequest,
    responses(
        crate::api::WorkErrors,
        (status = 200, description = "The test file", body = ExportTestResponse),
        (status = 413, description = "`payload_too_large` or `too_many_beneficiaries` (details: limit, received)",
            body = ErrorBody),
        (status = 422, description = "`invalid_rule` (details: every diagnostic) or `invalid_request` (details: \
                                      field; a beneficiary that cannot be read names it)", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn export_test(
    State(state): State<AppState>,
    request: Request,
) -> Result<Json<ExportTestResponse>, ApiError> {
    require_json(&request)?;
    let asker = Asker::of(&request, "POST /v1/rules/export-test");
    let (held, (rule, source, name, as_of, people)) =
        prepared_in_slot(&state, request, |body, compiler, limits, today| {
            let request: ExportTestBody = read_object(body, 0)?;
            let source = request.rule.clone();
            let rule = compile_one(compiler, "rule", request.rule)?;
            let as_of = as_of(request.as_of.as_deref(), today)?;
            let people = read_cases(request.beneficiaries, limits)?;
            check_explained(people.len(), std::slice::from_ref(&rule), limits)?;
            let lane = Lane::for_rules(std::slice::from_ref(&rule), people.len());
            Ok(((rule, source, request.name, as_of, people), lane))
        })
        .await?;
    // All cases decided in one batch, stopped when the request ends early.
    let options = EvaluationOptions::new(as_of);
    let engine = state.engine().clone();
    let (data, beneficiaries): (Vec<Value>, Vec<Beneficiary>) = people.into_iter().unzip();
    asker.admit(&state, std::slice::from_ref(&rule), as_of, beneficiaries.iter()).await?;
    let work_rule = rule.clone();
    let explanations = run_in_slot(&state, held, &options.clone(), async move {
        engine.explain_all(&work_rule, beneficiaries, &options).await
    })
    .await?;
    if let Some(first) = explanations.first() {
        state.telemetry().record(&first.stats);
    }
    let explained: Vec<(Value, Explanation)> = data.into_iter().zip(explanations).collect();
    let file = dci_eligibility::rule_tests::replay_file(name, &source, as_of, &explained);
    let yaml = serde_norway::to_string(&file).map_err(|_| ApiError::internal("the test file could not be written"))?;
    Ok(Json(ExportTestResponse { yaml, file_name: "rule-test.yaml".to_owned(), cases: file.cases.len() }))
}

/// Examples to try: the committed fixture's households, and the seed rules by name.
#[utoipa::path(
    get,
    path = "/v1/samples",
    tag = "rules",
    responses(
        (status = 200, description = "The sample beneficiaries and rules", body = SamplesResponse),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn samples() -> Json<SamplesResponse> {
    let beneficiaries = SAMPLE_BENEFICIARIES
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter_map(|line| serde_json::from_str(line).ok());
    Json(SamplesResponse {
        source: "the committed fixture (fixtures/beneficiaries.ndjson)",
        beneficiaries: beneficiaries.collect(),
        rules: sample_rules(),
    })
}

/// Refuses a body that is not `application/json` (415), as `/v1/evaluate` refuses other types.
fn require_json(request: &Request) -> Result<(), ApiError> {
    match media(request.headers()) {
        Ok(Media::Json) => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send the request as one JSON object, with Content-Type: application/json",
        )),
    }
}

fn compile_one(compiler: &Compiler, name: &str, source: String) -> Result<Rule, ApiError> {
    let sources = [(name.to_owned(), source)];
    let rules = compile(compiler, &sources)?;
    rules.into_iter().next().ok_or_else(|| ApiError::internal("a compiled rule went missing"))
}

/// One beneficiary read from `raw`: 422 `invalid_request` naming `field` and the field within.
fn read_one(raw: &RawValue, field: &str, limits: &ServerLimits) -> Result<Beneficiary, ApiError> {
    let at = |path: &str| match path {
        "beneficiary" | "" => field.to_owned(),
        path => format!("{field}.{path}"),
    };
    let read = Beneficiary::from_json_str(raw.get()).map_err(|mut error| {
        error.path = at(&error.path);
        error
    });
    check_members(read, limits.max_members, || at("members"))
        .map_err(|error| ApiError::invalid(&error.path.clone(), error.to_string()))
}

/// The beneficiaries of an export, each as given and as read: at least one, at most
/// [`ServerLimits::export_cases`]; one that cannot be read is 422 naming it.
fn read_cases(raw: &RawValue, limits: &ServerLimits) -> Result<Vec<(Value, Beneficiary)>, ApiError> {
    let not_a_list = |_| ApiError::invalid("beneficiaries", "beneficiaries must be a list of beneficiary objects");
    // Counted before anything is kept.
    let Count(count) = serde_json::from_str(raw.get()).map_err(not_a_list)?;
    let limit = limits.export_cases();
    if count > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooManyBeneficiaries,
            format!("{count} beneficiaries; a test file is made of at most {limit}"),
        )
        .with_details(json!({"limit": limit, "received": count})));
    }
    let items: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(not_a_list)?;
    if items.is_empty() {
        return Err(ApiError::invalid("beneficiaries", "no beneficiaries: give at least one"));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            let beneficiary = read_one(raw, &format!("beneficiaries[{index}]"), limits)?;
            let data: Value = serde_json::from_str(raw.get())
                .map_err(|e| ApiError::invalid(&format!("beneficiaries[{index}]"), e.to_string()))?;
            Ok((data, beneficiary))
        })
        .collect()
}
