//! Beneficiary input, as NDJSON lines and as a JSON document: each item read
//! or refused with its error (the same with members read on demand as read
//! at once), and those read evaluated under a rule that reads fields, members
//! and metrics.
#![no_main]

use std::io::Cursor;
use std::sync::LazyLock;

use dci_eligibility::io::{BlockReader, parse_document};
use dci_eligibility::{EvaluationOptions, MemberReading, Rule};
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
    let mut reader = BlockReader::new(Cursor::new(data));
    let mut items = Vec::new();
    loop {
        let Ok(block) = reader.next_block(16) else { return };
        if block.is_empty() {
            break;
        }
        let eager = block.parse(MemberReading::Eager);
        for (on_demand, eager) in block.parse(MemberReading::OnDemand).iter().zip(&eager) {
            match (on_demand, eager) {
                (Ok(on_demand), Ok(eager)) => assert!(on_demand == eager, "{on_demand:?} != {eager:?}"),
                (Err(on_demand), Err(eager)) => assert_eq!(on_demand, eager),
                _ => panic!("on demand {on_demand:?}, eager {eager:?}"),
            }
        }
        items.extend(eager);
    }
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
