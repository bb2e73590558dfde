//! Beneficiary input, as NDJSON lines and as a JSON document: each item read
//! or refused with its error, and those read evaluated under a rule that
//! reads fields, members and metrics.
#![no_main]

use std::io::Cursor;
use std::sync::LazyLock;

use dci_eligibility::io::{parse_document, parse_line, read_lines};
use dci_eligibility::{EvaluationOptions, Rule};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

static RULE: LazyLock<Rule> = LazyLock::new(|| {
    common::WORLD
        .engine
        .compiler()
        .compile(
            "fuzz",
            "(has(r.x) && r.x == 1) || members.exists(m, m.dci.dr.has_disability == true || age_years(m.birthdate) < 5) \
             || size(r.tags) > 1 || poverty_score >= 0.7 || dci.crvs.is_alive == true",
        )
        .expect("the rule compiles")
});

fuzz_target!(|data: &[u8]| {
    let mut line = 0;
    let Ok(lines) = read_lines(&mut Cursor::new(data), &mut line, usize::MAX) else { return };
    let mut items: Vec<_> = lines.iter().map(parse_line).collect();
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(document) = parse_document(text)
    {
        items.extend(document);
    }
    items.truncate(64);
    let world = &*common::WORLD;
    let count = items.len();
    let result = world.runtime.block_on(world.engine.evaluate_batch(
        &[RULE.clone()],
        items,
        &EvaluationOptions::new(common::as_of()),
    ));
    assert_eq!(result.items.len(), count);
});
