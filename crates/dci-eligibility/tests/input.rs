//! Beneficiary input read strictly where silence would be wrong: deep values
//! and numbers out of range are the item's error, naming the field; a line
//! that is not text is that line's error, and the other lines are read.

use std::io::Cursor;

use dci_eligibility::Beneficiary;
use dci_eligibility::MemberReading;
use dci_eligibility::io::{BlockReader, MAX_LINE_BYTES};
use proptest::prelude::*;

#[test]
fn a_value_nested_too_deep_is_an_error_naming_the_field() {
    for depth in [65, 128, 200, 1000] {
        let text = format!(r#"{{"id": "A", "x": {}1{}}}"#, "[".repeat(depth), "]".repeat(depth));
        let error = Beneficiary::from_json_str(&text).expect_err("refused");
        assert!(error.path == "x" || error.problem.contains("recursion"), "{depth}: {error:?}");
        let text =
            format!(r#"{{"id": "A", "members": [{{"id": "M", "y": {}1{}}}]}}"#, "[".repeat(depth), "]".repeat(depth));
        let error = Beneficiary::from_json_str(&text).expect_err("refused");
        assert!(error.path.starts_with("members[0]") || error.problem.contains("recursion"), "{depth}: {error:?}");
    }
    let ok = format!(r#"{{"id": "A", "x": {}1{}}}"#, "[".repeat(64), "]".repeat(64));
    Beneficiary::from_json_str(&ok).expect("64 levels are accepted");
}

#[test]
fn numbers_out_of_range_are_an_error_naming_the_field() {
    // The last one just past `f64::MAX` (finite to serde_json built without `float_roundtrip`).
    for number in ["1e400", "-1e400", "1E999", &"9".repeat(400), "1.79769313486231581e308"] {
        for text in [
            format!(r#"{{"id": "A", "poverty_score": {number}}}"#),
            format!(r#"{{"id": "A", "scores": [0.5, {{"s": {number}}}]}}"#),
        ] {
            let error = Beneficiary::from_json_str(&text).expect_err("refused");
            assert!(error.problem.contains("out of range"), "{text}: {error:?}");
            assert!(["poverty_score", "scores"].contains(&error.path.as_str()), "{error:?}");
        }
    }
    Beneficiary::from_json_str(r#"{"id": "A", "poverty_score": 1e300, "n": -12345678901234567890}"#)
        .expect("large but finite numbers are read");
}

/// At the top of the range, one reading for every number: a field's own (read with `str::parse`)
/// and one inside a list or a member (serde_json, which rounds alike with `float_roundtrip`).
/// Just below `f64::MAX` is read as `f64::MAX`, never as no value; just past it is refused.
#[test]
fn a_number_at_the_top_of_the_range_is_read_alike_wherever_it_stands() {
    for (number, finite) in [("1.7976931348623158e308", true), ("1.79769313486231581e308", false)] {
        let scalar = format!(r#"{{"id": "A", "x": {number}}}"#);
        let nested = format!(r#"{{"id": "A", "x": [1, [{number}]]}}"#);
        match (Beneficiary::from_json_str(&scalar), Beneficiary::from_json_str(&nested)) {
            (Ok(scalar), Ok(nested)) if finite => {
                assert_eq!(scalar.field("x").and_then(|x| x.parse::<f64>().ok()), Some(f64::MAX), "{number}");
                let list = nested.field("x").map(serde_json::from_str::<serde_json::Value>);
                let inner = list.as_ref().and_then(|list| list.as_ref().ok()).and_then(|list| list.pointer("/1/0"));
                assert_eq!(inner.and_then(serde_json::Value::as_f64), Some(f64::MAX), "{number}: {list:?}");
            }
            (Err(scalar), Err(nested)) if !finite => {
                assert!(scalar.problem.contains("out of range") && nested.problem.contains("out of range"));
            }
            other => panic!("{number}: {other:?}"),
        }
        let member = format!(r#"{{"id": "A", "members": [{{"id": "M", "y": [{number}]}}]}}"#);
        let eager = Beneficiary::from_json_str_reading(&member, MemberReading::Eager);
        assert_eq!(eager.is_ok(), finite, "{member}: {eager:?}");
        assert_eq!(Beneficiary::from_json_str_reading(&member, MemberReading::OnDemand), eager, "{member}");
    }
}

/// A member holding a number just past `f64::MAX` is the same error whether members are read at
/// once or on demand.
#[test]
fn a_member_number_at_the_edge_of_the_range_is_the_same_error_read_at_once_or_on_demand() {
    for number in ["1.79769313486231581e308", "179769313486231581e291", "-1.79769313486231581e308"] {
        let text = format!(r#"{{"id": "A", "members": [{{"id": "M", "y": {number}}}]}}"#);
        let eager = Beneficiary::from_json_str_reading(&text, MemberReading::Eager);
        let error = eager.as_ref().expect_err("out of range");
        assert!(error.path.starts_with("members[0]") && error.problem.contains("out of range"), "{error:?}");
        let on_demand = Beneficiary::from_json_str_reading(&text, MemberReading::OnDemand);
        assert_eq!(on_demand, eager, "{text}");
    }
}

#[test]
fn a_line_that_is_not_text_is_that_lines_error_and_the_others_are_read() {
    let input = b"{\"id\":\"A\"}\n{\"id\":\"B\xff\"}\n\n{\"id\":\"C\"}\n".to_vec();
    let mut reader = BlockReader::new(Cursor::new(input));
    let lines = reader.next_block(100).expect("read");
    assert_eq!((lines.len(), reader.lines_read()), (3, 4));
    let parsed = lines.parse(MemberReading::Eager);
    assert_eq!(parsed[0].as_ref().expect("A").id, "A");
    let error = parsed[1].as_ref().expect_err("B");
    assert_eq!((error.line, error.path.as_str()), (Some(2), "beneficiary"));
    assert!(error.problem.contains("not UTF-8 text (invalid byte at column 9)"), "{error:?}");
    assert_eq!(parsed[2].as_ref().expect("C").id, "C");
}

#[test]
fn lines_read_as_one_block_keep_their_own_fields_and_numbers() {
    let input = "  {\"id\":\"A\",\"x\":1,\"members\":[{\"y\":\"a\"}]}\n\n{\"id\":\"B\",\"x\":2,\"members\":[{\"y\":\"b\"}]}\r\n{\"id\":\"C\"}";
    let mut reader = BlockReader::new(Cursor::new(input.as_bytes().to_vec()));
    let first = reader.next_block(3).expect("read");
    assert_eq!((first.len(), reader.lines_read()), (2, 3), "a blank line is counted, not kept");
    for (reading, parsed) in [MemberReading::Eager, MemberReading::OnDemand].map(|r| (r, first.parse(r))) {
        let (a, b) = (parsed[0].as_ref().expect("A"), parsed[1].as_ref().expect("B"));
        assert_eq!((a.field("x"), b.field("x")), (Some("1"), Some("2")), "{reading:?}");
        assert_eq!(b.members()[0].field("y"), Some("\"b\""), "{reading:?}");
        assert_eq!(b.members()[0].id, "B/members[0]", "{reading:?}");
    }
    let rest = reader.next_block(3).expect("read");
    // (Blank lines alone in a block's reach are no end of the input: see below.)
    assert_eq!((rest.len(), reader.lines_read()), (1, 4));
    assert_eq!(rest.parse(MemberReading::Eager)[0].as_ref().expect("C").id, "C");
    assert!(reader.next_block(3).expect("read").is_empty());
}

#[test]
fn blocks_end_at_line_ends_whatever_the_reads_and_a_line_too_long_is_its_error() {
    // Lines of many sizes, blank ones and one not UTF-8 among them, read in blocks of 7 lines.
    let mut input = Vec::new();
    let mut expected = Vec::new();
    for n in 0..3_000usize {
        match n % 97 {
            13 => input.extend_from_slice(b"   \n"),
            50 => input.extend_from_slice(b"{\"id\": \"bad\xff\"}\n"),
            _ => {
                let line = format!("{{\"id\": \"P{n}\", \"pad\": \"{}\"}}", "x".repeat(n * 37 % 2_000));
                input.extend_from_slice(line.as_bytes());
                input.extend_from_slice(if n % 5 == 0 { b"\r\n" } else { b"\n" });
                expected.push((n + 1, format!("P{n}")));
            }
        }
    }
    let mut reader = BlockReader::new(Cursor::new(input));
    let (mut read, mut unreadable) = (Vec::new(), Vec::new());
    loop {
        let block = reader.next_block(7).expect("read");
        if block.is_empty() {
            break;
        }
        assert!(block.len() <= 7);
        for item in block.parse(MemberReading::Eager) {
            match item {
                Ok(person) => read.push(person.id.to_string()),
                Err(error) => unreadable.push(error.line.expect("a line")),
            }
        }
    }
    assert_eq!(read, expected.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>());
    assert_eq!(unreadable, (0..3_000).filter(|n| n % 97 == 50).map(|n| n + 1).collect::<Vec<_>>());
    assert_eq!(reader.lines_read(), 3_000);

    let mut blanks = BlockReader::new(Cursor::new(b"{\"id\":\"A\"}\n\n\n \n\n{\"id\":\"B\"}\n\n".to_vec()));
    let (first, second) = (blanks.next_block(1).expect("read"), blanks.next_block(1).expect("read"));
    assert_eq!((first.len(), second.len()), (1, 1), "a run of blank lines does not end the input");
    assert_eq!(second.parse(MemberReading::Eager)[0].as_ref().map(|b| b.id.as_str()), Ok("B"));
    assert!(blanks.next_block(1).expect("read").is_empty());
    assert_eq!(blanks.lines_read(), 7);

    let mut long = b"{\"id\": \"A\"}\n{\"id\": \"".to_vec();
    long.resize(long.len() + MAX_LINE_BYTES + (2 << 20), b'x');
    long.extend_from_slice(b"\"}\n{\"id\": \"C\"}\n");
    let mut reader = BlockReader::new(Cursor::new(long));
    let mut items = Vec::new();
    while let Ok(block) = reader.next_block(100)
        && !block.is_empty()
    {
        items.extend(block.parse(MemberReading::Eager));
    }
    assert_eq!(items.len(), 3);
    assert_eq!(items[0].as_ref().map(|b| b.id.as_str()), Ok("A"));
    let error = items[1].as_ref().expect_err("too long");
    assert_eq!(error.line, Some(2));
    assert!(error.problem.contains("longer than"), "{error:?}");
    assert_eq!(items[2].as_ref().map(|b| b.id.as_str()), Ok("C"));
}

/// JSON blanks, as the text around a household's values may have them.
const BLANKS: &[&str] = &["", " ", "\t", "\r\n", "  \n "];

/// A household's JSON text: its entries in the order given, and JSON blanks
/// (from `blanks`, in turn) after every `{`, `[`, `:` and `,` outside strings,
/// and before every `}` and `]`.
fn household_text(entries: &[(String, String)], blanks: &[&'static str]) -> String {
    let compact = format!(
        "{{{}}}",
        entries.iter().map(|(key, value)| format!("{}:{value}", serde_json::json!(key))).collect::<Vec<_>>().join(",")
    );
    let mut blanks = blanks.iter().cycle();
    let (mut text, mut in_string, mut escaped) = (String::new(), false, false);
    for c in compact.chars() {
        if in_string {
            text.push(c);
            (in_string, escaped) = (escaped || c != '"', !escaped && c == '\\');
            continue;
        }
        if matches!(c, '}' | ']') {
            text.push_str(blanks.next().unwrap_or(&""));
        }
        text.push(c);
        if matches!(c, '{' | '[' | ':' | ',') {
            text.push_str(blanks.next().unwrap_or(&""));
        }
        in_string = c == '"';
    }
    text
}

proptest! {
    /// Members read on demand (their list's place found from the keys around
    /// it) are the members read at once, wherever the list stands among the
    /// household's keys, whatever the blanks and the text of the values around it.
    #[test]
    fn members_read_on_demand_are_read_at_once_wherever_the_list_stands(
        members in prop::collection::vec((0u8..3, "[a-z\\], }{\"\\\\]{0,6}"), 0..4),
        note in "[a-z\\], }{\"\\\\:]{0,8}",
        order in Just((0..4).collect::<Vec<usize>>()).prop_shuffle(),
        blanks in prop::collection::vec(prop::sample::select(BLANKS), 1..6),
        members_null in any::<bool>(),
    ) {
        let member = |(kind, text): &(u8, String)| match kind {
            0 => serde_json::json!({"id": "M", "note": text, "identifiers": [{"type": "UIN", "value": "7"}]}),
            1 => serde_json::json!({"name": text, "scores": [1, [2.5, {"a": text}]]}),
            _ => serde_json::json!({"identifiers": null, "members": null, "age": 3}),
        };
        let list = match members_null {
            true => "null".to_owned(),
            false => serde_json::Value::Array(members.iter().map(member).collect()).to_string(),
        };
        let entries = [
            ("id".to_owned(), r#""HH-1""#.to_owned()),
            ("members".to_owned(), list),
            ("note".to_owned(), serde_json::json!(note).to_string()),
            ("tags".to_owned(), serde_json::json!([note, {"k": [note]}]).to_string()),
        ];
        let ordered: Vec<_> = order.iter().map(|&i| entries[i].clone()).collect();
        let text = household_text(&ordered, &blanks);
        let eager = Beneficiary::from_json_str_reading(&text, MemberReading::Eager);
        let on_demand = Beneficiary::from_json_str_reading(&text, MemberReading::OnDemand);
        prop_assert!(eager.is_ok(), "{text}: {eager:?}");
        prop_assert_eq!(&on_demand, &eager, "{}", text);
        let on_demand = on_demand.expect("read");
        prop_assert_eq!(on_demand.member_count(), if members_null { 0 } else { members.len() });
    }
}
