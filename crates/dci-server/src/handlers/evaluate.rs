//! `POST /v1/evaluate`: JSON in, JSON out; or NDJSON streamed both ways (see [`super::ndjson`]).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use dci_eligibility::io::{Format, Writer};
use dci_eligibility::{Beneficiary, BeneficiaryError, Compiler, EvaluationOptions};
use rayon::prelude::*;
use serde_json::json;
use serde_json::value::RawValue;

use crate::access::Scope;
use crate::api::{Count, EvaluateBody, Summary};
use crate::body::{Media, media, whole_body};
use crate::config::ServerLimits;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::handlers::{Asker, CancelOnDrop, check_explained, check_members, prepare, read_object, today};
use crate::pool::{Lane, on_pool};
use crate::slots::{Held, Receiving};
use crate::state::AppState;

/// JSON bodies up to this size are read on the interactive pool.
const SMALL_BODY_BYTES: usize = 64 * 1024;

/// A JSON request of an evaluation route: what `prepare` makes of its body (read whole) with the
/// compiler, the limits and today's date, and the lane its cost calls for; then its slot in that
/// lane. `prepare` runs on the pool the body's size calls for, never on a tokio worker.
pub(crate) async fn prepared_in_slot<R: Send + 'static>(
    state: &AppState,
    request: Request,
    prepare: impl FnOnce(&[u8], &Compiler, &ServerLimits, NaiveDate) -> Result<(R, Lane), ApiError> + Send + 'static,
) -> Result<(Arc<Held>, R), ApiError> {
    let (limits, today) = (state.limits().clone(), today());
    let received = request.extensions().get::<Receiving>().cloned();
    let body = whole_body(request, &limits).await?;
    let compiler = state.engine().compiler().clone();
    let (prepared, lane) =
        on_pool(lane_for_body(body.len()), move || prepare(&body, &compiler, &limits, today)).await?;
    let held = state.admit(lane, received).await?;
    Ok((held, prepared))
}

/// Runs an evaluation's `work` in a task of its own that keeps the request's evaluation slot
/// (`held`) until the work is done: when the request ends early (timeout, client gone), `cancel`
/// is set, the work stops within a loop, and only then is the slot free again. Work admitted to
/// the interactive lane that turns out costlier than estimated moves to the bulk pool
/// (`lane_change`): it then takes a bulk slot, as soon as one is free, and gives its interactive
/// one back.
pub(crate) async fn run_in_slot<T: Send + 'static>(
    state: &AppState,
    held: Arc<Held>,
    options: &dci_eligibility::EvaluationOptions,
    work: impl Future<Output = T> + Send + 'static,
) -> Result<T, ApiError> {
    let _cancel_on_drop = CancelOnDrop(options.cancel.clone());
    let (state, lane_change) = (state.clone(), options.lane_change.clone());
    tokio::spawn(async move {
        let mut work = tokio::spawn(work);
        let mut held = held;
        if held.lane == Lane::Interactive {
            tokio::select! {
                out = &mut work => return out,
                () = lane_change.wait() => {}
            }
            // A place in the bulk lane's queue, as soon as there is one, then its slot.
            loop {
                tokio::select! {
                    out = &mut work => return out,
                    bulk = state.slots().move_to_bulk() => match bulk {
                        Some(bulk) => {
                            held = bulk;
                            break;
                        }
                        None => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                    },
                }
            }
        }
        let out = work.await;
        drop(held);
        out
    })
    .await
    .map_err(|_| ApiError::internal("the evaluation failed"))?
    .map_err(|_| ApiError::internal("the evaluation failed"))
}

/// Evaluates rules over beneficiaries.
///
/// JSON (`application/json`): `{rules | rule, as_of?, explain?, beneficiaries: [...]}` →
/// `{results, summary}`, results in request order; a beneficiary that cannot be read gets
/// `{error: {code, message, path}}` in its place and the others are decided.
///
/// NDJSON (`application/x-ndjson`): the first line is `{rules | rule, as_of?, explain?}`, then one
/// beneficiary per line. The response streams one line per beneficiary line, in order (a line
/// that cannot be read gets an error with its `line` number), then `{"summary": {...}}`. Send
/// the body while reading the response: neither side holds the whole batch.
#[utoipa::path(
    post,
    path = "/v1/evaluate",
    tag = "evaluation",
    request_body(
        description = "JSON: the rules and the beneficiaries. NDJSON: the options object on the first line \
                       (`EvaluateOptions`), then one `Beneficiary` per line.",
        content(
            (crate::api::EvaluateRequest = "application/json"),
            (crate::api::EvaluateOptions = "application/x-ndjson"),
        )
    ),
    responses(
        crate::api::WorkErrors,
        (status = 200, description = "Decisions. NDJSON: one `EvaluateLine` per line: a `ResultItem` per \
                                      beneficiary line, in order, then a `SummaryLine` (an `ErrorBody` line \
                                      before it when the input was cut short).",
            content(
                (crate::api::EvaluateResponse = "application/json"),
                (crate::api::EvaluateLine = "application/x-ndjson"),
            )),
        (status = 415, description = "`unsupported_media_type`: send `application/json` or `application/x-ndjson`",
            body = ErrorBody),
        (status = 413, description = "`payload_too_large` or `too_many_beneficiaries` (details: limit, received)",
            body = ErrorBody),
        (status = 422, description = "`invalid_rule` (details: every diagnostic) or `invalid_request` (details: \
                                      field, or line and column)", body = ErrorBody),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn evaluate(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    match media(request.headers())? {
        Media::Json => evaluate_json(state, request).await,
        Media::Ndjson => {
            let received = request.extensions().get::<Receiving>().cloned();
            let asker = Asker::of(&request, "POST /v1/evaluate");
            super::ndjson::evaluate(state, asker, request.into_body(), received).await
        }
    }
}

/// Where a JSON body of `bytes` is read: a small one on the interactive pool, so that it never
/// waits behind a large batch; a large one on the bulk pool, so that it never holds up small ones.
pub(crate) fn lane_for_body(bytes: usize) -> Lane {
    if bytes <= SMALL_BODY_BYTES { Lane::Interactive } else { Lane::Bulk }
}

pub(crate) type Items = Vec<Result<Beneficiary, BeneficiaryError>>;

async fn evaluate_json(state: AppState, request: Request) -> Result<Response, ApiError> {
    let started = Instant::now();
    let asker = Asker::of(&request, "POST /v1/evaluate");
    let caller = asker.caller.clone();
    let (held, (rules, options, items)) = prepared_in_slot(&state, request, move |body, compiler, limits, today| {
        let request: EvaluateBody = read_object(body, 0)?;
        let beneficiaries = request.beneficiaries;
        let (rules, options) = prepare(compiler, request.options(), limits, today)?;
        if options.explain {
            caller.require(Scope::Explain, "`\"explain\": true` (clause values and reasons)")?;
        }
        let options = EvaluationOptions { withhold_values: !caller.may(Scope::Explain), ..options };
        let items = read_beneficiaries(beneficiaries, limits)?;
        if options.explain {
            check_explained(items.len(), &rules, limits)?;
        }
        let lane = Lane::for_rules(&rules, items.iter().filter(|item| item.is_ok()).count());
        Ok(((rules, options, items), lane))
    })
    .await?;
    asker.admit(&state, &rules, options.as_of, items.iter().filter_map(|item| item.as_ref().ok())).await?;
    let engine = state.engine().clone();
    let (work_rules, work_options) = (rules.clone(), options.clone());
    let result =
        run_in_slot(
            &state,
            held,
            &options,
            async move { engine.evaluate_batch(&work_rules, items, &work_options).await },
        )
        .await?;
    state.telemetry().record(&result.stats);
    let as_of = options.as_of;
    let bytes = on_pool(Lane::for_items(result.items.len()), move || {
        let parts: Vec<Vec<u8>> = result
            .items
            .par_chunks(1024)
            .enumerate()
            .map(|(i, part)| Writer::<Vec<u8>>::render(Format::Json, &rules, part, i * 1024))
            .collect();
        let summary = Summary::of_batch(&result.stats, as_of, started.elapsed().as_millis() as u64);
        let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum::<usize>() + 1024);
        out.extend_from_slice(b"{\"results\":[");
        for part in parts {
            out.extend_from_slice(&part);
        }
        out.extend_from_slice(b"\n],\"summary\":");
        let _ = serde_json::to_writer(&mut out, &summary);
        out.extend_from_slice(b"}\n");
        out
    })
    .await;
    Ok(([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], bytes).into_response())
}

/// Reads the beneficiaries: counted first (413 `too_many_beneficiaries` past the limit, before
/// anything is built), then read in parallel, each on its own.
pub(crate) fn read_beneficiaries(raw: &RawValue, limits: &ServerLimits) -> Result<Items, ApiError> {
    let not_a_list = |_| ApiError::invalid("beneficiaries", "beneficiaries must be a list of beneficiary objects");
    let Count(count) = serde_json::from_str(raw.get()).map_err(not_a_list)?;
    if count > limits.max_beneficiaries {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::TooManyBeneficiaries,
            format!(
                "{count} beneficiaries in one request; at most {} (send larger batches as NDJSON, or split them)",
                limits.max_beneficiaries
            ),
        )
        .with_details(json!({"limit": limits.max_beneficiaries, "received": count})));
    }
    let items: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(not_a_list)?;
    let max_members = limits.max_members;
    Ok(items
        .par_iter()
        .enumerate()
        .map(|(index, item)| {
            let at = |path: &str| match path {
                "beneficiary" | "" => format!("beneficiaries[{index}]"),
                path => format!("beneficiaries[{index}].{path}"),
            };
            let read = Beneficiary::from_json_str(item.get()).map_err(|mut error| {
                error.path = at(&error.path);
                error
            });
            check_members(read, max_members, || at("members"))
        })
        .collect())
}
