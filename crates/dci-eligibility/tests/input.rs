//! Beneficiary input read strictly where silence would be wrong: deep values
//! and numbers out of range are the item's error, naming the field; a line
//! that is not text is that line's error, and the other lines are read.

use std::io::Cursor;

use dci_eligibility::Beneficiary;
use dci_eligibility::MemberReading;
use dci_eligibility::io::read_block;

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
    for number in ["1e400", "-1e400", "1E999", &"9".repeat(400)] {
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

#[test]
fn a_line_that_is_not_text_is_that_lines_error_and_the_others_are_read() {
    let input = b"{\"id\":\"A\"}\n{\"id\":\"B\xff\"}\n\n{\"id\":\"C\"}\n".to_vec();
    let mut line = 0;
    let lines = read_block(&mut Cursor::new(input), &mut line, 100).expect("read");
    assert_eq!((lines.len(), line), (3, 4));
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
    let mut reader = Cursor::new(input.as_bytes().to_vec());
    let mut line = 0;
    let first = read_block(&mut reader, &mut line, 2).expect("read");
    assert_eq!((first.len(), line), (2, 3), "a blank line is counted, not kept");
    for (reading, parsed) in [MemberReading::Eager, MemberReading::OnDemand].map(|r| (r, first.parse(r))) {
        let (a, b) = (parsed[0].as_ref().expect("A"), parsed[1].as_ref().expect("B"));
        assert_eq!((a.field("x"), b.field("x")), (Some("1"), Some("2")), "{reading:?}");
        assert_eq!(b.members()[0].field("y"), Some("\"b\""), "{reading:?}");
        assert_eq!(b.members()[0].id, "B/members[0]", "{reading:?}");
    }
    let rest = read_block(&mut reader, &mut line, 2).expect("read");
    assert_eq!((rest.len(), line), (1, 4));
    assert_eq!(rest.parse(MemberReading::Eager)[0].as_ref().expect("C").id, "C");
    assert!(read_block(&mut reader, &mut line, 2).expect("read").is_empty());
}
