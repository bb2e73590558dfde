//! The catalog, health, readiness, Prometheus metrics and the OpenAPI document.

use std::time::Duration;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use crate::access::{Caller, Scope};
use crate::api::{CatalogResponse, Health, PublicKeys, Readiness, RegistriesResponse};
use crate::error::ApiError;
use crate::openapi;
use crate::state::AppState;

/// How long the readiness probes (token requests) may take together.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The metric catalog: every `dci.*` metric rules can name, its type, registry, TTL, meaning,
/// value when the person is not in the registry, and whether it is enabled here.
#[utoipa::path(
    get,
    path = "/v1/metrics",
    tag = "rules",
    responses(
        (status = 200, description = "The catalog", body = CatalogResponse),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn catalog(State(state): State<AppState>) -> Json<CatalogResponse> {
    Json(CatalogResponse {
        metrics: state.engine().compiler().catalog().describe(),
        functions: dci_eligibility::function_names(),
        methods: dci_eligibility::method_names(),
    })
}

/// What the API key of the request may do: its name, its scopes and how many distinct
/// identifiers it may look up per hour (0: no bound). The playground shows only what the key may use.
#[utoipa::path(
    get,
    path = "/v1/access",
    tag = "operations",
    responses(
        (status = 200, description = "The key's name, scopes and lookup bound", body = crate::access::Caller),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn access(Extension(caller): Extension<Caller>) -> Json<Caller> {
    Json(caller)
}

/// Each configured registry's connection check, step by step: reach, token, JWKS (when
/// verifying), a probe search, its signature, permission; each with its time, what it saw (the
/// registry's own words on a failure) and a hint. Checked at most once per
/// `registries_check_secs` (default 60), so that registries are never hammered: callers in
/// between get the last check, with its age.
#[utoipa::path(
    get,
    path = "/v1/registries",
    tag = "operations",
    responses(
        (status = 200, description = "The checks (`ok` false when a registry failed a step)", body = RegistriesResponse),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn registries(State(state): State<AppState>) -> Json<RegistriesResponse> {
    let (checks, age) = state.registry_checks().await;
    Json(RegistriesResponse {
        ok: checks.iter().all(dci_client::RegistryCheck::passed),
        checked_secs_ago: age.as_secs(),
        registries: checks.as_ref().clone(),
    })
}

/// The public keys this server's requests to registries are signed with (each `[[registry]]`
/// with `signing`), as a JWKS: what a registry verifies us with. No API key needed: public keys
/// are public.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "operations",
    responses((status = 200, description = "The keys; none when no request is signed", body = PublicKeys)),
    security(())
)]
pub(crate) async fn jwks(State(state): State<AppState>) -> Json<PublicKeys> {
    let keys = state.engine().store().public_keys().keys;
    Json(PublicKeys { keys: keys.iter().filter_map(|key| serde_json::to_value(key).ok()).collect() })
}

/// The process is up. No API key needed.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Up", body = Health)),
    security(())
)]
pub(crate) async fn health() -> Json<Health> {
    Json(Health { status: "ok".to_owned() })
}

/// Whether every configured registry can be used now (a token can be obtained and its circuit
/// breaker is not open), and the server is not saturated (every evaluation slot busy for longer
/// than the request timeout). 200 when ready, 503 (same body) when not. Open, so that probes
/// (Kubernetes, compose, a balancer) need no key: without a key holding `admin`, the body is
/// `{"ready": …}` only; with one, every registry, the lanes and the shared tier, with causes.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Every configured registry is ready (the whole body to an `admin` key, \
                                      else `{\"ready\": true}`)", body = Readiness),
        (status = 503, description = "A configured registry is not ready (the whole body to an `admin` key, \
                                      else `{\"ready\": false}`)", body = Readiness),
    ),
    security((), ("api_key" = []))
)]
pub(crate) async fn ready(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let admin = crate::layers::auth::identify(state.keys(), &headers).is_ok_and(|caller| caller.may(Scope::Admin));
    let lanes = state.slots().status(state.limits().request_timeout());
    let saturated = lanes.interactive.saturated || lanes.bulk.saturated;
    let store = state.engine().store();
    let probes = async { tokio::join!(store.readiness(), store.shared_status()) };
    let body = match tokio::time::timeout(PROBE_TIMEOUT, probes).await {
        Ok((registries, shared_cache)) => Readiness {
            ready: registries.iter().filter(|r| r.configured).all(|r| r.ready),
            saturated,
            lanes,
            registries,
            shared_cache,
        },
        Err(_) => Readiness { ready: false, saturated, lanes, registries: Vec::new(), shared_cache: None },
    };
    let body = Readiness { ready: body.ready && !saturated, ..body };
    let status = if body.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    if !admin {
        return (status, Json(serde_json::json!({ "ready": body.ready }))).into_response();
    }
    (status, Json(body)).into_response()
}

/// Prometheus metrics (OpenMetrics text): requests and latency per route and status, decisions
/// per outcome, registry round trips, items and failures per registry, breaker states, cache
/// size and hit ratio, evaluations running and waiting.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "OpenMetrics text", body = String,
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn prometheus(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state.telemetry().encode().map_err(|_| ApiError::internal("cannot encode the metrics"))?;
    Ok(([(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response())
}

/// This document, with this server's limits in the request schemas.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json"),
    ),
    security(("api_key" = []))
)]
pub(crate) async fn openapi(State(state): State<AppState>) -> Json<utoipa::openapi::OpenApi> {
    Json(openapi::document(state.limits()))
}
