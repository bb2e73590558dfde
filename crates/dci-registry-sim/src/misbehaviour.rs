//! A hostile registry's lies, applied to answers the engine built honestly:
//! search items are rewritten before signing, bodies padded after encoding.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::data::{identifiers_in, identifiers_of};
use crate::{Misbehaviour, RegistryData};

/// What stands in for the first record under [`Misbehaviour::MalformedRecord`].
const GARBAGE: &str = "garbage";

/// The strings of a search request item's query (identifier values, predicate
/// operands), which a foreign person must not carry.
pub(crate) fn asked_values(item: &Value) -> Vec<String> {
    let mut values = Vec::new();
    if let Some(query) = item.get("search_criteria").and_then(|criteria| criteria.get("query")) {
        strings(query, &mut values);
    }
    values
}

fn strings(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::String(text) => into.push(text.trim().to_owned()),
        Value::Array(values) => values.iter().for_each(|value| strings(value, into)),
        Value::Object(fields) => fields.values().for_each(|value| strings(value, into)),
        _ => {}
    }
}

/// Rewrites the `search_response` items of a search answer's message.
/// `asked[i]` holds what item i asked for ([`asked_values`]).
pub(crate) fn rewrite_search(
    misbehaviour: &Misbehaviour,
    message: &mut Value,
    asked: &[Vec<String>],
    data: &RegistryData,
) {
    let Some(items) = message.get_mut("search_response").and_then(Value::as_array_mut) else { return };
    match misbehaviour {
        Misbehaviour::ForeignRecords => {
            for (position, item) in items.iter_mut().enumerate() {
                let Some(item) =
                    item.as_object_mut().filter(|item| item.get("status").and_then(Value::as_str) == Some("succ"))
                else {
                    continue;
                };
                let Some(records) = item.get_mut("data").and_then(|data| data.get_mut("reg_records")) else {
                    continue;
                };
                let asked = asked.get(position).map(Vec::as_slice).unwrap_or_default();
                if let Some(foreign) =
                    foreign_records(data, records.as_array().map(Vec::as_slice).unwrap_or_default(), asked)
                {
                    *records = Value::Array(foreign);
                }
            }
        }
        Misbehaviour::SwappedReferences | Misbehaviour::DuplicateReferences if items.len() >= 2 => {
            let mut references: Vec<Value> =
                items.iter().map(|item| item.get("reference_id").cloned().unwrap_or(Value::Null)).collect();
            if *misbehaviour == Misbehaviour::SwappedReferences {
                references.rotate_left(1);
            } else {
                let first = references[0].clone();
                references.fill(first);
            }
            for (item, reference) in items.iter_mut().zip(references) {
                if let Some(item) = item.as_object_mut() {
                    item.insert("reference_id".into(), reference);
                }
            }
        }
        Misbehaviour::PendingItems => each(items, |item| without_answer(item, "pdng")),
        Misbehaviour::ReceivedItems => each(items, |item| without_answer(item, "rcvd")),
        Misbehaviour::UnknownStatus => each(items, |item| {
            item.insert("status".into(), "zzz".into());
        }),
        Misbehaviour::NullStatus => each(items, |item| {
            item.insert("status".into(), Value::Null);
        }),
        Misbehaviour::NullData => each(items, |item| {
            item.insert("data".into(), Value::Null);
        }),
        Misbehaviour::MissingData => each(items, |item| {
            item.remove("data");
        }),
        Misbehaviour::MalformedRecord => {
            let first = items.iter_mut().filter_map(|item| item.pointer_mut("/data/reg_records/0")).next();
            if let Some(record) = first {
                *record = GARBAGE.into();
            }
        }
        Misbehaviour::DeepRecord { depth, value } => {
            let mut deep = Value::Array(Vec::new());
            for _ in 1..*depth {
                deep = Value::Array(vec![deep]);
            }
            let records = items.iter_mut().filter_map(|item| item.pointer_mut("/data/reg_records"));
            let records = records.filter_map(Value::as_array_mut).flat_map(|records| records.iter_mut());
            match value {
                Some(value) => {
                    for record in records.filter(|record| holds_identifier(record, value)) {
                        if let Value::Object(record) = record {
                            record.insert("extra".into(), deep.clone());
                        }
                    }
                }
                None => {
                    if let Some(Value::Object(record)) = records.into_iter().next() {
                        record.insert("extra".into(), deep);
                    }
                }
            }
        }
        Misbehaviour::FieldValue { field, value } => {
            for records in items.iter_mut().filter_map(|item| item.pointer_mut("/data/reg_records")) {
                set_everywhere(records, field, value);
            }
        }
        Misbehaviour::PagedAnswers { blank_total: true, .. } => each(items, |item| {
            if let Some(Value::Object(pagination)) = item.get_mut("pagination") {
                pagination.insert("total_count".into(), "".into());
            }
        }),
        _ => {}
    }
}

/// Whether `record` holds `identifier_value: value` at any depth.
fn holds_identifier(record: &Value, value: &str) -> bool {
    let mut stack = vec![record];
    while let Some(node) = stack.pop() {
        match node {
            Value::Object(fields) => {
                if fields.get("identifier_value").and_then(Value::as_str) == Some(value) {
                    return true;
                }
                stack.extend(fields.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    false
}

/// Sets every key `field` at any depth of `value` to `to`.
fn set_everywhere(value: &mut Value, field: &str, to: &Value) {
    // Iterative: a record may be deeper than the stack allows recursion.
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(fields) => {
                for (key, inner) in fields.iter_mut() {
                    if key == field {
                        *inner = to.clone();
                    } else {
                        stack.push(inner);
                    }
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
}

fn each(items: &mut [Value], change: impl FnMut(&mut Map<String, Value>)) {
    items.iter_mut().filter_map(Value::as_object_mut).for_each(change);
}

/// An item still being worked on: a status, and nothing else to read.
fn without_answer(item: &mut Map<String, Value>, status: &str) {
    item.insert("status".into(), status.into());
    for field in ["data", "pagination", "status_reason_code", "status_reason_message"] {
        item.remove(field);
    }
}

/// All the records of the first person after `found` (in load order, wrapping
/// around) that carries an identifier and none of the identifier values found
/// or asked; `None` when the registry holds no such person.
fn foreign_records(data: &RegistryData, found: &[Value], asked: &[String]) -> Option<Vec<Value>> {
    let kind = data.kind();
    let mut excluded: HashSet<String> = asked.iter().cloned().collect();
    let mut after = None;
    for record in found {
        for identifier in identifiers_in(kind, record).unwrap_or_default() {
            let value = identifier.identifier_value.trim();
            let positions = data.lookup(&identifier.identifier_type, value);
            after = positions.iter().copied().max().max(after);
            excluded.insert(value.to_owned());
        }
    }
    let foreign = |text: &str| {
        identifiers_of(kind, text).ok().filter(|identifiers| {
            identifiers.iter().any(|identifier| !identifier.identifier_value.trim().is_empty())
                && !identifiers.iter().any(|identifier| excluded.contains(identifier.identifier_value.trim()))
        })
    };
    let count = data.len();
    let start = after.map_or(0, |position| position as usize + 1);
    let identifiers = (0..count).find_map(|offset| data.record_text((start + offset) % count).and_then(foreign))?;
    let mut positions: Vec<u32> = identifiers
        .iter()
        .filter(|identifier| !identifier.identifier_value.trim().is_empty())
        .flat_map(|identifier| data.lookup(&identifier.identifier_type, &identifier.identifier_value).iter().copied())
        .collect();
    positions.sort_unstable();
    positions.dedup();
    // Another record of that person might also carry a value asked: leave it out.
    let records: Vec<Value> = positions
        .into_iter()
        .filter(|position| data.record_text(*position as usize).and_then(foreign).is_some())
        .filter_map(|position| data.record(position as usize))
        .collect();
    (!records.is_empty()).then_some(records)
}

/// Pads a JSON object body to at least `bytes` bytes with a top-level
/// `"padding"` string, outside the signed header and message. Bodies that are
/// not an object are left alone.
pub(crate) fn pad(body: &mut Vec<u8>, bytes: u64) {
    let wanted = usize::try_from(bytes).unwrap_or(usize::MAX);
    if body.len() >= wanted {
        return;
    }
    let Some(end) = body.iter().rposition(|b| !b.is_ascii_whitespace()) else { return };
    if body[end] != b'}' {
        return;
    }
    body.truncate(end);
    let empty = body.iter().rposition(|b| !b.is_ascii_whitespace()).is_some_and(|last| body[last] == b'{');
    let field: &[u8] = if empty { b"\"padding\":\"" } else { b",\"padding\":\"" };
    let filler = wanted.saturating_sub(body.len() + field.len() + 2);
    body.reserve(field.len() + filler + 2);
    body.extend_from_slice(field);
    body.resize(body.len() + filler, b'x');
    body.extend_from_slice(b"\"}");
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::RegistryKind;

    fn person(uin: &str) -> Value {
        json!({"identifier": [{"identifier_type": "UIN", "identifier_value": uin}], "birth_date": "2000-01-01"})
    }

    fn message(items: Vec<Value>) -> Value {
        json!({"transaction_id": "T", "correlation_id": "C", "search_response": items})
    }

    fn found(reference: &str, records: Vec<Value>) -> Value {
        json!({"reference_id": reference, "status": "succ", "data": {"reg_records": records}})
    }

    #[test]
    fn padding_keeps_the_body_json_and_reaches_the_size() {
        for (body, bytes) in [(json!({"a": 1}), 100), (json!({}), 50), (json!({"a": [1, 2]}), 5)] {
            let mut encoded = serde_json::to_vec(&body).expect("json");
            pad(&mut encoded, bytes);
            assert!(encoded.len() as u64 >= bytes);
            let read: Value = serde_json::from_slice(&encoded).expect("still JSON");
            assert_eq!(read.get("a"), body.get("a"));
        }
        let mut exact = serde_json::to_vec(&json!({"a": 1})).expect("json");
        pad(&mut exact, 40);
        assert_eq!(exact.len(), 40, "no more than asked");
        let mut list = b"[1]".to_vec();
        pad(&mut list, 100);
        assert_eq!(list, b"[1]");
    }

    #[test]
    fn foreign_records_belong_to_the_next_person_not_asked() {
        let data =
            RegistryData::from_records(RegistryKind::Crvs, vec![person("1"), person("2"), person("3")]).expect("data");
        let mut answer = message(vec![found("a", vec![person("2")]), found("b", vec![]), found("c", vec![])]);
        let asked = vec![vec!["2".to_owned()], vec!["1".to_owned()], vec!["UIN".to_owned(), "9".to_owned()]];
        rewrite_search(&Misbehaviour::ForeignRecords, &mut answer, &asked, &data);
        let uin = |item: usize| {
            answer["search_response"][item]["data"]["reg_records"][0]["identifier"][0]["identifier_value"].clone()
        };
        assert_eq!(uin(0), "3");
        assert_eq!(uin(1), "2");
        assert_eq!(uin(2), "1");

        let alone = RegistryData::from_records(RegistryKind::Crvs, vec![person("1")]).expect("data");
        let mut answer = message(vec![found("a", vec![person("1")])]);
        let before = answer.clone();
        rewrite_search(&Misbehaviour::ForeignRecords, &mut answer, &[vec!["1".into()]], &alone);
        assert_eq!(answer, before, "no one else to lie about");
    }

    #[test]
    fn a_single_item_keeps_its_reference() {
        let data = RegistryData::empty(RegistryKind::Crvs);
        for misbehaviour in [Misbehaviour::SwappedReferences, Misbehaviour::DuplicateReferences] {
            let mut answer = message(vec![found("a", vec![])]);
            let before = answer.clone();
            rewrite_search(&misbehaviour, &mut answer, &[], &data);
            assert_eq!(answer, before);
        }
    }
}
