//! `DataSource`: how to reach one registry, as written in `elig.toml`.

use std::fmt;
use std::time::Duration;

use dci_protocol::records::Identifier;
use serde::{Deserialize, Serialize};

/// The kind of registry a data source speaks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistryType {
    /// Civil registration and vital statistics.
    Crvs,
    /// Integrated beneficiary registry.
    Ibr,
    /// Disability registry.
    Dr,
}

impl RegistryType {
    /// The DCI `reg_type` value.
    pub fn reg_type(self) -> &'static str {
        match self {
            RegistryType::Crvs => dci_protocol::reg_type::CIVIL,
            RegistryType::Ibr => dci_protocol::reg_type::IBR,
            RegistryType::Dr => dci_protocol::reg_type::DR,
        }
    }

    /// The DCI `reg_record_type` asked for in searches.
    pub fn record_type(self) -> &'static str {
        match self {
            RegistryType::Crvs => dci_protocol::record_type::PERSON,
            RegistryType::Ibr => dci_protocol::record_type::BENEFICIARY,
            RegistryType::Dr => dci_protocol::record_type::DISABLED_PERSON,
        }
    }

    /// Short lowercase name (`crvs`, `ibr`, `dr`).
    pub fn as_str(self) -> &'static str {
        match self {
            RegistryType::Crvs => "crvs",
            RegistryType::Ibr => "ibr",
            RegistryType::Dr => "dr",
        }
    }
}

impl fmt::Display for RegistryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secret value. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where a secret comes from: an environment variable (recommended) or the
/// configuration file itself. Written `{ env = "CRVS_CLIENT_SECRET" }` or
/// `{ value = "..." }` in TOML.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretSource {
    /// Read from this environment variable when the client is built.
    Env(String),
    /// Given inline (tests, demos).
    Value(String),
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(name) => write!(f, "Env({name:?})"),
            SecretSource::Value(_) => f.write_str("Value(<redacted>)"),
        }
    }
}

impl SecretSource {
    /// Resolves the secret; `what` names it in the error.
    pub fn resolve(&self, what: &str) -> Result<Secret, String> {
        match self {
            SecretSource::Value(value) => Ok(Secret::new(value.clone())),
            SecretSource::Env(name) => match std::env::var(name) {
                Ok(value) if !value.is_empty() => Ok(Secret::new(value)),
                _ => Err(format!("{what}: environment variable {name} is not set")),
            },
        }
    }
}

/// Body encoding of the token request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenEncoding {
    /// `application/x-www-form-urlencoded` (the spec).
    #[default]
    Form,
    /// JSON.
    Json,
    /// In the query string, as OpenCRVS's gateway forwards it to its auth
    /// service (`packages/http-api/src/routes.ts`). The URL then carries the
    /// secret: errors about this request never show the URL.
    Query,
}

/// Paths of the endpoints, relative to `base_url`; an empty path is the
/// registry's [`dci_protocol::Profile`] default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointPaths {
    /// Sync search.
    pub search: String,
    /// IBR enrolled check.
    pub enrolled: String,
    /// DR disabled check.
    pub disabled: String,
    /// Token endpoint (ignored when `token_url` is set).
    pub token: String,
    /// JWKS.
    pub jwks: String,
}

/// Signature scheme for outgoing messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningScheme {
    /// Unsigned.
    None,
    /// OpenSPP Ed25519: a signing string with the digest of the canonical JSON.
    Ed25519,
    /// Compact JWS over the JSON of `{header, message}` (OpenCRVS).
    Jws,
    /// Detached JWS over the canonical JSON of `{header, message}` (OpenG2P).
    #[serde(rename = "jws-detached")]
    JwsDetached,
}

/// How outgoing messages are signed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SigningConfig {
    /// The scheme; unset, the profile's when a key is set, else unsigned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<SigningScheme>,
    /// Key id: for `ed25519` the middle part of `kidId`; for JWS the `kid`
    /// (empty: the key's RFC 7638 thumbprint).
    pub key_id: String,
    /// The key: for `ed25519` the 32-byte seed, base64; for JWS a PEM private
    /// key (RSA, EC P-256 or Ed25519), usually `{ env = "…" }`.
    pub key: Option<SecretSource>,
    /// For JWS, a PEM private key file, in place of `key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<std::path::PathBuf>,
    /// For JWS, the algorithm when the key allows several (`PS256` for an
    /// RSA key); by default the key's own (RS256, ES256, EdDSA).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
}

/// Retry policy for transient failures (connect errors, timeouts, 5xx, 429).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Delay before the first retry.
    pub initial_backoff_ms: u64,
    /// Longest delay between attempts.
    pub max_backoff_ms: u64,
    /// Growth factor of the delay.
    pub multiplier: f64,
    /// Retries allowed per request sent, over time (a retry budget): when a
    /// registry fails most requests, retrying them all would multiply its
    /// load and the caller's wait, so beyond this share a failure is final.
    pub budget_ratio: f64,
    /// Retries allowed whatever the ratio, so that a quiet client still retries.
    pub budget_reserve: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff_ms: 100,
            max_backoff_ms: 5_000,
            multiplier: 2.0,
            budget_ratio: 0.2,
            budget_reserve: 10,
        }
    }
}

impl RetryPolicy {
    /// The delay before retry `retry` (1 = first retry), with full jitter in [50 %, 100 %].
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let exponent = retry.saturating_sub(1).min(30) as i32;
        let base = (self.initial_backoff_ms as f64) * self.multiplier.max(1.0).powi(exponent);
        let capped = base.min(self.max_backoff_ms as f64);
        Duration::from_millis((capped * (0.5 + 0.5 * jitter.clamp(0.0, 1.0))) as u64)
    }
}

/// Timeouts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timeouts {
    /// TCP (and TLS) connect.
    pub connect_ms: u64,
    /// One HTTP exchange.
    pub request_ms: u64,
    /// One call, all retries included.
    pub call_deadline_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { connect_ms: 5_000, request_ms: 30_000, call_deadline_ms: 120_000 }
    }
}

fn default_batch_size() -> usize {
    100
}

fn default_in_flight() -> usize {
    4
}

fn default_max_pages() -> u32 {
    100
}

fn default_sender() -> String {
    "elig".into()
}

/// Why a registry is asked, sent with every search: the `authorize`
/// object of its criteria carries the programme's purpose, and the
/// `consent` object the consent (or legal basis) the lookups rest on, as
/// the DCI search request defines them, so that the registry can record why
/// it was asked.
///
/// ```toml
/// [purpose]                               # every registry; or [registry.purpose] for one
/// text = "Old Age Pension: eligibility check"
/// code = "OAP-ELIGIBILITY"
/// ref_uri = "https://social.example.gov/purposes"
/// consent_ref = "https://social.example.gov/legal/oap-act-2024#s12"
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchPurpose {
    /// The purpose in words.
    pub text: String,
    /// Its code in the registry's list of purposes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Where the list of purposes' codes is documented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_uri: Option<String>,
    /// The consent or legal basis of the lookups: a reference (URI) to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_ref: Option<String>,
}

impl SearchPurpose {
    /// The `authorize` and `consent` objects of a search's criteria, stamped `ts`.
    pub fn objects(&self, ts: &str) -> (serde_json::Value, serde_json::Value) {
        let purpose = |ref_uri: Option<&String>| {
            let mut purpose = serde_json::json!({ "text": self.text });
            if let Some(code) = &self.code {
                purpose["code"] = code.clone().into();
            }
            if let Some(uri) = ref_uri {
                purpose["ref_uri"] = uri.clone().into();
            }
            purpose
        };
        let authorize = serde_json::json!({
            "@context": "https://schema.spdci.org/common/v1/api-schemas/Authorize.jsonld",
            "@type": "Authorize",
            "ts": ts,
            "purpose": purpose(self.ref_uri.as_ref()),
        });
        let consent = serde_json::json!({
            "@context": "https://schema.spdci.org/common/v1/api-schemas/Consent.jsonld",
            "@type": "Consent",
            "ts": ts,
            "purpose": purpose(self.consent_ref.as_ref().or(self.ref_uri.as_ref())),
        });
        (authorize, consent)
    }
}

/// How to reach one registry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSource {
    /// The registry kind.
    pub registry: RegistryType,
    /// Base URL; endpoint paths are appended (`https://crvs.example.org/dci_api/v1`).
    pub base_url: String,
    /// Endpoint paths.
    #[serde(default)]
    pub paths: EndpointPaths,
    /// Absolute token URL, when the token endpoint lives elsewhere.
    #[serde(default)]
    pub token_url: Option<String>,
    /// The dialect the registry speaks: its defaults for paths, token
    /// encoding, signature scheme, `reg_type` and identifier types.
    #[serde(default)]
    pub profile: dci_protocol::Profile,
    /// Token request encoding (default: the profile's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_encoding: Option<TokenEncoding>,
    /// The `reg_type` searched (default: the profile's for this registry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reg_type: Option<String>,
    /// OAuth2 client id.
    pub client_id: String,
    /// OAuth2 client secret.
    pub client_secret: SecretSource,
    /// OAuth2 scope asked for with each token (space-separated), when the
    /// registry wants one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Our id, written as `sender_id`.
    #[serde(default = "default_sender")]
    pub sender_id: String,
    /// The registry's id, written as `receiver_id`.
    #[serde(default)]
    pub receiver_id: Option<String>,
    /// Signing of outgoing messages.
    #[serde(default)]
    pub signing: SigningConfig,
    /// Verify response signatures against the registry's JWKS.
    #[serde(default)]
    pub verify_responses: bool,
    /// Identifier types usable with this registry, most preferred first
    /// (default: the profile's).
    #[serde(default)]
    pub id_type_priority: Vec<String>,
    /// Search items per message.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Messages in flight at once.
    #[serde(default = "default_in_flight")]
    pub max_in_flight: usize,
    /// Timeouts.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Retries.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Hard cap on pages followed by `search_all_pages`.
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
    /// Largest answer read, in bytes; a larger one is that message's failure
    /// (`response_too_large`), read no further. Default: `batch_size` × 64 KiB,
    /// at least 1 MiB (see [`DataSource::response_limit`]).
    #[serde(default)]
    pub max_response_bytes: Option<usize>,
    /// A name shown wherever decisions say who answered (`"national CRVS,
    /// staging"`); it changes nothing else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The identifier a connection check searches for (`{ type = "UIN",
    /// value = "…" }`, a test person the registry keeps); without one, an
    /// identifier no person has ([`crate::PROBE_IDENTIFIER`]), expected not found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_identifier: Option<dci_protocol::records::Identifier>,
    /// What the fact caches key this source's facts by, in place of its
    /// address, for a source whose address changes from run to run but not
    /// its data (the built-in simulator, on a new port each time). Not configurable.
    #[serde(skip)]
    pub fixed_identity: Option<String>,
    /// Why this registry is asked ([`SearchPurpose`]); default: the deployment's `[purpose]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<SearchPurpose>,
}

/// Bytes of answer allowed per search item by default: a generous allowance for one
/// person's records (a CRVS person with every field is about 2 KiB).
pub const RESPONSE_BYTES_PER_ITEM: usize = 64 * 1024;

impl DataSource {
    /// The largest answer read: `max_response_bytes`, or `batch_size` ×
    /// [`RESPONSE_BYTES_PER_ITEM`], at least 1 MiB.
    pub fn response_limit(&self) -> usize {
        self.max_response_bytes.unwrap_or_else(|| self.batch_size.saturating_mul(RESPONSE_BYTES_PER_ITEM).max(1 << 20))
    }

    /// A data source with defaults for everything but the essentials.
    pub fn new(
        registry: RegistryType,
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        secret: SecretSource,
    ) -> Self {
        DataSource {
            registry,
            base_url: base_url.into(),
            paths: EndpointPaths::default(),
            token_url: None,
            profile: dci_protocol::Profile::Spdci,
            token_encoding: None,
            reg_type: None,
            client_id: client_id.into(),
            client_secret: secret,
            sender_id: default_sender(),
            receiver_id: None,
            signing: SigningConfig::default(),
            verify_responses: false,
            id_type_priority: Vec::new(),
            batch_size: default_batch_size(),
            max_in_flight: default_in_flight(),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            max_pages: default_max_pages(),
            max_response_bytes: None,
            label: None,
            probe_identifier: None,
            scope: None,
            fixed_identity: None,
            purpose: None,
        }
    }

    /// The identifier to look a person up by: the first whose type comes
    /// earliest in `id_type_priority` (else the profile's types), compared case-insensitively.
    pub fn pick_identifier<'a>(&self, identifiers: &'a [Identifier]) -> Option<&'a Identifier> {
        let own = self.id_type_priority.iter().map(String::as_str);
        let profile = self.profile.id_types().iter().copied().filter(|_| self.id_type_priority.is_empty());
        own.chain(profile).find_map(|wanted| {
            identifiers
                .iter()
                .find(|id| id.identifier_type.eq_ignore_ascii_case(wanted) && !id.identifier_value.trim().is_empty())
        })
    }

    /// Who answers and to whom, as the fact caches key what it said: the
    /// registry's base URL (without a trailing `/`, the scheme and host
    /// lowercased), and the client id and sender id it is asked as (one
    /// registry may answer two clients differently: scopes, consent).
    pub fn identity(&self) -> String {
        if let Some(fixed) = &self.fixed_identity {
            return fixed.clone();
        }
        let base = self.base_url.trim().trim_end_matches('/');
        let base = match base.split_once("://") {
            Some((scheme, rest)) => {
                let (host, path) = rest.split_once('/').map_or((rest, ""), |(host, path)| (host, path));
                // Credentials written into the URL are no part of who answers, and never shown.
                let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
                let path = if path.is_empty() { String::new() } else { format!("/{path}") };
                format!("{}://{}{path}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase())
            }
            None => base.to_owned(),
        };
        format!("{base} as {} ({})", self.client_id, self.sender_id)
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url.trim_end_matches('/'), path)
    }

    /// The `reg_type` searched: the entry's, else its profile's.
    pub fn search_reg_type(&self) -> &str {
        self.reg_type.as_deref().unwrap_or_else(|| self.profile.reg_type(self.registry.reg_type()))
    }

    pub(crate) fn token_endpoint(&self) -> String {
        self.token_url.clone().unwrap_or_else(|| self.url(&self.paths.token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_is_the_normalised_endpoint_and_never_holds_credentials() {
        let source = |url: &str| DataSource::new(RegistryType::Crvs, url, "elig", SecretSource::Value("s".into()));
        let plain = source("HTTPS://CRVS.Example.org/dci/").identity();
        assert_eq!(plain, "https://crvs.example.org/dci as elig (elig)");
        let with_credentials = source("https://user:p4ssw0rd@crvs.example.org/dci").identity();
        assert_eq!(with_credentials, plain);
        assert!(!with_credentials.contains("p4ssw0rd"));
        assert_ne!(source("https://crvs.example.org/other").identity(), plain, "another path is another registry");
    }
}
