//! Compilation: the seed rules, the dialect, static checks with positions, demand.

use std::sync::Arc;

use dci_eligibility::{Compiler, Limits, RuleError, Severity};
use dci_metrics::{Catalog, CatalogConfig};

fn compiler() -> Compiler {
    Compiler::new(Arc::new(Catalog::default()))
}

fn errors(source: &str) -> RuleError {
    compiler().compile("t", source).expect_err("must not compile")
}

const SEED: [&str; 4] = [
    "dci.dr.has_disability == true and dci.dr.disability_level >= 3 and dci.ibr.is_enrolled == false",
    "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60",
    "poverty_score >= 0.7 and dci.ibr.program_count == 0",
    "members.exists(m, m.dci.dr.has_disability == true)",
];

#[test]
fn the_seed_rules_compile_with_their_demand() {
    let compiler = compiler();
    let demands: Vec<(Vec<String>, Vec<String>)> = SEED
        .iter()
        .map(|source| {
            let rule = compiler.compile("seed", source).unwrap_or_else(|e| panic!("{source}: {e}"));
            assert!(rule.warnings().is_empty(), "{source}: {:?}", rule.warnings());
            (rule.demand().registrant.clone(), rule.demand().members.clone())
        })
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(demands[0], (s(&["dr", "ibr"]), vec![]));
    assert_eq!(demands[1], (s(&["crvs"]), vec![]));
    assert_eq!(demands[2], (s(&["ibr"]), vec![]));
    assert_eq!(demands[3], (vec![], s(&["dr"])));
    let rule = compiler.compile("seed", SEED[2]).expect("compiles");
    assert_eq!(rule.fields(), ["poverty_score"]);
    assert_eq!(
        rule.clauses().iter().map(|c| c.text.as_str()).collect::<Vec<_>>(),
        ["poverty_score >= 0.7", "dci.ibr.program_count == 0"]
    );
}

#[test]
fn each_clause_is_shown_as_it_is_written() {
    let compiler = compiler();
    let texts = |source: &str| -> Vec<String> {
        let rule = compiler.compile("rule", source).unwrap_or_else(|e| panic!("{source}: {e}"));
        rule.clauses().iter().map(|c| c.text.clone()).collect()
    };
    // Unary minus, macros and brackets around a call: the parsed subtrees' extents miss their
    // first or last characters; the text between the connectives does not.
    assert_eq!(texts("-1 < r.poverty_score && true"), ["-1 < r.poverty_score", "true"]);
    assert_eq!(texts("has(r.sex)"), ["has(r.sex)"]);
    assert_eq!(texts("has(r.sex) and (r.name + r.name).size() > 0"), ["has(r.sex)", "(r.name + r.name).size() > 0"]);
    assert_eq!(
        texts("r.a == 1 or members.exists(m, m.b == 2 && m.c == 3) or r.d in [1, 2]"),
        ["r.a == 1", "members.exists(m, m.b == 2 && m.c == 3)", "r.d in [1, 2]"]
    );
    assert_eq!(texts("r.s == 'a && b' && r.t == \"or\""), ["r.s == 'a && b'", "r.t == \"or\""]);
    // A chain whose clauses are themselves bracketed chains is still split clause by clause.
    let nested = texts("(r.a == 1 && r.b == 2) && r.c == 3");
    assert_eq!(nested.len(), 3, "{nested:?}");
    assert_eq!(nested[2], "r.c == 3");
}

#[test]
fn unknown_metrics_are_reported_with_a_suggestion_and_a_caret() {
    let error = errors("r.age > 5 and\n  dci.crvs.is_alve == true");
    let d = &error.diagnostics[0];
    assert_eq!((d.code, d.line, d.column), ("unknown_metric", 2, 3));
    assert_eq!(d.help.as_deref(), Some("did you mean `dci.crvs.is_alive`?"));
    assert_eq!(d.snippet, "2 |   dci.crvs.is_alve == true\n  |   ^^^^^^^^^^^^^^^^");

    let error = errors("dci.tax.income > 3");
    assert_eq!(error.diagnostics[0].code, "unknown_registry");
    assert!(error.diagnostics[0].help.as_deref().unwrap_or_default().contains("crvs, ibr, dr"));

    let member = errors("members.exists(m, m.dci.dr.has_disabilty)");
    assert_eq!(member.diagnostics[0].code, "unknown_metric");
    assert_eq!(member.diagnostics[0].column, 19);

    assert_eq!(errors("dci.crvs == true").diagnostics[0].code, "misplaced_dci");
    assert_eq!(errors("dci == 1").diagnostics[0].code, "misplaced_dci");
}

#[test]
fn unknown_functions_and_wrong_arity_are_reported() {
    let error = errors("agee_years(r.birthdate) >= 60");
    assert_eq!(error.diagnostics[0].code, "unknown_function");
    assert_eq!(error.diagnostics[0].help.as_deref(), Some("did you mean `age_years`?"));
    assert_eq!(errors("age_years() > 1").diagnostics[0].code, "arity");
    assert_eq!(errors("r.name.lowerAskii() == 'x'").diagnostics[0].code, "unknown_function");
    // The caret marks the function's name, not the bracket after it.
    for (rule, name) in [
        ("agee_years(r.birthdate) >= 60", "agee_years"),
        ("true &&\n  r.name.lowerAskii () == 'x'", "lowerAskii"),
        ("math.nope(r.poverty_score)", "nope"),
    ] {
        let diagnostic = &errors(rule).diagnostics[0];
        assert_eq!(diagnostic.code, "unknown_function", "{rule}");
        assert_eq!(&rule[diagnostic.span.clone()], name, "{}", diagnostic.render());
        let line_start = rule[..diagnostic.span.start].rfind('\n').map_or(0, |at| at + 1);
        assert_eq!(diagnostic.column, rule[line_start..diagnostic.span.start].chars().count() + 1, "{rule}");
    }
    assert_eq!(errors("between(r.x, 1) ").diagnostics[0].code, "arity");
}

#[test]
fn syntax_errors_point_at_the_place() {
    let error = errors("poverty_score >=\n");
    assert_eq!(error.diagnostics[0].code, "syntax");
    assert_eq!(error.diagnostics[0].line, 2);
    let error = errors("r.name == 'é' && r.x = 1");
    let d = &error.diagnostics[0];
    assert_eq!(d.code, "syntax");
    assert_eq!(d.column, 22, "{}", d.render());
}

#[test]
fn openspp_spellings_compile_to_the_same_meaning() {
    let compiler = compiler();
    let rule = compiler.compile("t", "not me.disabled and poverty_score < 0.5 or r.and == 'x'").expect("compiles");
    assert_eq!(rule.fields(), ["disabled", "poverty_score", "and"]);
    assert_eq!(rule.warnings().len(), 1);
    let warning = &rule.warnings()[0];
    assert_eq!(warning.severity, Severity::Warning);
    assert_eq!((warning.code, warning.line, warning.column), ("not_precedence", 1, 1));
    assert!(warning.message.contains("(not me.disabled) and poverty_score < 0.5"), "{}", warning.message);

    for source in [
        "members.count(m, m.age < 5) >= 2",
        "members.count() > 3",
        "members.exists(m.age > 80)",
        "members.all(m.age > 1)",
        "members.sum(m, m.income) > 100.0",
        "members.sum(m, m.income, m.age >= 18) > 100.0",
        "members.avg(m.income) > 10.0",
        "members.max(m, m.age) >= 18",
        "r.dci.crvs.is_alive",
        "dci.crvs.death_date != null && has(r.birthdate)",
        "r.?poverty_score.orValue(0.0) >= 0.7",
        "'VISION' in dci.dr.disability_types",
        "math.greatest(1, 2) == 2 && optional.of(1).hasValue()",
        "between(r.birthdate, '1950-01-01', '1960-12-31') && r.birthdate < date('2000-01-01')",
    ] {
        compiler.compile("t", source).unwrap_or_else(|e| panic!("{source}: {e:#?}"));
    }
    // `has()` cannot test a registry value (it is there or unknown, never absent): the fix is named.
    let error = compiler.compile("t", "has(dci.crvs.death_date)").expect_err("refused");
    assert_eq!(error.diagnostics[0].code, "misplaced_dci");
    assert_eq!(error.diagnostics[0].help.as_deref(), Some("write `dci.crvs.death_date != null`"));
}

#[test]
fn limits_and_disabled_metrics() {
    let small = compiler().with_limits(Limits { max_length: 20, max_depth: 3, ..Limits::default() });
    assert_eq!(
        small.compile("t", "r.a == 'aaaaaaaaaaaaaaaaaaaaaa'").expect_err("long").diagnostics[0].code,
        "too_long"
    );
    assert_eq!(small.compile("t", "((((1))))").expect_err("deep").diagnostics[0].code, "too_deep");
    let catalog = Catalog::default()
        .configure(&CatalogConfig { disabled: vec!["dci.crvs.death_date".into()], ..Default::default() })
        .expect("valid");
    let restricted = Compiler::new(Arc::new(catalog));
    assert_eq!(
        restricted.compile("t", "dci.crvs.death_date == null").expect_err("disabled").diagnostics[0].code,
        "disabled_metric"
    );
    assert_eq!(compiler().compile("t", "  ").expect_err("empty").diagnostics[0].code, "syntax");
}

proptest::proptest! {
    /// Whatever is typed, a diagnostic is ours: a plain message at a place,
    /// never the parser's grammar names or internal types.
    #[test]
    fn every_diagnostic_is_plain(rule in "[a-z0-9 ()\\[\\]{}?:.,'\"+*/%<>=!&|-]{1,40}") {
        if let Err(error) = compiler().compile("r", &rule) {
            for diagnostic in &error.diagnostics {
                for internal in ["Context", "Error(", "ParseError", "expecting", "<EOF>", "IDENTIFIER", "NUM_"] {
                    proptest::prop_assert!(!diagnostic.message.contains(internal), "{rule:?}: {}", diagnostic.message);
                }
                proptest::prop_assert!(diagnostic.line >= 1 && diagnostic.column >= 1);
            }
        }
    }
}
