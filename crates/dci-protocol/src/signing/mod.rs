//! Message signatures.
//!
//! The DCI spec says only that `signature` signs `{header}+{message}` with the
//! sender's key. This module implements the OpenSPP practice
//! ([`Ed25519Signer`], [`Ed25519Verifier`]): an Ed25519 signature over a
//! cavage-style signing string that carries the SHA-256 digest of the
//! key-sorted compact JSON of `{"header": H, "message": M}`; and JWS
//! ([`JwsSigner`]), compact as OpenCRVS signs or detached as OpenG2P does.
//! [`RegistryKeys`] verifies all three with the keys of a registry's JWKS.
//! Schemes sit behind the [`Signer`] and [`Verifier`] traits. Nothing here
//! reads the clock: callers pass the current Unix time.

mod canonical;
mod ed25519;
mod jws;

pub use canonical::{canonical_json, digest};
pub use ed25519::{
    CLOCK_SKEW_SECONDS, Ed25519Signer, Ed25519Verifier, SIGNATURE_LIFETIME_SECONDS, SignatureParams,
    jwk_from_verifying_key, verifying_key_from_jwk,
};
pub use jws::{JwsForm, JwsSigner, RegistryKeys};

use serde_json::Value;

use crate::codes::ErrorCode;

/// Produces the `signature` field of an outgoing message.
pub trait Signer: Send + Sync {
    /// The signature field value for `header` and `message`, created at `now_unix`.
    fn sign(&self, header: &Value, message: &Value, now_unix: i64) -> Result<String, SignatureError>;

    /// The public key a receiver verifies these signatures with, as a JWK
    /// (what we publish at `/.well-known/jwks.json`).
    fn public_jwk(&self) -> crate::auth::Jwk;
}

/// Checks the `signature` field of an incoming message.
pub trait Verifier: Send + Sync {
    /// Verifies `signature` (the field value, if any) over `header` and `message` at `now_unix`.
    fn verify(
        &self,
        signature: Option<&str>,
        header: &Value,
        message: &Value,
        now_unix: i64,
    ) -> Result<(), SignatureError>;
}

/// Why a signature could not be made or did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The message carries no signature.
    #[error("the message is not signed")]
    Missing,
    /// The signature field cannot be read.
    #[error("malformed signature field: {0}")]
    Malformed(String),
    /// An algorithm this verifier does not implement.
    #[error("unsupported signature algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// No key is known under the signature's key id.
    #[error("no key known for kidId {0:?}")]
    UnknownKey(String),
    /// The signature's validity ended.
    #[error("signature expired at {expires} (now {now})")]
    Expired {
        /// `expires` of the signature.
        expires: i64,
        /// The time of verification.
        now: i64,
    },
    /// The signature claims to be created in the future.
    #[error("signature created in the future ({created}, now {now})")]
    NotYetValid {
        /// `created` of the signature.
        created: i64,
        /// The time of verification.
        now: i64,
    },
    /// The signature does not match the message (tampered, or a wrong key).
    #[error("signature does not match the message")]
    Invalid,
    /// A key could not be read.
    #[error("invalid key: {0}")]
    InvalidKey(String),
}

impl SignatureError {
    /// The DCI error code for this failure: `err.signature.missing` or `err.signature.invalid`.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            SignatureError::Missing => ErrorCode::SignatureMissing,
            _ => ErrorCode::SignatureInvalid,
        }
    }
}
