//! JSON Web Signatures (RFC 7515) over `{header, message}`, in the two forms
//! registries use:
//!
//! - **compact** (OpenCRVS, `packages/http-api/src/crypto/sign.ts`): the payload
//!   is the JSON of the answer without `signature`, and travels inside the JWS;
//!   a verifier checks that the signed payload equals the message's `header`
//!   and `message` as JSON values (`crypto/verify.ts` compares with `isEqual`);
//! - **detached** (OpenG2P's partner API): `protected..signature`, the payload
//!   being the key-sorted compact JSON of `{header, message}` ([`canonical_json`]),
//!   rebuilt by the verifier.
//!
//! The cryptography is `jsonwebtoken`'s (RustCrypto backend); only RS256, PS256,
//! ES256 and EdDSA are accepted, and the algorithm a signature names must be
//! one its key is for.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk as JoseJwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::{Value, json};

use super::{Ed25519Verifier, SignatureError, Signer, Verifier, canonical_json};
use crate::auth::{Jwk, Jwks};

/// Where the signed payload travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwsForm {
    /// `protected.payload.signature`, the payload inside (OpenCRVS).
    Compact,
    /// `protected..signature`, the payload rebuilt from the message (OpenG2P).
    Detached,
}

/// The algorithms accepted, signing and verifying.
pub const JWS_ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

fn algorithm(name: &str) -> Result<Algorithm, SignatureError> {
    match name {
        "RS256" => Ok(Algorithm::RS256),
        "PS256" => Ok(Algorithm::PS256),
        "ES256" => Ok(Algorithm::ES256),
        "EdDSA" => Ok(Algorithm::EdDSA),
        other => Err(SignatureError::UnsupportedAlgorithm(other.chars().take(32).collect())),
    }
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::PS256 => "PS256",
        Algorithm::ES256 => "ES256",
        Algorithm::EdDSA => "EdDSA",
        _ => "RS256",
    }
}

/// The payload signed for `header` and `message`, in `form`.
fn payload(form: JwsForm, header: &Value, message: &Value) -> Vec<u8> {
    let both = json!({"header": header, "message": message});
    match form {
        JwsForm::Compact => both.to_string().into_bytes(),
        JwsForm::Detached => canonical_json(&both).into_bytes(),
    }
}

/// Signs `{header, message}` as a JWS with a private key read from PEM.
///
/// `Debug` never shows the key.
pub struct JwsSigner {
    form: JwsForm,
    algorithm: Algorithm,
    key: EncodingKey,
    jwk: Jwk,
}

impl fmt::Debug for JwsSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwsSigner")
            .field("form", &self.form)
            .field("algorithm", &algorithm_name(self.algorithm))
            .field("kid", &self.jwk.kid)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl JwsSigner {
    /// A signer from a PEM private key (RSA in PKCS#1 or PKCS#8, EC P-256 or
    /// Ed25519 in PKCS#8). The algorithm follows the key (RS256, ES256, EdDSA)
    /// unless `algorithm` names another one the key is for (PS256 for RSA).
    /// The key id is `kid`, or the key's RFC 7638 thumbprint (as OpenCRVS does).
    pub fn from_pem(
        form: JwsForm,
        pem: &[u8],
        algorithm_wanted: Option<&str>,
        kid: Option<&str>,
    ) -> Result<Self, SignatureError> {
        let (key, by_key) = if let Ok(key) = EncodingKey::from_rsa_pem(pem) {
            (key, Algorithm::RS256)
        } else if let Ok(key) = EncodingKey::from_ec_pem(pem) {
            (key, Algorithm::ES256)
        } else if let Ok(key) = EncodingKey::from_ed_pem(pem) {
            (key, Algorithm::EdDSA)
        } else {
            return Err(SignatureError::InvalidKey(
                "not a PEM private key of RSA, EC P-256 or Ed25519 (PKCS#1 or PKCS#8, unencrypted)".into(),
            ));
        };
        let chosen = match algorithm_wanted {
            Some(name) => algorithm(name)?,
            None => by_key,
        };
        if chosen.family() != by_key.family() {
            return Err(SignatureError::InvalidKey(format!(
                "the key is for {} but the algorithm asked is {}",
                algorithm_name(by_key),
                algorithm_name(chosen)
            )));
        }
        Self::new(form, key, chosen, kid)
    }

    /// A signer from an RSA private key in PKCS#1 DER (keys generated in memory).
    pub fn from_rsa_der(form: JwsForm, der: &[u8], kid: Option<&str>) -> Result<Self, SignatureError> {
        Self::new(form, EncodingKey::from_rsa_der(der), Algorithm::RS256, kid)
    }

    fn new(form: JwsForm, key: EncodingKey, algorithm: Algorithm, kid: Option<&str>) -> Result<Self, SignatureError> {
        let invalid = |e: jsonwebtoken::errors::Error| SignatureError::InvalidKey(e.to_string());
        let public = JoseJwk::from_encoding_key(&key, algorithm).map_err(invalid)?;
        let kid = match kid.filter(|kid| !kid.trim().is_empty()) {
            Some(kid) => kid.to_owned(),
            None => public.thumbprint(ThumbprintHash::SHA256).map_err(invalid)?,
        };
        let mut jwk: Jwk = serde_json::to_value(&public)
            .and_then(serde_json::from_value)
            .map_err(|e| SignatureError::InvalidKey(e.to_string()))?;
        jwk.kid = Some(kid);
        jwk.key_use = Some("sig".into());
        jwk.alg = Some(algorithm_name(algorithm).into());
        // Sign once now, so that a key the backend cannot use fails at start, not per message.
        jsonwebtoken::crypto::sign(b"probe", &key, algorithm).map_err(invalid)?;
        Ok(JwsSigner { form, algorithm, key, jwk })
    }

    /// The key id written in the protected header.
    pub fn kid(&self) -> &str {
        self.jwk.kid.as_deref().unwrap_or_default()
    }

    /// The JWS for `header` and `message`.
    pub fn sign_message(&self, header: &Value, message: &Value) -> Result<String, SignatureError> {
        let protected = json!({"alg": algorithm_name(self.algorithm), "kid": self.kid()});
        let protected = URL_SAFE_NO_PAD.encode(protected.to_string());
        let payload = URL_SAFE_NO_PAD.encode(payload(self.form, header, message));
        let signing_input = format!("{protected}.{payload}");
        let signature = jsonwebtoken::crypto::sign(signing_input.as_bytes(), &self.key, self.algorithm)
            .map_err(|e| SignatureError::InvalidKey(e.to_string()))?;
        Ok(match self.form {
            JwsForm::Compact => format!("{signing_input}.{signature}"),
            JwsForm::Detached => format!("{protected}..{signature}"),
        })
    }
}

impl Signer for JwsSigner {
    fn sign(&self, header: &Value, message: &Value, _now_unix: i64) -> Result<String, SignatureError> {
        self.sign_message(header, message)
    }

    fn public_jwk(&self) -> Jwk {
        self.jwk.clone()
    }
}

/// A public key of a JWKS, usable for JWS.
struct JwsKey {
    key: DecodingKey,
    /// The algorithm the JWK names, when it names one.
    algorithm: Option<String>,
    /// What the key is, for reports (`RSA`, `EC P-256`, `OKP Ed25519`).
    kind: String,
}

/// The signature keys of a registry's JWKS, for every scheme a registry may
/// sign with: OpenSPP's Ed25519 signing string, compact JWS, detached JWS. A
/// signature is read in the form its text shows; `use: enc` keys, symmetric
/// keys and keys without `kid` are ignored.
#[derive(Default)]
pub struct RegistryKeys {
    ed25519: Ed25519Verifier,
    jws: HashMap<String, JwsKey>,
}

impl fmt::Debug for RegistryKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryKeys").field("keys", &self.describe()).finish()
    }
}

impl RegistryKeys {
    /// The keys of `jwks` we can verify with.
    pub fn from_jwks(jwks: &Jwks) -> Self {
        let signing: Vec<Jwk> = jwks
            .keys
            .iter()
            .filter(|jwk| jwk.key_use.as_deref().is_none_or(|key_use| key_use == "sig"))
            .filter(|jwk| jwk.kty != "oct")
            .cloned()
            .collect();
        let ed25519 = Ed25519Verifier::from_jwks(&Jwks { keys: signing.clone() });
        let mut jws = HashMap::new();
        for jwk in signing {
            let Some(kid) = jwk.kid.clone() else { continue };
            let kind = match (&jwk.kty[..], jwk.crv.as_deref()) {
                (kty, Some(curve)) => format!("{kty} {curve}"),
                (kty, None) => kty.to_owned(),
            };
            let algorithm = jwk.alg.clone();
            let key = serde_json::to_value(&jwk)
                .ok()
                .and_then(|value| serde_json::from_value::<JoseJwk>(value).ok())
                .and_then(|jose| DecodingKey::from_jwk(&jose).ok());
            if let Some(key) = key {
                jws.insert(kid, JwsKey { key, algorithm, kind });
            }
        }
        RegistryKeys { ed25519, jws }
    }

    /// Whether no key is usable.
    pub fn is_empty(&self) -> bool {
        self.ed25519.is_empty() && self.jws.is_empty()
    }

    /// The usable keys, `kid (algorithm or key type)`, sorted.
    pub fn describe(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .jws
            .iter()
            .map(|(kid, key)| format!("{kid} ({})", key.algorithm.as_deref().unwrap_or(&key.kind)))
            .collect();
        for kid in self.ed25519.key_ids() {
            if !self.jws.contains_key(kid) {
                keys.push(format!("{kid} (ed25519)"));
            }
        }
        keys.sort_unstable();
        keys
    }

    fn verify_jws(&self, jws: &str, header: &Value, message: &Value) -> Result<(), SignatureError> {
        let mut parts = jws.trim().split('.');
        let (Some(protected), Some(carried), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SignatureError::Malformed("not a JWS (three parts separated by dots)".into()));
        };
        let fields = decode_part(protected, "protected header")?;
        if fields.get("crit").is_some() {
            return Err(SignatureError::Malformed("the JWS header has crit members we do not implement".into()));
        }
        let named = fields
            .get("alg")
            .and_then(Value::as_str)
            .ok_or_else(|| SignatureError::Malformed("the JWS header has no alg".into()))?;
        let chosen = algorithm(named)?;
        let kid = fields
            .get("kid")
            .and_then(Value::as_str)
            .ok_or_else(|| SignatureError::Malformed("the JWS header has no kid".into()))?;
        let key = self.jws.get(kid).ok_or_else(|| SignatureError::UnknownKey(kid.to_owned()))?;
        if key.algorithm.as_deref().is_some_and(|for_key| for_key != named) || key.key.family() != chosen.family() {
            return Err(SignatureError::InvalidKey(format!(
                "key {kid} is for {} but the signature says {named}",
                key.algorithm.as_deref().unwrap_or(&key.kind)
            )));
        }
        let expected = payload(if carried.is_empty() { JwsForm::Detached } else { JwsForm::Compact }, header, message);
        let signing_input = if carried.is_empty() {
            format!("{protected}.{}", URL_SAFE_NO_PAD.encode(&expected))
        } else {
            let signed = decode_part(carried, "payload")?;
            if signed.get("header") != Some(header) || signed.get("message") != Some(message) {
                return Err(SignatureError::Invalid);
            }
            format!("{protected}.{carried}")
        };
        match jsonwebtoken::crypto::verify(signature, signing_input.as_bytes(), &key.key, chosen) {
            Ok(true) => Ok(()),
            Ok(false) => Err(SignatureError::Invalid),
            Err(error) => Err(SignatureError::Malformed(format!("the signature cannot be read: {error}"))),
        }
    }
}

fn decode_part(part: &str, what: &str) -> Result<Value, SignatureError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| SignatureError::Malformed(format!("the JWS {what} is not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|_| SignatureError::Malformed(format!("the JWS {what} is not JSON")))
}

impl Verifier for RegistryKeys {
    fn verify(
        &self,
        signature: Option<&str>,
        header: &Value,
        message: &Value,
        now_unix: i64,
    ) -> Result<(), SignatureError> {
        let field = signature.filter(|s| !s.trim().is_empty()).ok_or(SignatureError::Missing)?;
        if field.contains('"') || field.contains('=') {
            // `namespace="dci", kidId="…"`: the OpenSPP signing string.
            self.ed25519.verify(Some(field), header, message, now_unix)
        } else {
            self.verify_jws(field, header, message)
        }
    }
}
