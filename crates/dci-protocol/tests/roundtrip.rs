//! Property tests: envelopes survive JSON unchanged; the digest ignores key order.

use dci_protocol::signing::digest;
use dci_protocol::{
    DciTimestamp, Locale, PredicateItem, Query, RequestEnvelope, RequestHeader, SearchCriteria, SearchRequest,
    SearchRequestItem, SortOrder, action, attribute,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.:é-][A-Za-z0-9 _.:é-]{0,15}"
}

fn query() -> impl Strategy<Value = Query> {
    prop_oneof![
        (text(), text()).prop_map(|(t, v)| Query::id(t, v)),
        (text(), any::<i32>(), text()).prop_map(|(a, n, b)| Query::Predicate(vec![PredicateItem::and(
            attribute(a).ge(n),
            attribute(b).is_in(["x", "y"])
        )])),
    ]
}

fn item() -> impl Strategy<Value = SearchRequestItem> {
    (text(), 0i64..4_000_000_000, query(), proptest::option::of(1u32..500), any::<bool>()).prop_map(
        |(reference_id, secs, query, page, sorted)| {
            let mut criteria = SearchCriteria::new(query);
            if let Some(page_size) = page {
                criteria = criteria.with_pagination(page_size, 1);
            }
            if sorted {
                criteria = criteria.sorted_by("birth_date", SortOrder::Desc);
            }
            SearchRequestItem {
                reference_id,
                timestamp: chrono::DateTime::from_timestamp(secs, 0).map(|t| DciTimestamp(t.fixed_offset())),
                search_criteria: criteria,
                locale: Some(Locale::english()),
            }
        },
    )
}

fn envelope() -> impl Strategy<Value = RequestEnvelope<SearchRequest>> {
    (text(), text(), proptest::collection::vec(item(), 1..5), proptest::option::of(text())).prop_map(
        |(message_id, sender, items, signature)| {
            let ts = DciTimestamp::parse_strict("2026-01-10T10:00:00+05:30").expect("timestamp");
            let header = RequestHeader::new(message_id, ts, action::SEARCH, sender, items.len() as u64);
            let mut envelope =
                RequestEnvelope::new(header, SearchRequest { transaction_id: "T".into(), search_request: items });
            envelope.signature = signature;
            envelope
        },
    )
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((text(), inner), 0..4)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// The same object with its keys inserted in reverse order, recursively.
fn reversed(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, item) in map.iter().rev() {
                out.insert(key.clone(), reversed(item));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(reversed).collect()),
        other => other.clone(),
    }
}

proptest! {
    #[test]
    fn envelopes_round_trip_through_json(envelope in envelope()) {
        let text = serde_json::to_string(&envelope).expect("writes");
        let back: RequestEnvelope<SearchRequest> = serde_json::from_str(&text).expect("reads");
        prop_assert_eq!(back, envelope);
    }

    #[test]
    fn digest_ignores_key_order(header in json_value(), message in json_value()) {
        prop_assert_eq!(digest(&header, &message), digest(&reversed(&header), &reversed(&message)));
    }
}
