//! Bearer API keys, compared in constant time; the route's scope.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::access::{Caller, KeyHolder, Scope};
use crate::error::ApiError;
use crate::state::AppState;

/// Lets the request through when it carries a configured key (or none is configured and
/// `allow_unauthenticated` is set) holding `scope` (any key when `None`), with its [`Caller`]
/// in the request's extensions; otherwise 401 `unauthorized` or 403 `forbidden`.
pub(crate) async fn authenticate(state: AppState, scope: Option<Scope>, mut request: Request, next: Next) -> Response {
    let caller = match identify(state.keys(), request.headers()) {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    if let Some(scope) = scope {
        let what = format!("{} {}", request.method(), request.uri().path());
        if let Err(error) = caller.require(scope, &what) {
            return error.into_response();
        }
    }
    tracing::Span::current().record("key", caller.name.as_str());
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// [`authenticate`] for routes any key may use.
pub(crate) async fn any_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    authenticate(state, None, request, next).await
}

/// The caller a request's `Authorization` header names (every scope when the server takes no keys).
pub(crate) fn identify(keys: &[KeyHolder], headers: &HeaderMap) -> Result<Caller, ApiError> {
    if keys.is_empty() {
        return Ok(Caller::unauthenticated());
    }
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err(ApiError::unauthorized("missing API key: send the header `Authorization: Bearer <key>`"));
    };
    let presented = value
        .as_bytes()
        .split_at_checked(7)
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(b"bearer "))
        .map(|(_, key)| key.trim_ascii())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <key>`"))?;
    // Every key is compared, in constant time for keys of the presented length.
    let mut found = None;
    for holder in keys {
        let same = holder.secret.expose().as_bytes().ct_eq(presented);
        if bool::from(same) && found.is_none() {
            found = Some(holder);
        }
    }
    found.map(|holder| holder.caller.clone()).ok_or_else(|| ApiError::unauthorized("invalid API key"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::ApiKeyConfig;
    use axum::http::HeaderValue;
    use dci_client::SecretSource;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        headers
    }

    fn holder(key: &str, name: &str, scopes: &[Scope]) -> KeyHolder {
        ApiKeyConfig::new(SecretSource::Value(key.into()), scopes).named(name).resolve(1).expect("a key")
    }

    #[test]
    fn only_configured_keys_pass_each_as_its_caller() {
        let keys = [holder("k-one", "service", &[Scope::Evaluate]), holder("k-two", "officer", &Scope::ALL)];
        assert_eq!(identify(&keys, &with("Bearer k-two")).map(|c| c.name).ok().as_deref(), Some("officer"));
        assert_eq!(identify(&keys, &with("bearer k-one")).map(|c| c.name).ok().as_deref(), Some("service"));
        assert!(identify(&keys, &with("Bearer k-three")).is_err());
        assert!(identify(&keys, &with("Bearer k-on")).is_err());
        assert!(identify(&keys, &with("Basic k-one")).is_err());
        assert!(identify(&keys, &HeaderMap::new()).is_err());
        assert!(identify(&[], &HeaderMap::new()).is_ok_and(|caller| caller.scopes == Scope::ALL));
    }
}
