//! OAuth2 client-credentials token exchange and JSON Web Key Sets.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::tolerant::{opt_text, text};

/// The client-credentials grant type.
pub const CLIENT_CREDENTIALS: &str = "client_credentials";

/// The body of `POST /oauth2/client/token`, form-encoded or JSON.
///
/// `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRequest {
    /// Always `client_credentials`.
    #[serde(default, deserialize_with = "text")]
    pub grant_type: String,
    /// The client's id.
    #[serde(default, deserialize_with = "text")]
    pub client_id: String,
    /// The client's secret.
    #[serde(default, deserialize_with = "text")]
    pub client_secret: String,
    /// Optional scope.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl TokenRequest {
    /// A client-credentials request.
    pub fn client_credentials(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        TokenRequest {
            grant_type: CLIENT_CREDENTIALS.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scope: None,
        }
    }
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("scope", &self.scope)
            .finish()
    }
}

/// The token endpoint's answer. `expires_in` is a string in the spec and a
/// number in most servers; both are read (see [`ExpiresIn`]), a string is written.
///
/// `Debug` never shows the token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The bearer token.
    pub access_token: String,
    /// `bearer`.
    #[serde(default = "bearer", deserialize_with = "text")]
    pub token_type: String,
    /// Lifetime, as the server wrote it; absent means the server did not say.
    #[serde(default, deserialize_with = "opt_expires_in", skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<ExpiresIn>,
    /// Granted scope.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A token's `expires_in`: seconds, read from a number or a numeric string
/// (fractional, zero, negative or huge: the reader decides what to believe),
/// or text that is no number (`"1h"`), kept to be reported. A string in the
/// spec's schema, and written as one.
#[derive(Clone, Debug, PartialEq)]
pub enum ExpiresIn {
    /// A number of seconds.
    Seconds(f64),
    /// Text that is not a number, as written.
    Unreadable(String),
}

impl ExpiresIn {
    /// Reads `expires_in` from its JSON; `null` and `""` are absent.
    pub fn read(value: &Value) -> Option<Self> {
        match value {
            Value::Null => None,
            Value::Number(number) => number.as_f64().map(ExpiresIn::Seconds),
            Value::String(text) if text.trim().is_empty() => None,
            Value::String(text) => Some(match text.trim().parse::<f64>() {
                Ok(seconds) if seconds.is_finite() => ExpiresIn::Seconds(seconds),
                _ => ExpiresIn::Unreadable(text.chars().take(64).collect()),
            }),
            other => Some(ExpiresIn::Unreadable(other.to_string().chars().take(64).collect())),
        }
    }
}

impl fmt::Display for ExpiresIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpiresIn::Seconds(seconds) => write!(f, "{seconds}"),
            ExpiresIn::Unreadable(text) => f.write_str(text),
        }
    }
}

impl Serialize for ExpiresIn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

fn opt_expires_in<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<ExpiresIn>, D::Error> {
    Ok(ExpiresIn::read(&Value::deserialize(deserializer)?))
}

fn bearer() -> String {
    "bearer".into()
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// A JSON Web Key Set, as served at `/.well-known/jwks.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys.
    #[serde(default)]
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The key with id `kid`.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|key| key.kid.as_deref() == Some(kid))
    }
}

/// One JSON Web Key. Members this crate does not use are kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `OKP` for Ed25519, `RSA`, `EC`.
    pub kty: String,
    /// Curve (`Ed25519`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Algorithm (`EdDSA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Key id; for DCI `<sender_id>|<key_id>|ed25519`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended use (`sig`).
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    /// Public key (base64url, no padding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// Other members (`n`, `e`, `y`, ...).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}
