//! One DCI exchange over HTTP: bearer token, optional signature, retries with
//! backoff, the call's deadline, and the response checked and parsed.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dci_protocol::signing::Verifier as _;
use dci_protocol::{AckStatus, ResponseHeader, Status, acknowledgement, one_line, words_of};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::config::DataSource;
use crate::error::ClientError;
use crate::inner::Inner;
use crate::wire::{
    MAX_ERROR_BODY_BYTES, now_unix, read_body, redact, refuse_redirect, retry_after, said_in, transport_error,
};

/// The message of a successful response.
pub(crate) struct Answer<M> {
    pub message: M,
}

/// The time an exchange may take.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// When the whole call ends, retries and waits included.
    pub deadline: Instant,
    /// The longest one HTTP request may take.
    pub request_timeout: Duration,
    /// Whether a request that timed out is sent again (a message that can be
    /// split is split instead).
    pub retry_timeouts: bool,
}

impl Limits {
    /// The data source's own limits, from now.
    pub(crate) fn of(source: &DataSource) -> Self {
        Limits {
            deadline: Instant::now() + Duration::from_millis(source.timeouts.call_deadline_ms),
            request_timeout: Duration::from_millis(source.timeouts.request_ms),
            retry_timeouts: true,
        }
    }
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
        self.exchange_within(path, request, header, message, Limits::of(&self.source)).await
    }

    /// [`Inner::exchange`] within `limits`.
    pub(crate) async fn exchange_within<H: Serialize, B: Serialize, M: DeserializeOwned>(
        &self,
        path: &str,
        request: &str,
        header: &H,
        message: &B,
        limits: Limits,
    ) -> Result<Answer<M>, ClientError> {
        let source = &self.source;
        let body = self.encode(request, header, message)?;
        // The call's deadline runs from when the wire has room for it, not from when it
        // was queued behind other messages of this client (`Inner::in_flight`).
        let queued = Instant::now();
        drop(self.in_flight.acquire().await.ok());
        let limits = Limits { deadline: limits.deadline + queued.elapsed(), ..limits };
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(limits.deadline);
        match tokio::time::timeout_at(deadline, self.attempts(path, request, body, limits)).await {
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
        limits: Limits,
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
                    let outcome = self.send_once(&url, path, request, &token, body.clone(), limits).await;
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
                Err(ClientError::Http { status: 401, said, .. }) => {
                    return Err(ClientError::Auth {
                        registry: source.registry,
                        request: request.to_owned(),
                        message: match said {
                            Some(said) => format!("HTTP 401 with a fresh token: {said}"),
                            None => "HTTP 401 with a fresh token".to_owned(),
                        },
                    });
                }
                Err(error) => error,
            };
            let left = limits.deadline.saturating_duration_since(Instant::now());
            if let ClientError::Http { status, said, retry_after: Some(asked), .. } = &error
                && *asked > left
            {
                // Waiting would only end in a timeout that hides what the registry said.
                return Err(ClientError::Unavailable {
                    registry: source.registry,
                    request: request.to_owned(),
                    status: *status,
                    said: said.clone(),
                    asked: *asked,
                    left,
                });
            }
            let timed_out = matches!(error, ClientError::Timeout { .. });
            if !error.is_transient()
                || attempt >= source.retry.max_attempts.max(1)
                || (timed_out && !limits.retry_timeouts)
                || !self.retry_budget.withdraw()
            {
                return Err(error);
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let backoff = source.retry.backoff(attempt, rand::random::<f64>());
            let wait = error.retry_after().map_or(backoff, |after| after.max(backoff));
            if wait >= left {
                return Err(error);
            }
            tracing::debug!(registry = %source.registry, request, attempt, ?wait, %error, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn send_once<M: DeserializeOwned>(
        &self,
        url: &str,
        path: &str,
        request: &str,
        token: &str,
        body: bytes::Bytes,
        limits: Limits,
    ) -> Result<Answer<M>, ClientError> {
        let source = &self.source;
        // Held until the answer is read (not while it is parsed or checked). The
        // semaphore is never closed, so the slot is always granted in the end.
        let slot = self.in_flight.acquire().await.ok();
        self.stats.http_requests.fetch_add(1, Ordering::Relaxed);
        self.retry_budget.deposit();
        let left = limits.deadline.saturating_duration_since(Instant::now());
        let response = self
            .http
            .post(url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(limits.request_timeout.min(left).max(Duration::from_millis(1)))
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
            .and_then(|v| retry_after(v, chrono::Utc::now()));
        if !status.is_success() {
            let body = read_body(response, MAX_ERROR_BODY_BYTES, source, request).await.ok();
            let said = body.and_then(|bytes| said_in(&bytes, &[token]));
            return Err(ClientError::Http {
                registry: source.registry,
                request: request.to_owned(),
                status: status.as_u16(),
                said,
                retry_after,
            });
        }
        let bytes = read_body(response, source.response_limit(), source, request).await?;
        drop(slot);
        self.parse(path, request, &bytes, token).await
    }

    /// Reads a 200 answer: a DCI envelope whose message is read as `M`; its
    /// signature checked when the source verifies responses. An
    /// acknowledgement or an error body in its place is reported in the
    /// registry's words.
    async fn parse<M: DeserializeOwned>(
        &self,
        path: &str,
        request: &str,
        bytes: &[u8],
        token: &str,
    ) -> Result<Answer<M>, ClientError> {
        let source = &self.source;
        let protocol =
            |message: String| ClientError::Protocol { registry: source.registry, request: request.to_owned(), message };
        // The message is kept as text: each search item is read on its own, so
        // that one item too deep or ambiguous to read fails only itself.
        #[derive(serde::Deserialize)]
        struct Raw {
            #[serde(default)]
            signature: Option<Value>,
            #[serde(default)]
            header: Option<Box<RawValue>>,
            #[serde(default)]
            message: Option<Box<RawValue>>,
        }
        let raw: Raw = serde_json::from_slice(bytes).map_err(|e| {
            let said = said_in(bytes, &[token]).map(|words| format!("; it says: {words}")).unwrap_or_default();
            protocol(format!("the answer is not a JSON object: {e}{said}"))
        })?;
        let Some(header) = raw.header else {
            return Err(protocol(headless(path, bytes, raw.message.as_deref(), token)));
        };
        if source.verify_responses {
            let header: Value =
                serde_json::from_str(header.get()).map_err(|e| protocol(format!("unreadable header: {e}")))?;
            let message: Value = match &raw.message {
                Some(message) => serde_json::from_str(message.get()).map_err(|e| ClientError::Unverifiable {
                    registry: source.registry,
                    request: request.to_owned(),
                    message: format!("the message cannot be read whole: {e}"),
                })?,
                None => Value::Null,
            };
            let signature = raw.signature.as_ref().and_then(Value::as_str);
            self.verify(request, signature, &header, &message).await?;
        }
        let header: ResponseHeader =
            serde_json::from_str(header.get()).map_err(|e| protocol(format!("unexpected header: {e}")))?;
        if header.status == Status::Rejected {
            return Err(ClientError::MessageRejected {
                registry: source.registry,
                request: request.to_owned(),
                code: match header.status_reason_code.clone() {
                    Some(dci_protocol::HeaderReasonCode::Other(text)) => {
                        dci_protocol::HeaderReasonCode::Other(one_line(&text))
                    }
                    Some(known) => known,
                    None => dci_protocol::HeaderReasonCode::Other("unspecified".into()),
                },
                message: one_line(header.status_reason_message.as_deref().unwrap_or_default()),
            });
        }
        let message = raw.message.ok_or_else(|| protocol("the response has no message".into()))?;
        if let Some(ack) = acknowledgement_in(message.get(), 2) {
            return Err(protocol(ack_words(path, ack)));
        }
        let message: M =
            serde_json::from_str(message.get()).map_err(|e| protocol(format!("unexpected message: {e}")))?;
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

/// Why an answer without a header cannot be used, in the registry's words.
fn headless(path: &str, bytes: &[u8], message: Option<&RawValue>, token: &str) -> String {
    if let Some(ack) = message.and_then(|message| acknowledgement_in(message.get(), 2)) {
        return ack_words(path, ack);
    }
    let whole: Option<Value> = serde_json::from_slice(bytes).ok();
    match whole.as_ref().and_then(words_of) {
        Some(words) => format!("the answer has no header; it says: {}", redact(words, &[token])),
        None => "the answer has no header".to_owned(),
    }
}

/// An acknowledgement in a message's text (`{ack_status, error}`, or one
/// nested as its `message`, at most `depth` levels down), read without
/// building the rest of the message.
fn acknowledgement_in(text: &str, depth: u8) -> Option<(AckStatus, Option<String>)> {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(default)]
        ack_status: Option<Value>,
        #[serde(default)]
        error: Option<Value>,
        #[serde(default)]
        message: Option<Box<RawValue>>,
    }
    let probe: Probe = serde_json::from_str(text).ok()?;
    match probe.ack_status {
        Some(status) => acknowledgement(&serde_json::json!({"ack_status": status, "error": probe.error})),
        None if depth > 0 => probe.message.and_then(|message| acknowledgement_in(message.get(), depth - 1)),
        None => None,
    }
}

/// What an acknowledgement in place of an answer means.
fn ack_words(path: &str, (status, words): (AckStatus, Option<String>)) -> String {
    match status {
        AckStatus::Ack => format!(
            "the registry acknowledged the request (ack_status ACK) instead of answering it: it answers \
             asynchronously and does not serve sync search at {path}; configure the path of its sync endpoint"
        ),
        other => match words {
            Some(words) => format!("the registry refused the request: ack_status {other}: {words}"),
            None => format!("the registry refused the request: ack_status {other}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_each_http_date_form() {
        let now =
            chrono::DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z").expect("now").with_timezone(&chrono::Utc);
        assert_eq!(retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("999999999", now), Some(Duration::from_secs(999_999_999)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now), Some(Duration::from_secs(60)));
        assert_eq!(retry_after("Wed Oct 21 07:28:30 2015", now), Some(Duration::from_secs(30)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO), "a date past");
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }

    #[test]
    fn secrets_echoed_by_a_registry_are_blotted_out() {
        let said = said_in(b"{\"detail\": \"token abcd1234 is unknown\"}", &["abcd1234", "x"]);
        assert_eq!(said.as_deref(), Some("token [redacted] is unknown"));
    }

    #[test]
    fn an_acknowledgement_is_found_without_reading_the_answer_whole() {
        let top = r#"{"ack_status": "ACK", "correlation_id": "c", "timestamp": "2024-01-01T00:00:00Z"}"#;
        assert_eq!(acknowledgement_in(top, 2), Some((AckStatus::Ack, None)));
        let nested = r#"{"message": {"ack_status": "ERR", "error": {"code": "err.request.bad", "message": "m"}}}"#;
        let ack = acknowledgement_in(nested, 2).expect("found");
        assert!(ack_words("/registry/sync/search", ack).contains("err.request.bad: m"));
        assert_eq!(acknowledgement_in(r#"{"search_response": []}"#, 2), None);
        let ack = ack_words("/registry/sync/search", (AckStatus::Ack, None));
        assert!(ack.contains("asynchronously") && ack.contains("/registry/sync/search"), "{ack}");
    }
}
