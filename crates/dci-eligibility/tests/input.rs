//! Beneficiary input read strictly where silence would be wrong: deep values
//! and numbers out of range are the item's error, naming the field; a line
//! that is not text is that line's error, and the other lines are read.

use std::io::Cursor;

use dci_eligibility::Beneficiary;
use dci_eligibility::io::{Line, parse_line, read_lines};

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
    let lines = read_lines(&mut Cursor::new(input), &mut line, 100).expect("read");
    assert_eq!(lines.len(), 3);
    assert!(matches!(&lines[1], Line::Unreadable(2, problem) if problem.contains("UTF-8")), "{lines:?}");
    let parsed: Vec<_> = lines.iter().map(parse_line).collect();
    assert_eq!(parsed[0].as_ref().expect("A").id, "A");
    let error = parsed[1].as_ref().expect_err("B");
    assert_eq!(error.line, Some(2));
    assert_eq!(parsed[2].as_ref().expect("C").id, "C");
    assert_eq!(lines[2].number(), 4);
}
