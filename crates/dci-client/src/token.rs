//! OAuth2 client-credentials tokens: fetched on first use, reused until
//! shortly before expiry, refreshed by one caller while the others wait.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use dci_protocol::{HttpErrorResponse, TokenRequest, TokenResponse};

use crate::config::{DataSource, Secret, TokenEncoding};
use crate::error::ClientError;

/// Lifetime assumed when the server does not say.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// The shortest lifetime believed: a token said to last less is still reused this long.
pub const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(10);
/// The longest lifetime believed: a token is fetched again at least this often,
/// whatever the registry says (a huge `expires_in` is a mistake or a lie).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// The largest token response read.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

#[derive(Clone)]
struct Token {
    value: Arc<str>,
    refresh_at: Instant,
}

/// The current token of one data source.
pub(crate) struct TokenCache {
    current: RwLock<Option<Token>>,
    refresh: tokio::sync::Mutex<()>,
    secret: Secret,
    pub(crate) requests: std::sync::atomic::AtomicU64,
}

impl TokenCache {
    pub(crate) fn new(secret: Secret) -> Self {
        TokenCache {
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            secret,
            requests: Default::default(),
        }
    }

    fn valid(&self) -> Option<Arc<str>> {
        let guard = self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.as_ref().filter(|token| Instant::now() < token.refresh_at).map(|token| token.value.clone())
    }

    /// A valid token. When `rejected` is the current token (the registry
    /// answered 401 with it), a new one is fetched instead.
    pub(crate) async fn get(
        &self,
        http: &reqwest::Client,
        source: &DataSource,
        rejected: Option<&Arc<str>>,
    ) -> Result<Arc<str>, ClientError> {
        if let Some(token) = self.valid().filter(|t| Some(t) != rejected) {
            return Ok(token);
        }
        let _single_flight = self.refresh.lock().await;
        // Someone may have refreshed while we waited.
        if let Some(token) = self.valid().filter(|t| Some(t) != rejected) {
            return Ok(token);
        }
        let fetched = self.fetch(http, source).await?;
        let value: Arc<str> = Arc::from(fetched.access_token.as_str());
        let lifetime = fetched
            .expires_in
            .map_or(DEFAULT_LIFETIME, Duration::from_secs)
            .clamp(MIN_TOKEN_LIFETIME, MAX_TOKEN_LIFETIME);
        // Refresh a little early: 10 % of the lifetime, at most 30 s.
        let margin = (lifetime / 10).min(Duration::from_secs(30));
        let now = Instant::now();
        let refresh_at = now.checked_add(lifetime.saturating_sub(margin)).unwrap_or(now);
        let token = Token { value: value.clone(), refresh_at };
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(token);
        Ok(value)
    }

    async fn fetch(&self, http: &reqwest::Client, source: &DataSource) -> Result<TokenResponse, ClientError> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let url = source.token_endpoint();
        let request = "token request".to_owned();
        let body = TokenRequest::client_credentials(source.client_id.clone(), self.secret.expose());
        let builder = http.post(&url).timeout(Duration::from_millis(source.timeouts.request_ms));
        let builder = match source.token_encoding {
            TokenEncoding::Form => builder.form(&body),
            TokenEncoding::Json => builder.json(&body),
        };
        let response = builder.send().await.map_err(|error| crate::http::transport_error(source, &request, error))?;
        let status = response.status();
        crate::http::refuse_redirect(source, &request, &response)?;
        let bytes = crate::http::read_body(response, MAX_TOKEN_RESPONSE_BYTES, source, &request).await?;
        if status.is_success() {
            return serde_json::from_slice::<TokenResponse>(&bytes).map_err(|error| ClientError::Protocol {
                registry: source.registry,
                request,
                message: format!("token response: {error}"),
            });
        }
        let body: Option<HttpErrorResponse> = serde_json::from_slice(&bytes).ok();
        let said = body
            .as_ref()
            .and_then(|b| b.errors.first())
            .map(|e| format!("{}: {}", e.code, e.message))
            .unwrap_or_else(|| format!("HTTP {status}"));
        if status.as_u16() == 401 || status.as_u16() == 403 || status.as_u16() == 400 {
            Err(ClientError::Auth {
                registry: source.registry,
                request,
                message: format!("the token endpoint refused client {:?}: {said}", source.client_id),
            })
        } else {
            Err(ClientError::Http {
                registry: source.registry,
                request,
                status: status.as_u16(),
                body,
                retry_after: None,
            })
        }
    }
}
