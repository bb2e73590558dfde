//! Property tests of the dialect, the diagnostics and the evaluator.

mod common;

use std::sync::Arc;

use common::{MemoryRegistry, as_of, engine, person};
use dci_eligibility::{Beneficiary, Engine, EvaluationOptions, ItemResult, MemberReading, Outcome, Severity};
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
    let items = items.iter().map(|data| Ok(person(data.clone()))).collect();
    decide(engine, runtime, rule, items, demand_driven)
}

/// The outcome and error of each of `items` under `rule`.
fn decide(
    engine: &Engine,
    runtime: &tokio::runtime::Runtime,
    rule: &dci_eligibility::Rule,
    items: Vec<Result<Beneficiary, dci_eligibility::BeneficiaryError>>,
    demand_driven: bool,
) -> Vec<(Outcome, Option<String>)> {
    let options = EvaluationOptions { demand_driven, ..EvaluationOptions::new(as_of()) };
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
    fn members_read_on_demand_decide_as_members_read_at_once(
        expr in expression(),
        data in proptest::collection::vec(beneficiary(), 1..4),
    ) {
        let runtime = runtime();
        let Ok(rule) = test_engine().compiler().compile("t", &expr.standard) else { return Ok(()) };
        let read = |reading| {
            data.iter().map(|b| Beneficiary::from_json_str_reading(&b.to_string(), reading)).collect::<Vec<_>>()
        };
        // On demand even where the rule reads the members: they are then built as they are read.
        let eager = decide(&test_engine(), &runtime, &rule, read(MemberReading::Eager), true);
        let on_demand = decide(&test_engine(), &runtime, &rule, read(MemberReading::OnDemand), true);
        prop_assert_eq!(on_demand, eager, "{}", expr.standard);
    }

    #[test]
    fn openspp_and_standard_spellings_evaluate_identically(expr in expression(), data in beneficiary()) {
        let engine = test_engine();
        let runtime = runtime();
        let openspp = outcomes(&engine, &runtime, &expr.openspp, &data);
        let standard = outcomes(&engine, &runtime, &expr.standard, &data);
        if standard.is_none() {
            // Refused before it runs only for types that do not go together (`(!r.name) == ''`
            // compares true or false with text), and then in both spellings.
            let refused = engine.compiler().compile("t", &expr.standard).expect_err("refused");
            prop_assert!(
                refused.diagnostics.iter().all(|d| d.code == "type_mismatch" || d.severity == Severity::Warning),
                "{}: {:?}",
                expr.standard,
                refused.diagnostics
            );
        }
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

/// Registries with values of several types for persons "1" and "2" ("3" is unknown to all).
fn comparison_engine() -> Engine {
    let crvs = MemoryRegistry::new(crvs_spec())
        .with("1", vec![MetricValue::Bool(true), MetricValue::Bool(true), MetricValue::NotRecorded, MetricValue::Null])
        .with(
            "2",
            vec![MetricValue::Bool(false), MetricValue::Bool(true), MetricValue::NotRecorded, MetricValue::Null],
        );
    let ibr = MemoryRegistry::new(ibr_spec()).with(
        "1",
        vec![MetricValue::Bool(true), MetricValue::Int(2), MetricValue::StringList(Arc::from([Arc::from("p")]))],
    );
    let dr = MemoryRegistry::new(dr_spec())
        .with("1", vec![MetricValue::Bool(true), MetricValue::Int(3), MetricValue::StringList(Arc::from([]))])
        .with("2", vec![MetricValue::Bool(false), MetricValue::Int(0), MetricValue::NotRecorded]);
    engine(vec![Arc::new(crvs) as Arc<dyn RegistryResolver>, Arc::new(ibr), Arc::new(dr)])
}

/// A registrant field `v` of any JSON kind (or none), and an identifier.
fn comparison_data() -> impl Strategy<Value = Value> {
    let text = |items: &[&'static str]| proptest::sample::select(items.to_vec()).prop_map(|t| Some(json!(t)));
    let value = prop_oneof![
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        2 => (-3i64..100).prop_map(|n| Some(json!(n))),
        2 => proptest::sample::select(vec![-1i64, 0, 3, 59, 60, 61]).prop_map(|n| Some(json!(n))),
        1 => (-3.0f64..100.0).prop_map(|x| Some(json!(x))),
        2 => proptest::sample::select(vec![0.5, 60.0, 3.0]).prop_map(|x: f64| Some(json!(x))),
        1 => any::<bool>().prop_map(|b| Some(json!(b))),
        3 => text(&["", "a", "x\"y", "60"]),
        4 => text(&["1966-01-01", "1966-01-02", "1965-12-31", "2025-12-31", "2025-12-01", "2026-02-01", "2000-02-29"]),
        2 => text(&[" 1966-01-01 ", "1966-1-1", "1966-02-30", "1966-01-01T23:00:00Z", "not a date"]),
    ];
    let uin = || proptest::sample::select(vec!["1", "2", "3"]);
    let person = move |value: Option<Value>, uin: &str| {
        let mut p = json!({"identifiers": [{"type": "UIN", "value": uin}]});
        if let Some(value) = value {
            p["v"] = value;
        }
        p
    };
    (value.clone(), uin(), proptest::collection::vec((value, uin()), 0..3)).prop_map(move |(value, uin, members)| {
        let mut b = person(value, uin);
        b["id"] = json!("B");
        b["members"] = members.into_iter().map(|(value, uin)| person(value, uin)).collect();
        b
    })
}

/// A clause as the engine may evaluate it natively, and the same clause
/// written so that it goes through CEL: a comparison `c` becomes `(c) == true`
/// (`!!(c)` would not do: the parser drops a double negation).
#[derive(Clone, Debug)]
struct TwoWays {
    native: String,
    interpreted: String,
}

/// A comparison of a field, an age or a registry value with a constant
/// (either side; mostly a constant of a fitting type, sometimes any), with
/// `@` where the person goes (`r.`, `me.`, nothing, `m.`).
fn comparison_template() -> impl Strategy<Value = String> {
    fn pick(items: &[&'static str]) -> proptest::sample::Select<&'static str> {
        proptest::sample::select(items.to_vec())
    }
    let any_constant = [
        "0",
        "3",
        "60",
        "-1",
        "1u",
        "0.5",
        "60.0",
        "3.0",
        "true",
        "false",
        "'a'",
        "'x\"y'",
        "'60'",
        "'1966-01-01'",
        "null",
    ];
    let groups = prop_oneof![
        (pick(&["@v"]), pick(&["0", "3", "60", "-1", "0.5", "60.0", "3.0"])),
        (pick(&["@v"]), pick(&["true", "false", "'a'", "'x\"y'", "'60'"])),
        (pick(&["age_years(@v)"]), pick(&["59", "60", "61", "0", "-1", "25", "26"])),
        (pick(&["age_months(@v)"]), pick(&["0", "1", "-1", "719", "720", "721", "311"])),
        (pick(&["age_days(@v)"]), pick(&["0", "1", "31", "-31", "-1", "21915"])),
        (pick(&["@dci.crvs.is_alive", "@dci.dr.has_disability", "@dci.ibr.is_enrolled"]), pick(&["true", "false"])),
        (pick(&["@dci.dr.disability_level", "@dci.ibr.program_count"]), pick(&["0", "2", "3", "-1", "2.0"])),
        (
            pick(&["@v", "age_years(@v)", "@dci.crvs.death_date", "@dci.ibr.programmes", "@dci.dr.disability_level"]),
            pick(&any_constant),
        ),
    ];
    let operator = pick(&["==", "!=", "<", "<=", ">", ">="]);
    (groups, operator, any::<bool>())
        .prop_map(|((a, c), op, flip)| if flip { format!("{c} {op} {a}") } else { format!("{a} {op} {c}") })
}

/// A comparison about the registrant, a `members.exists`/`members.all` of a
/// comparison (about the member, or now and then the registrant; the
/// variable `m`, the implicit `m`, or `r` shadowing the registrant), or now
/// and then another kind of clause.
fn comparison_clause() -> impl Strategy<Value = TwoWays> {
    let registrant = (comparison_template(), proptest::sample::select(vec!["r.", "me.", ""])).prop_map(|(t, r)| {
        let c = t.replace('@', r);
        TwoWays { interpreted: format!("({c}) == true"), native: c }
    });
    let members = (
        comparison_template(),
        proptest::sample::select(vec!["exists", "all"]),
        proptest::sample::select(vec![
            ("m, ", "m."),
            ("m, ", "m."),
            ("r, ", "r."),
            ("m, ", "r."),
            ("m, ", ""),
            ("", "m."),
        ]),
    )
        .prop_map(|(t, quantifier, (variable, person))| {
            let c = t.replace('@', person);
            TwoWays {
                native: format!("members.{quantifier}({variable}{c})"),
                interpreted: format!("members.{quantifier}({variable}({c}) == true)"),
            }
        });
    let other = proptest::sample::select(vec!["true", "false", "r.v", "dci.crvs.is_alive", "age_years(r.v) + 1 > 60"])
        .prop_map(|c| TwoWays { native: c.to_owned(), interpreted: c.to_owned() });
    prop_oneof![5 => registrant, 4 => members, 1 => other]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    /// The engine evaluates comparisons of one value with a constant, alone
    /// or in `members.exists`/`members.all`, without the interpreter (see
    /// [`TwoWays`] for the other spelling). Every decision (outcome, missing
    /// values, error message) must be the same either way.
    #[test]
    fn comparisons_decide_as_the_interpreter_does(
        clauses in proptest::collection::vec(comparison_clause(), 1..4),
        or in any::<bool>(),
        data in proptest::collection::vec(comparison_data(), 1..4),
    ) {
        let connective = if or { " || " } else { " && " };
        let native = clauses.iter().map(|c| c.native.as_str()).collect::<Vec<_>>().join(connective);
        let interpreted = clauses.iter().map(|c| c.interpreted.as_str()).collect::<Vec<_>>().join(connective);
        let compiler = comparison_engine();
        let (Ok(native_rule), Ok(interpreted_rule)) =
            (compiler.compiler().compile("t", &native), compiler.compiler().compile("t", &interpreted))
        else {
            return Ok(());
        };
        let runtime = runtime();
        let options = EvaluationOptions::new(as_of());
        let decide = |rule: &dci_eligibility::Rule| {
            let items = data.iter().map(|d| Ok(person(d.clone()))).collect();
            let result = runtime.block_on(comparison_engine().evaluate_batch(std::slice::from_ref(rule), items, &options));
            result
                .items
                .into_iter()
                .map(|item| match item {
                    ItemResult::Decided { mut decisions, .. } => decisions.remove(0),
                    ItemResult::Invalid { error } => panic!("{error}"),
                })
                .collect::<Vec<_>>()
        };
        prop_assert_eq!(decide(&native_rule), decide(&interpreted_rule), "{} over {:?}", native, data);
    }
}
