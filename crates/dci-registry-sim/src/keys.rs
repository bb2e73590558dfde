//! The keys the registries sign their answers with, by profile: Ed25519
//! signing strings (spdci, openspp) or RS256 JWS (opencrvs compact, openg2p
//! detached), and the JWKS that publishes them.

use std::sync::Arc;

use dci_protocol::signing::{Ed25519Signer, JwsSigner, Signer};
use dci_protocol::{Jwk, Jwks, Profile, ProfileSignature};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use rsa::pkcs1::EncodeRsaPrivateKey;

use crate::{RegistryKind, SimConfig, SimError};

/// The key id (middle part of `kid`) of the Ed25519 server key.
pub(crate) const KEY_ID: &str = "sim-key-1";
/// RSA key size: what OpenCRVS's `generateKeyPair('RS256')` makes (`crypto/keys.ts`).
const RSA_BITS: usize = 2048;

/// Each registry's signer, and a signer with the same key id but another key
/// (`bad_signature_rate`), plus the JWKS served.
pub(crate) struct ServerKeys {
    pub(crate) signers: [Arc<dyn Signer>; 3],
    pub(crate) wrong: [Arc<dyn Signer>; 3],
    pub(crate) jwks: Jwks,
}

/// An RSA key made from `seed`, as PKCS#1 DER (the same seed gives the same key).
fn rsa_der(seed: [u8; 32]) -> Result<Vec<u8>, SimError> {
    let mut rng = ChaCha20Rng::from_seed(seed);
    let key = rsa::PrivateKey::new(&mut rng, RSA_BITS)
        .map_err(|e| SimError::Config(format!("cannot make the RSA server key: {e}")))?;
    let der = key.to_pkcs1_der().map_err(|e| SimError::Config(format!("cannot encode the RSA server key: {e}")))?;
    Ok(der.as_bytes().to_vec())
}

impl ServerKeys {
    /// The keys for `config`: the Ed25519 seed is `server_key_seed` or derived
    /// from `seed`; RSA keys (made only when a registry speaks a JWS profile)
    /// are derived from `seed`.
    pub(crate) fn make(config: &SimConfig, derive: impl Fn(&str) -> [u8; 32]) -> Result<ServerKeys, SimError> {
        let seed = match &config.server_key_seed {
            Some(seed) => seed.bytes()?,
            None => derive("server key"),
        };
        let uses_jws = RegistryKind::ALL
            .iter()
            .any(|kind| matches!(config.registry(*kind).profile.signature(), ProfileSignature::Jws(_)));
        let rsa =
            if uses_jws { Some((rsa_der(derive("server rsa key"))?, rsa_der(derive("wrong rsa key"))?)) } else { None };
        let mut jwks = Jwks { keys: Vec::new() };
        let mut pairs = Vec::with_capacity(3);
        for kind in RegistryKind::ALL {
            let settings = config.registry(kind);
            let pair: (Arc<dyn Signer>, Arc<dyn Signer>) = match (settings.profile.signature(), &rsa) {
                (ProfileSignature::Jws(form), Some((right, wrong))) => {
                    let signer = JwsSigner::from_rsa_der(form, right, None).map_err(key_error)?;
                    let kid = signer.kid().to_owned();
                    let wrong = JwsSigner::from_rsa_der(form, wrong, Some(&kid)).map_err(key_error)?;
                    (Arc::new(signer), Arc::new(wrong))
                }
                _ => (
                    Arc::new(Ed25519Signer::new(&settings.sender_id, KEY_ID, &seed)),
                    Arc::new(Ed25519Signer::new(&settings.sender_id, KEY_ID, &derive("wrong key"))),
                ),
            };
            publish(&mut jwks, pair.0.public_jwk());
            if settings.profile == Profile::Opencrvs {
                publish(&mut jwks, encryption_key(pair.0.public_jwk()));
            }
            pairs.push(pair);
        }
        let (signers, wrong): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
        let three = |keys: Vec<Arc<dyn Signer>>| {
            <[Arc<dyn Signer>; 3]>::try_from(keys).map_err(|_| SimError::Config("a registry without keys".into()))
        };
        Ok(ServerKeys { signers: three(signers)?, wrong: three(wrong)?, jwks })
    }
}

fn key_error(error: dci_protocol::signing::SignatureError) -> SimError {
    SimError::Config(format!("the server key cannot sign: {error}"))
}

/// Adds `jwk` unless a key of that id is already published (registries sharing a key).
fn publish(jwks: &mut Jwks, jwk: Jwk) {
    if jwks.keys.iter().all(|known| known.kid != jwk.kid) {
        jwks.keys.push(jwk);
    }
}

/// The `RSA-OAEP-256` `enc` key OpenCRVS publishes beside its signing key
/// (`.well-known/jwks-handler.ts`); a client must not verify with it.
fn encryption_key(mut jwk: Jwk) -> Jwk {
    jwk.kid = jwk.kid.map(|kid| format!("{kid}-enc"));
    jwk.key_use = Some("enc".into());
    jwk.alg = Some("RSA-OAEP-256".into());
    jwk
}
