//! One DCI exchange over HTTP: bearer token, optional signature, retries with
//! backoff, the call's deadline, and the response checked and parsed.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dci_protocol::signing::Verifier as _;
use dci_protocol::{HttpErrorResponse, ResponseHeader, Status};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::Inner;
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
    // reqwest errors may carry the URL; ours never contain secrets (they travel in bodies and headers).
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
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
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
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

pub(crate) fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

/// The message of a successful response.
pub(crate) struct Answer<M> {
    pub message: M,
}

impl Inner {
    /// POSTs `envelope` (header + message) to `path` and parses the answer's
    /// message as `M`, retrying transient failures within the call's deadline.
    pub(crate) async fn exchange<H: Serialize, B: Serialize, M: DeserializeOwned>(
        &self,
        path: &str,
        request: &str,
        header: &H,
        message: &B,
    ) -> Result<Answer<M>, ClientError> {
        let source = &self.source;
        let body = self.encode(request, header, message)?;
        let deadline = Duration::from_millis(source.timeouts.call_deadline_ms);
        let started = Instant::now();
        match tokio::time::timeout(deadline, self.attempts(path, request, body)).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                registry: source.registry,
                request: request.to_owned(),
                waited: started.elapsed(),
            }),
        }
    }

    fn encode<H: Serialize, B: Serialize>(
        &self,
        request: &str,
        header: &H,
        message: &B,
    ) -> Result<bytes::Bytes, ClientError> {
        let protocol = |error: serde_json::Error| ClientError::Protocol {
            registry: self.source.registry,
            request: request.to_owned(),
            message: format!("cannot encode the request: {error}"),
        };
        let body = match &self.signer {
            None => {
                #[derive(Serialize)]
                struct Unsigned<'a, H, B> {
                    header: &'a H,
                    message: &'a B,
                }
                serde_json::to_vec(&Unsigned { header, message }).map_err(protocol)?
            }
            Some(signer) => {
                let header = serde_json::to_value(header).map_err(protocol)?;
                let message = serde_json::to_value(message).map_err(protocol)?;
                let signature = signer.sign(&header, &message, now_unix()).map_err(|error| ClientError::Config {
                    registry: self.source.registry,
                    message: format!("cannot sign: {error}"),
                })?;
                serde_json::to_vec(&serde_json::json!({"signature": signature, "header": header, "message": message}))
                    .map_err(protocol)?
            }
        };
        Ok(bytes::Bytes::from(body))
    }

    async fn attempts<M: DeserializeOwned>(
        &self,
        path: &str,
        request: &str,
        body: bytes::Bytes,
    ) -> Result<Answer<M>, ClientError> {
        let source = &self.source;
        let url = source.url(path);
        let mut attempt: u32 = 0;
        let mut rejected_token: Option<Arc<str>> = None;
        let mut refreshed_after_401 = false;
        loop {
            attempt += 1;
            let token = self.tokens.get(&self.http, source, rejected_token.as_ref()).await;
            let result = match token {
                Ok(token) => {
                    let outcome = self.send_once(&url, request, &token, body.clone()).await;
                    if let Err(ClientError::Http { status: 401, .. }) = &outcome
                        && !refreshed_after_401
                    {
                        // The token may have expired early or been revoked: refresh once and retry once.
                        refreshed_after_401 = true;
                        rejected_token = Some(token);
                        attempt -= 1;
                        continue;
                    }
                    outcome
                }
                Err(error) => Err(error),
            };
            let error = match result {
                Ok(answer) => return Ok(answer),
                Err(ClientError::Http { status: 401, body, .. }) => {
                    let said = body.and_then(|b| b.errors.into_iter().next()).map(|e| e.message).unwrap_or_default();
                    return Err(ClientError::Auth {
                        registry: source.registry,
                        request: request.to_owned(),
                        message: format!("HTTP 401 with a fresh token {said}").trim_end().to_owned(),
                    });
                }
                Err(error) => error,
            };
            if !error.is_transient() || attempt >= source.retry.max_attempts.max(1) {
                return Err(error);
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let backoff = source.retry.backoff(attempt, rand::random::<f64>());
            let wait = error.retry_after().map_or(backoff, |after| after.max(backoff));
            tracing::debug!(registry = %source.registry, request, attempt, ?wait, %error, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn send_once<M: DeserializeOwned>(
        &self,
        url: &str,
        request: &str,
        token: &str,
        body: bytes::Bytes,
    ) -> Result<Answer<M>, ClientError> {
        let source = &self.source;
        self.stats.http_requests.fetch_add(1, Ordering::Relaxed);
        let response = self
            .http
            .post(url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(Duration::from_millis(source.timeouts.request_ms))
            .body(body)
            .send()
            .await
            .map_err(|error| transport_error(source, request, error))?;
        let status = response.status();
        refuse_redirect(source, request, &response)?;
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if !status.is_success() {
            let body = read_body(response, MAX_ERROR_BODY_BYTES, source, request).await.ok();
            let body: Option<HttpErrorResponse> = body.and_then(|bytes| serde_json::from_slice(&bytes).ok());
            return Err(ClientError::Http {
                registry: source.registry,
                request: request.to_owned(),
                status: status.as_u16(),
                body,
                retry_after,
            });
        }
        let bytes = read_body(response, source.response_limit(), source, request).await?;
        self.parse(request, &bytes).await
    }

    async fn parse<M: DeserializeOwned>(&self, request: &str, bytes: &[u8]) -> Result<Answer<M>, ClientError> {
        let source = &self.source;
        let protocol =
            |message: String| ClientError::Protocol { registry: source.registry, request: request.to_owned(), message };
        #[derive(serde::Deserialize)]
        struct Raw<M> {
            #[serde(default)]
            signature: Option<String>,
            header: ResponseHeader,
            message: Option<M>,
        }
        let raw: Raw<M> = if source.verify_responses {
            let value: Value = serde_json::from_slice(bytes).map_err(|e| protocol(format!("not JSON: {e}")))?;
            let signature = value.get("signature").and_then(Value::as_str).map(str::to_owned);
            let header = value.get("header").cloned().unwrap_or(Value::Null);
            let message = value.get("message").cloned().unwrap_or(Value::Null);
            self.verify(request, signature.as_deref(), &header, &message).await?;
            serde_json::from_value(value).map_err(|e| protocol(format!("unexpected shape: {e}")))?
        } else {
            serde_json::from_slice(bytes).map_err(|e| protocol(format!("unexpected shape or not JSON: {e}")))?
        };
        let _ = raw.signature;
        if raw.header.status == Status::Rejected {
            return Err(ClientError::MessageRejected {
                registry: source.registry,
                request: request.to_owned(),
                code: raw
                    .header
                    .status_reason_code
                    .clone()
                    .unwrap_or(dci_protocol::HeaderReasonCode::Other("unspecified".into())),
                message: raw.header.status_reason_message.clone().unwrap_or_default(),
            });
        }
        let message = raw.message.ok_or_else(|| protocol("the response has no message".into()))?;
        Ok(Answer { message })
    }

    async fn verify(
        &self,
        request: &str,
        signature: Option<&str>,
        header: &Value,
        message: &Value,
    ) -> Result<(), ClientError> {
        let now = now_unix();
        let verifier = self.verifier(request, false).await?;
        match verifier.verify(signature, header, message, now) {
            Err(dci_protocol::signing::SignatureError::UnknownKey(_)) => {
                // The registry may have rotated its key: fetch the JWKS again, once.
                let verifier = self.verifier(request, true).await?;
                verifier.verify(signature, header, message, now)
            }
            other => other,
        }
        .map_err(|source| ClientError::Signature {
            registry: self.source.registry,
            request: request.to_owned(),
            source,
        })
    }
}
