//! What every HTTP exchange with a registry shares: transport errors in
//! words, redirects refused, bodies read within a bound, the registry's words
//! with our secrets blotted out, `Retry-After`, the clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dci_protocol::registry_words;

use crate::config::DataSource;
use crate::error::ClientError;

pub(crate) fn transport_error(source: &DataSource, request: &str, error: reqwest::Error) -> ClientError {
    if error.is_timeout() {
        return ClientError::Timeout {
            registry: source.registry,
            request: request.to_owned(),
            waited: Duration::from_millis(source.timeouts.request_ms),
        };
    }
    // reqwest errors may carry the URL: only the token request in the query
    // string puts a secret there, and its errors come without the URL (see `token`).
    let mut message = error.to_string();
    let mut source_error: Option<&dyn std::error::Error> = std::error::Error::source(&error);
    while let Some(inner) = source_error {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source_error = inner.source();
    }
    ClientError::Transport { registry: source.registry, request: request.to_owned(), message }
}

/// A redirect is the request's failure, naming where it pointed: none is
/// followed (the client is built without a redirect policy), so neither a
/// secret nor a searched identifier is sent anywhere but the configured address.
pub(crate) fn refuse_redirect(
    source: &DataSource,
    request: &str,
    response: &reqwest::Response,
) -> Result<(), ClientError> {
    let status = response.status();
    if !status.is_redirection() {
        return Ok(());
    }
    // Without its query: a redirect that keeps the request's query string
    // (an ingress sending HTTP to HTTPS) would otherwise show a secret sent there.
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .map(|location| match location.split_once('?') {
            Some((before, _)) => format!("{before}?…"),
            None => location,
        })
        .unwrap_or_default();
    Err(ClientError::Redirected {
        registry: source.registry,
        request: request.to_owned(),
        status: status.as_u16(),
        location,
    })
}

/// Reads a response body of at most `limit` bytes; a larger one is the
/// request's failure, read no further.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
    source: &DataSource,
    request: &str,
) -> Result<bytes::Bytes, ClientError> {
    let too_large = || ClientError::ResponseTooLarge { registry: source.registry, request: request.to_owned(), limit };
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| transport_error(source, request, error))? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The largest error body read (its `{errors: [...]}`); a larger one is ignored.
pub(crate) const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// The registry's words in an error body, with any secret of ours it echoes
/// (the bearer token, the client secret) blotted out.
pub(crate) fn said_in(body: &[u8], secrets: &[&str]) -> Option<String> {
    // Redacted before the words are cut to length, so that no part of a secret is left.
    let text = redact(String::from_utf8_lossy(body).into_owned(), secrets);
    registry_words(text.as_bytes()).map(|words| redact(words, secrets))
}

/// `text` as written in a form-encoded body or a query string
/// (`application/x-www-form-urlencoded`), where a secret may be echoed back.
pub(crate) fn form_encoded(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => encoded.push(byte as char),
            b' ' => encoded.push('+'),
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    encoded
}

/// `text` with every occurrence of a secret (of 4 characters or more) replaced.
pub(crate) fn redact(mut text: String, secrets: &[&str]) -> String {
    for secret in secrets.iter().filter(|secret| secret.len() >= 4) {
        if text.contains(secret) {
            text = text.replace(secret, "[redacted]");
        }
    }
    text
}

/// A `Retry-After` header: seconds, or an HTTP date (IMF-fixdate, RFC 850 or
/// asctime), as the wait from `now`. A date in the past is no wait.
pub(crate) fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value)
        .map(|at| at.with_timezone(&chrono::Utc))
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(value, "%A, %d-%b-%y %H:%M:%S GMT").map(|at| at.and_utc()))
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(value, "%a %b %e %H:%M:%S %Y").map(|at| at.and_utc()))
        .ok()?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

pub(crate) fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}
