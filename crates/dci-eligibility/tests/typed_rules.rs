//! What the type checker accepts runs without a type error: every rule that
//! compiles without a warning, over values of every kind, evaluates on data of
//! the declared types to a decision, never to `error`.

mod common;

use std::sync::Arc;

use common::{MemoryRegistry, as_of, engine, person};
use dci_eligibility::{Compiler, EvaluationOptions, FieldType, FieldTypes, ItemResult, Outcome};
use dci_metrics::{Catalog, MetricValue, RegistryResolver, crvs_spec, dr_spec, ibr_spec};
use proptest::prelude::*;
use serde_json::json;

/// Values of every kind the checker knows: metrics, typed fields, literals, function results.
const VALUES: &[&str] = &[
    "dci.crvs.is_alive",
    "dci.dr.has_disability",
    "dci.dr.disability_level",
    "dci.ibr.program_count",
    "dci.ibr.programmes",
    "dci.crvs.birth_date",
    "dci.crvs.death_date",
    "r.flag",
    "r.size",
    "r.score",
    "r.name",
    "r.birthdate",
    "age_years(r.birthdate)",
    "date(r.birthdate)",
    "true",
    "3",
    "2.5",
    "'x'",
    "'false'",
    "null",
    "['a', 'b']",
    "size(r.name)",
];

const OPERATORS: &[&str] = &["==", "!=", "<", ">=", "+", "in", "and", "or"];

fn expression() -> impl Strategy<Value = String> {
    let value = proptest::sample::select(VALUES).prop_map(str::to_owned);
    value.prop_recursive(2, 8, 2, |inner| {
        (inner.clone(), proptest::sample::select(OPERATORS), inner).prop_map(|(a, op, b)| format!("({a} {op} {b})"))
    })
}

fn compiler() -> Compiler {
    let fields = [
        ("flag", FieldType::Bool),
        ("size", FieldType::Int),
        ("score", FieldType::Double),
        ("name", FieldType::String),
        ("birthdate", FieldType::Date),
    ];
    let types = FieldTypes(fields.into_iter().map(|(name, ty)| (name.to_owned(), ty)).collect());
    Compiler::new(Arc::new(Catalog::default())).with_field_types(types)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_rule_the_checker_accepts_runs_without_a_type_error(expr in expression()) {
        let compiler = compiler();
        let rule = match compiler.compile("t", &expr) {
            Ok(rule) if rule.warnings().is_empty() => rule,
            _ => return Ok(()),
        };
        let crvs = MemoryRegistry::new(crvs_spec()).with("1", vec![
            MetricValue::Bool(true),
            MetricValue::Bool(true),
            MetricValue::Timestamp(chrono::DateTime::parse_from_rfc3339("1950-01-01T00:00:00Z").expect("date")),
            MetricValue::Null,
        ]);
        let ibr = MemoryRegistry::new(ibr_spec()).with("1", vec![
            MetricValue::Bool(true),
            MetricValue::Int(2),
            MetricValue::strings(["a", "b"]),
            MetricValue::strings(["A", "B"]),
        ]);
        let dr = MemoryRegistry::new(dr_spec())
            .with("1", vec![MetricValue::Bool(true), MetricValue::Int(3), MetricValue::strings(["MOBILITY"])]);
        let engine = engine(vec![
            Arc::new(crvs) as Arc<dyn RegistryResolver>,
            Arc::new(ibr) as Arc<dyn RegistryResolver>,
            Arc::new(dr) as Arc<dyn RegistryResolver>,
        ]);
        let data = json!({"id": "A", "identifiers": [{"type": "UIN", "value": "1"}], "flag": true, "size": 3,
            "score": 0.5, "name": "x", "birthdate": "1950-01-01"});
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let result = runtime.block_on(engine.evaluate_batch(
            &[rule],
            vec![Ok(person(data))],
            &EvaluationOptions::new(as_of()),
        ));
        let ItemResult::Decided { decisions, .. } = &result.items[0] else { panic!("decided") };
        prop_assert!(decisions[0].outcome != Outcome::Error, "{expr}: {:?}", decisions[0]);
    }
}
