//! Client errors. Each names the registry and the request it concerns, and
//! never carries a secret (tokens and client secrets stay out of messages).

use std::time::Duration;

use dci_protocol::signing::SignatureError;
use dci_protocol::{HeaderReasonCode, HttpErrorResponse, SearchReasonCode};

use crate::config::RegistryType;

/// What went wrong talking to a registry.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ClientError {
    /// The registry could not be reached (connect, TLS, broken connection).
    #[error("{registry}: {request}: cannot reach the registry: {message}")]
    Transport {
        /// The registry.
        registry: RegistryType,
        /// The request, e.g. `search message 3f2c… (100 items)`.
        request: String,
        /// What failed.
        message: String,
    },
    /// No answer in time (one exchange or the call's deadline).
    #[error("{registry}: {request}: no answer within {waited:?}")]
    Timeout {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// How long we waited.
        waited: Duration,
    },
    /// An HTTP error status, with the spec's error body when there was one.
    #[error("{registry}: {request}: HTTP {status}{}", describe_body(.body))]
    Http {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// HTTP status.
        status: u16,
        /// The `{errors: [...]}` body.
        body: Option<HttpErrorResponse>,
        /// `Retry-After`, when given.
        retry_after: Option<Duration>,
    },
    /// The answer is not a valid DCI response (unparsable, schema-violating, unmatched `reference_id`).
    #[error("{registry}: {request}: invalid response: {message}")]
    Protocol {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// What is wrong.
        message: String,
    },
    /// The registry rejected the whole message (header `rjct`).
    #[error("{registry}: {request}: message rejected: {code}: {message}")]
    MessageRejected {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// The header reason code.
        code: HeaderReasonCode,
        /// The reason message.
        message: String,
    },
    /// The registry rejected one item.
    #[error("{registry}: {request}: item {reference_id} rejected: {code}: {message}")]
    Rejected {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// The item's `reference_id`.
        reference_id: String,
        /// The item reason code.
        code: SearchReasonCode,
        /// The reason message.
        message: String,
    },
    /// Authentication failed (token endpoint refused, or 401 after a fresh token).
    #[error("{registry}: {request}: authentication failed: {message}")]
    Auth {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// What the registry said.
        message: String,
    },
    /// The response signature is missing or does not verify.
    #[error("{registry}: {request}: response signature: {source}")]
    Signature {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// Why.
        source: SignatureError,
    },
    /// The registry answered with a redirect; none is followed, so that neither the
    /// credentials nor the identifiers searched go anywhere but the configured address.
    #[error(
        "{registry}: {request}: the registry redirected to {location:?} (HTTP {status}); redirects are not followed"
    )]
    Redirected {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// HTTP status (3xx).
        status: u16,
        /// The `Location` it named.
        location: String,
    },
    /// The answer was larger than the data source allows (`max_response_bytes`).
    #[error("{registry}: {request}: the answer is larger than {limit} bytes (max_response_bytes)")]
    ResponseTooLarge {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// The bound, in bytes.
        limit: usize,
    },
    /// The answer to one item cannot be used: its status is not a final one, its data
    /// is missing, a record is unreadable or belongs to someone else, or its
    /// `reference_id` came back more than once.
    #[error("{registry}: {request}: the answer to item {reference_id} cannot be used: {message}")]
    ItemUnusable {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// The item's `reference_id`.
        reference_id: String,
        /// Why.
        message: String,
    },
    /// More pages than the configured cap.
    #[error("{registry}: {request}: more than {max_pages} pages; narrow the query or raise max_pages")]
    TooManyPages {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// The cap.
        max_pages: u32,
    },
    /// The data source is misconfigured.
    #[error("{registry}: configuration: {message}")]
    Config {
        /// The registry.
        registry: RegistryType,
        /// What is wrong.
        message: String,
    },
}

fn describe_body(body: &Option<HttpErrorResponse>) -> String {
    match body.as_ref().and_then(|b| b.errors.first()) {
        Some(error) => format!(": {}: {}", error.code, error.message),
        None => String::new(),
    }
}

/// The class of a [`ClientError`], for statistics and for the engine's "unknown because" causes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Unreachable.
    Transport,
    /// Too slow.
    Timeout,
    /// HTTP error status.
    Http,
    /// Invalid response.
    Protocol,
    /// Message or item rejected.
    Rejected,
    /// Authentication.
    Auth,
    /// Signature.
    Signature,
    /// Configuration.
    Config,
    /// The answer was too large.
    TooLarge,
}

impl ClientError {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Transport { .. } => ErrorKind::Transport,
            ClientError::Timeout { .. } => ErrorKind::Timeout,
            ClientError::Http { .. } => ErrorKind::Http,
            ClientError::Protocol { .. }
            | ClientError::TooManyPages { .. }
            | ClientError::Redirected { .. }
            | ClientError::ItemUnusable { .. } => ErrorKind::Protocol,
            ClientError::ResponseTooLarge { .. } => ErrorKind::TooLarge,
            ClientError::MessageRejected { .. } | ClientError::Rejected { .. } => ErrorKind::Rejected,
            ClientError::Auth { .. } => ErrorKind::Auth,
            ClientError::Signature { .. } => ErrorKind::Signature,
            ClientError::Config { .. } => ErrorKind::Config,
        }
    }

    /// The registry concerned.
    pub fn registry(&self) -> RegistryType {
        match self {
            ClientError::Transport { registry, .. }
            | ClientError::Timeout { registry, .. }
            | ClientError::Http { registry, .. }
            | ClientError::Protocol { registry, .. }
            | ClientError::MessageRejected { registry, .. }
            | ClientError::Rejected { registry, .. }
            | ClientError::Auth { registry, .. }
            | ClientError::Signature { registry, .. }
            | ClientError::TooManyPages { registry, .. }
            | ClientError::Redirected { registry, .. }
            | ClientError::ResponseTooLarge { registry, .. }
            | ClientError::ItemUnusable { registry, .. }
            | ClientError::Config { registry, .. } => *registry,
        }
    }

    /// Whether another attempt may succeed: connect errors, timeouts, 5xx and 429.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport { .. } | ClientError::Timeout { .. } => true,
            ClientError::Http { status, .. } => *status == 429 || (500..600).contains(status),
            _ => false,
        }
    }

    /// `Retry-After` of an HTTP error.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
