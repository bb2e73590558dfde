#![doc = include_str!("../README.md")]
//! An async client for DCI registries (CRVS, IBR, DR, or any other speaking
//! DCI sync search), built for bulk use:
//!
//! * one shared connection pool per [`DataSource`] (rustls, keep-alive);
//! * OAuth2 client-credentials tokens, reused until shortly before expiry and
//!   refreshed by a single caller; a 401 refreshes once and retries once;
//! * [`DciClient::search_many`]: many lookups in messages of `batch_size` items,
//!   `max_in_flight` messages at once, answers matched by `reference_id`, one
//!   result per lookup in input order;
//! * pagination, signed requests, response signature verification via JWKS;
//! * retries with exponential backoff and jitter for connect errors, timeouts,
//!   5xx and 429 (honouring `Retry-After`), bounded by a per-call deadline;
//! * typed [`ClientError`]s naming the registry and the request, never a secret.

mod budget;
mod check;
mod client;
mod config;
mod error;
mod http;
mod inner;
mod profile;
mod token;
mod wire;

pub use check::{CheckStep, PERMISSION_PROBE_INTERVAL, RegistryCheck, Step};
pub use client::{ClientStats, DciClient, Found, PROBE_IDENTIFIER};
pub use config::{
    DataSource, EndpointPaths, RegistryType, RetryPolicy, SearchPurpose, Secret, SecretSource, SigningConfig,
    SigningScheme, Timeouts, TokenEncoding,
};
pub use dci_protocol::Profile;
pub use error::{ClientError, ErrorKind};
