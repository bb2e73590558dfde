//! Reading any DCI document without knowing beforehand what it is: useful for
//! logs, test fixtures and the official samples.

use serde::de::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ack::Ack;
use crate::enrolled::{DisabledRequest, DisabledResponse, EnrolledRequest, EnrolledResponse};
use crate::envelope::Envelope;
use crate::header::{RequestHeader, ResponseHeader};
use crate::search::{SearchRequest, SearchResponse};
use crate::tolerant::is_blank;

/// Any DCI document: an envelope whose header and message kinds are found by shape.
pub type DciDocument = Envelope<AnyHeader, AnyMessage>;

/// A request header, a response header, or a blank placeholder.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AnyHeader {
    /// Has no `status`: a request.
    Request(RequestHeader),
    /// Has a `status`: a response or callback.
    Response(ResponseHeader),
    /// Blank (`""`, `{}`), as in some placeholder samples.
    Blank,
}

impl<'de> Deserialize<'de> for AnyHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if is_blank(&value) {
            return Ok(AnyHeader::Blank);
        }
        let is_response = value.get("status").is_some();
        let read = if is_response {
            serde_json::from_value(value).map(AnyHeader::Response)
        } else {
            serde_json::from_value(value).map(AnyHeader::Request)
        };
        read.map_err(serde::de::Error::custom)
    }
}

/// A message of a kind this crate models, found by its keys, or any other JSON kept as is.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AnyMessage {
    /// Has `search_request`.
    SearchRequest(SearchRequest),
    /// Has `search_response`.
    SearchResponse(SearchResponse),
    /// Has `enrolled_criteria`.
    EnrolledRequest(EnrolledRequest),
    /// Has `enrolled_response`.
    EnrolledResponse(EnrolledResponse),
    /// Has `disabled_criteria`.
    DisabledRequest(DisabledRequest),
    /// Has `disabled_response`.
    DisabledResponse(DisabledResponse),
    /// Has `ack_status`.
    Ack(Ack),
    /// Anything else (subscriptions, notifications, vendor messages), kept as written.
    Other(Value),
}

impl<'de> Deserialize<'de> for AnyMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let has = |key: &str| value.get(key).is_some();
        let read = if has("search_request") {
            serde_json::from_value(value).map(AnyMessage::SearchRequest)
        } else if has("search_response") {
            serde_json::from_value(value).map(AnyMessage::SearchResponse)
        } else if has("enrolled_criteria") {
            serde_json::from_value(value).map(AnyMessage::EnrolledRequest)
        } else if has("enrolled_response") {
            serde_json::from_value(value).map(AnyMessage::EnrolledResponse)
        } else if has("disabled_criteria") {
            serde_json::from_value(value).map(AnyMessage::DisabledRequest)
        } else if has("disabled_response") {
            serde_json::from_value(value).map(AnyMessage::DisabledResponse)
        } else if has("ack_status") {
            serde_json::from_value(value).map(AnyMessage::Ack)
        } else {
            Ok(AnyMessage::Other(value))
        };
        read.map_err(serde::de::Error::custom)
    }
}
