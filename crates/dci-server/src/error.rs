//! Errors: [`ServerError`] (the server cannot start) and [`ApiError`] (a
//! request failed), always answered as JSON `{error: {code, message, details?}}`
//! with a stable [`ErrorCode`].

use std::net::SocketAddr;

use axum::extract::Request;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The engine could not be built from the configuration.
    #[error("engine: {0}")]
    Engine(#[from] dci_eligibility::EngineError),
    /// No API key is configured and `allow_unauthenticated` is not set.
    #[error(
        "no API keys configured: set server.api_keys (e.g. [{{ env = \"ELIG_API_KEY\", scopes = [\"evaluate\"] }}]), or set server.allow_unauthenticated = true to serve without authentication"
    )]
    NoApiKeys,
    /// An API key could not be read (its environment variable is unset, it has no scopes).
    #[error("{0}")]
    ApiKey(String),
    /// A configuration value is invalid.
    #[error("server configuration: {0}")]
    Config(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// The stable error codes of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body is not valid JSON (details: `line`, `column`).
    MalformedJson,
    /// 400 or 422: the request is well-formed JSON but not a valid request (wrong field types,
    /// missing fields, bad `as_of`, too many rules).
    InvalidRequest,
    /// 401: no API key, or not a valid one.
    Unauthorized,
    /// 403: the API key lacks the scope the route or option needs (details: `scope`, `key`).
    Forbidden,
    /// 429: the API key has looked up as many distinct identifiers as it may this hour (details:
    /// `limit`, `key`); retry after `Retry-After` seconds.
    TooManyLookups,
    /// 503: the audit record of a request that reads registry facts could not be written, so
    /// the answer is withheld.
    AuditUnavailable,
    /// 404: no such route.
    NotFound,
    /// 405: the route does not accept this method.
    MethodNotAllowed,
    /// 413: the body is larger than `max_body_bytes`.
    PayloadTooLarge,
    /// 415: the body is neither `application/json` nor `application/x-ndjson`, or has no
    /// `Content-Type`.
    UnsupportedMediaType,
    /// 431: the request's headers are larger than `max_header_bytes`.
    HeadersTooLarge,
    /// 414: the request's path and query are longer than 65,534 bytes.
    UriTooLong,
    /// 422: a rule does not compile (details: every diagnostic).
    InvalidRule,
    /// 413: more beneficiaries than `max_beneficiaries` in one JSON request.
    TooManyBeneficiaries,
    /// 503: every evaluation slot and queue place is taken; retry after `Retry-After` seconds.
    Overloaded,
    /// 504: the request took longer than `request_timeout_secs`.
    Timeout,
    /// 500: a bug; the request id in `X-Request-Id` finds it in the logs.
    Internal,
}

impl ErrorCode {
    /// The snake_case code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::TooManyLookups => "too_many_lookups",
            ErrorCode::AuditUnavailable => "audit_unavailable",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::HeadersTooLarge => "headers_too_large",
            ErrorCode::UriTooLong => "uri_too_long",
            ErrorCode::InvalidRule => "invalid_rule",
            ErrorCode::TooManyBeneficiaries => "too_many_beneficiaries",
            ErrorCode::Overloaded => "overloaded",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Internal => "internal",
        }
    }

    /// The code an error response of `status` gets when nothing more precise is known.
    fn of_status(status: StatusCode) -> ErrorCode {
        match status {
            StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => ErrorCode::Timeout,
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => ErrorCode::Overloaded,
            status if status.is_client_error() => ErrorCode::InvalidRequest,
            _ => ErrorCode::Internal,
        }
    }
}

/// The body of every error response.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error: a stable code, a message for people, and details for programs.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// The stable code.
    pub code: ErrorCode,
    /// What went wrong.
    pub message: String,
    /// More, by code: `line` and `column` (malformed JSON), `field`, `rules` (invalid rules with their
    /// diagnostics), `limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// A failed request, answered as JSON.
#[derive(Clone, Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: ErrorDetail,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            detail: ErrorDetail { code, message: message.into(), details: None },
            retry_after_secs: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.detail.details = Some(details);
        self
    }

    /// Adds a `Retry-After` header.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.detail.code
    }

    /// The error as an NDJSON line (for errors found after a stream has started).
    pub(crate) fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(&ErrorBody { error: self.detail.clone() }).unwrap_or_default();
        line.push(b'\n');
        line
    }

    /// 422 `invalid_request`, naming the field.
    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::InvalidRequest, message)
            .with_details(json!({"field": field}))
    }

    /// 500 `internal`.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, message)
    }

    /// 401 `unauthorized`.
    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    /// [`ApiError::from_json`] for an error found in the value at `path` (`rules[0]`,
    /// `options.explain`; `.` for the body itself): a value of the wrong shape names its field.
    pub(crate) fn from_json_at(error: &serde_json::Error, line_offset: usize, path: &str) -> Self {
        let mut api_error = ApiError::from_json(error, line_offset);
        if api_error.detail.code == ErrorCode::InvalidRequest && path != "." {
            api_error.detail.message = api_error.detail.message.replacen(": ", &format!(", in `{path}`: "), 1);
            if let Some(Value::Object(details)) = api_error.detail.details.as_mut() {
                details.insert("field".to_owned(), Value::from(path));
            }
        }
        api_error
    }

    /// The error for a JSON body serde could not read: 400 `malformed_json` for syntax errors,
    /// 422 `invalid_request` for well-formed JSON of the wrong shape; both with line and column.
    pub(crate) fn from_json(error: &serde_json::Error, line_offset: usize) -> Self {
        let line = error.line() + line_offset;
        let column = error.column();
        let message = bounded(&strip_position(&error.to_string()));
        // JSON's syntax allows `\ud800` alone; no string can hold it: the value is wrong, not the JSON.
        // (serde_json says "unexpected end of hex escape" only after the first half of a pair.)
        let half_character = error.classify() == serde_json::error::Category::Syntax
            && (message.contains("surrogate")
                || message.contains("invalid unicode code point")
                || message.contains("end of hex escape"));
        let category = match error.classify() {
            serde_json::error::Category::Syntax if half_character => serde_json::error::Category::Data,
            category => category,
        };
        let message = if half_character {
            "it holds a \\u escape of half a character (an unpaired surrogate)".to_owned()
        } else {
            message
        };
        let (status, code, message) = match category {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => (
                StatusCode::BAD_REQUEST,
                ErrorCode::MalformedJson,
                format!("malformed JSON at line {line}, column {column}: {message}"),
            ),
            serde_json::error::Category::Data | serde_json::error::Category::Io => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidRequest,
                format!("invalid request at line {line}, column {column}: {message}"),
            ),
        };
        ApiError::new(status, code, message).with_details(json!({"line": line, "column": column}))
    }
}

/// The most bytes of a message read from a request (serde's, which quotes the value it could
/// not take): the rest is cut.
const MAX_MESSAGE_BYTES: usize = 300;

fn bounded(message: &str) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message.to_owned();
    }
    let cut = (0..=MAX_MESSAGE_BYTES).rev().find(|&at| message.is_char_boundary(at)).unwrap_or(0);
    format!("{}...", &message[..cut])
}

/// A request field's path as `details.field` gives it: `rules`, `beneficiaries[2].id`, and a
/// map key that is not a plain name quoted, `rules["a.b"]`.
pub(crate) fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut written = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => written.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                let plain = !key.is_empty()
                    && !key.starts_with(|c: char| c.is_ascii_digit())
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if plain {
                    if !written.is_empty() {
                        written.push('.');
                    }
                    written.push_str(key);
                } else {
                    let quoted = serde_json::to_string(&dci_eligibility::preview(key)).unwrap_or_default();
                    written.push_str(&format!("[{quoted}]"));
                }
            }
            Segment::Unknown => {}
        }
    }
    if written.is_empty() { ".".to_owned() } else { written }
}

/// serde_json's message without its trailing " at line L column C".
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = self.detail.code.as_str(), status = self.status.as_u16(), "request failed");
        } else {
            tracing::debug!(code = self.detail.code.as_str(), status = self.status.as_u16(), "request refused");
        }
        let mut response = (self.status, axum::Json(ErrorBody { error: self.detail })).into_response();
        if let Some(secs) = self.retry_after_secs {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Fallback for unknown routes: 404 `not_found`.
pub(crate) async fn not_found(request: Request) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, format!("no route {}", request.uri().path()))
}

/// Fallback for known routes called with another method: 405 `method_not_allowed`.
pub(crate) async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        format!("{} does not accept {}", request.uri().path(), request.method()),
    )
}

/// Turns any error response that is not JSON yet (from a layer: timeouts, body limits) into
/// the JSON error of its status, keeping its headers.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = ErrorCode::of_status(status);
    let message = match code {
        ErrorCode::Timeout => "the request took too long".to_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let (mut parts, _) = response.into_parts();
    let mut fresh = ApiError::new(status, code, message).into_response();
    parts.headers.remove(CONTENT_TYPE);
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    for (name, value) in fresh.headers() {
        parts.headers.insert(name.clone(), value.clone());
    }
    *fresh.headers_mut() = parts.headers;
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_syntax_and_shape_errors_are_told_apart() {
        let syntax = serde_json::from_str::<Value>("{\n  \"a\": tru }").expect_err("bad");
        let error = ApiError::from_json(&syntax, 0);
        assert_eq!((error.status(), error.code()), (StatusCode::BAD_REQUEST, ErrorCode::MalformedJson));
        assert_eq!(error.detail.details, Some(json!({"line": 2, "column": 11})));
        let shape = serde_json::from_str::<Vec<u8>>("\"x\"").expect_err("bad");
        assert_eq!(ApiError::from_json(&shape, 0).code(), ErrorCode::InvalidRequest);
    }
}
