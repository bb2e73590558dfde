//! The types of a beneficiary's own fields, as a deployment's `[fields]`
//! table names them or sample beneficiaries show them. With them, the type
//! checker checks `r.<field>` and `m.<field>` as it checks metrics, and a field
//! no sample has is a warning (`unknown_field`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The type of one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// `true` or `false`.
    Bool,
    /// A whole number.
    Int,
    /// A number with a fraction.
    Double,
    /// A number, whole in some beneficiaries and with a fraction in others.
    Number,
    /// Text.
    String,
    /// A date written as text, `YYYY-MM-DD` (what `age_years` reads).
    Date,
    /// A list.
    List,
    /// A record of fields.
    Map,
    /// Values of several kinds: not checked.
    Any,
}

/// The fields a beneficiary (or a household member) has, with their types.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FieldTypes(pub BTreeMap<String, FieldType>);

/// The longest field name a suggestion names (longer ones are not typos of a rule's field).
pub(crate) const MAX_SUGGESTED_NAME: usize = 64;

/// The edit-distance cells one rule's suggestions may cost (about a millisecond).
pub(crate) const SUGGESTION_BUDGET: usize = 1_000_000;

/// Keys of a beneficiary that are not fields of its own.
const NOT_FIELDS: [&str; 3] = ["id", "identifiers", "members"];

fn is_date(text: &str) -> bool {
    text.len() == 10 && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

fn type_of(value: &Value) -> Option<FieldType> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(_) => FieldType::Bool,
        Value::Number(number) if number.is_i64() || number.is_u64() => FieldType::Int,
        Value::Number(_) => FieldType::Double,
        Value::String(text) if is_date(text) => FieldType::Date,
        Value::String(_) => FieldType::String,
        Value::Array(_) => FieldType::List,
        Value::Object(_) => FieldType::Map,
    })
}

/// What two samples of one field say together.
fn joined(a: FieldType, b: FieldType) -> FieldType {
    use FieldType::*;
    match (a, b) {
        _ if a == b => a,
        (Int | Double | Number, Int | Double | Number) => Number,
        (Date | String, Date | String) => String,
        _ => Any,
    }
}

impl FieldTypes {
    /// The fields of `samples` (beneficiaries and their members), each with the type every
    /// sample agrees on; a field that is `null` everywhere is known, of any type.
    pub fn from_samples<'v>(samples: impl IntoIterator<Item = &'v Value>) -> FieldTypes {
        let mut seen: BTreeMap<String, Option<FieldType>> = BTreeMap::new();
        let mut note = |person: &Value| {
            let Some(fields) = person.as_object() else { return };
            for (name, value) in fields.iter().filter(|(name, _)| !NOT_FIELDS.contains(&name.as_str())) {
                let slot = seen.entry(name.clone()).or_insert(None);
                *slot = match (*slot, type_of(value)) {
                    (Some(known), Some(new)) => Some(joined(known, new)),
                    (known, new) => known.or(new),
                };
            }
        };
        for sample in samples {
            note(sample);
            for member in sample.get("members").and_then(Value::as_array).into_iter().flatten() {
                note(member);
            }
        }
        FieldTypes(seen.into_iter().map(|(name, ty)| (name, ty.unwrap_or(FieldType::Any))).collect())
    }

    /// These types, with `other`'s where both name a field.
    pub fn overridden_by(mut self, other: &FieldTypes) -> FieldTypes {
        self.0.extend(other.0.iter().map(|(name, ty)| (name.clone(), *ty)));
        self
    }

    /// The type of `field`, if it is known.
    pub fn get(&self, field: &str) -> Option<FieldType> {
        self.0.get(field).copied()
    }

    /// Whether no field is known (nothing is checked then).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The known fields closest to `field`, nearest first. Sample data sent to the server
    /// can hold any number of names of any length, and comparing two names costs the
    /// product of their lengths: only names of at most [`MAX_SUGGESTED_NAME`] bytes and of
    /// a length near `field`'s are compared, each comparison is paid from `budget` (cells
    /// of the edit-distance table), and none is made once it is spent.
    pub(crate) fn closest(&self, field: &str, budget: &mut usize) -> Vec<&str> {
        if field.len() > MAX_SUGGESTED_NAME {
            return Vec::new();
        }
        let within = |name: &str| (name.len() / 3).max(2);
        let lowered = field.to_ascii_lowercase();
        let mut near: Vec<(usize, &str)> = Vec::new();
        for name in self.0.keys() {
            if name.len() > MAX_SUGGESTED_NAME || name.len().abs_diff(field.len()) > within(name) {
                continue;
            }
            let cost = (field.len() + 1) * (name.len() + 1);
            let Some(left) = budget.checked_sub(cost) else { break };
            *budget = left;
            let distance = dci_metrics::edit_distance(&lowered, &name.to_ascii_lowercase());
            if distance <= within(name) {
                near.push((distance, name));
            }
        }
        near.sort();
        near.into_iter().take(3).map(|(_, name)| name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn samples_give_each_field_the_type_they_agree_on() {
        let samples = [
            json!({"id": "A", "birthdate": "1950-03-02", "poverty_score": 0.8, "size": 3, "name": "Ann",
                "members": [{"birthdate": "2019-01-01", "income": 10}]}),
            json!({"id": "B", "birthdate": "1961-07-15", "poverty_score": 1, "size": 4, "name": "2020-01-01",
                "note": null}),
        ];
        let types = FieldTypes::from_samples(&samples);
        assert_eq!(types.get("birthdate"), Some(FieldType::Date));
        assert_eq!(types.get("poverty_score"), Some(FieldType::Number));
        assert_eq!(types.get("size"), Some(FieldType::Int));
        assert_eq!(types.get("name"), Some(FieldType::String));
        assert_eq!(types.get("income"), Some(FieldType::Int), "a member's field");
        assert_eq!(types.get("note"), Some(FieldType::Any), "null everywhere: known, of any type");
        assert_eq!(types.get("id"), None);
        assert_eq!(types.closest("birth_date", &mut SUGGESTION_BUDGET.clone()), ["birthdate"]);
        assert!(types.closest("birth_date", &mut 10).is_empty(), "nothing compared past the budget");
    }
}
