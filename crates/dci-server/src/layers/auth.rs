//! Bearer API keys, compared in constant time.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// Lets the request through when it carries a configured key (or none is configured and
/// `allow_unauthenticated` is set); otherwise 401 `unauthorized`.
pub(crate) async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match check(state.keys(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

fn check(keys: &[dci_client::Secret], headers: &HeaderMap) -> Result<(), ApiError> {
    if keys.is_empty() {
        return Ok(());
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
    let mut accepted = subtle::Choice::from(0);
    for key in keys {
        accepted |= key.expose().as_bytes().ct_eq(presented);
    }
    if bool::from(accepted) { Ok(()) } else { Err(ApiError::unauthorized("invalid API key")) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use dci_client::Secret;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn only_configured_keys_pass() {
        let keys = [Secret::new("k-one"), Secret::new("k-two")];
        assert!(check(&keys, &with("Bearer k-two")).is_ok());
        assert!(check(&keys, &with("bearer k-one")).is_ok());
        assert!(check(&keys, &with("Bearer k-three")).is_err());
        assert!(check(&keys, &with("Bearer k-on")).is_err());
        assert!(check(&keys, &with("Basic k-one")).is_err());
        assert!(check(&keys, &HeaderMap::new()).is_err());
        assert!(check(&[], &HeaderMap::new()).is_ok());
    }
}
