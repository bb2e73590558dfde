//! Acknowledgements of asynchronous requests and HTTP-level error bodies.

use serde::de::Deserializer;
use serde::{Deserialize, Serialize};

use crate::codes::{AckStatus, ErrorCode};
use crate::time::{DciTimestamp, opt_timestamp};
use crate::tolerant::{opt_text, text};

/// The body answering an asynchronous request: `{"message": {ack_status, ...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AckResponse {
    /// The acknowledgement.
    pub message: Ack,
}

/// An acknowledgement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    /// `ACK`, `NACK` or `ERR`.
    pub ack_status: AckStatus,
    /// When the request was acknowledged.
    #[serde(default, deserialize_with = "opt_timestamp", skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DciTimestamp>,
    /// What went wrong (`ERR` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    /// The receiver's id for the transaction; the callback echoes it.
    #[serde(default, deserialize_with = "text")]
    pub correlation_id: String,
}

/// An error code with its message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The code, e.g. `err.request.unauthorized`.
    pub code: ErrorCode,
    /// What happened (at most 999 characters).
    #[serde(default, deserialize_with = "text")]
    pub message: String,
}

impl ErrorBody {
    /// An error body.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody { code, message: crate::header::truncate_reason(message.into()) }
    }
}

/// The body of an HTTP error (401, 403, 500, ...): `{"errors": [{code, message}]}`.
///
/// Also reads OpenCRVS's `{"error": {...}}` and a bare `{code, message}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HttpErrorResponse {
    /// The errors.
    pub errors: Vec<ErrorBody>,
}

impl HttpErrorResponse {
    /// A body with one error.
    pub fn single(code: ErrorCode, message: impl Into<String>) -> Self {
        HttpErrorResponse { errors: vec![ErrorBody::new(code, message)] }
    }
}

impl<'de> Deserialize<'de> for HttpErrorResponse {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Loose {
            #[serde(default)]
            errors: Option<Vec<ErrorBody>>,
            #[serde(default)]
            error: Option<LooseError>,
            #[serde(default, deserialize_with = "opt_text")]
            code: Option<String>,
            #[serde(default, deserialize_with = "opt_text")]
            message: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum LooseError {
            Body(ErrorBody),
            Text(String),
        }
        let loose = Loose::deserialize(deserializer)?;
        let mut errors = loose.errors.unwrap_or_default();
        match loose.error {
            Some(LooseError::Body(body)) => errors.push(body),
            Some(LooseError::Text(text)) => errors.push(ErrorBody::new(ErrorCode::Other(text.clone()), text)),
            None => {}
        }
        if let Some(code) = loose.code {
            errors.push(ErrorBody::new(ErrorCode::parse(&code), loose.message.unwrap_or_default()));
        }
        Ok(HttpErrorResponse { errors })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_bodies_are_read_in_every_known_shape() {
        let spec: HttpErrorResponse =
            serde_json::from_value(json!({"errors": [{"code": "err.request.unauthorized", "message": "no token"}]}))
                .expect("spec");
        assert_eq!(spec.errors[0].code, ErrorCode::RequestUnauthorized);
        let opencrvs: HttpErrorResponse =
            serde_json::from_value(json!({"error": {"code": "err.signature.invalid", "message": "bad"}}))
                .expect("opencrvs");
        assert_eq!(opencrvs.errors[0].code, ErrorCode::SignatureInvalid);
        let bare: HttpErrorResponse =
            serde_json::from_value(json!({"code": "err.request.bad", "message": "x"})).expect("bare");
        assert_eq!(bare.errors[0].code, ErrorCode::RequestBad);
    }
}
