//! OAuth2 client-credentials tokens: fetched on first use, reused until
//! shortly before expiry, refreshed by one caller while the others wait.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use dci_protocol::{ExpiresIn, TokenRequest};
use serde_json::Value;

use crate::config::{DataSource, Secret, TokenEncoding};
use crate::error::ClientError;

/// Lifetime assumed when the server does not say, or says something that is no number.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);
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
    /// How long it is believed, from the registry's `expires_in`.
    lifetime: Duration,
    /// The scope the token endpoint says it granted, when it says.
    scope: Option<String>,
}

/// How a token request names itself in errors.
pub(crate) const TOKEN_REQUEST: &str = "token request";

/// The current token of one data source.
pub(crate) struct TokenCache {
    current: RwLock<Option<Token>>,
    refresh: tokio::sync::Mutex<()>,
    secret: Secret,
    pub(crate) requests: std::sync::atomic::AtomicU64,
    /// Whether a lifetime was already reported as clamped or unreadable (once per client).
    warned: std::sync::atomic::AtomicBool,
}

/// A token the endpoint issued, and how long it is believed.
struct Issued {
    access_token: String,
    lifetime: Duration,
    scope: Option<String>,
}

impl TokenCache {
    pub(crate) fn new(secret: Secret) -> Self {
        TokenCache {
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            secret,
            requests: Default::default(),
            warned: Default::default(),
        }
    }

    /// How long the current token is believed (its `expires_in`, clamped),
    /// and the scope granted when the endpoint said, if there is a token.
    pub(crate) fn issued(&self) -> Option<(Duration, Option<String>)> {
        let guard = self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.as_ref().map(|token| (token.lifetime, token.scope.clone()))
    }

    fn valid(&self) -> Option<Arc<str>> {
        let guard = self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.as_ref().filter(|token| Instant::now() < token.refresh_at).map(|token| token.value.clone())
    }

    /// A new token, whatever is cached (the connection check: a cached token
    /// proves nothing about the secret configured now).
    pub(crate) async fn refresh(&self, http: &reqwest::Client, source: &DataSource) -> Result<Arc<str>, ClientError> {
        let current = self.valid();
        self.get(http, source, current.as_ref()).await
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
        let lifetime = fetched.lifetime;
        // Refresh a little early: 10 % of the lifetime, at most 30 s.
        let margin = (lifetime / 10).min(Duration::from_secs(30));
        let now = Instant::now();
        let refresh_at = now.checked_add(lifetime.saturating_sub(margin)).unwrap_or(now);
        let token = Token { value: value.clone(), refresh_at, lifetime, scope: fetched.scope };
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(token);
        Ok(value)
    }

    async fn fetch(&self, http: &reqwest::Client, source: &DataSource) -> Result<Issued, ClientError> {
        self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let url = source.token_endpoint();
        let request = TOKEN_REQUEST.to_owned();
        let mut body = TokenRequest::client_credentials(source.client_id.clone(), self.secret.expose());
        body.scope = source.scope.clone();
        let builder = http.post(&url).timeout(Duration::from_millis(source.timeouts.request_ms));
        let in_query = source.token_encoding == Some(TokenEncoding::Query);
        let builder = match source.token_encoding.unwrap_or_default() {
            TokenEncoding::Form => builder.form(&body),
            TokenEncoding::Json => builder.json(&body),
            TokenEncoding::Query => builder.query(&body),
        };
        let response = builder.send().await.map_err(|error| {
            // The URL carries the secret when it travels in the query: never shown.
            let error = if in_query { error.without_url() } else { error };
            crate::wire::transport_error(source, &request, error)
        })?;
        let status = response.status();
        crate::wire::refuse_redirect(source, &request, &response)?;
        let bytes = crate::wire::read_body(response, MAX_TOKEN_RESPONSE_BYTES, source, &request).await?;
        let secret = self.secret.expose();
        let encoded = crate::wire::form_encoded(secret);
        let said = crate::wire::said_in(&bytes, &[secret, &encoded]);
        if status.is_success() {
            let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let access_token = match answer.get("access_token") {
                Some(Value::String(token)) if !token.trim().is_empty() => token.trim().to_owned(),
                _ => {
                    return Err(ClientError::Auth {
                        registry: source.registry,
                        request,
                        message: match said {
                            Some(said) => format!("the token endpoint answered without an access_token: {said}"),
                            None => "the token endpoint answered without an access_token".to_owned(),
                        },
                    });
                }
            };
            if reqwest::header::HeaderValue::from_str(&format!("Bearer {access_token}")).is_err() {
                return Err(ClientError::Auth {
                    registry: source.registry,
                    request,
                    message: "the token endpoint issued an access_token that cannot be sent in an HTTP header \
                              (it holds a line break or another control character)"
                        .to_owned(),
                });
            }
            let expires_in = answer.get("expires_in").and_then(ExpiresIn::read);
            let (lifetime, doubt) = believed_lifetime(expires_in.as_ref());
            if let Some(doubt) = doubt
                && !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                tracing::warn!(registry = %source.registry, "token lifetime: {doubt}");
            }
            let scope = answer.get("scope").and_then(Value::as_str).map(|s| s.chars().take(200).collect());
            return Ok(Issued { access_token, lifetime, scope });
        }
        let said = said.unwrap_or_else(|| format!("HTTP {status}"));
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
                said: Some(said),
                retry_after: None,
            })
        }
    }
}

/// How long a token is believed, from its `expires_in`: a number of seconds
/// clamped into [[`MIN_TOKEN_LIFETIME`], [`MAX_TOKEN_LIFETIME`]];
/// [`DEFAULT_TOKEN_LIFETIME`] when absent or no number. With it, what to warn
/// about when the registry's word was not taken.
fn believed_lifetime(expires_in: Option<&ExpiresIn>) -> (Duration, Option<String>) {
    let (min, max) = (MIN_TOKEN_LIFETIME.as_secs_f64(), MAX_TOKEN_LIFETIME.as_secs_f64());
    match expires_in {
        None => (DEFAULT_TOKEN_LIFETIME, None),
        Some(ExpiresIn::Unreadable(text)) => (
            DEFAULT_TOKEN_LIFETIME,
            Some(format!(
                "expires_in {text:?} is not a number of seconds; the token is used for {} s",
                DEFAULT_TOKEN_LIFETIME.as_secs()
            )),
        ),
        Some(ExpiresIn::Seconds(seconds)) => {
            let believed = seconds.clamp(min, max);
            let lifetime = Duration::from_secs_f64(believed);
            let doubt = (believed != *seconds).then(|| {
                format!("expires_in {seconds} is outside [{min}, {max}] s; the token is used for {believed} s")
            });
            (lifetime, doubt)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_number_is_clamped_and_anything_else_is_the_default() {
        let seconds = |s: f64| believed_lifetime(Some(&ExpiresIn::Seconds(s)));
        assert_eq!(seconds(3600.0), (Duration::from_secs(3600), None));
        assert_eq!(seconds(3599.5).0, Duration::from_secs_f64(3599.5));
        for small in [-100.0, -5.0, 0.0, 9.0] {
            let (lifetime, doubt) = seconds(small);
            assert_eq!(lifetime, MIN_TOKEN_LIFETIME, "{small}");
            assert!(doubt.is_some_and(|d| d.contains("outside")), "{small}");
        }
        assert_eq!(seconds(1e300).0, MAX_TOKEN_LIFETIME);
        assert_eq!(seconds(u64::MAX as f64).0, MAX_TOKEN_LIFETIME);
        let (lifetime, doubt) = believed_lifetime(Some(&ExpiresIn::Unreadable("1h".into())));
        assert_eq!(lifetime, DEFAULT_TOKEN_LIFETIME);
        assert!(doubt.is_some_and(|d| d.contains("\"1h\"")));
        assert_eq!(believed_lifetime(None), (DEFAULT_TOKEN_LIFETIME, None));
        let read = |json: Value| ExpiresIn::read(&json);
        assert_eq!(read(serde_json::json!("-5")), Some(ExpiresIn::Seconds(-5.0)));
        assert_eq!(read(serde_json::json!(" 3599.5 ")), Some(ExpiresIn::Seconds(3599.5)));
        assert_eq!(read(serde_json::json!("")), None);
        assert_eq!(read(serde_json::json!("NaN")), Some(ExpiresIn::Unreadable("NaN".into())));
    }
}
