use compact_str::CompactString;
use serde::de::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::tolerant::text;

fn compact_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<CompactString, D::Error> {
    text(deserializer).map(CompactString::from)
}

/// A person's identifier: `{identifier_type, identifier_value}`. Both are
/// held inline when short (up to 24 bytes, as most are): no allocation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identifier {
    /// The type, e.g. `UIN`, `BRN`, `NATIONAL_ID`.
    #[serde(alias = "type", deserialize_with = "compact_text")]
    pub identifier_type: CompactString,
    /// The value.
    #[serde(alias = "value", deserialize_with = "compact_text")]
    pub identifier_value: CompactString,
}

impl Identifier {
    /// An identifier.
    pub fn new(identifier_type: impl Into<CompactString>, identifier_value: impl Into<CompactString>) -> Self {
        Identifier { identifier_type: identifier_type.into(), identifier_value: identifier_value.into() }
    }

    /// Whether `other` names the same identifier, read tolerantly: the types
    /// equal but for case and surrounding blanks, the values but for blanks.
    pub fn same_as(&self, other: &Identifier) -> bool {
        self.identifier_type.trim().eq_ignore_ascii_case(other.identifier_type.trim())
            && self.identifier_value.trim() == other.identifier_value.trim()
    }
}

/// A registry record that says whose it is.
pub trait Identified {
    /// Every identifier the record gives for its person.
    fn identifiers(&self) -> Vec<Identifier>;

    /// Whether the record is `asked`'s: one of its identifiers is the same
    /// (see [`Identifier::same_as`]).
    fn belongs_to(&self, asked: &Identifier) -> bool {
        self.identifiers().iter().any(|id| id.same_as(asked))
    }
}

/// Reads identifiers written as a list, a single object, or a bare value
/// (a bare value has no type and is read as type `ID`). Blank entries are dropped.
pub fn identifier_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Identifier>, D::Error> {
    let values: Vec<Value> = crate::tolerant::one_or_many(deserializer)?;
    let mut identifiers = Vec::with_capacity(values.len());
    for value in values {
        match value {
            Value::String(text) if !text.trim().is_empty() => identifiers.push(Identifier::new("ID", text)),
            Value::Number(number) => identifiers.push(Identifier::new("ID", number.to_string())),
            Value::Object(_) => {
                let identifier: Identifier = serde_json::from_value(value).map_err(serde::de::Error::custom)?;
                if !identifier.identifier_value.trim().is_empty() {
                    identifiers.push(identifier);
                }
            }
            _ => {}
        }
    }
    Ok(identifiers)
}
