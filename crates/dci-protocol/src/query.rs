//! Search queries: `idtype-value`, `predicate` and `expression`, with builders.
//!
//! A [`Query`] is read by its *shape* as well as by the criteria's `query_type`
//! (official samples send predicate lists under `query_type: expression`).

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::codes::{Condition, Operator, QueryType};
use crate::tolerant::{is_blank, kind_of};

/// A search query.
#[derive(Clone, Debug, PartialEq)]
pub enum Query {
    /// Look a person up by one identifier: `{"type": "UIN", "value": "..."}`.
    IdTypeValue {
        /// Identifier type, e.g. `UIN`, `BRN`, `NATIONAL_ID`.
        id_type: String,
        /// Identifier value.
        value: String,
    },
    /// A list of attribute predicates, all of which must hold.
    Predicate(Vec<PredicateItem>),
    /// A registry-specific expression: `{"type": "ns:org:QueryType:<lang>", "value": {...}}`.
    Expression {
        /// Expression language.
        language: String,
        /// The expression, as the language defines it.
        value: Value,
    },
}

impl Query {
    /// An `idtype-value` lookup.
    pub fn id(id_type: impl Into<String>, value: impl Into<String>) -> Self {
        Query::IdTypeValue { id_type: id_type.into(), value: value.into() }
    }

    /// A predicate query whose expressions must all hold.
    pub fn all_of(expressions: impl IntoIterator<Item = PredicateExpression>) -> Self {
        Query::Predicate(
            expressions
                .into_iter()
                .enumerate()
                .map(|(index, expression)| PredicateItem::single(expression).with_seq(index as u32 + 1))
                .collect(),
        )
    }

    /// The `query_type` this query is written under.
    pub fn query_type(&self) -> QueryType {
        match self {
            Query::IdTypeValue { .. } => QueryType::IdTypeValue,
            Query::Predicate(_) => QueryType::Predicate,
            Query::Expression { .. } => QueryType::Expression,
        }
    }

    /// Reads a query from JSON by its shape. `query_type` breaks the tie
    /// between `idtype-value` and `expression`, which share the `{type, value}` shape.
    pub fn from_value(value: Value, query_type: Option<&QueryType>) -> Result<Self, QueryError> {
        match value {
            Value::Array(items) => items
                .into_iter()
                .filter(|item| !is_blank(item))
                .enumerate()
                .map(|(index, item)| {
                    serde_json::from_value::<PredicateItem>(item)
                        .map_err(|error| QueryError(format!("predicate item {}: {error}", index + 1)))
                })
                .collect::<Result<Vec<_>, _>>()
                .and_then(|items| {
                    if items.is_empty() {
                        Err(QueryError("empty predicate list".into()))
                    } else {
                        Ok(Query::Predicate(items))
                    }
                }),
            Value::Object(mut map) => {
                let kind = map.remove("type");
                let inner = map.remove("value");
                match (kind, inner) {
                    (Some(Value::String(kind)), Some(inner)) => {
                        let looks_like_expression = inner.is_object()
                            || kind.starts_with("ns:org:QueryType:")
                            || matches!(query_type, Some(QueryType::Expression));
                        if looks_like_expression && !matches!(query_type, Some(QueryType::IdTypeValue)) {
                            Ok(Query::Expression { language: kind, value: inner })
                        } else {
                            match inner {
                                Value::String(value) if value.is_empty() => {
                                    Err(QueryError("identifier value is empty".into()))
                                }
                                Value::String(value) => Ok(Query::IdTypeValue { id_type: kind, value }),
                                Value::Number(n) => Ok(Query::IdTypeValue { id_type: kind, value: n.to_string() }),
                                other => {
                                    Err(QueryError(format!("identifier value must be text, found {}", kind_of(&other))))
                                }
                            }
                        }
                    }
                    _ => match serde_json::from_value::<PredicateItem>(Value::Object(map)) {
                        Ok(item) => Ok(Query::Predicate(vec![item])),
                        Err(_) => Err(QueryError("query must be {type, value} or a list of predicates".into())),
                    },
                }
            }
            other => Err(QueryError(format!("query must be an object or a list, found {}", kind_of(&other)))),
        }
    }
}

/// Why a query could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid query: {0}")]
pub struct QueryError(pub String);

impl Serialize for Query {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Query::IdTypeValue { id_type, value } => {
                let mut map = Map::new();
                map.insert("type".into(), Value::String(id_type.clone()));
                map.insert("value".into(), Value::String(value.clone()));
                map.serialize(serializer)
            }
            Query::Predicate(items) => items.serialize(serializer),
            Query::Expression { language, value } => {
                let mut map = Map::new();
                map.insert("type".into(), Value::String(language.clone()));
                map.insert("value".into(), value.clone());
                map.serialize(serializer)
            }
        }
    }
}

impl<'de> Deserialize<'de> for Query {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Query::from_value(Value::deserialize(deserializer)?, None).map_err(de::Error::custom)
    }
}

/// One predicate: `expression1 [condition expression2]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PredicateItem {
    /// Evaluation order among the items of a query.
    #[serde(default, deserialize_with = "seq", skip_serializing_if = "Option::is_none")]
    pub seq_num: Option<u32>,
    /// The first (or only) expression.
    pub expression1: PredicateExpression,
    /// How `expression2` combines with `expression1`.
    #[serde(default, deserialize_with = "opt_condition", skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    /// The second expression.
    #[serde(default, deserialize_with = "crate::tolerant::opt_object", skip_serializing_if = "Option::is_none")]
    pub expression2: Option<PredicateExpression>,
}

fn seq<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let count = crate::tolerant::opt_count(deserializer)?;
    count.map(|n| u32::try_from(n).map_err(de::Error::custom)).transpose()
}

fn opt_condition<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Condition>, D::Error> {
    Ok(crate::tolerant::opt_text(deserializer)?.map(|text| Condition::parse(&text)))
}

impl PredicateItem {
    /// An item of one expression.
    pub fn single(expression: PredicateExpression) -> Self {
        PredicateItem { seq_num: None, expression1: expression, condition: None, expression2: None }
    }

    /// `left and right`.
    pub fn and(left: PredicateExpression, right: PredicateExpression) -> Self {
        Self::pair(left, Condition::And, right)
    }

    /// `left or right`.
    pub fn or(left: PredicateExpression, right: PredicateExpression) -> Self {
        Self::pair(left, Condition::Or, right)
    }

    /// `left and not right`.
    pub fn and_not(left: PredicateExpression, right: PredicateExpression) -> Self {
        Self::pair(left, Condition::Not, right)
    }

    fn pair(left: PredicateExpression, condition: Condition, right: PredicateExpression) -> Self {
        PredicateItem { seq_num: None, expression1: left, condition: Some(condition), expression2: Some(right) }
    }

    /// Sets the sequence number.
    pub fn with_seq(mut self, seq_num: u32) -> Self {
        self.seq_num = Some(seq_num);
        self
    }
}

/// `attribute_name operator attribute_value`, e.g. `birth_date ge "2020-01-01"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PredicateExpression {
    /// A record attribute, possibly dotted (`birth_place.name`).
    pub attribute_name: String,
    /// The comparison.
    pub operator: Operator,
    /// The value compared with (a list for `in`).
    pub attribute_value: Value,
}

/// Starts a predicate expression on an attribute: `attribute("birth_date").ge("2020-01-01")`.
pub fn attribute(name: impl Into<String>) -> AttributeRef {
    AttributeRef(name.into())
}

/// An attribute awaiting its operator; see [`attribute`].
#[derive(Clone, Debug)]
pub struct AttributeRef(String);

impl AttributeRef {
    fn with(self, operator: Operator, value: impl Into<Value>) -> PredicateExpression {
        PredicateExpression { attribute_name: self.0, operator, attribute_value: value.into() }
    }
    /// `attribute gt value`.
    pub fn gt(self, value: impl Into<Value>) -> PredicateExpression {
        self.with(Operator::Gt, value)
    }
    /// `attribute lt value`.
    pub fn lt(self, value: impl Into<Value>) -> PredicateExpression {
        self.with(Operator::Lt, value)
    }
    /// `attribute eq value`.
    pub fn eq(self, value: impl Into<Value>) -> PredicateExpression {
        self.with(Operator::Eq, value)
    }
    /// `attribute ge value`.
    pub fn ge(self, value: impl Into<Value>) -> PredicateExpression {
        self.with(Operator::Ge, value)
    }
    /// `attribute le value`.
    pub fn le(self, value: impl Into<Value>) -> PredicateExpression {
        self.with(Operator::Le, value)
    }
    /// `attribute in [values]`.
    pub fn is_in<V: Into<Value>>(self, values: impl IntoIterator<Item = V>) -> PredicateExpression {
        self.with(Operator::In, Value::Array(values.into_iter().map(Into::into).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builders_write_the_spec_shapes() {
        let id = Query::id("UIN", "847951632");
        assert_eq!(serde_json::to_value(&id).expect("json"), json!({"type": "UIN", "value": "847951632"}));

        let range = Query::Predicate(vec![PredicateItem::and(
            attribute("birth_date").ge("2020-01-01"),
            attribute("birth_date").le("2020-12-31"),
        )]);
        assert_eq!(
            serde_json::to_value(&range).expect("json"),
            json!([{
                "expression1": {"attribute_name": "birth_date", "operator": "ge", "attribute_value": "2020-01-01"},
                "condition": "and",
                "expression2": {"attribute_name": "birth_date", "operator": "le", "attribute_value": "2020-12-31"}
            }])
        );
        let any_sex = Query::all_of([attribute("sex").is_in(["male", "female"])]);
        assert_eq!(serde_json::to_value(&any_sex).expect("json")[0]["seq_num"], json!(1));
    }

    #[test]
    fn queries_are_read_by_shape() {
        let predicate = Query::from_value(
            json!([{"seq_num": "", "expression1": {"attribute_name": "UIN", "operator": "eq", "attribute_value": "1"}, "condition": "", "expression2": ""}]),
            Some(&QueryType::Expression),
        )
        .expect("predicate");
        assert!(matches!(predicate, Query::Predicate(ref items) if items.len() == 1 && items[0].expression2.is_none()));

        let expression =
            Query::from_value(json!({"type": "ns:org:QueryType:NoSql", "value": {"expression": {}}}), None)
                .expect("expression");
        assert!(matches!(expression, Query::Expression { .. }));

        let id = Query::from_value(json!({"type": "UIN", "value": 12}), Some(&QueryType::IdTypeValue)).expect("id");
        assert_eq!(id, Query::id("UIN", "12"));

        assert!(Query::from_value(json!("UIN=1"), None).is_err());
        assert!(Query::from_value(json!({"type": "UIN", "value": ""}), Some(&QueryType::IdTypeValue)).is_err());
    }
}
