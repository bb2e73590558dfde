//! Protection of registry facts at rest (the shared tier, snapshot files):
//! authenticated encryption of values, and keyed hashes of identifiers.
//!
//! Facts include disability status (special-category health data) and are
//! looked up by national identifiers, so what leaves the process can be
//! sealed with XChaCha20-Poly1305 (random 192-bit nonces, safe to draw at
//! random for every value), bound to where it is stored (its key or file
//! header as associated data, so a value moved elsewhere fails to open), and
//! keys are HMAC-SHA256 of the identifier, so a dump lists no one.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use dci_client::SecretSource;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const NONCE_BYTES: usize = 24;

/// The length of a value's tag ([`KeyHasher::value_tag`]).
pub(crate) const VALUE_TAG_BYTES: usize = 32;

/// What a value's tag is computed over first.
const VALUE_TAG_DOMAIN: &[u8] = b"elig shared value";

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// A 256-bit key given as 64 hex digits or base64 (standard or URL-safe).
fn key_bytes(source: &SecretSource, what: &str) -> Result<[u8; 32], KeyError> {
    use base64::Engine as _;
    let secret = source.resolve(what).map_err(KeyError)?;
    let text = secret.expose().trim();
    let decoded = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32).map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()).collect::<Option<Vec<u8>>>()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
            .ok()
    };
    decoded.and_then(|bytes| <[u8; 32]>::try_from(bytes).ok()).ok_or_else(|| {
        KeyError(format!(
            "{what}: not a 256-bit key (give 64 hex digits or 32 bytes in base64, e.g. `openssl rand -hex 32`)"
        ))
    })
}

/// Seals and opens values with one key.
pub(crate) struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<key redacted>)")
    }
}

impl Sealer {
    /// The sealer of the key `source` gives (`what` names it in errors).
    pub(crate) fn new(source: &SecretSource, what: &str) -> Result<Self, KeyError> {
        let key = key_bytes(source, what)?;
        Ok(Sealer { cipher: XChaCha20Poly1305::new(&key.into()) })
    }

    /// `plain`, encrypted and authenticated, bound to `context`: the nonce, then the ciphertext.
    pub(crate) fn seal(&self, plain: &[u8], context: &[u8], out: &mut Vec<u8>) {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption fails only past the cipher's length limit (256 GiB), far beyond any record.
        if let Ok(sealed) = self.cipher.encrypt(&nonce, Payload { msg: plain, aad: context }) {
            out.extend_from_slice(&nonce);
            out.extend_from_slice(&sealed);
        }
    }

    /// What [`Sealer::seal`] sealed with this key and `context`; `None` when
    /// the bytes were sealed with another key or context, or were altered.
    pub(crate) fn open(&self, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        self.cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: context }).ok()
    }
}

/// Keyed hashes of identifiers (HMAC-SHA256).
#[derive(Clone)]
pub(crate) struct KeyHasher {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(<secret redacted>)")
    }
}

impl KeyHasher {
    /// A hasher keyed with the secret `source` gives (any length; 32 random bytes recommended).
    pub(crate) fn new(source: &SecretSource, what: &str) -> Result<Self, KeyError> {
        let secret = source.resolve(what).map_err(KeyError)?;
        if secret.expose().len() < 16 {
            return Err(KeyError(format!("{what}: shorter than 16 characters; use e.g. `openssl rand -hex 32`")));
        }
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
            .map_err(|_| KeyError(format!("{what}: unusable as an HMAC key")))?;
        Ok(KeyHasher { mac })
    }

    /// The HMAC of a value stored under `key`: what authenticates a value of
    /// the shared tier that is not sealed (domain-separated from the keys'
    /// hashes, so that no key can stand for a value's tag).
    pub(crate) fn value_tag(&self, key: &[u8], value: &[u8]) -> [u8; VALUE_TAG_BYTES] {
        let mut mac = self.mac.clone();
        for part in [VALUE_TAG_DOMAIN, key, value] {
            mac.update(&(part.len() as u32).to_le_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Whether `tag` is [`KeyHasher::value_tag`] of `key` and `value`, compared in constant time.
    pub(crate) fn tag_matches(&self, key: &[u8], value: &[u8], tag: &[u8]) -> bool {
        let mut mac = self.mac.clone();
        for part in [VALUE_TAG_DOMAIN, key, value] {
            mac.update(&(part.len() as u32).to_le_bytes());
            mac.update(part);
        }
        mac.verify_slice(tag).is_ok()
    }

    /// Appends to `out` the first 128 bits of the HMAC of `parts` (each
    /// length-prefixed, so that parts cannot run into each other), in hex.
    pub(crate) fn hash_into(&self, parts: &[&[u8]], out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut mac = self.mac.clone();
        for part in parts {
            mac.update(&(part.len() as u32).to_le_bytes());
            mac.update(part);
        }
        let digest = mac.finalize().into_bytes();
        for byte in &digest[..16] {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hex: &str) -> SecretSource {
        SecretSource::Value(hex.to_owned())
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let one = Sealer::new(&key(&"11".repeat(32)), "key").expect("hex key");
        let other = Sealer::new(&key("IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI="), "key").expect("base64 key");
        let mut sealed = Vec::new();
        one.seal(b"disability level 3", b"elig:abc", &mut sealed);
        assert!(!sealed.windows(10).any(|w| w == b"disability"), "encrypted");
        assert_eq!(one.open(&sealed, b"elig:abc").as_deref(), Some(&b"disability level 3"[..]));
        assert_eq!(one.open(&sealed, b"elig:abd"), None, "moved to another key");
        assert_eq!(other.open(&sealed, b"elig:abc"), None, "another encryption key");
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(one.open(&altered, b"elig:abc"), None, "altered");
        assert_eq!(one.open(&sealed[..10], b"elig:abc"), None, "truncated");
        let short = Sealer::new(&key("abcd"), "cache.encryption_key").expect_err("too short");
        assert!(short.to_string().starts_with("cache.encryption_key: not a 256-bit key"), "{short}");
        assert_eq!(format!("{one:?}"), "Sealer(<key redacted>)");
    }

    #[test]
    fn identifier_hashes_are_keyed_and_do_not_run_together() {
        let hash_of = |hasher: &KeyHasher, parts: &[&[u8]]| {
            let mut out = String::new();
            hasher.hash_into(parts, &mut out);
            out
        };
        let a = KeyHasher::new(&key("a secret of some length"), "key").expect("key");
        let b = KeyHasher::new(&key("another secret entirely"), "key").expect("key");
        let hash = hash_of(&a, &[b"crvs", b"UIN", b"800010000"]);
        assert_eq!(hash.len(), 32);
        assert!(!hash.contains("800010000"));
        assert_eq!(hash, hash_of(&a, &[b"crvs", b"UIN", b"800010000"]), "stable");
        assert_ne!(hash, hash_of(&b, &[b"crvs", b"UIN", b"800010000"]), "keyed");
        assert_ne!(hash_of(&a, &[b"crvs", b"UIN8", b"00010000"]), hash, "parts do not run together");
        assert!(KeyHasher::new(&key("short"), "cache.redis.key_secret").is_err());
    }
}
