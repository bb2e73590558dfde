//! Request bodies: their media type, and reading them whole within the
//! limits, once (the admission layer reads a JSON body before the handler,
//! which then takes what was read).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};

use crate::config::ServerLimits;
use crate::error::{ApiError, ErrorCode};

/// A body already read whole by the admission layer, kept in the request's
/// extensions so that the handler does not read it again.
#[derive(Clone)]
pub(crate) struct ReceivedBody(pub(crate) Bytes);

/// A request's body, read whole (once: what the admission layer read is taken, see [`ReceivedBody`]): at most `max_body_bytes` (413), no pause longer than
/// `body_idle_timeout_secs` and no longer than `body_read_timeout_secs` in all (408).
pub(crate) async fn whole_body(request: Request, limits: &ServerLimits) -> Result<Bytes, ApiError> {
    if let Some(ReceivedBody(bytes)) = request.extensions().get::<ReceivedBody>() {
        return Ok(bytes.clone());
    }
    let allowed = limits.body_read_timeout_secs.min(limits.request_timeout_secs);
    match tokio::time::timeout(Duration::from_secs(allowed), Bytes::from_request(request, &())).await {
        Ok(body) => body.map_err(body_error),
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::Timeout,
            format!("the request body took longer than {allowed} s to arrive (body_read_timeout_secs)"),
        )),
    }
}

/// The request's body format.
pub(crate) enum Media {
    Json,
    Ndjson,
}

pub(crate) fn media(headers: &HeaderMap) -> Result<Media, ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "no Content-Type: send application/json (one request object) or application/x-ndjson (options line, \
             then one beneficiary per line)",
        ));
    };
    let essence = value.to_str().unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(Media::Json),
        "application/x-ndjson" | "application/jsonl" | "application/json-lines" => Ok(Media::Ndjson),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            format!(
                "Content-Type {other:?}: send application/json (one request object) or application/x-ndjson (options line, then one beneficiary per line)"
            ),
        )),
    }
}

/// A body that could not be read: 413 `payload_too_large` over the limit, 408 `timeout` when it
/// stalled, else 400 `invalid_request`.
pub(crate) fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "the request body is larger than the server's limit (max_body_bytes); send large batches as NDJSON",
        );
    }
    if is_timeout(&rejection) {
        return ApiError::new(StatusCode::REQUEST_TIMEOUT, ErrorCode::Timeout, "the request body stopped arriving");
    }
    ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidRequest, format!("cannot read the body: {rejection}"))
}

/// Whether an error (or one of its sources) is a body timeout.
pub(crate) fn is_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        current = error.source();
    }
    false
}
