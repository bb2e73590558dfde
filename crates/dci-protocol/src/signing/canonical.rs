//! The canonical JSON text signatures are computed over.

use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Writes `value` as compact JSON with object keys sorted and non-ASCII
/// characters escaped as `\uXXXX`, exactly as Python's
/// `json.dumps(v, sort_keys=True, separators=(",", ":"))` does (OpenSPP computes
/// its digests that way). The output does not depend on the key order of the input.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    write_value(&mut out, value);
    out
}

/// `base64(SHA-256(canonical_json({"header": header, "message": message})))`.
pub fn digest(header: &Value, message: &Value) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str("{\"header\":");
    write_value(&mut out, header);
    out.push_str(",\"message\":");
    write_value(&mut out, message);
    out.push('}');
    let hash = Sha256::digest(out.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hash)
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => {
            let _ = write!(out, "{number}");
        }
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    // Copy runs of plain printable ASCII at once; escape everything else.
    let mut plain_from = 0;
    for (index, ch) in text.char_indices() {
        if matches!(ch, ' '..='~') && ch != '"' && ch != '\\' {
            continue;
        }
        out.push_str(&text[plain_from..index]);
        plain_from = index + ch.len_utf8();
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            _ => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push_str(&text[plain_from..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_and_text_is_escaped_like_python() {
        let value = json!({"b": [1, true, null], "a": {"z": "é\n", "y": 2.5}, "c": "😀"});
        assert_eq!(canonical_json(&value), r#"{"a":{"y":2.5,"z":"\u00e9\n"},"b":[1,true,null],"c":"\ud83d\ude00"}"#);
    }

    #[test]
    fn digest_of_known_input() {
        // python3 -c 'import json,hashlib,base64;print(base64.b64encode(hashlib.sha256(json.dumps({"header":{"a":1},"message":{"b":"x"}},sort_keys=True,separators=(",",":")).encode()).digest()).decode())'
        assert_eq!(digest(&json!({"a": 1}), &json!({"b": "x"})), "S9+bBoH8pKT497wpEd3JvmVv+e2tClfyx5RjS42T9TU=");
    }
}
