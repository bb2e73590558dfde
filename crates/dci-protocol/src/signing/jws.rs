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

/// How long after its header's `message_ts` a JWS-signed message is
/// accepted (a JWS carries no expiry of its own): the Ed25519 scheme's
/// lifetime, so that a signed answer cannot be replayed later under either.
const JWS_FRESH_SECONDS: i64 = super::SIGNATURE_LIFETIME_SECONDS;

/// The algorithms accepted, signing and verifying: RS256, PS256, ES256, EdDSA.
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
        Algorithm::RS256 => "RS256",
        Algorithm::PS256 => "PS256",
        Algorithm::ES256 => "ES256",
        Algorithm::EdDSA => "EdDSA",
        // Never made by `algorithm`, so never signed with nor written.
        _ => "unsupported",
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
    /// For an Ed25519 key, the key itself: EdDSA signatures are checked
    /// strictly (no small-order keys, canonical signatures), as the OpenSPP scheme is.
    ed25519: Option<ed25519_dalek::VerifyingKey>,
    /// The algorithm the JWK names, when it names one.
    algorithm: Option<String>,
    /// What the key is, for reports (`RSA`, `EC P-256`, `OKP Ed25519`).
    kind: String,
}

/// The signature keys of a registry's JWKS, for every scheme a registry may
/// sign with: OpenSPP's Ed25519 signing string, compact JWS, detached JWS. A
/// signature is read in the form its text shows. Ignored: `use: enc` keys,
/// keys naming another algorithm than the four, symmetric keys, keys
/// without `kid`, keys that are not a valid RSA, P-256 or Ed25519 public
/// key, and a second key under a `kid` already taken.
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
            .filter(|jwk| jwk.key_use.as_deref().is_none_or(|key_use| !key_use.trim().eq_ignore_ascii_case("enc")))
            .filter(|jwk| jwk.alg.as_deref().is_none_or(|named| algorithm(named).is_ok() || named == "ed25519"))
            .filter(|jwk| jwk.kty != "oct")
            .cloned()
            .collect();
        let ed25519 = Ed25519Verifier::from_jwks(&Jwks { keys: signing.clone() });
        let mut jws = HashMap::new();
        for jwk in signing {
            let Some(kid) = jwk.kid.clone() else { continue };
            if let (false, Some(key)) = (jws.contains_key(&kid), jws_key(&jwk)) {
                jws.insert(kid, key);
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

    fn verify_jws(&self, jws: &str, header: &Value, message: &Value, now_unix: i64) -> Result<(), SignatureError> {
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
        let key = self.jws.get(kid).ok_or_else(|| SignatureError::UnknownKey(kid.chars().take(128).collect()))?;
        if key.algorithm.as_deref().is_some_and(|for_key| for_key != named) || key.key.family() != chosen.family() {
            return Err(SignatureError::InvalidKey(format!(
                "key {kid} is for {} but the signature says {named}",
                key.algorithm.as_deref().unwrap_or(&key.kind)
            )));
        }
        let signing_input = if carried.is_empty() {
            let rebuilt = payload(JwsForm::Detached, header, message);
            format!("{protected}.{}", URL_SAFE_NO_PAD.encode(rebuilt))
        } else {
            let signed = decode_part(carried, "payload")?;
            if signed.get("header") != Some(header) || signed.get("message") != Some(message) {
                return Err(SignatureError::Invalid);
            }
            format!("{protected}.{carried}")
        };
        key.verify(signature, signing_input.as_bytes(), chosen)?;
        fresh(header, now_unix)
    }
}

impl JwsKey {
    fn verify(&self, signature: &str, signing_input: &[u8], chosen: Algorithm) -> Result<(), SignatureError> {
        if let Some(ed25519) = &self.ed25519 {
            let bytes = URL_SAFE_NO_PAD
                .decode(signature)
                .map_err(|_| SignatureError::Malformed("the JWS signature is not base64url".into()))?;
            let signature = ed25519_dalek::Signature::from_slice(&bytes)
                .map_err(|_| SignatureError::Malformed("an EdDSA signature is 64 bytes".into()))?;
            return ed25519.verify_strict(signing_input, &signature).map_err(|_| SignatureError::Invalid);
        }
        match jsonwebtoken::crypto::verify(signature, signing_input, &self.key, chosen) {
            Ok(true) => Ok(()),
            Ok(false) => Err(SignatureError::Invalid),
            Err(error) => Err(SignatureError::Malformed(format!("the signature cannot be read: {error}"))),
        }
    }
}

/// A key of `jwk` usable for JWS, if it is a valid RSA, EC P-256 or Ed25519
/// public key (the lengths checked here, so that no malformed key reaches the
/// cryptography).
fn jws_key(jwk: &Jwk) -> Option<JwsKey> {
    let decoded = |text: Option<&str>| text.and_then(|text| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok());
    let (key, ed25519) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("OKP", Some("Ed25519")) => {
            let key = super::verifying_key_from_jwk(jwk).ok()?;
            (DecodingKey::from_ed_components(jwk.x.as_deref()?).ok()?, Some(key))
        }
        ("EC", Some("P-256")) => {
            let (x, y) = (decoded(jwk.x.as_deref())?, decoded(jwk.other.get("y").and_then(Value::as_str))?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let jose: JoseJwk = serde_json::to_value(jwk).ok().and_then(|v| serde_json::from_value(v).ok())?;
            (DecodingKey::from_jwk(&jose).ok()?, None)
        }
        ("RSA", _) => {
            let jose: JoseJwk = serde_json::to_value(jwk).ok().and_then(|v| serde_json::from_value(v).ok())?;
            (DecodingKey::from_jwk(&jose).ok()?, None)
        }
        _ => return None,
    };
    let kind = match jwk.crv.as_deref() {
        Some(curve) => format!("{} {curve}", jwk.kty),
        None => jwk.kty.clone(),
    };
    Some(JwsKey { key, ed25519, algorithm: jwk.alg.clone(), kind })
}

/// A JWS carries no time of its own: the signed header's `message_ts` must be
/// recent (and not ahead of us beyond the tolerated clock difference).
fn fresh(header: &Value, now_unix: i64) -> Result<(), SignatureError> {
    let stamp = header.get("message_ts").and_then(Value::as_str).ok_or_else(|| {
        SignatureError::Malformed("the signed header has no message_ts to judge the signature's age by".into())
    })?;
    let created = crate::DciTimestamp::parse_lenient(stamp)
        .map_err(|_| SignatureError::Malformed("the signed header's message_ts is not a timestamp".into()))?
        .unix_seconds();
    if created > now_unix + super::CLOCK_SKEW_SECONDS {
        return Err(SignatureError::NotYetValid { created, now: now_unix });
    }
    let expires = created.saturating_add(JWS_FRESH_SECONDS);
    if expires + super::CLOCK_SKEW_SECONDS < now_unix {
        return Err(SignatureError::Expired { expires, now: now_unix });
    }
    Ok(())
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
        let lowered = field.to_ascii_lowercase();
        if lowered.contains("kidid=") || lowered.contains("namespace=") {
            // `namespace="dci", kidId="…"`: the OpenSPP signing string.
            self.ed25519.verify(Some(field), header, message, now_unix)
        } else {
            self.verify_jws(field, header, message, now_unix)
        }
    }
}
