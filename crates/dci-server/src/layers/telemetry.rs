//! Counts each request and its time to the response head, by matched route
//! and status (the metrics themselves: `crate::telemetry`).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// Counts the request and its time to the response head, by matched route.
pub(crate) async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    state.telemetry().request(method, route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}
