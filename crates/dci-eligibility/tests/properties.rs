//! Property tests of the dialect, the diagnostics and the evaluator.

mod common;

use std::sync::Arc;

use common::{MemoryRegistry, as_of, engine, person};
use dci_eligibility::{Engine, EvaluationOptions, ItemResult, Outcome};
use dci_metrics::{MetricValue, RegistryResolver, crvs_spec, dr_spec, ibr_spec};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A boolean expression written twice: OpenSPP keywords and standard operators.
#[derive(Clone, Debug)]
struct Spelled {
    openspp: String,
    standard: String,
}

fn atom() -> impl Strategy<Value = Spelled> {
    let literal = "[a-z ]{0,6}(and|or|not)?[a-z ]{0,6}";
    prop_oneof![
        Just(("r.flag", "r.flag")),
        Just(("r.and == 1", "r.and == 1")),
        Just(("poverty_score >= 0.7", "poverty_score >= 0.7")),
        Just(("dci.crvs.is_alive", "dci.crvs.is_alive")),
        Just(("members.exists(m, m.age > 5)", "members.exists(m, m.age > 5)")),
        Just(("true", "true")),
        Just(("false", "false")),
    ]
    .prop_map(|(a, b)| Spelled { openspp: a.to_owned(), standard: b.to_owned() })
    .boxed()
    .prop_union(
        literal
            .prop_map(|text| {
                let lit = format!("r.name == '{text}'");
                Spelled { openspp: lit.clone(), standard: lit }
            })
            .boxed(),
    )
}

fn expression() -> impl Strategy<Value = Spelled> {
    atom().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Spelled {
                openspp: format!("{} and {}", a.openspp, b.openspp),
                standard: format!("{} && {}", a.standard, b.standard),
            }),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Spelled {
                openspp: format!("{} or {}", a.openspp, b.openspp),
                standard: format!("{} || {}", a.standard, b.standard),
            }),
            inner.clone().prop_map(|a| Spelled {
                openspp: format!("not ({})", a.openspp),
                standard: format!("!({})", a.standard)
            }),
            inner
                .clone()
                .prop_map(|a| Spelled { openspp: format!("not {}", a.openspp), standard: format!("!{}", a.standard) }),
            inner.prop_map(|a| Spelled { openspp: format!("({})", a.openspp), standard: format!("({})", a.standard) }),
        ]
    })
}

fn beneficiary() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        proptest::option::of(0.0f64..1.0),
        "[a-z ]{0,8}",
        proptest::option::of(0i64..3),
        proptest::collection::vec(0i64..90, 0..4),
        proptest::sample::select(vec!["1", "2", "3"]),
    )
        .prop_map(|(flag, score, name, and, ages, uin)| {
            let mut b = json!({"id": "B", "flag": flag, "name": name, "identifiers": [{"type": "UIN", "value": uin}],
                "members": ages.into_iter().map(|age| json!({"age": age})).collect::<Vec<_>>()});
            if let Some(score) = score {
                b["poverty_score"] = json!(score);
            }
            if let Some(and) = and {
                b["and"] = json!(and);
            }
            b
        })
}

fn test_engine() -> Engine {
    let crvs = MemoryRegistry::new(crvs_spec())
        .with("1", vec![MetricValue::Bool(true), MetricValue::Bool(true), MetricValue::NotRecorded, MetricValue::Null])
        .with(
            "2",
            vec![MetricValue::Bool(false), MetricValue::Bool(true), MetricValue::NotRecorded, MetricValue::NotRecorded],
        );
    engine(vec![
        Arc::new(crvs) as Arc<dyn RegistryResolver>,
        Arc::new(MemoryRegistry::new(ibr_spec())),
        Arc::new(MemoryRegistry::new(dr_spec())),
    ])
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// The outcome and error of `source` for one beneficiary; `None` when it does not compile.
fn outcomes(
    engine: &Engine,
    runtime: &tokio::runtime::Runtime,
    source: &str,
    data: &Value,
) -> Option<Vec<(Outcome, Option<String>)>> {
    let rule = engine.compiler().compile("t", source).ok()?;
    Some(batch_outcomes(engine, runtime, &rule, std::slice::from_ref(data), true))
}

/// The outcome and error of each item when `rule` is evaluated over `items`.
fn batch_outcomes(
    engine: &Engine,
    runtime: &tokio::runtime::Runtime,
    rule: &dci_eligibility::Rule,
    items: &[Value],
    demand_driven: bool,
) -> Vec<(Outcome, Option<String>)> {
    let options = EvaluationOptions { demand_driven, ..EvaluationOptions::new(as_of()) };
    let items = items.iter().map(|data| Ok(person(data.clone()))).collect();
    let result = runtime.block_on(engine.evaluate_batch(std::slice::from_ref(rule), items, &options));
    result
        .items
        .into_iter()
        .map(|item| match item {
            ItemResult::Decided { decisions, .. } => (decisions[0].outcome, decisions[0].error.clone()),
            ItemResult::Invalid { error } => panic!("{error}"),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn demand_driven_fetching_decides_as_fetching_everything_first(
        expr in expression(),
        data in proptest::collection::vec(beneficiary(), 1..4),
    ) {
        let runtime = runtime();
        let Ok(rule) = test_engine().compiler().compile("t", &expr.standard) else { return Ok(()) };
        // Fresh engines: nothing cached from the other run.
        let everything = batch_outcomes(&test_engine(), &runtime, &rule, &data, false);
        let demand_driven = batch_outcomes(&test_engine(), &runtime, &rule, &data, true);
        prop_assert_eq!(demand_driven, everything, "{}", expr.standard);
    }

    #[test]
    fn openspp_and_standard_spellings_evaluate_identically(expr in expression(), data in beneficiary()) {
        let engine = test_engine();
        let runtime = runtime();
        let openspp = outcomes(&engine, &runtime, &expr.openspp, &data);
        let standard = outcomes(&engine, &runtime, &expr.standard, &data);
        prop_assert!(standard.is_some(), "standard spelling must compile: {}", expr.standard);
        prop_assert_eq!(openspp, standard, "{} vs {}", expr.openspp, expr.standard);
    }

    #[test]
    fn diagnostics_point_at_the_right_line_and_column(
        prefix_lines in proptest::collection::vec("[ a-z.]{0,12}", 0..3),
        indent in "[ \t]{0,6}",
        before in "(r\\.x == 'é' and |poverty_score > 1 or |)",
        typo in proptest::sample::select(vec!["dci.crvs.is_alve", "dci.ibr.is_enroled", "dci.dr.has_disabilty"]),
    ) {
        let mut source = String::new();
        for line in &prefix_lines {
            source.push_str("// ");
            source.push_str(line);
            source.push('\n');
        }
        source.push_str(&indent);
        source.push_str(&before);
        let line = prefix_lines.len() + 1;
        let column = indent.chars().count() + before.chars().count() + 1;
        source.push_str(typo);
        source.push_str(" == true");
        let error = test_engine().compiler().compile("t", &source).expect_err("unknown metric");
        let diagnostic = &error.diagnostics[0];
        prop_assert_eq!(diagnostic.code, "unknown_metric");
        prop_assert_eq!((diagnostic.line, diagnostic.column), (line, column), "{}", diagnostic.render());
    }

    #[test]
    fn the_normaliser_never_changes_a_string_literal(text in "[a-z '\"\\\\]{0,20}(and|or|not)[a-z ]{0,10}") {
        let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
        let source = format!("r.name == \"{escaped}\"");
        let data = json!({"id": "B", "name": text});
        let engine = test_engine();
        let decided = outcomes(&engine, &runtime(), &source, &data).expect("compiles");
        prop_assert_eq!(decided[0].0, Outcome::Eligible, "{}", source);
    }
}

/// Random expressions of the whole language (valid or not) on random data:
/// compiling and evaluating never panics.
fn any_source() -> impl Strategy<Value = String> {
    let leaf = proptest::sample::select(vec![
        "r.flag",
        "poverty_score",
        "r.name",
        "1",
        "0",
        "2.5",
        "'x'",
        "null",
        "true",
        "r.missing",
        "members",
        "dci.crvs.is_alive",
        "dci.dr.disability_types",
        "dci.crvs.birth_date",
        "r.birthdate",
        "[1, 2]",
        "{'a': 1}",
        "m",
        "age_years(r.birthdate)",
        "today()",
        "dci.ibr.programmes",
        "r.and",
    ])
    .prop_map(str::to_owned);
    leaf.prop_recursive(4, 32, 3, |inner| {
        let binary = proptest::sample::select(vec![
            " && ", " || ", " and ", " or ", " == ", " != ", " < ", " >= ", " + ", " - ", " * ", " / ", " % ", " in ",
        ]);
        prop_oneof![
            (inner.clone(), binary, inner.clone()).prop_map(|(a, op, b)| format!("{a}{op}{b}")),
            inner.clone().prop_map(|a| format!("!{a}")),
            inner.clone().prop_map(|a| format!("not ({a})")),
            inner.clone().prop_map(|a| format!("({a})")),
            inner.clone().prop_map(|a| format!("members.exists(m, {a})")),
            inner.clone().prop_map(|a| format!("members.count(m, {a})")),
            inner.clone().prop_map(|a| format!("members.sum(m, {a})")),
            inner.clone().prop_map(|a| format!("size({a})")),
            inner.clone().prop_map(|a| format!("has({a}.x)")),
            (inner.clone(), inner.clone(), inner).prop_map(|(a, b, c)| format!("{a} ? {b} : {c}")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn evaluating_any_rule_on_any_beneficiary_never_panics(source in any_source(), data in beneficiary(), explain in any::<bool>()) {
        let engine = test_engine();
        let runtime = runtime();
        if let Ok(rule) = engine.compiler().compile("t", &source) {
            let options = EvaluationOptions { explain, ..EvaluationOptions::new(as_of()) };
            let result = runtime.block_on(engine.evaluate_batch(&[rule], vec![Ok(person(data))], &options));
            prop_assert_eq!(result.items.len(), 1);
        }
    }
}
