//! The request head: headers larger than `max_header_bytes` get the JSON 431.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Refuses a request whose headers (names, values and separators) pass
/// `max_header_bytes`: 431 `headers_too_large`. (Past twice that, the
/// connection's reader refuses the head before it reaches any handler.)
pub(crate) async fn bound_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.limits().max_header_bytes;
    let size: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    if size > limit {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::HeadersTooLarge,
            format!("the request's headers are {size} bytes; the limit is {limit} (max_header_bytes)"),
        )
        .into_response();
    }
    next.run(request).await
}
