//! Serde helpers for *tolerant reading*: the DCI specs, their samples and real
//! registries disagree on many small shapes (a count as a string, a list as a
//! single object, an empty string for "absent"). These helpers accept every
//! form met so far; the types always *write* the newest form.

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde_json::Value;

/// Deserializes an optional count written as an integer, a numeric string,
/// an empty string or `null`.
pub(crate) fn opt_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Count {
        Int(u64),
        Float(f64),
        Text(String),
    }
    match Option::<Count>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Count::Int(n)) => Ok(Some(n)),
        Some(Count::Float(f)) if f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64 => Ok(Some(f as u64)),
        Some(Count::Float(f)) => Err(de::Error::custom(format!("expected a whole count, found {f}"))),
        Some(Count::Text(text)) => {
            let text = text.trim();
            if text.is_empty() {
                Ok(None)
            } else {
                text.parse().map(Some).map_err(|_| de::Error::custom(format!("expected a count, found {text:?}")))
            }
        }
    }
}

/// Like [`opt_count`], but reads anything that is not a count as absent, so
/// that a receiver can answer with its own rejection code instead of failing
/// to read the message at all.
pub(crate) fn lenient_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.and_then(|value| opt_count(value).ok().flatten()))
}

/// Deserializes an optional string, reading `""` (and `null`) as absent and
/// numbers or booleans as their text.
pub(crate) fn opt_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(de::Error::custom(format!("expected text, found {}", kind_of(&other)))),
    }
}

/// Deserializes a required string that may be written as a number.
pub(crate) fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(opt_text(deserializer)?.unwrap_or_default())
}

/// Deserializes a list written as an array, a single object, `null` or `""`
/// (blank items dropped). For `#[serde(deserialize_with = "...")]`.
pub fn one_or_many<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .filter(|item| !is_blank(item))
            .map(|item| serde_json::from_value(item).map_err(de::Error::custom))
            .collect(),
        Some(single) => serde_json::from_value(single).map(|one| vec![one]).map_err(de::Error::custom),
    }
}

/// Deserializes an optional object, reading `""`, `{}`-less placeholders and
/// `null` as absent.
pub(crate) fn opt_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Option::<Value>::deserialize(deserializer)? {
        None => Ok(None),
        Some(value) if is_blank(&value) => Ok(None),
        Some(value) => serde_json::from_value(value).map(Some).map_err(de::Error::custom),
    }
}

/// Deserializes a boolean written as `true`/`false`, `"true"`/`"false"`, `1`/`0`
/// or an empty string (false).
pub(crate) fn lenient_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(Value::Number(n)) => Ok(n.as_i64().is_some_and(|n| n != 0)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "" | "false" | "0" | "no" => Ok(false),
            "true" | "1" | "yes" => Ok(true),
            other => Err(de::Error::custom(format!("expected a boolean, found {other:?}"))),
        },
        Some(other) => Err(de::Error::custom(format!("expected a boolean, found {}", kind_of(&other)))),
    }
}

/// Whether a JSON value is a placeholder for "nothing": `null`, `""`, `{}` or `[]`.
pub(crate) fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// A short name for the JSON type of a value, for error messages.
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Counted {
        #[serde(default, deserialize_with = "opt_count")]
        n: Option<u64>,
    }

    #[derive(Deserialize)]
    struct Listed {
        #[serde(default, deserialize_with = "one_or_many")]
        items: Vec<u32>,
    }

    fn count(json: &str) -> Option<u64> {
        serde_json::from_str::<Counted>(json).map(|c| c.n).expect("valid count")
    }

    #[test]
    fn counts_accept_integers_strings_and_blanks() {
        assert_eq!(count(r#"{"n": 3}"#), Some(3));
        assert_eq!(count(r#"{"n": "17"}"#), Some(17));
        assert_eq!(count(r#"{"n": ""}"#), None);
        assert_eq!(count(r#"{"n": null}"#), None);
        assert_eq!(count(r#"{}"#), None);
        assert!(serde_json::from_str::<Counted>(r#"{"n": "many"}"#).is_err());
        assert!(serde_json::from_str::<Counted>(r#"{"n": -1}"#).is_err());
    }

    #[test]
    fn lists_accept_one_or_many() {
        let items = |json: &str| serde_json::from_str::<Listed>(json).expect("valid list").items;
        assert_eq!(items(r#"{"items": [1, 2]}"#), vec![1, 2]);
        assert_eq!(items(r#"{"items": 7}"#), vec![7]);
        assert_eq!(items(r#"{"items": ""}"#), Vec::<u32>::new());
        assert_eq!(items(r#"{}"#), Vec::<u32>::new());
    }
}
