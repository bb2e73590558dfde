//! The OpenSPP Ed25519 scheme.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde_json::Value;

use super::{SignatureError, Signer, Verifier, digest};
use crate::auth::{Jwk, Jwks};

/// How long a signature is valid after its creation.
pub const SIGNATURE_LIFETIME_SECONDS: i64 = 300;
/// Clock difference tolerated between signer and verifier.
pub const CLOCK_SKEW_SECONDS: i64 = 60;

const ALGORITHM: &str = "ed25519";
const HEADERS: &str = "(created) (expires) digest";

/// Signs with an Ed25519 key under a DCI key id (`<sender_id>|<key_id>|ed25519`).
///
/// `Debug` never shows the key.
#[derive(Clone)]
pub struct Ed25519Signer {
    kid: String,
    key: SigningKey,
}

impl fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519Signer").field("kid", &self.kid).field("key", &"<redacted>").finish()
    }
}

impl Ed25519Signer {
    /// A signer for `sender_id`'s key `key_id`, from the 32-byte secret seed.
    pub fn new(sender_id: &str, key_id: &str, seed: &[u8; 32]) -> Self {
        Ed25519Signer { kid: format!("{sender_id}|{key_id}|{ALGORITHM}"), key: SigningKey::from_bytes(seed) }
    }

    /// A signer from a base64 (standard or URL-safe) 32-byte seed, as stored in configuration.
    pub fn from_base64_seed(sender_id: &str, key_id: &str, seed: &str) -> Result<Self, SignatureError> {
        let bytes =
            decode_base64(seed).map_err(|_| SignatureError::InvalidKey("the signing key is not base64".into()))?;
        let seed: [u8; 32] =
            bytes.try_into().map_err(|_| SignatureError::InvalidKey("the signing key must be 32 bytes".into()))?;
        Ok(Self::new(sender_id, key_id, &seed))
    }

    /// The key id written in signatures.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key as a JWK, for a JWKS endpoint.
    pub fn jwk(&self) -> Jwk {
        jwk_from_verifying_key(&self.kid, &self.verifying_key())
    }

    /// Signs with explicit `created` and `expires` times.
    pub fn sign_at(&self, header: &Value, message: &Value, created: i64, expires: i64) -> String {
        let digest = digest(header, message);
        let signing_string = signing_string(created, expires, &digest);
        let signature = STANDARD.encode(self.key.sign(signing_string.as_bytes()).to_bytes());
        format!(
            "namespace=\"dci\", kidId=\"{}\", algorithm=\"{ALGORITHM}\", created=\"{created}\", expires=\"{expires}\", headers=\"{HEADERS}\", signature=\"{signature}\"",
            self.kid
        )
    }
}

impl Signer for Ed25519Signer {
    fn sign(&self, header: &Value, message: &Value, now_unix: i64) -> Result<String, SignatureError> {
        Ok(self.sign_at(header, message, now_unix, now_unix + SIGNATURE_LIFETIME_SECONDS))
    }

    fn public_jwk(&self) -> Jwk {
        self.jwk()
    }
}

fn signing_string(created: i64, expires: i64, digest: &str) -> String {
    format!("(created): {created}\n(expires): {expires}\ndigest: {digest}")
}

fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let trimmed = text.trim();
    STANDARD.decode(trimmed).or_else(|_| URL_SAFE_NO_PAD.decode(trimmed.trim_end_matches('=')))
}

/// The parameters of a signature field value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureParams {
    /// Key id, `<sender_id>|<key_id>|<algorithm>`.
    pub kid: String,
    /// The sender part of the key id.
    pub sender_id: String,
    /// The key part of the key id.
    pub key_id: String,
    /// Algorithm.
    pub algorithm: String,
    /// Creation time (Unix seconds).
    pub created: i64,
    /// Expiry time (Unix seconds).
    pub expires: i64,
    /// The signature bytes, base64.
    pub signature: String,
}

impl SignatureParams {
    /// Reads `namespace="dci", kidId="...", ...`, with or without a leading `Signature:`.
    pub fn parse(field: &str) -> Result<Self, SignatureError> {
        let mut rest = field.trim();
        if let Some(stripped) = rest.strip_prefix("Signature:") {
            rest = stripped.trim_start();
        }
        let mut params: HashMap<String, String> = HashMap::new();
        while !rest.is_empty() {
            let (name, after) = rest
                .split_once('=')
                .ok_or_else(|| SignatureError::Malformed(format!("expected name=\"value\" at {rest:?}")))?;
            let after = after.trim_start();
            let quoted = after
                .strip_prefix('"')
                .ok_or_else(|| SignatureError::Malformed(format!("value of {} is not quoted", name.trim())))?;
            let end = quoted
                .find('"')
                .ok_or_else(|| SignatureError::Malformed(format!("value of {} is not closed", name.trim())))?;
            params.insert(name.trim().to_ascii_lowercase(), quoted[..end].to_owned());
            rest = quoted[end + 1..].trim_start().trim_start_matches(',').trim_start();
        }
        let take = |name: &str| {
            params.get(name).cloned().ok_or_else(|| SignatureError::Malformed(format!("{name} is missing")))
        };
        let number = |name: &str| -> Result<i64, SignatureError> {
            take(name)?.trim().parse().map_err(|_| SignatureError::Malformed(format!("{name} is not a Unix time")))
        };
        let kid = take("kidid")?;
        let mut parts = kid.split('|');
        let (sender_id, key_id, kid_algorithm) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(sender), Some(key), Some(algorithm), None) if !sender.is_empty() && !key.is_empty() => {
                (sender.to_owned(), key.to_owned(), algorithm.to_owned())
            }
            _ => {
                return Err(SignatureError::Malformed(format!(
                    "kidId {kid:?} is not <sender_id>|<key_id>|<algorithm>"
                )));
            }
        };
        let algorithm = params.get("algorithm").cloned().unwrap_or(kid_algorithm);
        if let Some(headers) = params.get("headers")
            && headers.split_whitespace().collect::<Vec<_>>() != HEADERS.split(' ').collect::<Vec<_>>()
        {
            return Err(SignatureError::Malformed(format!("headers {headers:?} is not {HEADERS:?}")));
        }
        Ok(SignatureParams {
            kid,
            sender_id,
            key_id,
            algorithm,
            created: number("created")?,
            expires: number("expires")?,
            signature: take("signature")?,
        })
    }
}

/// Verifies OpenSPP Ed25519 signatures with a set of known public keys.
#[derive(Clone, Debug, Default)]
pub struct Ed25519Verifier {
    keys: HashMap<String, VerifyingKey>,
}

impl Ed25519Verifier {
    /// A verifier knowing no key yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key under its DCI key id.
    pub fn add_key(&mut self, kid: impl Into<String>, key: VerifyingKey) {
        self.keys.insert(kid.into(), key);
    }

    /// A verifier knowing the Ed25519 keys of a JWKS (other keys are skipped).
    pub fn from_jwks(jwks: &Jwks) -> Self {
        let mut verifier = Self::new();
        for jwk in &jwks.keys {
            if let (Some(kid), Ok(key)) = (&jwk.kid, verifying_key_from_jwk(jwk)) {
                verifier.add_key(kid.clone(), key);
            }
        }
        verifier
    }

    /// Whether no key is known.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The ids of the keys known, sorted.
    pub fn key_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
        ids.sort_unstable();
        ids
    }
}

impl Verifier for Ed25519Verifier {
    fn verify(
        &self,
        signature: Option<&str>,
        header: &Value,
        message: &Value,
        now_unix: i64,
    ) -> Result<(), SignatureError> {
        let field = signature.filter(|s| !s.trim().is_empty()).ok_or(SignatureError::Missing)?;
        let params = SignatureParams::parse(field)?;
        if !params.algorithm.eq_ignore_ascii_case(ALGORITHM) {
            return Err(SignatureError::UnsupportedAlgorithm(params.algorithm));
        }
        let key = self.keys.get(&params.kid).ok_or_else(|| SignatureError::UnknownKey(params.kid.clone()))?;
        if params.created > now_unix + CLOCK_SKEW_SECONDS {
            return Err(SignatureError::NotYetValid { created: params.created, now: now_unix });
        }
        if params.expires + CLOCK_SKEW_SECONDS < now_unix {
            return Err(SignatureError::Expired { expires: params.expires, now: now_unix });
        }
        let bytes = decode_base64(&params.signature)
            .map_err(|_| SignatureError::Malformed("signature is not base64".into()))?;
        let signature =
            Signature::from_slice(&bytes).map_err(|_| SignatureError::Malformed("signature is not 64 bytes".into()))?;
        let signing_string = signing_string(params.created, params.expires, &digest(header, message));
        key.verify_strict(signing_string.as_bytes(), &signature).map_err(|_| SignatureError::Invalid)
    }
}

/// An Ed25519 public key as a JWK (`kty OKP`, `crv Ed25519`, `alg EdDSA`, `use sig`).
pub fn jwk_from_verifying_key(kid: &str, key: &VerifyingKey) -> Jwk {
    Jwk {
        kty: "OKP".into(),
        crv: Some("Ed25519".into()),
        alg: Some("EdDSA".into()),
        kid: Some(kid.to_owned()),
        key_use: Some("sig".into()),
        x: Some(URL_SAFE_NO_PAD.encode(key.as_bytes())),
        other: Default::default(),
    }
}

/// The Ed25519 public key of a JWK.
pub fn verifying_key_from_jwk(jwk: &Jwk) -> Result<VerifyingKey, SignatureError> {
    if jwk.kty != "OKP" || jwk.crv.as_deref() != Some("Ed25519") {
        return Err(SignatureError::InvalidKey(format!("not an Ed25519 key (kty {:?}, crv {:?})", jwk.kty, jwk.crv)));
    }
    let x = jwk.x.as_deref().ok_or_else(|| SignatureError::InvalidKey("the JWK has no x".into()))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(x.trim_end_matches('='))
        .map_err(|_| SignatureError::InvalidKey("x is not base64url".into()))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| SignatureError::InvalidKey("x is not 32 bytes".into()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| SignatureError::InvalidKey("x is not a valid Ed25519 point".into()))
}
