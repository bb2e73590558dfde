//! No rule may crash, pin or exhaust the engine: deep rules are refused with
//! `too_deep`, costly ones with `cost_too_high`, an evaluation past its
//! budget ends as `error` (`budget_exceeded`) and a cancelled batch stops.
//! These run on ordinary test threads (2 MiB of stack), where each of the
//! deep rules below overflowed the stack before the depth limit existed.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{as_of, engine, person};
use dci_eligibility::{
    Cancellation, Compiler, Engine, EvaluationOptions, ItemResult, Limits, Outcome, RuleError, Severity,
};
use dci_metrics::{Catalog, MetricStore, MetricValue, StoreConfig};
use proptest::prelude::*;
use serde_json::json;

fn compiler() -> Compiler {
    Compiler::new(Arc::new(Catalog::default()))
}

fn refused(result: Result<dci_eligibility::Rule, RuleError>) -> dci_eligibility::RuleDiagnostic {
    let error = result.expect_err("refused");
    error.diagnostics.into_iter().find(|d| d.severity == Severity::Error).expect("an error")
}

/// An engine compiling under `limits`, with no registry.
fn engine_with_limits(limits: Limits) -> Engine {
    let store = MetricStore::new(Arc::new(Catalog::default()), Vec::new(), &StoreConfig::default()).expect("store");
    Engine::new(compiler().with_limits(limits), Arc::new(store))
}

/// Evaluates `rule` over `people` with `engine`, on this (2 MiB) thread's runtime.
async fn decide(engine: &Engine, rule: &str, people: Vec<serde_json::Value>) -> Vec<dci_eligibility::Decision> {
    let rule = engine.compiler().compile("r", rule).unwrap_or_else(|e| panic!("{rule}: {e}"));
    let items = people.into_iter().map(|p| Ok(person(p))).collect();
    let result = engine.evaluate_batch(&[rule], items, &EvaluationOptions::new(as_of())).await;
    result
        .items
        .into_iter()
        .map(|item| match item {
            ItemResult::Decided { mut decisions, .. } => decisions.remove(0),
            ItemResult::Invalid { error } => panic!("invalid: {error}"),
        })
        .collect()
}

#[test]
fn long_operator_chains_are_refused_as_too_deep_with_a_place() {
    for (operator, tail) in [("+", " > 0"), ("*", " > 0"), ("-", " > 0"), ("==", ""), (" + 'a' + ", " != ''")] {
        let chain = vec!["1"; 1000].join(operator);
        let rule = format!("{chain}{tail}");
        let diagnostic = refused(compiler().compile("chain", &rule));
        assert_eq!(diagnostic.code, "too_deep", "{operator}: {diagnostic}");
        assert!(diagnostic.message.contains("levels deep"), "{}", diagnostic.message);
        assert_eq!(diagnostic.line, 1);
        assert!(diagnostic.snippet.contains('^'), "{}", diagnostic.snippet);
    }
    for rule in [format!("size(r.x{}) > 0", "[0]".repeat(1500)), format!("has(r{})", ".a".repeat(1500))] {
        assert_eq!(refused(compiler().compile("chain", &rule)).code, "too_deep", "{}", &rule[..40]);
    }
}

#[tokio::test]
async fn long_and_or_chains_are_balanced_and_evaluate() {
    // `&&` and `||` chains parse as balanced trees: 1,000 clauses nest 10 deep.
    let engine = engine(Vec::new());
    for (rule, expected) in
        [(vec!["true"; 1000].join(" and "), Outcome::Eligible), (vec!["false"; 1000].join(" || "), Outcome::Ineligible)]
    {
        assert_eq!(decide(&engine, &rule, vec![json!({"id": "A"})]).await[0].outcome, expected);
    }
}

#[test]
fn the_deepest_allowed_rule_compiles_and_one_level_more_is_refused() {
    let limits = Limits { max_depth: 40, ..Limits::default() };
    let compiler = compiler().with_limits(limits);
    // `1 + 1 + ... > 0`: n terms nest n levels deep (the `>` adds one).
    let chain = |n: usize| format!("{} > 0", vec!["1"; n].join(" + "));
    compiler.compile("ok", &chain(39)).expect("39 levels");
    assert_eq!(refused(compiler.compile("deep", &chain(40))).code, "too_deep");
}

#[tokio::test]
async fn a_rule_at_the_default_depth_limit_evaluates_on_a_small_stack() {
    let engine = engine(Vec::new());
    let terms = dci_eligibility::DEFAULT_MAX_DEPTH - 1;
    let rule = format!("{} > 0", vec!["1"; terms].join(" + "));
    let decisions = decide(&engine, &rule, vec![json!({"id": "A"})]).await;
    assert_eq!(decisions[0].outcome, Outcome::Eligible);
}

#[test]
fn nested_comprehensions_over_literals_are_refused_as_too_costly() {
    let digits = "[0,1,2,3,4,5,6,7,8,9]";
    let mut rule = "true".to_owned();
    for variable in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"] {
        rule = format!("{digits}.all({variable}, {rule})");
    }
    let diagnostic = refused(compiler().compile("pin", &rule));
    assert_eq!(diagnostic.code, "cost_too_high", "{diagnostic}");
    assert!(diagnostic.message.contains("steps"), "{}", diagnostic.message);
    assert!(diagnostic.message.contains(".all("), "names the sub-expression: {}", diagnostic.message);

    // Strings built in nested maps: refused for the bytes they would build.
    let mut rule = "'abcdefghij'".to_owned();
    for variable in ["a", "b", "c", "d", "e"] {
        rule = format!("{digits}.map({variable}, {rule} + {rule})");
    }
    let diagnostic = refused(compiler().compile("memory", &format!("size({rule}) > 0")));
    assert_eq!(diagnostic.code, "cost_too_high", "{diagnostic}");

    // Data lists count as their bounds: members × members × members.
    let rule = "members.all(a, members.all(b, members.all(c, members.all(d, true))))";
    assert_eq!(refused(compiler().compile("members", rule)).code, "cost_too_high");
}

#[test]
fn seed_rules_use_a_tiny_fraction_of_the_budget() {
    let limits = Limits::default();
    for rule in [
        "dci.dr.has_disability == true and dci.dr.disability_level >= 3 and dci.ibr.is_enrolled == false",
        "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60",
        "poverty_score >= 0.7 and dci.ibr.program_count == 0",
        "members.exists(m, m.dci.dr.has_disability == true)",
    ] {
        let compiled = compiler().compile("seed", rule).expect("compiles");
        let estimate = compiled.estimate();
        assert!(estimate.steps * 100 < limits.max_steps, "{rule}: {estimate:?}");
        assert!(estimate.bytes * 100 < limits.max_bytes, "{rule}: {estimate:?}");
        assert!(compiled.warnings().iter().all(|w| w.code != "cost_depends_on_data"), "{rule}");
    }
}

#[test]
fn a_loop_over_data_near_the_budget_is_warned_about() {
    let rule = "members.all(a, members.all(b, a.income + b.income > 0))";
    let compiled = compiler().compile("pairs", rule).unwrap_or_else(|e| panic!("{e}"));
    let warning = compiled.warnings().iter().find(|w| w.code == "cost_depends_on_data").expect("warned");
    assert!(warning.message.contains("100 members"), "{}", warning.message);
}

#[tokio::test]
async fn an_evaluation_past_its_budget_is_an_error_and_the_batch_is_decided() {
    // The estimate assumes 100 members; a household of 3,000 (the CLI does not
    // bound members) costs 900 times more than estimated.
    let engine = engine(Vec::new());
    let crowd: Vec<serde_json::Value> = (0..3000).map(|i| json!({"id": format!("m{i}")})).collect();
    let rule = "members.all(a, members.all(b, true))";
    let started = Instant::now();
    let decisions = decide(
        &engine,
        rule,
        vec![json!({"id": "big", "members": crowd}), json!({"id": "small", "members": [{"id": "x"}]})],
    )
    .await;
    assert_eq!(decisions[0].outcome, Outcome::Error);
    assert_eq!(decisions[0].code, Some("budget_exceeded"));
    let message = decisions[0].error.as_deref().unwrap_or_default();
    assert!(message.contains("rule `r`") && message.contains("max_steps"), "{message}");
    assert_eq!(decisions[1].outcome, Outcome::Eligible, "the rest of the batch is decided");
    assert!(started.elapsed() < Duration::from_secs(60), "stopped early, not after 9 million steps");
}

/// Many costly decisions in one batch take no more than the batch's budget
/// together: once their steps pass `max_batch_steps`, each costly decision
/// still to make is an error naming that limit, and cheap decisions are still made.
#[tokio::test]
async fn costly_decisions_share_the_budget_of_their_batch() {
    // About 200,000 steps a decision (a 200-item list walked inside a 200-item
    // loop, a few steps an iteration), inside the 1,000,000 of one evaluation; 100 of them.
    let engine = engine_with_limits(Limits { max_batch_steps: 2_000_000, ..Limits::default() });
    let list: Vec<u32> = (0..200).collect();
    let people: Vec<serde_json::Value> = (0..100).map(|i| json!({"id": format!("p{i}"), "x": list})).collect();
    let rule = "r.x.exists(a, r.x.exists(b, a == b + 1000))";
    let decisions = decide(&engine, rule, people.clone()).await;
    let stopped: Vec<_> = decisions.iter().filter(|d| d.code == Some("budget_exceeded")).collect();
    let decided = decisions.iter().filter(|d| d.outcome == Outcome::Ineligible).count();
    assert_eq!(stopped.len() + decided, 100, "{decisions:?}");
    // About ten fit; those already running when the budget is passed finish.
    assert!((5..=20).contains(&decided), "about 2,000,000 / 200,000 decided first, then stopped: {decided}");
    let message = stopped[0].error.as_deref().unwrap_or_default();
    assert!(message.contains("max_batch_steps") && message.contains("2000000"), "{message}");

    // A cheap rule in the same kind of batch is not counted: every decision is made.
    let cheap = decide(&engine, "size(r.x) == 200", people.clone()).await;
    assert!(cheap.iter().all(|d| d.outcome == Outcome::Eligible), "{cheap:?}");
    // Each batch has its own budget: the next batch decides its first ones again.
    let again = decide(&engine, rule, people).await;
    assert!(again.iter().filter(|d| d.outcome == Outcome::Ineligible).count() >= 5);
}

#[tokio::test]
async fn an_evaluation_past_its_byte_budget_is_an_error() {
    let engine = engine_with_limits(Limits { max_bytes: 100_000, ..Limits::default() });
    let crowd: Vec<serde_json::Value> = (0..5000).map(|i| json!({"id": format!("m{i}")})).collect();
    let decisions =
        decide(&engine, "size(members.map(m, 'abcdefghijklmnop')) > 0", vec![json!({"id": "big", "members": crowd})])
            .await;
    assert_eq!(decisions[0].code, Some("budget_exceeded"), "{:?}", decisions[0]);
    assert!(decisions[0].error.as_deref().unwrap_or_default().contains("max_bytes"));
}

#[tokio::test]
async fn a_false_clause_does_not_hide_an_exceeded_budget() {
    let engine = engine(Vec::new());
    let crowd: Vec<serde_json::Value> = (0..3000).map(|i| json!({"id": format!("m{i}")})).collect();
    let decisions =
        decide(&engine, "members.all(a, members.all(b, true)) && false", vec![json!({"id": "big", "members": crowd})])
            .await;
    assert_eq!(decisions[0].code, Some("budget_exceeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_batch_stops_promptly() {
    // A budget large enough to run for minutes: only cancellation stops it.
    let limits = Limits { max_steps: u64::MAX / 4, max_bytes: u64::MAX / 4, ..Limits::default() };
    let engine = Engine::new(
        compiler().with_limits(limits),
        Arc::new(MetricStore::new(Arc::new(Catalog::default()), Vec::new(), &StoreConfig::default()).expect("store")),
    );
    let crowd: Vec<serde_json::Value> = (0..400).map(|i| json!({"id": format!("m{i}")})).collect();
    let rule = engine
        .compiler()
        .compile("slow", "members.all(a, members.all(b, members.all(c, a.id != 'z')))")
        .expect("compiles under the large budget");
    let items: Vec<_> = (0..8).map(|i| Ok(person(json!({"id": format!("B{i}"), "members": crowd})))).collect();
    let cancel = Cancellation::new();
    let options = EvaluationOptions { cancel: cancel.clone(), ..EvaluationOptions::new(as_of()) };
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        canceller.cancel();
    });
    let started = Instant::now();
    let result = engine.evaluate_batch(&[rule], items, &options).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(20), "stopped after {elapsed:?}");
    let cancelled = result
        .items
        .iter()
        .filter(|item| matches!(item, ItemResult::Decided { decisions, .. } if decisions[0].code == Some("cancelled")))
        .count();
    assert!(cancelled > 0, "decisions not made are cancelled");
}

/// A long or deep expression of one of the kinds an author can write.
fn expression() -> impl Strategy<Value = String> {
    let kinds = prop_oneof![
        Just(("", " + ", " > 0", "1")),
        Just(("", " * ", " > 0", "2")),
        Just(("", " == ", "", "true")),
        Just(("", " and ", "", "true")),
        Just(("", " or ", "", "false")),
        Just(("not ", "", "", "true")),
        Just(("!", "", "", "true")),
        Just(("-", "", " < 0", "1")),
        Just(("", " ? true : ", "", "false")),
        Just(("int(", ")", " > 0", "1")),
        Just(("[", "]", " != []", "1")),
        Just(("{1: ", "}", " != {}", "1")),
        Just(("(", ")", "", "true")),
        Just(("", "[0]", " > 0", "r.x")),
        Just(("", ".a", " == 1", "r")),
        Just(("[1].exists(v, ", ")", "", "true")),
        Just(("members.all(m, ", ")", "", "true")),
    ];
    (kinds, 1usize..1200).prop_map(|((prefix, infix, suffix, leaf), n)| {
        if prefix.is_empty() {
            format!("{}{suffix}", vec![leaf; n].join(infix))
        } else if infix.is_empty() {
            format!("{}{leaf}{suffix}", prefix.repeat(n))
        } else {
            format!("{}{leaf}{}{suffix}", prefix.repeat(n), infix.repeat(n))
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever its shape and length: a diagnostic or a decision, never a crash.
    #[test]
    fn any_rule_gives_a_diagnostic_or_a_decision(rule in expression()) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let engine = engine(Vec::new());
        match engine.compiler().compile("r", &rule) {
            Err(error) => prop_assert!(!error.diagnostics.is_empty()),
            Ok(compiled) => {
                let items = vec![Ok(person(json!({"id": "A", "x": [[1]], "members": [{"id": "m"}]})))];
                let options = EvaluationOptions { explain: true, ..EvaluationOptions::new(as_of()) };
                let result = runtime.block_on(engine.evaluate_batch(&[compiled], items, &options));
                prop_assert_eq!(result.items.len(), 1);
            }
        }
    }
}

#[tokio::test]
async fn data_within_the_bounds_never_passes_a_budget_the_estimate_fits() {
    for rule in [
        "members.all(a, members.all(b, a.n != b.n || a.n == b.n))",
        "members.exists(m, members.filter(k, k.n == m.n).size() == 1) && size(members.map(m, m.n + '!')) == 100",
        "members.count(m, m.n != '') == 100 && members.sum(m, 1) == 100",
    ] {
        let estimate = compiler().compile("r", rule).unwrap_or_else(|e| panic!("{e}")).estimate();
        let limits = Limits { max_steps: estimate.steps, max_bytes: estimate.bytes, ..Limits::default() };
        let engine = Engine::new(
            compiler().with_limits(limits),
            Arc::new(
                MetricStore::new(Arc::new(Catalog::default()), Vec::new(), &StoreConfig::default()).expect("store"),
            ),
        );
        let members: Vec<serde_json::Value> =
            (0..100).map(|i| json!({"id": format!("m{i}"), "n": format!("m{i}")})).collect();
        let decisions = decide(&engine, rule, vec![json!({"id": "full", "members": members})]).await;
        assert_eq!(decisions[0].outcome, Outcome::Eligible, "{rule}: {:?} under {estimate:?}", decisions[0]);
    }
}

#[test]
fn growth_the_estimate_cannot_bound_is_refused() {
    // replace grows a string tenfold per level, through calls that pass it on.
    let mut rule = "\"aaaaaaaaaa\"".to_owned();
    for _ in 0..9 {
        rule = format!("dyn({rule}).replace(\"a\", \"aaaaaaaaaa\")");
    }
    assert_eq!(refused(compiler().compile("r", &format!("{rule}.size() > 0"))).code, "cost_too_high");
    // A growing replace of a string from the data is metered when it runs (tests/metering.rs).
    compiler().compile("r", "r.name.replace('', 'xxxx').size() > 0").expect("metered at run time");
    compiler().compile("r", "r.name.replace('-', '').size() > 0").expect("a shrinking replace is fine");
    // A loop of matches is costly (each match costs the haystack times the automaton's states).
    let rule = "lists.range(100000).exists(i, 'x'.matches('\\\\w{10}x'))";
    assert_eq!(refused(compiler().compile("r", rule)).code, "cost_too_high");
    // A pattern compiling past 1 MiB is refused as it is.
    let rule = "'x'.matches('\\\\w{100}')";
    assert_eq!(refused(compiler().compile("r", rule)).code, "invalid_pattern");
}

#[tokio::test]
async fn reading_a_long_string_in_a_loop_is_charged_its_length() {
    let engine = engine(Vec::new());
    let long = "x".repeat(64 * 1024);
    let decisions =
        decide(&engine, "lists.range(50000).exists(i, r.name.size() == i + 1)", vec![json!({"id": "A", "name": long})])
            .await;
    assert_eq!(decisions[0].code, Some("budget_exceeded"), "{:?}", decisions[0]);
}

#[tokio::test]
async fn clauses_evaluated_one_by_one_share_one_budget() {
    // Each clause fits the budget alone; the hundred of them do not. The local screen
    // evaluates them one by one: they share the decision's budget, as the whole rule would.
    let alive = vec![MetricValue::Bool(true), MetricValue::Bool(true), MetricValue::NotRecorded, MetricValue::Null];
    let crvs = common::MemoryRegistry::new(dci_metrics::crvs_spec()).with("1", alive);
    let engine = engine(vec![Arc::new(crvs) as Arc<dyn dci_metrics::RegistryResolver>]);
    let clauses = vec!["r.xs.all(x, x >= 0)"; 100].join(" && ");
    let rule = format!("{clauses} && dci.crvs.is_alive == true");
    let xs: Vec<u32> = (0..2000).collect();
    let person = json!({"id": "A", "identifiers": [{"type": "UIN", "value": "1"}], "xs": xs});
    let decisions = decide(&engine, &rule, vec![person]).await;
    assert_eq!(decisions[0].code, Some("budget_exceeded"), "{:?}", decisions[0]);
}

/// Found by `cargo fuzz run evaluate_body`: a short rule with many unclosed braces
/// overflowed the parser's stack (its prediction recursing once per open bracket).
#[test]
fn a_short_rule_of_many_open_brackets_is_refused_without_overflowing() {
    for open in ["{", "(", "[", "{1: "] {
        let rule = format!("dci.crvs.is_alive == true and age_years({}r.birthdate) >= 20", open.repeat(80));
        assert_eq!(refused(compiler().compile("fuzz", &rule)).code, "too_deep", "{open}");
        let closed = format!(
            "size({}1{}) > 0",
            open.repeat(40),
            match open {
                "{" | "{1: " => "}",
                "(" => ")",
                _ => "]",
            }
            .repeat(40)
        );
        let _ = compiler().compile("fuzz", &closed); // a diagnostic or a rule, on this 2 MiB thread
    }
}
