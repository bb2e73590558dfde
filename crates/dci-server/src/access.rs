//! Who may do what: API keys with scopes, each named for logs, metrics and
//! the audit, and the bound on how many distinct persons a key may look up
//! per hour.
//!
//! | scope | routes |
//! |---|---|
//! | `evaluate` | `POST /v1/evaluate` (outcomes and causes), `POST /v1/rules/validate` |
//! | `explain` | `POST /v1/explain`, `/v1/evaluate` with `explain`, `POST /v1/diff` (clause values, reasons, the registry facts used) |
//! | `export` | `POST /v1/rules/export-test` |
//! | `admin` | `GET /v1/registries`, `/metrics`, the details of `/readyz` (open to probes) |
//!
//! Every key may read the catalog, the samples, the OpenAPI document and `GET /v1/access`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use dci_client::{Secret, SecretSource};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorCode};

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Decisions with outcomes and causes; rule validation.
    Evaluate,
    /// Clause values, reasons and the registry facts a decision used.
    Explain,
    /// Test files of decisions (`/v1/rules/export-test`).
    Export,
    /// The registries' status and the operational routes.
    Admin,
}

impl Scope {
    /// Every scope, in order.
    pub const ALL: [Scope; 4] = [Scope::Evaluate, Scope::Explain, Scope::Export, Scope::Admin];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Evaluate => "evaluate",
            Scope::Explain => "explain",
            Scope::Export => "export",
            Scope::Admin => "admin",
        }
    }
}

/// Distinct identifiers a key holding `explain` or `export` may look up per
/// hour when its entry does not say (`max_identifiers_per_hour`).
pub const DEFAULT_OFFICER_IDENTIFIERS_PER_HOUR: u64 = 2_000;

/// One entry of `server.api_keys`:
/// `{ env = "ELIG_OFFICER_KEY", name = "officer", scopes = ["evaluate", "explain", "export"] }`.
///
/// `Debug` never shows an inline key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The environment variable holding the key (recommended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// The key itself (tests, demos).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The key's name in logs, metrics and audit records; default `key-` and
    /// the first 8 hex digits of the key's SHA-256 (never the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the key may do; required (a key without scopes is refused at start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<Scope>>,
    /// Distinct identifiers the key may look up per hour (0: no bound). Default:
    /// no bound for a key with `evaluate` alone (a service), else
    /// [`DEFAULT_OFFICER_IDENTIFIERS_PER_HOUR`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_identifiers_per_hour: Option<u64>,
}

impl fmt::Debug for ApiKeyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyConfig")
            .field("env", &self.env)
            .field("value", &self.value.as_ref().map(|_| "<redacted>"))
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("max_identifiers_per_hour", &self.max_identifiers_per_hour)
            .finish()
    }
}

impl ApiKeyConfig {
    /// A key read from `source` with `scopes`.
    pub fn new(source: SecretSource, scopes: &[Scope]) -> Self {
        let (env, value) = match source {
            SecretSource::Env(name) => (Some(name), None),
            SecretSource::Value(value) => (None, Some(value)),
        };
        ApiKeyConfig { env, value, name: None, scopes: Some(scopes.to_vec()), max_identifiers_per_hour: None }
    }

    /// The same key under `name`.
    pub fn named(self, name: &str) -> Self {
        ApiKeyConfig { name: Some(name.to_owned()), ..self }
    }

    /// The key, its name and what it may do; `position` (from 1) names the entry in errors.
    pub(crate) fn resolve(&self, position: usize) -> Result<KeyHolder, String> {
        let at = format!("server.api_keys[{position}]");
        let source = match (&self.env, &self.value) {
            (Some(name), None) => SecretSource::Env(name.clone()),
            (None, Some(value)) => SecretSource::Value(value.clone()),
            _ => return Err(format!("{at}: give the key as `env = \"VARIABLE\"` or `value = \"...\"` (one of them)")),
        };
        let secret = source.resolve(&at)?;
        if secret.expose().trim().is_empty() {
            return Err(format!("{at}: the key is empty"));
        }
        let scopes: Vec<Scope> = match &self.scopes {
            Some(scopes) if !scopes.is_empty() => scopes.clone(),
            _ => {
                let written = match (&self.env, &self.value) {
                    (Some(name), _) => format!("env = \"{name}\""),
                    _ => "value = \"...\"".to_owned(),
                };
                return Err(format!(
                    "{at} has no scopes: say what the key may do, e.g. {{ {written}, scopes = [\"evaluate\"] }} for a \
                     service, [\"evaluate\", \"explain\", \"export\"] for a programme officer, [\"admin\"] for \
                     operations (every scope: [\"evaluate\", \"explain\", \"export\", \"admin\"])"
                ));
            }
        };
        let digest = Sha256::digest(secret.expose().as_bytes());
        let name = match &self.name {
            Some(name) if !name.trim().is_empty() => name.trim().to_owned(),
            _ => format!("key-{}", hex(&digest[..4])),
        };
        let officer = scopes.iter().any(|scope| matches!(scope, Scope::Explain | Scope::Export));
        let per_hour =
            self.max_identifiers_per_hour.unwrap_or(if officer { DEFAULT_OFFICER_IDENTIFIERS_PER_HOUR } else { 0 });
        Ok(KeyHolder { secret, caller: Caller { name, scopes, identifiers_per_hour: per_hour } })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A configured key and who presents it.
#[derive(Debug)]
pub(crate) struct KeyHolder {
    pub(crate) secret: Secret,
    pub(crate) caller: Caller,
}

/// Who made a request: the key's name, what it may do, its lookup bound.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Caller {
    /// The key's name (never the key).
    #[serde(rename = "key")]
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Distinct identifiers it may look up per hour (0: no bound).
    #[serde(rename = "max_identifiers_per_hour")]
    pub identifiers_per_hour: u64,
}

impl Caller {
    /// The caller of a server that takes no keys (`allow_unauthenticated`): every scope, no bound.
    pub(crate) fn unauthenticated() -> Self {
        Caller { name: "unauthenticated".to_owned(), scopes: Scope::ALL.to_vec(), identifiers_per_hour: 0 }
    }

    /// A request that reached a handler without passing the auth layer: it may do nothing.
    pub(crate) fn nobody() -> Self {
        Caller { name: "unknown".to_owned(), scopes: Vec::new(), identifiers_per_hour: 0 }
    }

    /// Whether the caller holds `scope`.
    pub fn may(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// `Ok` when the caller holds `scope`, else 403 `forbidden` naming what needs it.
    pub(crate) fn require(&self, scope: Scope, what: &str) -> Result<(), ApiError> {
        if self.may(scope) {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!("{what} needs the `{}` scope, which the API key `{}` does not have", scope.as_str(), self.name),
        )
        .with_details(serde_json::json!({ "scope": scope.as_str(), "key": self.name })))
    }
}

/// How long a window of the lookup bound lasts.
const WINDOW: Duration = Duration::from_secs(3600);

/// The distinct identifiers each bounded key has looked up in its current
/// hour (held as hashes under a key of this process: nothing here discloses
/// an identifier).
pub(crate) struct Lookups {
    windows: Mutex<HashMap<String, Window>>,
    hasher: std::collections::hash_map::RandomState,
}

struct Window {
    started: Instant,
    seen: HashSet<u64>,
}

impl Lookups {
    pub(crate) fn new() -> Self {
        Lookups { windows: Mutex::new(HashMap::new()), hasher: std::collections::hash_map::RandomState::new() }
    }

    /// Counts `identifiers` (`TYPE:value`) against `caller`'s bound: all of
    /// them are recorded, or, when the new ones would pass the bound, none
    /// is and the answer is 429 `too_many_lookups` with the seconds until
    /// the hour ends (422 when the request alone names more than the bound).
    /// With a shared tier (Redis) the count is kept there, one for every
    /// replica; without one, or while it does not answer, in this process.
    pub(crate) async fn admit(
        &self,
        store: &dci_metrics::MetricStore,
        caller: &Caller,
        identifiers: &[(&str, &str)],
    ) -> Result<(), ApiError> {
        let bound = caller.identifiers_per_hour;
        if bound == 0 {
            return Ok(());
        }
        let hashes: HashSet<u64> = identifiers
            .iter()
            .map(|(kind, value)| {
                let mut hasher = self.hasher.build_hasher();
                kind.to_ascii_uppercase().hash(&mut hasher);
                value.hash(&mut hasher);
                hasher.finish()
            })
            .collect();
        if hashes.len() as u64 > bound {
            // Waiting would not help: the request alone is past the bound.
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::TooManyLookups,
                format!(
                    "this request names {} distinct identifiers; the API key `{}` may look up {bound} per hour: \
                     split it, or ask for a key with a higher max_identifiers_per_hour",
                    hashes.len(),
                    caller.name
                ),
            )
            .with_details(serde_json::json!({ "limit": bound, "key": caller.name, "received": hashes.len() })));
        }
        if let Some(shared) = store.admit_lookups(&caller.name, identifiers, bound).await {
            return match shared.admitted {
                true => Ok(()),
                false => Err(past_bound(caller, bound, shared.count, shared.retry_after_secs)),
            };
        }
        self.admit_here(caller, bound, hashes)
    }

    /// [`Lookups::admit`] counted in this process.
    fn admit_here(&self, caller: &Caller, bound: u64, hashes: HashSet<u64>) -> Result<(), ApiError> {
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let window =
            windows.entry(caller.name.clone()).or_insert_with(|| Window { started: now, seen: HashSet::new() });
        if now.duration_since(window.started) >= WINDOW {
            *window = Window { started: now, seen: HashSet::new() };
        }
        let new = hashes.iter().filter(|hash| !window.seen.contains(hash)).count() as u64;
        if window.seen.len() as u64 + new > bound {
            let left = WINDOW.saturating_sub(now.duration_since(window.started)).as_secs().max(1);
            return Err(past_bound(caller, bound, window.seen.len() as u64, left));
        }
        window.seen.extend(hashes);
        Ok(())
    }
}

/// 429 `too_many_lookups`: `caller` has looked up `count` of its `bound` this hour.
fn past_bound(caller: &Caller, bound: u64, count: u64, retry_after_secs: u64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TooManyLookups,
        format!(
            "the API key `{}` may look up {bound} distinct identifiers per hour and has looked up {count}; this \
             request would pass that; retry in {retry_after_secs} s",
            caller.name
        ),
    )
    .with_details(serde_json::json!({ "limit": bound, "key": caller.name }))
    .retry_after(retry_after_secs)
}
