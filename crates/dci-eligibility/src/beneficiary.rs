//! The beneficiary model: a registrant with identifiers, any other fields,
//! and household members (each a beneficiary without members).

use dci_protocol::records::Identifier;
use serde_json::{Map, Value};

/// A beneficiary (registrant or household member).
#[derive(Clone, Debug, PartialEq)]
pub struct Beneficiary {
    /// The caller's id for this person.
    pub id: String,
    /// Identifiers, in the order given.
    pub identifiers: Vec<Identifier>,
    /// Every other field, as given (`birthdate`, `poverty_score`, ...).
    pub fields: Map<String, Value>,
    /// Household members; always empty for a member.
    pub members: Vec<Beneficiary>,
}

/// What is wrong with a beneficiary's data: where (input line, field path) and what.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{}{path}: {problem}", .line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct BeneficiaryError {
    /// The input line, for line-oriented input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Where in the item, e.g. `members[2].identifiers[0].value`.
    pub path: String,
    /// What.
    pub problem: String,
}

impl BeneficiaryError {
    /// The same error, located on input line `line`.
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }
}

fn problem(path: impl Into<String>, problem: impl Into<String>) -> BeneficiaryError {
    BeneficiaryError { line: None, path: path.into(), problem: problem.into() }
}

fn id_text(value: &Value, path: &str) -> Result<String, BeneficiaryError> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::String(_) => Err(problem(path, "is empty")),
        other => Err(problem(path, format!("must be text, found {}", json_kind(other)))),
    }
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn identifiers(value: Value, path: &str) -> Result<Vec<Identifier>, BeneficiaryError> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        other => return Err(problem(path, format!("must be a list of {{type, value}}, found {}", json_kind(&other)))),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let here = format!("{path}[{index}]");
            let Value::Object(map) = item else {
                return Err(problem(here, "must be an object {type, value}"));
            };
            let kind = map
                .get("type")
                .or_else(|| map.get("identifier_type"))
                .ok_or_else(|| problem(format!("{here}.type"), "is missing"))?;
            let value = map
                .get("value")
                .or_else(|| map.get("identifier_value"))
                .ok_or_else(|| problem(format!("{here}.value"), "is missing"))?;
            Ok(Identifier::new(id_text(kind, &format!("{here}.type"))?, id_text(value, &format!("{here}.value"))?))
        })
        .collect()
}

impl Beneficiary {
    /// Reads a beneficiary from JSON. `id` is required; `identifiers` is a
    /// list of `{type, value}` (also `{identifier_type, identifier_value}`);
    /// `members` a list of beneficiaries without members (a member without an
    /// `id` gets `<parent id>/members[<index>]`).
    pub fn from_json(value: Value) -> Result<Self, BeneficiaryError> {
        Self::read(value, "", None)
    }

    /// Reads a beneficiary from JSON text.
    pub fn from_json_str(text: &str) -> Result<Self, BeneficiaryError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| problem(format!("column {}", e.column()), format!("invalid JSON: {e}")))?;
        Self::from_json(value)
    }

    fn read(value: Value, prefix: &str, default_id: Option<String>) -> Result<Self, BeneficiaryError> {
        let path = |field: &str| if prefix.is_empty() { field.to_owned() } else { format!("{prefix}.{field}") };
        let Value::Object(mut fields) = value else {
            let at = if prefix.is_empty() { "beneficiary".to_owned() } else { prefix.to_owned() };
            return Err(problem(at, format!("must be a JSON object, found {}", json_kind(&value))));
        };
        let id = match fields.remove("id") {
            Some(id) => id_text(&id, &path("id"))?,
            None => default_id.ok_or_else(|| problem(path("id"), "is missing"))?,
        };
        let identifiers = identifiers(fields.remove("identifiers").unwrap_or(Value::Null), &path("identifiers"))?;
        let members = match fields.remove("members") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) if prefix.is_empty() => items
                .into_iter()
                .enumerate()
                .map(|(index, item)| {
                    Self::read(item, &format!("members[{index}]"), Some(format!("{id}/members[{index}]")))
                })
                .collect::<Result<_, _>>()?,
            Some(Value::Array(_)) => return Err(problem(path("members"), "a member cannot have members")),
            Some(other) => {
                return Err(problem(path("members"), format!("must be a list, found {}", json_kind(&other))));
            }
        };
        Ok(Beneficiary { id, identifiers, fields, members })
    }

    /// The person at `index`: 0 is this beneficiary, `k` its member `k - 1`.
    pub fn person(&self, index: usize) -> Option<&Beneficiary> {
        if index == 0 { Some(self) } else { self.members.get(index - 1) }
    }

    /// The number of persons: this beneficiary and its members.
    pub fn persons(&self) -> usize {
        1 + self.members.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_household_is_read() {
        let b = Beneficiary::from_json(json!({
            "id": "HH-1", "identifiers": [{"type": "UIN", "value": "1"}], "poverty_score": 0.8,
            "members": [{"identifiers": [{"identifier_type": "BRN", "identifier_value": 42}], "age": 5}]
        }))
        .expect("valid");
        assert_eq!(b.identifiers, vec![Identifier::new("UIN", "1")]);
        assert_eq!(b.fields.get("poverty_score"), Some(&json!(0.8)));
        assert_eq!(b.members[0].id, "HH-1/members[0]");
        assert_eq!(b.members[0].identifiers, vec![Identifier::new("BRN", "42")]);
        assert_eq!(b.persons(), 2);
    }

    #[test]
    fn errors_name_the_field() {
        let error = |value: Value| Beneficiary::from_json(value).expect_err("invalid").to_string();
        assert_eq!(error(json!({"poverty_score": 1})), "id: is missing");
        assert_eq!(error(json!({"id": "A", "identifiers": [{"type": "UIN"}]})), "identifiers[0].value: is missing");
        assert_eq!(
            error(json!({"id": "A", "members": [{"id": "B", "identifiers": [{"type": "UIN", "value": true}]}]})),
            "members[0].identifiers[0].value: must be text, found a boolean"
        );
        assert_eq!(
            error(json!({"id": "A", "members": [{"members": []}]})),
            "members[0].members: a member cannot have members"
        );
        assert_eq!(error(json!([1])), "beneficiary: must be a JSON object, found a list");
    }
}
