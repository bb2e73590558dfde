//! The routes, their layers, and the router.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderName, Method, StatusCode};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::routing::{MethodFilter, MethodRouter, on};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::access::Scope::{self, Admin, Evaluate, Explain, Export};
use crate::error;
use crate::handlers;
use crate::layers::{admission, auth, head, panic, telemetry};
use crate::state::AppState;

/// One route: method, path, handler and the policies its layers apply.
struct Route {
    method: Method,
    path: &'static str,
    /// Served without an API key.
    open: bool,
    /// Takes an evaluation slot: its JSON body is received whole first (see [`admission`]).
    evaluation: bool,
    /// The scope a key needs (see [`crate::access`]); `None`: any key.
    scope: Option<Scope>,
    handler: MethodRouter<AppState>,
}

fn route<H: Handler<T, AppState>, T: 'static>(
    method: Method,
    path: &'static str,
    scope: Option<Scope>,
    handler: H,
) -> Route {
    let filter = if method == Method::POST { MethodFilter::POST } else { MethodFilter::GET };
    Route { method, path, open: false, evaluation: false, scope, handler: on(filter, handler) }
}

/// Every route: the single source of both the router and [`routes`].
fn table() -> Vec<Route> {
    vec![
        Route { evaluation: true, ..route(Method::POST, "/v1/evaluate", Some(Evaluate), handlers::evaluate::evaluate) },
        route(Method::POST, "/v1/rules/validate", Some(Evaluate), handlers::validate::validate),
        Route { evaluation: true, ..route(Method::POST, "/v1/explain", Some(Explain), handlers::workbench::explain) },
        Route { evaluation: true, ..route(Method::POST, "/v1/diff", Some(Explain), handlers::workbench::diff) },
        Route {
            evaluation: true,
            ..route(Method::POST, "/v1/rules/export-test", Some(Export), handlers::workbench::export_test)
        },
        route(Method::GET, "/v1/samples", None, handlers::workbench::samples),
        route(Method::GET, "/v1/metrics", None, handlers::info::catalog),
        route(Method::GET, "/v1/access", None, handlers::info::access),
        route(Method::GET, "/v1/registries", Some(Admin), handlers::info::registries),
        Route { open: true, ..route(Method::GET, "/healthz", None, handlers::info::health) },
        Route { open: true, ..route(Method::GET, "/.well-known/jwks.json", None, handlers::info::jwks) },
        // Open for probes: its details need `admin` (see the handler).
        Route { open: true, ..route(Method::GET, "/readyz", Some(Admin), handlers::info::ready) },
        route(Method::GET, "/metrics", Some(Admin), handlers::info::prometheus),
        route(Method::GET, "/openapi.json", None, handlers::info::openapi),
    ]
}

/// The playground page and its assets: open, and not part of the API (nor of its document).
fn pages() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/", axum::routing::get(handlers::playground::home)),
        ("/playground", axum::routing::get(handlers::playground::page)),
        ("/playground/", axum::routing::get(handlers::playground::home)),
        ("/playground/app.js", axum::routing::get(handlers::playground::script)),
        ("/playground/app.css", axum::routing::get(handlers::playground::style)),
    ]
}

/// The served API routes, as `(method, path)`: what the OpenAPI document must describe.
pub fn routes() -> Vec<(Method, &'static str)> {
    table().into_iter().map(|r| (r.method, r.path)).collect()
}

/// The scope each route needs (`None`: any key, or none for an open route).
pub fn route_scopes() -> Vec<(Method, &'static str, Option<Scope>)> {
    table().into_iter().map(|r| (r.method, r.path, r.scope)).collect()
}

/// The paths served without an API key (`/healthz`, our public keys).
pub fn open_paths() -> Vec<&'static str> {
    table().into_iter().filter(|r| r.open).map(|r| r.path).collect()
}

/// The HTTP API over `state`, with every layer: request ids (accepting `X-Request-Id`, else
/// generating one, echoed in the response), tracing, CORS (when origins are configured), JSON
/// errors, Prometheus telemetry, panic catching, the request timeout, the body idle timeout,
/// the body limit; per route, API keys and evaluation slots.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for spec in table() {
        let mut handler = spec.handler;
        if spec.evaluation {
            handler = handler.route_layer(from_fn_with_state(state.clone(), admission::receive));
        }
        if !spec.open {
            let scope = spec.scope;
            handler = handler.route_layer(from_fn_with_state(
                state.clone(),
                move |State(state): State<AppState>, request: Request, next: Next| {
                    auth::authenticate(state, scope, request, next)
                },
            ));
        }
        router = router.route(spec.path, handler);
    }
    for (path, handler) in pages() {
        router = router.route(path, handler);
    }
    let limits = state.limits();
    let timeout = Duration::from_secs(limits.request_timeout_secs);
    let body_idle = Duration::from_secs(limits.body_idle_timeout_secs.min(limits.request_timeout_secs));
    // Without a key, an unknown route or a wrong method is 401 like any protected route:
    // which routes exist is not told to callers without a key.
    let authenticated = || from_fn_with_state(state.clone(), auth::any_key);
    let router = router
        .fallback(error::not_found.layer(authenticated()))
        .method_not_allowed_fallback(error::method_not_allowed.layer(authenticated()))
        .layer(from_fn_with_state(state.clone(), head::bound_headers))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(RequestBodyTimeoutLayer::new(body_idle))
        .layer(TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, timeout))
        .layer(from_fn(panic::catch_panic))
        .layer(from_fn_with_state(state.clone(), telemetry::observe))
        .layer(from_fn(error::json_errors));
    let router = match cors(&state) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    let request_id = HeaderName::from_static("x-request-id");
    router
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &axum::http::Request<axum::body::Body>| {
                    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    // `key`: the API key's name, once the auth layer knows it (never the key).
                    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id, key = tracing::field::Empty)
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

fn cors(state: &AppState) -> Option<CorsLayer> {
    let origins = state.cors_origins();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([AUTHORIZATION, CONTENT_TYPE, HeaderName::from_static("x-request-id")])
            .expose_headers([HeaderName::from_static("x-request-id")]),
    )
}
