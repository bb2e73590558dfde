//! OAuth2 client credentials and bearer tokens.
//!
//! One token authority serves the three registries: a token from any
//! registry's token endpoint is good at all three. Tokens are self-validating
//! (expiry, serial number and a keyed SHA-256 tag, base64url), so checking one
//! takes no lock and no table; the key is random per process, so tokens never
//! outlive the simulator that issued them. Expiry is measured on a monotonic
//! clock started with the simulator.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use dci_protocol::{CLIENT_CREDENTIALS, TokenRequest};
use sha2::{Digest, Sha256};

use crate::ClientCredentials;

/// Why a bearer token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    Missing,
    Unknown,
    Expired,
}

impl TokenProblem {
    pub(crate) fn message(self) -> &'static str {
        match self {
            TokenProblem::Missing => "missing bearer token (Authorization: Bearer <token>)",
            TokenProblem::Unknown => "unknown bearer token",
            TokenProblem::Expired => "the bearer token has expired",
        }
    }
}

pub(crate) struct Tokens {
    key: [u8; 32],
    started: Instant,
    serial: AtomicU64,
    lifetime_ms: u64,
    clients: Vec<ClientCredentials>,
}

const TAG: usize = 16;

impl Tokens {
    pub(crate) fn new(clients: Vec<ClientCredentials>, lifetime_secs: u64) -> Self {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Tokens {
            key,
            started: Instant::now(),
            serial: AtomicU64::new(1),
            lifetime_ms: lifetime_secs.saturating_mul(1000),
            clients,
        }
    }

    pub(crate) fn lifetime_secs(&self) -> u64 {
        self.lifetime_ms / 1000
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn tag(&self, body: &[u8; 16]) -> [u8; TAG] {
        let mut hash = Sha256::new();
        hash.update(self.key);
        hash.update(body);
        let digest = hash.finalize();
        let mut tag = [0u8; TAG];
        tag.copy_from_slice(&digest[..TAG]);
        tag
    }

    /// Whether `client_id` / `client_secret` name a configured client.
    pub(crate) fn authenticate(&self, client_id: &str, client_secret: &str) -> bool {
        self.clients
            .iter()
            .any(|c| c.client_id == client_id && constant_time_eq(c.client_secret.as_bytes(), client_secret.as_bytes()))
    }

    /// A new token, unique within this process.
    pub(crate) fn issue(&self) -> String {
        let expiry = self.now_ms().saturating_add(self.lifetime_ms);
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let mut body = [0u8; 16];
        body[..8].copy_from_slice(&expiry.to_be_bytes());
        body[8..].copy_from_slice(&serial.to_be_bytes());
        let mut token = [0u8; 16 + TAG];
        token[..16].copy_from_slice(&body);
        token[16..].copy_from_slice(&self.tag(&body));
        URL_SAFE_NO_PAD.encode(token)
    }

    /// Checks an `Authorization` header value.
    pub(crate) fn check(&self, authorization: Option<&str>) -> Result<(), TokenProblem> {
        let value = authorization.map(str::trim).filter(|v| !v.is_empty()).ok_or(TokenProblem::Missing)?;
        let (scheme, token) = value.split_once(' ').ok_or(TokenProblem::Missing)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(TokenProblem::Missing);
        }
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| TokenProblem::Unknown)?;
        if bytes.len() != 16 + TAG {
            return Err(TokenProblem::Unknown);
        }
        let mut body = [0u8; 16];
        body.copy_from_slice(&bytes[..16]);
        if !constant_time_eq(&self.tag(&body), &bytes[16..]) {
            return Err(TokenProblem::Unknown);
        }
        let mut expiry = [0u8; 8];
        expiry.copy_from_slice(&body[..8]);
        if u64::from_be_bytes(expiry) <= self.now_ms() {
            return Err(TokenProblem::Expired);
        }
        Ok(())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a token request was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenRequestError {
    /// Unreadable body or unsupported grant (HTTP 400).
    Bad(String),
}

/// Reads a token request from a JSON or form-encoded body, taking the client
/// credentials from HTTP Basic authentication when the body lacks them.
pub(crate) fn read_token_request(
    content_type: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<TokenRequest, TokenRequestError> {
    let is_json = content_type.is_some_and(|t| t.to_ascii_lowercase().contains("json"))
        || (content_type.is_none() && body.trim_ascii_start().starts_with(b"{"));
    let mut request: TokenRequest = if is_json {
        serde_json::from_slice(body).map_err(|e| TokenRequestError::Bad(format!("token request body: {e}")))?
    } else {
        let text =
            std::str::from_utf8(body).map_err(|_| TokenRequestError::Bad("token request body is not UTF-8".into()))?;
        let mut request = TokenRequest::client_credentials("", "");
        request.grant_type.clear();
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value =
                percent_decode(value).ok_or_else(|| TokenRequestError::Bad(format!("bad encoding of {name}")))?;
            match percent_decode(name).as_deref() {
                Some("grant_type") => request.grant_type = value,
                Some("client_id") => request.client_id = value,
                Some("client_secret") => request.client_secret = value,
                Some("scope") => request.scope = Some(value).filter(|s| !s.is_empty()),
                _ => {}
            }
        }
        request
    };
    if request.client_id.is_empty()
        && let Some((id, secret)) = basic_credentials(authorization)
    {
        request.client_id = id;
        request.client_secret = secret;
    }
    if !request.grant_type.is_empty() && !request.grant_type.eq_ignore_ascii_case(CLIENT_CREDENTIALS) {
        return Err(TokenRequestError::Bad(format!(
            "unsupported grant_type {:?} (only client_credentials)",
            request.grant_type
        )));
    }
    Ok(request)
}

fn basic_credentials(authorization: Option<&str>) -> Option<(String, String)> {
    let (scheme, encoded) = authorization?.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((percent_decode(id)?, percent_decode(secret)?))
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_they_expire_and_forgeries_fail() {
        let tokens = Tokens::new(vec![ClientCredentials::new("a", "s")], 3600);
        let token = tokens.issue();
        assert_ne!(token, tokens.issue(), "tokens are unique");
        assert_eq!(tokens.check(Some(&format!("Bearer {token}"))), Ok(()));
        assert_eq!(tokens.check(Some(&format!("bearer  {token}"))), Ok(()));
        assert_eq!(tokens.check(None), Err(TokenProblem::Missing));
        assert_eq!(tokens.check(Some(&format!("Basic {token}"))), Err(TokenProblem::Missing));
        let mut forged = URL_SAFE_NO_PAD.decode(&token).unwrap();
        forged[0] ^= 0x40; // extend the expiry
        assert_eq!(
            tokens.check(Some(&format!("Bearer {}", URL_SAFE_NO_PAD.encode(forged)))),
            Err(TokenProblem::Unknown)
        );
        let other = Tokens::new(vec![], 3600);
        assert_eq!(
            other.check(Some(&format!("Bearer {token}"))),
            Err(TokenProblem::Unknown),
            "keys differ per process"
        );

        let short = Tokens { lifetime_ms: 0, ..Tokens::new(vec![], 1) };
        assert_eq!(short.check(Some(&format!("Bearer {}", short.issue()))), Err(TokenProblem::Expired));
    }

    #[test]
    fn token_requests_are_read_from_forms_json_and_basic_auth() {
        let form = read_token_request(
            Some("application/x-www-form-urlencoded"),
            None,
            b"grant_type=client_credentials&client_id=elig-demo&client_secret=a%2Bb+c",
        )
        .unwrap();
        assert_eq!((form.client_id.as_str(), form.client_secret.as_str()), ("elig-demo", "a+b c"));
        let json = read_token_request(
            Some("application/json"),
            None,
            br#"{"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}"#,
        )
        .unwrap();
        assert_eq!(json.client_id, "x");
        let basic = read_token_request(None, Some("Basic eDp5"), b"grant_type=client_credentials").unwrap();
        assert_eq!((basic.client_id.as_str(), basic.client_secret.as_str()), ("x", "y"));
        assert!(read_token_request(None, None, b"grant_type=password&client_id=x").is_err());
        assert!(read_token_request(Some("application/json"), None, b"{oops").is_err());
    }
}
