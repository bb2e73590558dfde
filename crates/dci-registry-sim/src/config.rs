//! Simulator configuration, readable from TOML.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use dci_protocol::Jwk;
use serde::{Deserialize, Serialize};

use crate::{RegistryData, RegistryKind, SimError};

/// Everything [`crate::Simulator::start`] needs. `SimConfig::default()` serves the
/// committed fixture on an ephemeral loopback port.
///
/// ```
/// let config = dci_registry_sim::SimConfig::from_toml_str(r#"
///     seed = 7
///     [ibr.faults]
///     latency_ms = 20
///     error_503_rate = 0.1
/// "#).unwrap();
/// assert_eq!(config.ibr.faults.latency_ms, 20);
/// assert_eq!(config.crvs.prefix, "/crvs");
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Where to listen; `127.0.0.1:0` (an ephemeral port) by default.
    pub bind: SocketAddr,
    /// Directory holding `crvs.ndjson`, `ibr.ndjson`, `dr.ndjson`; the committed
    /// fixture ([`crate::fixture_dir`]) when absent. A registry with preloaded
    /// [`RegistryConfig::data`] does not read its file.
    pub data_dir: Option<PathBuf>,
    /// The CRVS registry.
    pub crvs: RegistryConfig,
    /// The IBR registry.
    pub ibr: RegistryConfig,
    /// The DR registry.
    pub dr: RegistryConfig,
    /// OAuth2 clients accepted by the token endpoint.
    pub clients: Vec<ClientCredentials>,
    /// Lifetime of issued tokens, in seconds.
    pub token_lifetime_secs: u64,
    /// Most search items one message may carry (more: `rjct.total_count.limit_exceeded`).
    pub max_items_per_message: usize,
    /// Largest `page_size` accepted (larger: `rjct.pagination.invalid`).
    pub max_page_size: u32,
    /// Most records one unpaginated item may return (more: `rjct.search.too_many_records_found`).
    pub max_records_per_item: usize,
    /// Sign responses with the server key.
    pub sign_responses: bool,
    /// Require and verify request signatures against [`SimConfig::client_keys`].
    pub verify_request_signatures: bool,
    /// Public keys of clients (`kid` = `<sender_id>|<key_id>|ed25519`).
    pub client_keys: Vec<Jwk>,
    /// The server's Ed25519 secret seed; derived from [`SimConfig::seed`] when absent.
    pub server_key_seed: Option<KeySeed>,
    /// Seed of the server key (when not given) and of every fault decision.
    pub seed: u64,
    /// How many recent `message_id`s each registry remembers to detect duplicates.
    pub remembered_message_ids: usize,
}

/// The client id the simulator accepts by default.
pub const DEMO_CLIENT_ID: &str = "elig-demo";

/// The secret of [`DEMO_CLIENT_ID`].
pub const DEMO_CLIENT_SECRET: &str = "elig-demo-secret";

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            data_dir: None,
            crvs: RegistryConfig::new(RegistryKind::Crvs),
            ibr: RegistryConfig::new(RegistryKind::Ibr),
            dr: RegistryConfig::new(RegistryKind::Dr),
            clients: vec![ClientCredentials::new(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)],
            token_lifetime_secs: 3600,
            max_items_per_message: 1000,
            max_page_size: 1000,
            max_records_per_item: 1000,
            sign_responses: true,
            verify_request_signatures: false,
            client_keys: Vec::new(),
            server_key_seed: None,
            seed: 0,
            remembered_message_ids: 100_000,
        }
    }
}

impl SimConfig {
    /// Reads a configuration from TOML text; absent fields take their defaults.
    pub fn from_toml_str(text: &str) -> Result<SimConfig, SimError> {
        let mut config: SimConfig = toml::from_str(text).map_err(|e| SimError::Config(e.to_string()))?;
        config.fill_registry_defaults();
        Ok(config)
    }

    /// Reads a configuration from a TOML file.
    pub fn from_toml_file(path: &Path) -> Result<SimConfig, SimError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::Config(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml_str(&text)
    }

    /// The settings of one registry.
    pub fn registry(&self, kind: RegistryKind) -> &RegistryConfig {
        match kind {
            RegistryKind::Crvs => &self.crvs,
            RegistryKind::Ibr => &self.ibr,
            RegistryKind::Dr => &self.dr,
        }
    }

    /// The settings of one registry, to change.
    pub fn registry_mut(&mut self, kind: RegistryKind) -> &mut RegistryConfig {
        match kind {
            RegistryKind::Crvs => &mut self.crvs,
            RegistryKind::Ibr => &mut self.ibr,
            RegistryKind::Dr => &mut self.dr,
        }
    }

    /// Every registry speaks `profile`.
    pub fn with_profile(mut self, profile: dci_protocol::Profile) -> Self {
        for kind in RegistryKind::ALL {
            self.registry_mut(kind).profile = profile;
        }
        self
    }

    /// Serves `data` in place of the registry's record file.
    pub fn with_data(mut self, data: RegistryData) -> Self {
        let kind = data.kind();
        self.registry_mut(kind).data = Some(Arc::new(data));
        self
    }

    /// Sets one registry's faults.
    pub fn with_faults(mut self, kind: RegistryKind, faults: FaultConfig) -> Self {
        self.registry_mut(kind).faults = faults;
        self
    }

    /// Registry sections read from TOML without `prefix` or `sender_id` get their registry's defaults.
    fn fill_registry_defaults(&mut self) {
        for kind in RegistryKind::ALL {
            let registry = self.registry_mut(kind);
            if registry.prefix.is_empty() {
                registry.prefix = kind.default_prefix().to_owned();
            }
            if registry.sender_id.is_empty() {
                registry.sender_id = kind.default_sender_id().to_owned();
            }
        }
    }

    /// Checks what serde cannot: prefixes, limits, fault rates.
    pub(crate) fn validate(&self) -> Result<(), SimError> {
        let mut prefixes: Vec<String> = Vec::new();
        for kind in RegistryKind::ALL {
            let registry = self.registry(kind);
            let prefix = registry.normalised_prefix();
            if !prefix.starts_with('/') || prefix.len() < 2 || prefix.contains(['{', '}', '*', ' ']) {
                return Err(SimError::Config(format!(
                    "{kind}.prefix {:?} must be a path such as /{kind} (not empty, not /)",
                    registry.prefix
                )));
            }
            if prefix == "/sim" || prefix.starts_with("/sim/") {
                return Err(SimError::Config(format!("{kind}.prefix {prefix:?} collides with /sim")));
            }
            if prefixes.contains(&prefix) {
                return Err(SimError::Config(format!("{kind}.prefix {prefix:?} is used by two registries")));
            }
            prefixes.push(prefix);
            registry.faults.validate().map_err(|e| SimError::Config(format!("{kind}.faults: {e}")))?;
        }
        if self.clients.is_empty() {
            return Err(SimError::Config("no OAuth2 client is configured".into()));
        }
        if self.token_lifetime_secs == 0 {
            return Err(SimError::Config("token_lifetime_secs must be at least 1".into()));
        }
        if self.max_items_per_message == 0 || self.max_page_size == 0 || self.max_records_per_item == 0 {
            return Err(SimError::Config(
                "max_items_per_message, max_page_size and max_records_per_item must be at least 1".into(),
            ));
        }
        if self.verify_request_signatures && self.client_keys.is_empty() {
            return Err(SimError::Config("verify_request_signatures needs at least one of client_keys".into()));
        }
        Ok(())
    }
}

/// Settings of one registry.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// URL prefix the registry is served under (`/crvs`, `/ibr`, `/dr`).
    pub prefix: String,
    /// The id the registry answers and signs as.
    pub sender_id: String,
    /// The dialect it speaks: search path, signatures, error bodies.
    pub profile: dci_protocol::Profile,
    /// Injected faults.
    pub faults: FaultConfig,
    /// Records to serve instead of the data directory's file (tests inject records this way).
    #[serde(skip)]
    pub data: Option<Arc<RegistryData>>,
}

impl Default for RegistryConfig {
    /// Empty prefix and sender id, filled with the registry's defaults when read from TOML.
    fn default() -> Self {
        RegistryConfig {
            prefix: String::new(),
            sender_id: String::new(),
            profile: dci_protocol::Profile::Spdci,
            faults: FaultConfig::default(),
            data: None,
        }
    }
}

impl RegistryConfig {
    /// The defaults of `kind`: its prefix and sender id, no faults, records from the data directory.
    pub fn new(kind: RegistryKind) -> Self {
        RegistryConfig {
            prefix: kind.default_prefix().to_owned(),
            sender_id: kind.default_sender_id().to_owned(),
            profile: dci_protocol::Profile::Spdci,
            faults: FaultConfig::default(),
            data: None,
        }
    }

    pub(crate) fn normalised_prefix(&self) -> String {
        let trimmed = self.prefix.trim().trim_end_matches('/');
        if trimmed.starts_with('/') { trimmed.to_owned() } else { format!("/{trimmed}") }
    }
}

impl fmt::Debug for RegistryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryConfig")
            .field("prefix", &self.prefix)
            .field("sender_id", &self.sender_id)
            .field("profile", &self.profile)
            .field("faults", &self.faults)
            .field("data", &self.data.as_ref().map(|data| data.len()))
            .finish()
    }
}

/// An OAuth2 client the token endpoint accepts. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCredentials {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
}

impl ClientCredentials {
    /// A client.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        ClientCredentials { client_id: client_id.into(), client_secret: client_secret.into() }
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// A 32-byte Ed25519 secret seed: an array of 32 numbers or a base64 string.
/// `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeySeed {
    /// The raw bytes.
    Bytes([u8; 32]),
    /// Base64 (standard or URL-safe) of the 32 bytes.
    Base64(String),
}

impl KeySeed {
    /// The 32 bytes.
    pub fn bytes(&self) -> Result<[u8; 32], SimError> {
        use base64::Engine as _;
        match self {
            KeySeed::Bytes(bytes) => Ok(*bytes),
            KeySeed::Base64(text) => {
                let trimmed = text.trim();
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(trimmed)
                    .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(trimmed.trim_end_matches('=')))
                    .map_err(|_| SimError::Config("server_key_seed is not base64".into()))?;
                decoded.try_into().map_err(|_| SimError::Config("server_key_seed must be 32 bytes".into()))
            }
        }
    }
}

impl fmt::Debug for KeySeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySeed(<redacted>)")
    }
}

/// Faults injected into one registry's data endpoints (search, enrolled,
/// disabled). Token and JWKS endpoints only get the latency (and the token
/// endpoint its [`Misbehaviour`]s). Random draws come
/// from a ChaCha RNG seeded from [`SimConfig::seed`] and the registry, so a run
/// of sequential requests is reproducible. The default injects nothing.
///
/// Each data message is answered, in this order of precedence, with: the next
/// status of [`FaultConfig::fail_next`]; a hang while [`FaultConfig::hang_next`]
/// is positive; else one outcome drawn with the shares `error_500_rate`,
/// `error_503_rate`, `error_429_rate`, `hang_rate`, `malformed_rate` (their sum
/// must not exceed 1) or, for the rest, a normal answer, whose items may still be
/// rejected (`reject_item_rate`), whose signature may be wrong (`bad_signature_rate`)
/// and which a [`FaultConfig::misbehaviour`] may turn into a lie.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Added to every message of the registry (token and JWKS too), in milliseconds.
    pub latency_ms: u64,
    /// A uniform extra delay in `0..=jitter_ms`, added to `latency_ms`.
    pub jitter_ms: u64,
    /// Share of data messages answered HTTP 500.
    pub error_500_rate: f64,
    /// Share of data messages answered HTTP 503 with `Retry-After`.
    pub error_503_rate: f64,
    /// Share of data messages answered HTTP 429 with `Retry-After`.
    pub error_429_rate: f64,
    /// The `Retry-After` of 429 and 503 answers, in seconds.
    pub retry_after_secs: u64,
    /// Share of data messages that hang (no answer for `hang_secs`).
    pub hang_rate: f64,
    /// How long a hanging request waits before answering 504.
    pub hang_secs: u64,
    /// Share of data messages answered 200 with a body that is not JSON.
    pub malformed_rate: f64,
    /// Chance of each search item (or yes/no question) being rejected with
    /// `rjct.filter.invalid` "injected fault".
    pub reject_item_rate: f64,
    /// Share of signed responses signed with a wrong key.
    pub bad_signature_rate: f64,
    /// Exact HTTP statuses for the next data messages, in order (e.g. `[500, 500]`), then normal service.
    pub fail_next: Vec<u16>,
    /// The next this-many data messages hang.
    pub hang_next: u32,
    /// A hostile registry: every normal answer (and, for the token
    /// misbehaviours, every token answer) misbehaves this way while it is set.
    /// TOML: `misbehaviour = { kind = "swapped_references" }`.
    pub misbehaviour: Option<Misbehaviour>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            latency_ms: 0,
            jitter_ms: 0,
            error_500_rate: 0.0,
            error_503_rate: 0.0,
            error_429_rate: 0.0,
            retry_after_secs: 1,
            hang_rate: 0.0,
            hang_secs: 3600,
            malformed_rate: 0.0,
            reject_item_rate: 0.0,
            bad_signature_rate: 0.0,
            fail_next: Vec::new(),
            hang_next: 0,
            misbehaviour: None,
        }
    }
}

impl FaultConfig {
    /// Whether this configuration injects anything at all.
    pub fn is_none(&self) -> bool {
        let defaults = FaultConfig::default();
        FaultConfig { retry_after_secs: defaults.retry_after_secs, hang_secs: defaults.hang_secs, ..self.clone() }
            == defaults
    }

    /// Checks the rates: each within 0..=1, and the exclusive outcomes summing to at most 1.
    pub fn validate(&self) -> Result<(), String> {
        let rates = [
            ("error_500_rate", self.error_500_rate),
            ("error_503_rate", self.error_503_rate),
            ("error_429_rate", self.error_429_rate),
            ("hang_rate", self.hang_rate),
            ("malformed_rate", self.malformed_rate),
            ("reject_item_rate", self.reject_item_rate),
            ("bad_signature_rate", self.bad_signature_rate),
        ];
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} {rate} is not within 0..=1"));
            }
        }
        let exclusive =
            self.error_500_rate + self.error_503_rate + self.error_429_rate + self.hang_rate + self.malformed_rate;
        if exclusive > 1.0 + 1e-9 {
            return Err(format!(
                "error_500_rate + error_503_rate + error_429_rate + hang_rate + malformed_rate is {exclusive}, more than 1"
            ));
        }
        if let Some(status) = self.fail_next.iter().find(|s| !(100..=999).contains(*s)) {
            return Err(format!("fail_next status {status} is not an HTTP status"));
        }
        match &self.misbehaviour {
            Some(Misbehaviour::HugeBody { bytes }) if *bytes > Misbehaviour::MAX_HUGE_BODY => {
                return Err(format!(
                    "misbehaviour huge_body of {bytes} bytes is more than {} (1 GiB)",
                    Misbehaviour::MAX_HUGE_BODY
                ));
            }
            Some(Misbehaviour::RedirectToken { location } | Misbehaviour::RedirectSearch { location })
                if !location.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) =>
            {
                return Err(format!("misbehaviour location {location:?} is not a valid header value (visible ASCII)"));
            }
            Some(Misbehaviour::DataAnswer { retry_after: Some(value), .. })
                if !value.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) =>
            {
                return Err(format!("misbehaviour retry_after {value:?} is not a valid header value (visible ASCII)"));
            }
            Some(Misbehaviour::DataAnswer { status, .. } | Misbehaviour::TokenAnswer { status, .. })
                if !(200..=599).contains(status) =>
            {
                return Err(format!("misbehaviour status {status} is not an HTTP status"));
            }
            Some(Misbehaviour::PagedAnswers { page_size: 0, .. }) => {
                return Err("misbehaviour paged_answers needs a page_size of at least 1".into());
            }
            Some(Misbehaviour::DeepRecord { depth, .. }) if *depth > Misbehaviour::MAX_DEPTH => {
                return Err(format!("misbehaviour deep_record depth {depth} is more than {}", Misbehaviour::MAX_DEPTH));
            }
            _ => {}
        }
        Ok(())
    }
}

/// How a hostile registry lies or misbehaves, for client tests: unlike the
/// random faults, a misbehaviour applies to every answer while it is set.
///
/// Item misbehaviours rewrite the `search_response` items of every normal
/// search answer after it is built and before it is signed, so the signature
/// verifies: the registry signs its own lies. The yes/no answers (`enrolled`,
/// `disabled`) are left alone by them. The JWKS stays honest.
///
/// Written internally tagged by `kind`, in snake case: TOML
/// `misbehaviour = { kind = "huge_body", bytes = 20_000_000 }`, JSON
/// `{"kind": "redirect_token", "location": "http://elsewhere/token"}`.
///
/// ```
/// use dci_registry_sim::{FaultConfig, Misbehaviour, SimConfig};
///
/// let config = SimConfig::from_toml_str(r#"
///     [crvs.faults]
///     misbehaviour = { kind = "foreign_records" }
///     [ibr.faults]
///     misbehaviour = { kind = "redirect_search", location = "http://127.0.0.1:1/elsewhere" }
/// "#).unwrap();
/// assert_eq!(config.crvs.faults.misbehaviour, Some(Misbehaviour::ForeignRecords));
/// let faults = FaultConfig { misbehaviour: Some(Misbehaviour::HugeBody { bytes: 1 << 20 }), ..FaultConfig::default() };
/// assert!(!faults.is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Misbehaviour {
    /// Each `succ` item's records are replaced by all the records of another
    /// person of the registry (the next one in load order carrying an
    /// identifier, none of whose identifier values was asked or found), so no
    /// identifier matches the one asked. Items stay as they are when there is
    /// no such person.
    ForeignRecords,
    /// The items' `reference_id`s are rotated by one (item i gets item i+1's,
    /// the last gets the first's), when there are at least 2 items.
    SwappedReferences,
    /// Every item carries the first item's `reference_id`, when there are at least 2 items.
    DuplicateReferences,
    /// Every item is `status: "pdng"`, without `data` (nor pagination or reason).
    PendingItems,
    /// Every item is `status: "rcvd"`, without `data` (nor pagination or reason).
    ReceivedItems,
    /// Every item's `status` is `"zzz"`, a code no spec knows; data kept.
    UnknownStatus,
    /// Every item's `status` is JSON `null`; data kept.
    NullStatus,
    /// Every item's `data` is JSON `null`; status kept.
    NullData,
    /// No item has a `data` key; status kept.
    MissingData,
    /// The first record of the first item that has records is the string
    /// `"garbage"`, not a record; other records and items untouched.
    MalformedRecord,
    /// Every 200 answer of a data endpoint is padded to at least `bytes` bytes
    /// with a top-level `"padding": "xxx…"` string (outside the signed header
    /// and message), staying valid JSON. At most 1 GiB.
    HugeBody {
        /// The smallest body size, in bytes.
        bytes: u64,
    },
    /// The token endpoint answers `307 Temporary Redirect` to `location`, with an empty body.
    RedirectToken {
        /// The `Location` header.
        location: String,
    },
    /// The data endpoints (search, enrolled, disabled) answer `307 Temporary
    /// Redirect` to `location`, with an empty body, after authentication.
    RedirectSearch {
        /// The `Location` header.
        location: String,
    },
    /// The token endpoint's `expires_in` is `"18446744073709551615"` (`u64::MAX`),
    /// a lifetime no clock can add; the token itself still expires as configured.
    HugeTokenLifetime,
    /// The token endpoint writes this `expires_in` (any JSON: `-100`, `"1h"`,
    /// `3599.5`); the token itself works and expires as configured.
    TokenLifetime {
        /// The `expires_in` written.
        expires_in: serde_json::Value,
    },
    /// The token endpoint answers this status and body, whatever is asked
    /// (`{"error": "invalid_client", ...}`, a token holding a line break).
    TokenAnswer {
        /// HTTP status.
        status: u16,
        /// The body, as sent.
        body: String,
    },
    /// The data endpoints answer this status and body (and `Retry-After`, when
    /// given) to every message, after authentication: error bodies in each
    /// registry's style, an acknowledgement where an answer was expected.
    DataAnswer {
        /// HTTP status.
        status: u16,
        /// The body, as sent.
        body: String,
        /// The `Retry-After` header, as sent (seconds or an HTTP date).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<String>,
    },
    /// A search item asked without pagination is answered as if asked for its
    /// first page of `page_size` records (a registry's default page), with the
    /// page and the total in `pagination`; pages asked for are answered as asked.
    PagedAnswers {
        /// Records per page.
        page_size: u32,
        /// Whether `total_count` is written blank (`""`), as the spec's samples do.
        #[serde(default)]
        blank_total: bool,
    },
    /// Every occurrence of the key `field` in a record of a `succ` item is
    /// given `value` instead (an enrolment status outside the code list, say).
    FieldValue {
        /// The key, at any depth of the record.
        field: String,
        /// The value written.
        value: serde_json::Value,
    },
    /// Every occurrence of the key `field` in a record is given twice: first
    /// `first`, then its true value (which a last-wins reader, and the
    /// signature, see).
    DuplicateKey {
        /// The key.
        field: String,
        /// The value written first.
        first: serde_json::Value,
    },
    /// A record gains an `extra` field nested `depth` arrays deep: every
    /// record holding the identifier `value`, or without `value` the first
    /// record of the first item with records; other records untouched.
    DeepRecord {
        /// Nesting depth.
        depth: u32,
        /// The identifier value whose records are made deep.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
    /// A search message asking about `value` (an identifier) is answered
    /// `delay_ms` late; other messages on time.
    SlowIdentifier {
        /// The identifier value.
        value: String,
        /// The delay, in milliseconds.
        delay_ms: u64,
    },
}

impl Misbehaviour {
    /// The largest [`Misbehaviour::HugeBody`] accepted, so that a typo cannot
    /// make the simulator allocate without bound.
    pub const MAX_HUGE_BODY: u64 = 1 << 30;
    /// The deepest [`Misbehaviour::DeepRecord`] accepted.
    pub const MAX_DEPTH: u32 = 1_000;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug() {
        let config = SimConfig { server_key_seed: Some(KeySeed::Base64("c2VjcmV0".into())), ..SimConfig::default() };
        let debug = format!("{config:?}");
        assert!(!debug.contains("elig-demo-secret"), "{debug}");
        assert!(!debug.contains("c2VjcmV0"), "{debug}");
        assert!(debug.contains("elig-demo"));
    }

    #[test]
    fn toml_fills_defaults_and_rejects_unknown_fields() {
        let config = SimConfig::from_toml_str(
            "bind = \"127.0.0.1:9000\"\nserver_key_seed = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n[dr]\nprefix = \"/disability\"\n[dr.faults]\nfail_next = [500, 503]\n",
        )
        .expect("config");
        assert_eq!(config.bind.port(), 9000);
        assert_eq!(config.dr.prefix, "/disability");
        assert_eq!(config.dr.sender_id, "dr.registry-sim");
        assert_eq!(config.dr.faults.fail_next, vec![500, 503]);
        assert_eq!(config.ibr.prefix, "/ibr");
        assert_eq!(config.server_key_seed.as_ref().map(|s| s.bytes().expect("seed")), Some([0u8; 32]));
        assert!(SimConfig::from_toml_str("sign_respones = false").is_err());
    }

    fn every_misbehaviour() -> Vec<Misbehaviour> {
        let location = "http://127.0.0.1:1/elsewhere".to_owned();
        vec![
            Misbehaviour::ForeignRecords,
            Misbehaviour::SwappedReferences,
            Misbehaviour::DuplicateReferences,
            Misbehaviour::PendingItems,
            Misbehaviour::ReceivedItems,
            Misbehaviour::UnknownStatus,
            Misbehaviour::NullStatus,
            Misbehaviour::NullData,
            Misbehaviour::MissingData,
            Misbehaviour::MalformedRecord,
            Misbehaviour::HugeBody { bytes: 1 << 20 },
            Misbehaviour::RedirectToken { location: location.clone() },
            Misbehaviour::RedirectSearch { location },
            Misbehaviour::HugeTokenLifetime,
            Misbehaviour::TokenLifetime { expires_in: serde_json::json!("1h") },
            Misbehaviour::TokenAnswer { status: 200, body: r#"{"error": "invalid_client"}"#.into() },
            Misbehaviour::DataAnswer { status: 503, body: "down".into(), retry_after: Some("120".into()) },
            Misbehaviour::PagedAnswers { page_size: 1, blank_total: true },
            Misbehaviour::FieldValue { field: "enrollment_status".into(), value: serde_json::json!("approved") },
            Misbehaviour::DuplicateKey { field: "death_date".into(), first: serde_json::json!("2020-01-01") },
            Misbehaviour::DeepRecord { depth: 200, value: None },
            Misbehaviour::DeepRecord { depth: 200, value: Some("800010000".into()) },
            Misbehaviour::SlowIdentifier { value: "800010000".into(), delay_ms: 500 },
        ]
    }

    #[test]
    fn misbehaviours_round_trip_through_json_and_toml() {
        for misbehaviour in every_misbehaviour() {
            let faults = FaultConfig { misbehaviour: Some(misbehaviour.clone()), ..FaultConfig::default() };
            assert!(!faults.is_none(), "{misbehaviour:?}");
            assert_eq!(faults.validate(), Ok(()));
            let json = serde_json::to_value(&faults).expect("json");
            assert!(json["misbehaviour"]["kind"].is_string(), "{json}");
            assert_eq!(serde_json::from_value::<FaultConfig>(json).expect("from json"), faults);
            let config = SimConfig::default().with_faults(RegistryKind::Dr, faults.clone());
            let toml = toml::to_string(&config).expect("toml");
            assert_eq!(SimConfig::from_toml_str(&toml).expect("from toml").dr.faults, faults, "{toml}");
        }
        let config = SimConfig::from_toml_str(
            "[crvs.faults]\nmisbehaviour = { kind = \"huge_body\", bytes = 2_000_000 }\n[ibr.faults.misbehaviour]\nkind = \"null_status\"\n",
        )
        .expect("config");
        assert_eq!(config.crvs.faults.misbehaviour, Some(Misbehaviour::HugeBody { bytes: 2_000_000 }));
        assert_eq!(config.ibr.faults.misbehaviour, Some(Misbehaviour::NullStatus));
        assert_eq!(config.dr.faults.misbehaviour, None);
        let read = |json: &str| serde_json::from_str::<Misbehaviour>(json);
        assert_eq!(
            read(r#"{"kind": "redirect_token", "location": "/x"}"#).ok(),
            Some(Misbehaviour::RedirectToken { location: "/x".into() })
        );
        assert!(read(r#"{"kind": "huge_body", "byte": 3}"#).is_err(), "unknown field");
        assert!(read(r#"{"kind": "huge_body"}"#).is_err(), "missing field");
        assert!(read(r#"{"kind": "lying"}"#).is_err(), "unknown kind");
        assert!(read(r#""foreign_records""#).is_err(), "tagged form only");
    }

    #[test]
    fn misbehaviours_that_cannot_be_served_are_refused() {
        let faults = |misbehaviour| FaultConfig { misbehaviour: Some(misbehaviour), ..FaultConfig::default() };
        assert!(faults(Misbehaviour::HugeBody { bytes: Misbehaviour::MAX_HUGE_BODY }).validate().is_ok());
        assert!(faults(Misbehaviour::HugeBody { bytes: u64::MAX }).validate().is_err());
        assert!(faults(Misbehaviour::RedirectSearch { location: "http://a/\r\nX-Evil: 1".into() }).validate().is_err());
        assert!(faults(Misbehaviour::RedirectToken { location: String::new() }).validate().is_ok());
    }

    #[test]
    fn validation_catches_colliding_prefixes_and_impossible_rates() {
        let mut config = SimConfig::default();
        config.ibr.prefix = "/crvs/".into();
        assert!(matches!(config.validate(), Err(SimError::Config(m)) if m.contains("two registries")));

        let faults = FaultConfig { error_500_rate: 0.6, malformed_rate: 0.6, ..FaultConfig::default() };
        assert!(faults.validate().is_err());
        assert!(FaultConfig { reject_item_rate: 1.5, ..FaultConfig::default() }.validate().is_err());
        assert!(FaultConfig::default().is_none());
        assert!(!FaultConfig { fail_next: vec![500], ..FaultConfig::default() }.is_none());
    }
}
