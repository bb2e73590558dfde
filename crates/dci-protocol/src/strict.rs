//! Reading an answer that must be unambiguous: JSON whose objects give each
//! key once. JSON readers differ on `{"death_date": null, "death_date":
//! "2020-01-01"}` (serde keeps the last, others the first), so a record that
//! gives a key twice says two things, and neither may decide.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Why a JSON text was not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StrictError {
    /// An object gives a key twice.
    #[error("the key `{0}` is given twice in one object")]
    DuplicateKey(String),
    /// Not JSON, or nested deeper than the reader goes.
    #[error("{0}")]
    Unreadable(String),
}

/// Reads `text` as JSON, refusing an object that gives a key twice
/// (anywhere in the document).
pub fn from_str_strict(text: &str) -> Result<Value, StrictError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = Strict.deserialize(&mut deserializer).map_err(classify)?;
    deserializer.end().map_err(|error| StrictError::Unreadable(error.to_string()))?;
    Ok(value)
}

/// The duplicate key is carried through serde's error as a message with this prefix.
const DUPLICATE: &str = "\u{1}duplicate key:";

fn classify(error: serde_json::Error) -> StrictError {
    let message = error.to_string();
    match message.strip_prefix(DUPLICATE) {
        Some(rest) => {
            let key = rest.rsplit_once(" at line ").map_or(rest, |(key, _)| key);
            StrictError::DuplicateKey(key.chars().take(64).collect())
        }
        None => StrictError::Unreadable(message),
    }
}

/// A JSON value, read refusing duplicate keys.
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }
    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }
    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }
    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }
    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Strict)?;
            if object.contains_key(&key) {
                return Err(de::Error::custom(format!("{DUPLICATE}{key}")));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_given_twice_anywhere_is_refused_and_named() {
        assert_eq!(
            from_str_strict(r#"{"a": {"death_date": null, "death_date": "2020-01-01"}}"#),
            Err(StrictError::DuplicateKey("death_date".into()))
        );
        assert_eq!(
            from_str_strict(r#"[{"x": 1}, {"y": [{"z": 1, "z": 2}]}]"#),
            Err(StrictError::DuplicateKey("z".into()))
        );
        let read = from_str_strict(r#"{"a": [1, 2.5, "s", null, true], "b": {"a": 1}}"#).expect("read");
        assert_eq!(read, serde_json::json!({"a": [1, 2.5, "s", null, true], "b": {"a": 1}}));
        // Keys written differently but decoded equal are the same key.
        assert!(matches!(from_str_strict(r#"{"a": 1, "\u0061": 2}"#), Err(StrictError::DuplicateKey(_))));
        assert!(matches!(from_str_strict("{"), Err(StrictError::Unreadable(_))));
    }
}
