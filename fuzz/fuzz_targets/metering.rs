//! Rules built from costly operations × data of every size: the evaluation
//! ends (decided, or stopped by its budget), never a crash, and never builds
//! much more than its budget: run with `-rss_limit_mb=1024` (the budget here
//! is 16 MiB of bytes and 1,000,000 steps; the data at most 4 MiB).
#![no_main]

use dci_eligibility::{EvaluationOptions, ItemResult, Outcome};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

#[path = "common.rs"]
mod common;

/// Operations that take a value (`x`) and build from it.
const OPERATIONS: &[&str] = &[
    "(x + x)",
    "x.replace('a', 'aaaaaaaa')",
    "x.split('').join('')",
    "x.split('b').join('-')",
    "[x, x, x].join('')",
    "r.l.map(i, x).join('')",
    "r.l.map(i, i + x).join('')",
    "x.upperAscii()",
    "'%s-%s'.format([x, x])",
    "x.split('').sort().join('')",
    "x.split('').distinct().join('')",
    "(x.indexOf(r.s) >= -1 ? x : x)",
    "(x.matches('(a|b)*c') ? x : x)",
    "(r.l.all(i, i.size() >= 0) ? x : x)",
    "(r.l.exists(i, r.l.exists(j, i == j + 'z')) ? x : x)",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sizes, choices)) = data.split_first() else { return };
    let string_bytes = 1usize << (sizes & 0x0f).min(21);
    let list_items = 1usize << (sizes >> 4).min(12);
    let mut expression = "r.s".to_owned();
    for &choice in choices.iter().take(6) {
        let operation = OPERATIONS[usize::from(choice) % OPERATIONS.len()];
        expression = operation.replace('x', &format!("({expression})"));
    }
    let rule = format!("size({expression}) >= 0");
    let world = &*common::WORLD;
    let Ok(rule) = world.engine.compiler().compile("metering", &rule) else { return };
    let beneficiary = json!({"id": "A", "s": "ab".repeat(string_bytes / 2), "l": vec!["ab"; list_items]});
    let Ok(beneficiary) = dci_eligibility::Beneficiary::from_json_str(&beneficiary.to_string()) else { return };
    let options = EvaluationOptions::new(common::as_of());
    let result = world.runtime.block_on(world.engine.evaluate_batch(&[rule], vec![Ok(beneficiary)], &options));
    let ItemResult::Decided { decisions, .. } = &result.items[0] else { panic!("the beneficiary reads") };
    let decision = &decisions[0];
    assert!(
        decision.outcome == Outcome::Eligible || decision.code == Some("budget_exceeded"),
        "{decision:?}"
    );
});
