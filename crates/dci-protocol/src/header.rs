//! Message headers: the request header a sender writes, and the response
//! (callback) header a receiver answers with.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::codes::{HeaderReasonCode, Status};
use crate::time::DciTimestamp;
use crate::tolerant::{lenient_bool, lenient_count, opt_object, opt_text, text};

/// The protocol version this crate writes.
pub const PROTOCOL_VERSION: &str = "1.0.0";

/// Actions used by the sync endpoints.
pub mod action {
    /// A search, enrolled or disabled request.
    pub const SEARCH: &str = "search";
    /// The answer to a search.
    pub const ON_SEARCH: &str = "on-search";
}

fn default_version() -> String {
    PROTOCOL_VERSION.to_owned()
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Reads a timestamp, treating unreadable text as absent so that a receiver
/// can reject it with `rjct.message_ts.invalid`.
fn lenient_timestamp<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<DciTimestamp>, D::Error> {
    Ok(opt_text(deserializer)?
        .and_then(|text| DciTimestamp::parse_strict(&text).or_else(|_| DciTimestamp::parse_lenient(&text)).ok()))
}

/// The header of a request message (`MsgHeader_V1.0.0`).
///
/// Read tolerantly: absent required fields read as empty (see [`RequestHeader::problems`]);
/// written exactly as the newest spec says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestHeader {
    /// Protocol version, `1.0.0`.
    #[serde(default = "default_version", deserialize_with = "text")]
    pub version: String,
    /// Unique id of this message.
    #[serde(default, deserialize_with = "text")]
    pub message_id: String,
    /// When the message was written (RFC 3339 with offset).
    #[serde(default, deserialize_with = "lenient_timestamp", skip_serializing_if = "Option::is_none")]
    pub message_ts: Option<DciTimestamp>,
    /// What the message asks for, e.g. `search`.
    #[serde(default, deserialize_with = "text")]
    pub action: String,
    /// Who sends the message.
    #[serde(default, deserialize_with = "text")]
    pub sender_id: String,
    /// Callback address (asynchronous requests only).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub sender_uri: Option<String>,
    /// Who the message is for.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub receiver_id: Option<String>,
    /// Number of request items in this message.
    #[serde(default, deserialize_with = "lenient_count", skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
    /// Whether `message` is an encrypted JWE.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_msg_encrypted: bool,
    /// Free-form, unencrypted metadata.
    #[serde(default, deserialize_with = "opt_object", skip_serializing_if = "Option::is_none")]
    pub meta: Option<Map<String, Value>>,
}

impl RequestHeader {
    /// A complete request header.
    pub fn new(
        message_id: impl Into<String>,
        message_ts: DciTimestamp,
        action: impl Into<String>,
        sender_id: impl Into<String>,
        total_count: u64,
    ) -> Self {
        RequestHeader {
            version: default_version(),
            message_id: message_id.into(),
            message_ts: Some(message_ts),
            action: action.into(),
            sender_id: sender_id.into(),
            sender_uri: None,
            receiver_id: None,
            total_count: Some(total_count),
            is_msg_encrypted: false,
            meta: None,
        }
    }

    /// Sets the receiver.
    pub fn with_receiver(mut self, receiver_id: impl Into<String>) -> Self {
        self.receiver_id = Some(receiver_id.into());
        self
    }

    /// What is wrong with this header as a request, with the spec's code for each problem,
    /// checked in the order a receiver should report them.
    pub fn problems(&self, expected_action: &str) -> Vec<(HeaderReasonCode, String)> {
        let mut problems = Vec::new();
        if self.version != PROTOCOL_VERSION {
            problems.push((
                HeaderReasonCode::VersionInvalid,
                format!("version {:?} is not supported (expected {PROTOCOL_VERSION})", self.version),
            ));
        }
        if self.message_id.trim().is_empty() {
            problems.push((
                HeaderReasonCode::Other("rjct.message_id.invalid".into()),
                "header.message_id is missing".into(),
            ));
        }
        if self.message_ts.is_none() {
            problems.push((HeaderReasonCode::MessageTsInvalid, "header.message_ts is missing or not RFC 3339".into()));
        }
        if self.action.trim().is_empty() {
            problems.push((HeaderReasonCode::ActionInvalid, "header.action is missing".into()));
        } else if self.action != expected_action {
            problems.push((
                HeaderReasonCode::ActionNotSupported,
                format!("action {:?} is not supported here (expected {expected_action:?})", self.action),
            ));
        }
        if self.total_count.is_none() {
            problems
                .push((HeaderReasonCode::TotalCountInvalid, "header.total_count is missing or not an integer".into()));
        }
        problems
    }
}

/// The header of a response or callback message (`MsgCallbackHeader_V1.0.0`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResponseHeader {
    /// Protocol version, `1.0.0`.
    #[serde(default = "default_version", deserialize_with = "text")]
    pub version: String,
    /// Unique id of this message.
    #[serde(default, deserialize_with = "text")]
    pub message_id: String,
    /// When the message was written.
    #[serde(default, deserialize_with = "lenient_timestamp", skip_serializing_if = "Option::is_none")]
    pub message_ts: Option<DciTimestamp>,
    /// `on-search` for a search.
    #[serde(default, deserialize_with = "text")]
    pub action: String,
    /// Status of the whole message.
    #[serde(default = "received")]
    pub status: Status,
    /// Why the whole message was rejected.
    #[serde(default, deserialize_with = "opt_code", skip_serializing_if = "Option::is_none")]
    pub status_reason_code: Option<HeaderReasonCode>,
    /// Human-readable reason (at most 999 characters).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub status_reason_message: Option<String>,
    /// Number of items in the request.
    #[serde(default, deserialize_with = "lenient_count", skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
    /// Number of items completed (successfully or not).
    #[serde(default, deserialize_with = "lenient_count", skip_serializing_if = "Option::is_none")]
    pub completed_count: Option<u64>,
    /// The responder.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub sender_id: Option<String>,
    /// The original sender.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub receiver_id: Option<String>,
    /// Whether `message` is an encrypted JWE.
    #[serde(default, deserialize_with = "lenient_bool", skip_serializing_if = "is_false")]
    pub is_msg_encrypted: bool,
    /// Free-form metadata.
    #[serde(default, deserialize_with = "opt_object", skip_serializing_if = "Option::is_none")]
    pub meta: Option<Map<String, Value>>,
}

fn received() -> Status {
    Status::Received
}

fn opt_code<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<HeaderReasonCode>, D::Error> {
    Ok(opt_text(deserializer)?.map(|text| HeaderReasonCode::parse(&text)))
}

impl ResponseHeader {
    /// The header answering `request`: sender and receiver swapped, counts set.
    pub fn answering(
        request: &RequestHeader,
        message_id: impl Into<String>,
        message_ts: DciTimestamp,
        status: Status,
        completed_count: u64,
    ) -> Self {
        ResponseHeader {
            version: default_version(),
            message_id: message_id.into(),
            message_ts: Some(message_ts),
            action: on_action(&request.action),
            status,
            status_reason_code: None,
            status_reason_message: None,
            total_count: request.total_count,
            completed_count: Some(completed_count),
            sender_id: request.receiver_id.clone(),
            receiver_id: Some(request.sender_id.clone()).filter(|id| !id.is_empty()),
            is_msg_encrypted: false,
            meta: None,
        }
    }

    /// Marks the whole message rejected.
    pub fn rejected(mut self, code: HeaderReasonCode, message: impl Into<String>) -> Self {
        self.status = Status::Rejected;
        self.status_reason_code = Some(code);
        self.status_reason_message = Some(truncate_reason(message.into()));
        self
    }
}

/// The answering action of a request action: `search` → `on-search`.
pub fn on_action(action: &str) -> String {
    if action.is_empty() { action::ON_SEARCH.to_owned() } else { format!("on-{action}") }
}

/// Shortens a reason message to the spec's 999 characters.
pub fn truncate_reason(mut message: String) -> String {
    if message.chars().count() > 999 {
        message = message.chars().take(998).collect::<String>() + "…";
    }
    message
}
