//! [`AppState`]: what every handler shares.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use dci_client::RegistryCheck;
use dci_eligibility::Engine;

use axum::http::StatusCode;

use crate::access::{KeyHolder, Lookups};
use crate::audit::AuditLog;
use crate::config::{ServerConfig, ServerLimits};
use crate::error::{ApiError, ErrorCode, ServerError};
use crate::pool::Lane;
use crate::slots::{Busy, Held, RETRY_AFTER_SECS, Receiving, Slots};
use crate::telemetry::Telemetry;

/// The state shared by every request: the engine (with the server's rule limits), the API
/// keys, the limits, the evaluation slots and the Prometheus registry. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// The registries' last connection checks, and when they were made.
type LastCheck = (Instant, Arc<Vec<RegistryCheck>>);

struct Inner {
    engine: Engine,
    keys: Vec<KeyHolder>,
    /// The distinct identifiers each bounded key looked up this hour.
    lookups: Lookups,
    audit: AuditLog,
    limits: ServerLimits,
    cors_origins: Vec<HeaderValue>,
    slots: Arc<Slots>,
    telemetry: Telemetry,
    /// The last check of the registries, and when it was made (`GET /v1/registries`).
    registry_checks: Arc<tokio::sync::Mutex<Option<LastCheck>>>,
    registries_check_every: Duration,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("api_keys", &self.inner.keys.len())
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Waits for an evaluation slot of `lane` (letting `received` go once in
    /// its queue); 503 `overloaded` when the lane's queue is full.
    pub(crate) async fn admit(&self, lane: Lane, received: Option<Receiving>) -> Result<Arc<Held>, ApiError> {
        self.slots().admit(lane, received).await.map_err(|Busy(what)| self.overloaded(what))
    }

    /// The 503 `overloaded` answer, with what is busy; counted.
    pub(crate) fn overloaded(&self, what: String) -> ApiError {
        self.telemetry().overloaded();
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Overloaded,
            format!("the server is busy: {what}; retry in {RETRY_AFTER_SECS} s"),
        )
        .retry_after(RETRY_AFTER_SECS)
    }

    /// The state for serving `engine` with `config`: reads the API keys (refusing to go on
    /// without one unless `allow_unauthenticated` is set), checks the limits and CORS origins,
    /// and applies the server's rule limits to the engine's compiler.
    pub fn new(engine: Engine, config: &ServerConfig) -> Result<Self, ServerError> {
        let keys = config
            .api_keys
            .iter()
            .enumerate()
            .map(|(index, key)| key.resolve(index + 1).map_err(ServerError::ApiKey))
            .collect::<Result<Vec<_>, _>>()?;
        for (index, key) in keys.iter().enumerate() {
            if keys[..index].iter().any(|other| other.caller.name == key.caller.name) {
                return Err(ServerError::ApiKey(format!(
                    "two keys are named `{}`: give each a name of its own (`name = \"...\"`), the audit tells them apart by it",
                    key.caller.name
                )));
            }
        }
        let audit = AuditLog::open(config.audit.as_ref()).map_err(ServerError::Config)?;
        if keys.is_empty() && !config.allow_unauthenticated {
            return Err(ServerError::NoApiKeys);
        }
        config.limits.check().map_err(ServerError::Config)?;
        let cors_origins = config
            .cors_origins
            .iter()
            .map(|origin| {
                HeaderValue::from_str(origin)
                    .map_err(|_| ServerError::Config(format!("cors_origins: {origin:?} is not a valid origin")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Rule limits: the stricter of the server's and the engine's own.
        let limits = config.limits.clone().within(engine.compiler().limits());
        let rule_limits = limits.rule_limits(engine.compiler().limits());
        let engine = Engine::new(engine.compiler().clone().with_limits(rule_limits), engine.store().clone());
        let slots = Arc::new(Slots::new(&limits));
        let telemetry = Telemetry::new(engine.store().clone(), slots.clone());
        let registries_check_every = Duration::from_secs(config.registries_check_secs);
        Ok(AppState {
            inner: Arc::new(Inner {
                engine,
                keys,
                lookups: Lookups::new(),
                audit,
                limits,
                cors_origins,
                slots,
                telemetry,
                registry_checks: Arc::new(tokio::sync::Mutex::new(None)),
                registries_check_every,
            }),
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The limits.
    pub fn limits(&self) -> &ServerLimits {
        &self.inner.limits
    }

    pub(crate) fn keys(&self) -> &[KeyHolder] {
        &self.inner.keys
    }

    /// The distinct identifiers each bounded key looked up this hour.
    pub(crate) fn lookups(&self) -> &Lookups {
        &self.inner.lookups
    }

    /// The audit of lookups.
    pub fn audit(&self) -> &AuditLog {
        &self.inner.audit
    }

    pub(crate) fn cors_origins(&self) -> &[HeaderValue] {
        &self.inner.cors_origins
    }

    pub(crate) fn slots(&self) -> &Slots {
        &self.inner.slots
    }

    pub(crate) fn telemetry(&self) -> &Telemetry {
        &self.inner.telemetry
    }

    /// The registries' connection checks, made at most once per
    /// `registries_check_secs` (callers meanwhile get the last one), and how
    /// old they are. One check runs at a time: concurrent callers wait for it.
    pub(crate) async fn registry_checks(&self) -> (Arc<Vec<RegistryCheck>>, Duration) {
        let slot = self.inner.registry_checks.clone();
        let store = self.inner.engine.store().clone();
        let every = self.inner.registries_check_every;
        // A task of its own: a caller cut short by its timeout does not cancel a check under
        // way, whose result the next caller then gets.
        let check = tokio::spawn(async move {
            let mut last = slot.lock_owned().await;
            if let Some((at, checks)) = last.as_ref()
                && at.elapsed() < every
            {
                return (checks.clone(), at.elapsed());
            }
            let checks = Arc::new(store.check_registries().await);
            *last = Some((Instant::now(), checks.clone()));
            (checks, Duration::ZERO)
        });
        check.await.unwrap_or_else(|_| (Arc::new(Vec::new()), Duration::ZERO))
    }
}
