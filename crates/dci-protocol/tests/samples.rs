//! Every official sample parses with the tolerant reader and is written back in the strict form.

use std::path::Path;

use dci_protocol::{AnyHeader, AnyMessage, DciDocument, DciTimestamp};
use serde_json::Value;

fn samples() -> Option<Vec<std::path::PathBuf>> {
    let dir = dci_conformance::spec_dir().join("samples");
    if !dir.is_dir() {
        eprintln!("skipped: the DCI samples are not at {} (set DCI_SPEC_DIR)", dir.display());
        return None;
    }
    let mut files = Vec::new();
    for registry in ["crvs", "ibr", "dr"] {
        for entry in std::fs::read_dir(dir.join(registry)).expect("sample folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "json") && !path.ends_with("usecaselist.json") {
                files.push(path);
            }
        }
    }
    files.sort();
    Some(files)
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("sample text");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Checks the strict form: integer counts, RFC 3339 timestamps with offset,
/// arrays where the spec has arrays, ISO 639-3 locales, no blank placeholders.
fn assert_strict(path: &Path, written: &Value) {
    let name = path.display();
    let header = &written["header"];
    for count in ["total_count", "completed_count"] {
        if let Some(value) = header.get(count) {
            assert!(value.is_u64(), "{name}: header.{count} must be an integer, is {value}");
        }
    }
    if let Some(ts) = header.get("message_ts") {
        let ts = ts.as_str().expect("message_ts is text");
        assert!(DciTimestamp::parse_strict(ts).is_ok(), "{name}: message_ts {ts} is not RFC 3339 with offset");
    }
    let message = &written["message"];
    for list in ["search_request", "search_response", "enrolled_response", "disabled_response"] {
        if let Some(items) = message.get(list) {
            let items = items.as_array().unwrap_or_else(|| panic!("{name}: {list} must be an array"));
            for item in items {
                if let Some(records) = item.pointer("/data/reg_records") {
                    assert!(records.is_array(), "{name}: reg_records must be an array");
                }
                if let Some(locale) = item.get("locale") {
                    let locale = locale.as_str().expect("locale is text");
                    assert!(
                        locale.len() == 3 && locale.chars().all(|c| c.is_ascii_lowercase()),
                        "{name}: locale {locale} is not ISO 639-3"
                    );
                }
                if let Some(ts) = item.get("timestamp") {
                    let ts = ts.as_str().expect("timestamp is text");
                    assert!(DciTimestamp::parse_strict(ts).is_ok(), "{name}: item timestamp {ts} is not RFC 3339");
                }
                // Optional fields written blank in the sample are dropped; required ones stay.
                for (key, value) in
                    item.as_object().expect("item is an object").iter().filter(|(key, _)| *key != "reference_id")
                {
                    assert_ne!(value, &Value::String(String::new()), "{name}: {list}[].{key} is a blank placeholder");
                }
                if let Some(criteria) = item.get("search_criteria") {
                    let query_type = criteria["query_type"].as_str().expect("query_type");
                    if criteria["query"].is_array() {
                        assert_eq!(
                            query_type, "predicate",
                            "{name}: a predicate list is written as query_type predicate"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn every_official_sample_is_read_and_written_strictly() {
    let Some(files) = samples() else { return };
    assert!(files.len() >= 30, "expected the official sample set, found {} files", files.len());
    let mut typed = 0;
    for path in &files {
        let original = read(path);
        let document: DciDocument = serde_json::from_value(original.clone())
            .unwrap_or_else(|e| panic!("{} is not readable: {e}", path.display()));
        if !matches!(document.message, AnyMessage::Other(_)) {
            typed += 1;
        }
        let written = serde_json::to_value(&document).expect("writes");
        assert_strict(path, &written);
        // Reading what we wrote gives the same document: writing loses nothing we read.
        let again: DciDocument = serde_json::from_value(written.clone()).expect("reads its own output");
        assert_eq!(again, document, "{} does not round-trip", path.display());
        if let AnyHeader::Blank = document.header {
            assert!(
                original.get("header").or_else(|| original.get("headers")).is_some_and(|h| h == ""),
                "only placeholders are blank"
            );
        }
    }
    assert!(typed >= 20, "most samples are search, enrolled or ack messages; only {typed} were recognised");
}

#[test]
fn the_crvs_sample_person_is_read() {
    let Some(files) = samples() else { return };
    let path = files.iter().find(|p| p.ends_with("crvs/processflow1res.json")).expect("crvs sample");
    let document: dci_protocol::ResponseEnvelope<dci_protocol::SearchResponse<dci_protocol::records::CrvsPerson>> =
        serde_json::from_value(read(path)).expect("typed read");
    let item = &document.message.search_response[0];
    let person = &item.records()[0];
    assert!(person.birth_date.is_some());
    assert!(person.is_alive(), "a blank death_date means alive");
}
