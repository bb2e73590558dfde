//! Client errors. Each names the registry and the request it concerns, and
//! never carries a secret (tokens and client secrets stay out of messages).

use std::time::Duration;

use dci_protocol::signing::SignatureError;
use dci_protocol::{HeaderReasonCode, SearchReasonCode};

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
    /// An HTTP error status, with the registry's words when its body had any.
    #[error("{registry}: {request}: HTTP {status}{}", words(.said))]
    Http {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// HTTP status.
        status: u16,
        /// What the error body said, on one line (see [`dci_protocol::registry_words`]).
        said: Option<String>,
        /// `Retry-After`, when given.
        retry_after: Option<Duration>,
    },
    /// The registry is unavailable and asked to be asked again later than this
    /// call may wait: failed at once rather than waiting to time out.
    #[error(
        "{registry}: {request}: HTTP {status}{}; it asked to be asked again in {} (Retry-After), beyond the {} left to this call",
        words(.said), seconds(.asked), seconds(.left)
    )]
    Unavailable {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// HTTP status (503 or 429).
        status: u16,
        /// What the error body said.
        said: Option<String>,
        /// The wait it asked for.
        asked: Duration,
        /// What was left of the call's deadline.
        left: Duration,
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
    /// A signed answer whose message cannot be read whole (nested too deep,
    /// say), so its signature cannot be checked and none of its items can be
    /// trusted. A message of several items is asked again in halves, so that
    /// the item at fault fails alone.
    #[error("{registry}: {request}: the answer's signature cannot be checked: {message}")]
    Unverifiable {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// Why the message cannot be read.
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
    /// The answer to one item is not all of it: the registry said it holds
    /// more records than it gave, and they could not all be fetched.
    #[error("{registry}: {request}: the answer to item {reference_id} is incomplete: {message}")]
    Incomplete {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// The item's `reference_id`.
        reference_id: String,
        /// What is missing.
        message: String,
    },
    /// The answer to one item says two things: a key given twice in one
    /// object, or records of the person that contradict each other.
    #[error("{registry}: {request}: the answer to item {reference_id} is ambiguous: {message}")]
    Ambiguous {
        /// The registry.
        registry: RegistryType,
        /// The request.
        request: String,
        /// The item's `reference_id`.
        reference_id: String,
        /// What it says twice.
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

fn words(said: &Option<String>) -> String {
    match said {
        Some(words) => format!(": {words}"),
        None => String::new(),
    }
}

fn seconds(duration: &Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs >= 86_400.0 * 2.0 {
        format!("{:.0} days", secs / 86_400.0)
    } else if secs >= 120.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{secs:.1} s")
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
    /// The registry said it holds more than it gave.
    Incomplete,
    /// The answer says two things.
    Ambiguous,
    /// The registry asked to be left alone longer than the call may wait.
    Unavailable,
}

impl ClientError {
    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Transport { .. } => ErrorKind::Transport,
            ClientError::Timeout { .. } => ErrorKind::Timeout,
            ClientError::Http { .. } => ErrorKind::Http,
            ClientError::Unavailable { .. } => ErrorKind::Unavailable,
            ClientError::Incomplete { .. } | ClientError::TooManyPages { .. } => ErrorKind::Incomplete,
            ClientError::Ambiguous { .. } => ErrorKind::Ambiguous,
            ClientError::Protocol { .. }
            | ClientError::Unverifiable { .. }
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
            | ClientError::Unavailable { registry, .. }
            | ClientError::Incomplete { registry, .. }
            | ClientError::Ambiguous { registry, .. }
            | ClientError::Protocol { registry, .. }
            | ClientError::Unverifiable { registry, .. }
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
