//! `and`/`or` as CEL defines them, whatever the order of the operands (false,
//! or true, decides; then an unknown; then an error), and registry values
//! read only through their analysed path: every spelling that is accepted
//! decides as the canonical one, cold and warm.

mod common;

use std::sync::Arc;

use common::{MemoryRegistry, as_of, engine, person};
use dci_eligibility::{Engine, EvaluationOptions, ItemResult, Outcome};
use dci_metrics::{MetricValue, RegistryResolver, crvs_spec, dr_spec, ibr_spec};
use proptest::prelude::*;
use serde_json::{Value, json};

/// What an operand is, as CEL's logic sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Three {
    True,
    False,
    Unknown,
    Error,
}

/// Operands of each kind: a literal, a registry value the registry does not know (person 9 is
/// in no registry, and absence from the civil registry proves nothing), a missing field, a type
/// error, a division by zero.
fn operand() -> impl Strategy<Value = (String, Three)> {
    proptest::sample::select(vec![
        ("true", Three::True),
        ("false", Three::False),
        ("r.one > 0", Three::True),
        ("r.one < 0", Three::False),
        ("dci.crvs.is_alive", Three::Unknown),
        ("dci.crvs.birth_date != null", Three::Unknown),
        ("r.absent > 1", Three::Unknown),
        ("age_years(r.nothing) > 1", Three::Unknown),
        ("r.text > 1", Three::Error),
        ("1 / r.zero == 1", Three::Error),
        ("r.text.size() >= r.one", Three::True),
    ])
    .prop_map(|(text, value)| (text.to_owned(), value))
}

/// An expression, the same with every operand order swapped, and its value.
fn expression() -> impl Strategy<Value = (String, String, Three)> {
    operand().prop_map(|(text, value)| (text.clone(), text, value)).prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|((a, a2, x), (b, b2, y))| {
                (format!("({a} && {b})"), format!("({b2} && {a2})"), and(x, y))
            }),
            (inner.clone(), inner.clone()).prop_map(|((a, a2, x), (b, b2, y))| {
                (format!("({a} || {b})"), format!("({b2} || {a2})"), or(x, y))
            }),
            inner.prop_map(|(a, a2, x)| (format!("!({a})"), format!("!({a2})"), not(x))),
        ]
    })
}

fn and(x: Three, y: Three) -> Three {
    match (x, y) {
        (Three::False, _) | (_, Three::False) => Three::False,
        (Three::True, Three::True) => Three::True,
        (Three::Unknown, _) | (_, Three::Unknown) => Three::Unknown,
        _ => Three::Error,
    }
}

fn or(x: Three, y: Three) -> Three {
    not(and(not(x), not(y)))
}

fn not(x: Three) -> Three {
    match x {
        Three::True => Three::False,
        Three::False => Three::True,
        other => other,
    }
}

fn outcome_of(value: Three) -> Outcome {
    match value {
        Three::True => Outcome::Eligible,
        Three::False => Outcome::Ineligible,
        Three::Unknown => Outcome::Undetermined,
        Three::Error => Outcome::Error,
    }
}

fn registries() -> Engine {
    let dr = MemoryRegistry::new(dr_spec())
        .with("1", vec![MetricValue::Bool(true), MetricValue::Int(4), MetricValue::strings(["MOBILITY"])])
        .with("2", vec![MetricValue::Bool(false), MetricValue::Int(0), MetricValue::strings::<&str>([])]);
    let crvs = MemoryRegistry::new(crvs_spec())
        .with("1", vec![MetricValue::Bool(true), MetricValue::Bool(true), MetricValue::NotRecorded, MetricValue::Null]);
    let ibr = MemoryRegistry::new(ibr_spec())
        .with("1", vec![MetricValue::Bool(true), MetricValue::Int(2), MetricValue::strings(["A", "B"])]);
    engine(vec![
        Arc::new(crvs) as Arc<dyn RegistryResolver>,
        Arc::new(ibr) as Arc<dyn RegistryResolver>,
        Arc::new(dr) as Arc<dyn RegistryResolver>,
    ])
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn decide(engine: &Engine, runtime: &tokio::runtime::Runtime, rule: &str, data: &Value) -> (Outcome, Option<String>) {
    let rule = engine.compiler().compile("t", rule).unwrap_or_else(|e| panic!("{rule}: {e}"));
    let result = runtime.block_on(engine.evaluate_batch(
        &[rule],
        vec![Ok(person(data.clone()))],
        &EvaluationOptions::new(as_of()),
    ));
    match &result.items[0] {
        ItemResult::Decided { decisions, .. } => (decisions[0].outcome, decisions[0].code.map(str::to_owned)),
        ItemResult::Invalid { error } => panic!("{error}"),
    }
}

fn someone() -> Value {
    json!({"id": "A", "one": 1, "text": "x", "zero": 0, "nothing": null, "identifiers": [{"type": "UIN", "value": "9"}]})
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn and_or_decide_alike_in_either_operand_order((written, swapped, value) in expression()) {
        let engine = registries();
        let runtime = runtime();
        let expected = outcome_of(value);
        let (first, _) = decide(&engine, &runtime, &written, &someone());
        let (second, _) = decide(&engine, &runtime, &swapped, &someone());
        prop_assert_eq!(first, expected, "{}", written);
        prop_assert_eq!(second, expected, "{}", swapped);
    }

    #[test]
    fn all_and_exists_decide_alike_in_any_member_order(
        values in proptest::collection::vec(proptest::sample::select(vec![Three::True, Three::False, Three::Unknown, Three::Error]), 0..5),
        exists in any::<bool>(),
    ) {
        let member = |value: &Three| match value {
            Three::True => json!({"v": 1}),
            Three::False => json!({"v": -1}),
            Three::Unknown => json!({}),
            Three::Error => json!({"v": "x"}),
        };
        let expected = if exists {
            values.iter().fold(Three::False, |folded, value| or(folded, *value))
        } else {
            values.iter().fold(Three::True, |folded, value| and(folded, *value))
        };
        let rule = if exists { "members.exists(m, m.v > 0)" } else { "members.all(m, m.v > 0)" };
        let engine = registries();
        let runtime = runtime();
        for order in [values.clone(), values.iter().rev().copied().collect()] {
            let data = json!({"id": "A", "members": order.iter().map(member).collect::<Vec<_>>()});
            let (outcome, _) = decide(&engine, &runtime, rule, &data);
            prop_assert_eq!(outcome, outcome_of(expected), "{} over {:?}", rule, order);
        }
    }
}

/// Every spelling of a metric the compiler accepts, besides the canonical `dci.<registry>.<metric>`.
fn spellings(registry: &str, metric: &str) -> Vec<String> {
    vec![
        format!("r.dci.{registry}.{metric}"),
        format!("me.dci.{registry}.{metric}"),
        format!("r['dci']['{registry}']['{metric}']"),
        format!("dci['{registry}']['{metric}']"),
        format!("dci.{registry}['{metric}']"),
        format!("r['dci'].{registry}.{metric}"),
    ]
}

/// Spellings that read a registry value by another way than its name: refused.
fn misspellings(registry: &str, metric: &str) -> Vec<String> {
    vec![
        format!("r.?dci.{registry}.{metric}.orValue(null)"),
        format!("dci.?{registry}.{metric}.orValue(null)"),
        format!("dci.{registry}.?{metric}.orValue(null)"),
        format!("r[?'dci'].{registry}.{metric}.orValue(null)"),
        format!("dci.{registry}[?'{metric}'].orValue(null)"),
        format!("has(dci.{registry}.{metric})"),
        format!("has(r.dci.{registry}.{metric})"),
        format!("dci.{registry}[r.key]"),
        format!("[r][0].dci.{registry}.{metric}"),
        format!("{{'a': r}}.a.dci.{registry}.{metric}"),
    ]
}

#[test]
fn every_spelling_of_every_metric_decides_as_the_canonical_one_cold_and_warm() {
    let runtime = runtime();
    let metrics = [
        ("crvs", "is_alive", "== true"),
        ("crvs", "is_registered", "== true"),
        ("crvs", "birth_date", "!= null"),
        ("crvs", "death_date", "== null"),
        ("ibr", "is_enrolled", "== false"),
        ("ibr", "program_count", ">= 1"),
        ("ibr", "programmes", "== ['A', 'B']"),
        ("dr", "has_disability", "== true"),
        ("dr", "disability_level", ">= 3"),
        ("dr", "disability_types", "== ['MOBILITY']"),
    ];
    let people: Vec<Value> = ["1", "2", "9"]
        .into_iter()
        .map(|uin| json!({"id": uin, "key": "x", "identifiers": [{"type": "UIN", "value": uin}]}))
        .collect();
    for (registry, metric, comparison) in metrics {
        for data in &people {
            // Fresh engines for the cold runs; the warm run asks the same engine again.
            let canonical = format!("dci.{registry}.{metric} {comparison}");
            let expected = decide(&registries(), &runtime, &canonical, data);
            for spelling in spellings(registry, metric) {
                let rule = format!("{spelling} {comparison}");
                let engine = registries();
                let cold = decide(&engine, &runtime, &rule, data);
                let warm = decide(&engine, &runtime, &rule, data);
                assert_eq!(cold, expected, "{rule} for {data}");
                assert_eq!(warm, expected, "{rule} warm, for {data}");
            }
        }
        for misspelling in misspellings(registry, metric) {
            let error = registries().compiler().compile("t", &misspelling).expect_err(&misspelling);
            assert_eq!(error.diagnostics[0].code, "misplaced_dci", "{misspelling}: {error}");
        }
    }
}

#[test]
fn only_registry_paths_are_checked_for_their_spelling() {
    let engine = registries();
    for refused in ["dci.dr[r.k] >= 3", "dci.dr[?('lev' + 'el')].orValue(5) > 3", "dci[r.k].disability_level >= 3"] {
        let error = engine.compiler().compile("t", refused).expect_err(refused);
        assert_eq!(error.diagnostics[0].code, "misplaced_dci", "{refused}: {error}");
    }
    // Keys named `dci` that are data, not a person's registry values.
    for accepted in [
        "r.items[0].dci == 1",
        "r.extra.?dci.orValue(0) == 0",
        "{'dci': 1}.dci == 1",
        "r.extra['dci'] == 1",
        "r.items.exists(x, x.other == 1)",
    ] {
        engine.compiler().compile("t", accepted).unwrap_or_else(|e| panic!("{accepted}: {e}"));
    }
}

#[test]
fn a_missing_list_looped_over_is_unknown_beside_errors() {
    let engine = registries();
    let runtime = runtime();
    let rule = "(1 / r.zero == 1) || (r.absent_list.exists(x, x == 'a') || 2 / r.zero == 1)";
    let (outcome, _) = decide(&engine, &runtime, rule, &someone());
    assert_eq!(outcome, Outcome::Undetermined);
}
