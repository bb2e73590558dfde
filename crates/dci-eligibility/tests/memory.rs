//! What an evaluation builds stays near its `max_bytes`: the peak resident
//! memory of the process, reset before each case (Linux `clear_refs`), rises
//! by at most a small multiple of the budget and of the data, for the rules
//! that built gigabytes before the bytes of the data were metered, and for
//! rules generated over data of every size.
//!
//! One test, so that no other test of this binary allocates beside it.

mod common;

use std::sync::Arc;

use common::{as_of, peak_growth, person};
use dci_eligibility::{Compiler, Engine, EvaluationOptions, ItemResult, Limits, Outcome};
use dci_metrics::{Catalog, MetricStore, StoreConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

const MAX_BYTES: u64 = 4 << 20;

fn engine() -> Engine {
    let limits = Limits { max_bytes: MAX_BYTES, ..Limits::default() };
    let store = MetricStore::new(Arc::new(Catalog::default()), Vec::new(), &StoreConfig::default()).expect("store");
    Engine::new(Compiler::new(Arc::new(Catalog::default())).with_limits(limits), Arc::new(store))
}

/// Evaluates `rule` over one beneficiary; the outcome and code.
fn evaluate(
    runtime: &tokio::runtime::Runtime,
    engine: &Engine,
    rule: &str,
    data: Value,
) -> (Outcome, Option<&'static str>) {
    let Ok(rule) = engine.compiler().compile("r", rule) else { return (Outcome::Error, Some("refused")) };
    let options = EvaluationOptions::new(as_of());
    let result = runtime.block_on(engine.evaluate_batch(&[rule], vec![Ok(person(data))], &options));
    match &result.items[0] {
        ItemResult::Decided { decisions, .. } => (decisions[0].outcome, decisions[0].code),
        ItemResult::Invalid { error } => panic!("invalid: {error}"),
    }
}

/// A rule built from a data value (`r.s`, a string, or `r.l`, a list of strings) by operations
/// that build: concatenation, split, replace, join, copies into lists and loops, sort, distinct.
fn built() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![Just("r.s".to_owned()), Just("r.l.join('')".to_owned()), Just("r.l[0]".to_owned())];
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} + {b})")),
            inner.clone().prop_map(|a| format!("{a}.replace('a', 'aaaaaaaaaaaaaaaa')")),
            inner.clone().prop_map(|a| format!("{a}.split('').join('-')")),
            inner.clone().prop_map(|a| format!("[{a}, {a}, {a}, {a}].join('')")),
            inner.clone().prop_map(|a| format!("r.l.map(x, x + {a}).join('')")),
            inner.clone().prop_map(|a| format!("{a}.split('b').sort().join('')")),
            inner.clone().prop_map(|a| format!("{a}.split('').distinct().join('')")),
            inner.clone().prop_map(|a| format!("{a}.upperAscii()")),
            inner.prop_map(|a| format!("'%s%s'.format([{a}, {a}])")),
        ]
    })
}

#[test]
fn what_an_evaluation_builds_stays_near_its_budget() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let engine = engine();
    let megabyte = "ab".repeat(1 << 19);
    // The rules of the budgets issue that built gigabytes: stopped, with memory bounded.
    let sum = ["x"; 10].join(" + ");
    for rule in [
        format!("[r.s].map(x, {sum}).map(y, y + y).map(z, z + z).all(w, size(w) > 0)"),
        "size(r.s.split('')) > 0".to_owned(),
        "size(r.s.replace('a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')) > 0"
            .to_owned(),
        "lists.range(1000).map(i, r.s).size() > 0".to_owned(),
        "size([r.s, r.s, r.s, r.s, r.s, r.s, r.s, r.s, r.s, r.s].join('')) > 0".to_owned(),
    ] {
        let mut outcome = None;
        let growth =
            peak_growth(|| outcome = Some(evaluate(&runtime, &engine, &rule, json!({"id": "A", "s": megabyte}))));
        assert_eq!(outcome, Some((Outcome::Error, Some("budget_exceeded"))), "{rule}");
        if let Some(growth) = growth {
            assert!(growth < 64 << 20, "{rule}: the peak rose by {} MiB", growth >> 20);
        }
    }
    // A string built by `replace` is as large as the data made it, so what is built from it is
    // metered too: 64 KiB grown to 544 KiB, split into 557,056 strings (47 MiB, unmetered before).
    let rule = "size(r.s.replace('a', 'aaaaaaaaaaaaaaaa').split('')) > 0";
    let mut outcome = None;
    let data = json!({"id": "A", "s": "ab".repeat(1 << 15)});
    let growth = peak_growth(|| outcome = Some(evaluate(&runtime, &engine, rule, data)));
    assert_eq!(outcome, Some((Outcome::Error, Some("budget_exceeded"))), "{rule}");
    if let Some(growth) = growth {
        assert!(growth < 16 << 20, "{rule}: the peak rose by {} MiB", growth >> 20);
    }
    // Generated rules over data of every size: never a crash, and the peak within a few budgets.
    let mut runner = TestRunner::new(Config { cases: 48, failure_persistence: None, ..Config::default() });
    let cases = (built(), 0usize..18, 0usize..12);
    runner
        .run(&cases, |(expression, string_log, list_log)| {
            let s = "ab".repeat((1usize << string_log) / 2);
            let l = vec!["abab"; 1usize << list_log];
            let data = json!({"id": "A", "s": s, "l": l});
            let data_bytes = data.to_string().len() as u64;
            let rule = format!("size({expression}) >= 0");
            let mut outcome = None;
            let growth = peak_growth(|| outcome = Some(evaluate(&runtime, &engine, &rule, data)));
            let (decided, code) = outcome.expect("evaluated");
            prop_assert!(
                decided == Outcome::Eligible || code == Some("budget_exceeded") || code == Some("refused"),
                "{rule}: {decided:?} {code:?}"
            );
            if let Some(growth) = growth {
                let bound = 8 * MAX_BYTES + 16 * data_bytes + (16 << 20);
                prop_assert!(
                    growth <= bound,
                    "{rule}: the peak rose by {} MiB over {} KiB of data",
                    growth >> 20,
                    data_bytes >> 10
                );
            }
            Ok(())
        })
        .expect("every generated rule stays within its budget");
}
