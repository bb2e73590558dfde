//! The `{signature, header, message}` envelope every DCI operation exchanges.

use serde::{Deserialize, Serialize};

use crate::header::{RequestHeader, ResponseHeader};
use crate::tolerant::opt_text;

/// A DCI message: an optional signature over `header` + `message`, the header,
/// and the message proper (generic: search, enrolled, ...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope<H, M> {
    /// The signature field value (see [`crate::signing`]); absent when unsigned.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The message header. Some samples spell it `headers`.
    #[serde(alias = "headers")]
    pub header: H,
    /// The message body.
    pub message: M,
}

/// A request envelope.
pub type RequestEnvelope<M> = Envelope<RequestHeader, M>;
/// A response (or callback) envelope.
pub type ResponseEnvelope<M> = Envelope<ResponseHeader, M>;

impl<H, M> Envelope<H, M> {
    /// An unsigned envelope.
    pub fn new(header: H, message: M) -> Self {
        Envelope { signature: None, header, message }
    }
}
