//! What a client shares with its calls: its source, connection pool,
//! tokens, signer, the registry's keys, counters and limits on the wire.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use dci_protocol::Jwks;
use dci_protocol::signing::{RegistryKeys, Signer};

use crate::budget::RetryBudget;
use crate::config::DataSource;
use crate::error::ClientError;
use crate::token::TokenCache;

/// The largest JWKS read: a registry publishes a handful of keys.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// The JWKS is fetched again for an unknown key id at most this often.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// Counters of one client, for operators and tests.
#[derive(Default)]
pub(crate) struct Counters {
    pub messages: AtomicU64,
    pub items: AtomicU64,
    pub http_requests: AtomicU64,
    pub retries: AtomicU64,
    pub unusable: AtomicU64,
    pub splits: AtomicU64,
}

pub(crate) struct Inner {
    pub(crate) source: DataSource,
    pub(crate) http: reqwest::Client,
    pub(crate) tokens: TokenCache,
    pub(crate) signer: Option<Box<dyn Signer>>,
    /// The registry's keys, read through [`Inner::verifier`] only.
    pub(crate) verifier: tokio::sync::RwLock<Option<Arc<RegistryKeys>>>,
    /// When the JWKS was last fetched.
    pub(crate) jwks_fetched: std::sync::Mutex<Option<Instant>>,
    pub(crate) stats: Counters,
    pub(crate) retry_budget: RetryBudget,
    /// Messages on the wire to this registry, across every call of this client
    /// (`max_in_flight`); a message waiting to be retried holds no slot.
    pub(crate) in_flight: tokio::sync::Semaphore,
    /// When a readiness probe last searched, and whether the registry let us
    /// ([`DciClient::ready`]).
    pub(crate) permission: std::sync::Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Inner {
    /// The verifier built from the registry's JWKS, fetched on first use, and
    /// again when `refetch` (an unknown key id: the registry may have rotated
    /// its key) unless it was fetched less than [`JWKS_REFETCH_INTERVAL`] ago.
    /// The JWKS is read up to [`MAX_JWKS_BYTES`].
    pub(crate) async fn verifier(&self, request: &str, refetch: bool) -> Result<Arc<RegistryKeys>, ClientError> {
        if !refetch && let Some(verifier) = self.verifier.read().await.as_ref() {
            return Ok(verifier.clone());
        }
        let mut slot = self.verifier.write().await;
        let recent =
            self.jwks_fetched.lock().ok().and_then(|at| *at).is_some_and(|at| at.elapsed() < JWKS_REFETCH_INTERVAL);
        match slot.as_ref() {
            Some(verifier) if !refetch || recent => return Ok(verifier.clone()),
            // The last fetch failed: a registry is not asked for its keys again at once.
            None if recent => {
                return Err(ClientError::Protocol {
                    registry: self.source.registry,
                    request: request.to_owned(),
                    message: format!(
                        "the JWKS could not be read less than {} s ago; not fetched again yet",
                        JWKS_REFETCH_INTERVAL.as_secs()
                    ),
                });
            }
            _ => {}
        }
        if let Ok(mut at) = self.jwks_fetched.lock() {
            *at = Some(Instant::now());
        }
        let url = self.source.url(&self.source.paths.jwks);
        let response = self
            .http
            .get(&url)
            .timeout(Duration::from_millis(self.source.timeouts.request_ms))
            .send()
            .await
            .map_err(|e| crate::wire::transport_error(&self.source, request, e))?;
        let protocol = |message: String| ClientError::Protocol {
            registry: self.source.registry,
            request: request.to_owned(),
            message,
        };
        crate::wire::refuse_redirect(&self.source, request, &response)?;
        if !response.status().is_success() {
            return Err(protocol(format!("JWKS {url} answered HTTP {}", response.status())));
        }
        let body = crate::wire::read_body(response, MAX_JWKS_BYTES, &self.source, request).await?;
        let jwks: Jwks = serde_json::from_slice(&body).map_err(|e| protocol(format!("JWKS {url}: {e}")))?;
        let verifier = Arc::new(RegistryKeys::from_jwks(&jwks));
        if verifier.is_empty() {
            return Err(protocol(format!(
                "JWKS {url} has no signing key we can use (use sig, with a kid: RSA, EC P-256 or Ed25519)"
            )));
        }
        *slot = Some(verifier.clone());
        Ok(verifier)
    }
}
