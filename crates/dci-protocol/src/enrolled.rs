//! Yes/no checks: IBR `POST /registry/sync/enrolled` ("is this person enrolled
//! in this programme?") and DR `POST /registry/sync/disabled` ("is this person
//! registered as disabled?"). One person per message.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::codes::{QueryType, Status, YesNo};
use crate::time::{DciTimestamp, opt_timestamp};
use crate::tolerant::{one_or_many, opt_text, text};

/// Query attribute naming the person in an enrolled query.
pub const PERSON_IDENTIFIER: &str = "person_identifier";
/// Query attribute naming the programme in an enrolled query.
pub const PROGRAMME_IDENTIFIER: &str = "programme_identifier.program.programme_identifier";
/// Query attribute naming the person in a disabled query.
pub const MEMBER_IDENTIFIER: &str = "member.member_identifier";

/// The `message` of an enrolled request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnrolledRequest {
    /// Business transaction id.
    #[serde(default, deserialize_with = "text")]
    pub transaction_id: String,
    /// The question.
    pub enrolled_criteria: YesNoCriteria,
}

/// The `message` of a disabled request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DisabledRequest {
    /// Business transaction id.
    #[serde(default, deserialize_with = "text")]
    pub transaction_id: String,
    /// The question.
    pub disabled_criteria: YesNoCriteria,
}

/// The criteria of a yes/no check: a query of `attribute: {eq: value}` pairs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct YesNoCriteria {
    /// How `query` is written; `expression` for the `{attribute: {eq: value}}` form.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub query_type: Option<String>,
    /// `Group` or `Member` (enrolled only).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub response_entity: Option<String>,
    /// The query.
    pub query: Value,
}

impl YesNoCriteria {
    /// `{attribute: {eq: value}, ...}` for each pair.
    pub fn equals<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let query: Map<String, Value> =
            pairs.into_iter().map(|(attribute, value)| (attribute.to_owned(), json!({"eq": value}))).collect();
        YesNoCriteria {
            query_type: Some(QueryType::Expression.to_string()),
            response_entity: None,
            query: Value::Object(query),
        }
    }

    /// The enrolled question for a person, optionally in one programme.
    pub fn enrolled(person_id: &str, programme_id: Option<&str>) -> Self {
        let mut pairs = vec![(PERSON_IDENTIFIER, person_id)];
        if let Some(programme_id) = programme_id {
            pairs.push((PROGRAMME_IDENTIFIER, programme_id));
        }
        let mut criteria = Self::equals(pairs);
        criteria.response_entity = Some("Member".into());
        criteria
    }

    /// The disabled question for a person.
    pub fn disabled(person_id: &str) -> Self {
        Self::equals([(MEMBER_IDENTIFIER, person_id)])
    }

    /// The value compared with `attribute`, read from the `{attribute: {eq: v}}`
    /// form or the `{attribute_name, operator: eq, attribute_value}` form of the samples.
    pub fn equal_value(&self, attribute: &str) -> Option<String> {
        let as_text = |value: &Value| match value {
            Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let object = self.query.as_object()?;
        if let Some(condition) = object.get(attribute) {
            return match condition {
                Value::Object(ops) => ops.get("eq").or_else(|| ops.get("$eq")).and_then(as_text),
                other => as_text(other),
            };
        }
        let named = object.get("attribute_name").and_then(Value::as_str) == Some(attribute)
            || (attribute == MEMBER_IDENTIFIER
                && object.get("attribute_name").and_then(Value::as_str) == Some(PERSON_IDENTIFIER));
        let equal = object.get("operator").and_then(Value::as_str).is_none_or(|op| op.eq_ignore_ascii_case("eq"));
        if named && equal { object.get("attribute_value").and_then(as_text) } else { None }
    }
}

macro_rules! yes_no_response {
    ($(#[$doc:meta])* $response:ident, $list:ident, $(#[$adoc:meta])* $answer:ident, $status:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        pub struct $response {
            /// Echo of the request's transaction id.
            #[serde(default, deserialize_with = "text")]
            pub transaction_id: String,
            /// The responder's id for this transaction.
            #[serde(default, deserialize_with = "text")]
            pub correlation_id: String,
            /// The answers.
            #[serde(default, deserialize_with = "one_or_many")]
            pub $list: Vec<$answer>,
        }

        $(#[$adoc])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        pub struct $answer {
            /// Matches the request.
            #[serde(default, deserialize_with = "text")]
            pub reference_id: String,
            /// When the answer was written.
            #[serde(default, deserialize_with = "opt_timestamp", skip_serializing_if = "Option::is_none")]
            pub timestamp: Option<DciTimestamp>,
            /// `succ` or `rjct`.
            pub status: Status,
            /// Human-readable reason.
            #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
            pub status_reason_message: Option<String>,
            /// The answer.
            pub $status: YesNo,
        }

        impl $answer {
            /// A successful answer.
            pub fn new(reference_id: impl Into<String>, timestamp: DciTimestamp, answer: bool) -> Self {
                $answer {
                    reference_id: reference_id.into(),
                    timestamp: Some(timestamp),
                    status: Status::Success,
                    status_reason_message: None,
                    $status: answer.into(),
                }
            }

            /// A rejected question.
            pub fn rejected(reference_id: impl Into<String>, timestamp: DciTimestamp, message: impl Into<String>) -> Self {
                $answer {
                    reference_id: reference_id.into(),
                    timestamp: Some(timestamp),
                    status: Status::Rejected,
                    status_reason_message: Some(crate::header::truncate_reason(message.into())),
                    $status: YesNo::No,
                }
            }
        }
    };
}

yes_no_response!(
    /// The `message` of an enrolled response.
    EnrolledResponse, enrolled_response,
    /// One answer to an enrolled question.
    EnrolledAnswer, enrolled_status
);

yes_no_response!(
    /// The `message` of a disabled response.
    DisabledResponse, disabled_response,
    /// One answer to a disabled question.
    DisabledAnswer, disabled_status
);
