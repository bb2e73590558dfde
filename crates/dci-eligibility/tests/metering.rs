//! The budget meters the real work: bytes read and built, the true cost of
//! superlinear functions and patterns, iterations that end in an error or an
//! unknown value. Each rule here pinned or aborted the engine before (the
//! attacks of the budgets issue); now each ends as a decision.

mod common;

use std::sync::Arc;

use common::{MemoryRegistry, as_of, engine, person};
use dci_eligibility::{Decision, Engine, EvaluationOptions, ItemResult, Limits, Outcome, RuleError, Severity};
use dci_metrics::{MetricValue, RegistryResolver, dr_spec};
use serde_json::{Value, json};

/// Evaluates `rule` over `people` with `engine`.
async fn decide(engine: &Engine, rule: &str, people: Vec<Value>) -> Vec<Decision> {
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

async fn one(rule: &str, beneficiary: Value) -> Decision {
    decide(&engine(Vec::new()), rule, vec![beneficiary]).await.remove(0)
}

fn refused(engine: &Engine, rule: &str) -> dci_eligibility::RuleDiagnostic {
    let error: RuleError = engine.compiler().compile("r", rule).expect_err(rule);
    error.diagnostics.into_iter().find(|d| d.severity == Severity::Error).expect("an error")
}

/// The decision stopped at its budget; `limit` names which (`max_steps`, `max_bytes`), or "" for either.
fn over_budget(decision: &Decision, limit: &str) {
    assert_eq!(decision.outcome, Outcome::Error, "{decision:?}");
    assert_eq!(decision.code, Some("budget_exceeded"), "{decision:?}");
    assert!(decision.error.as_deref().unwrap_or_default().contains(limit), "{decision:?}");
}

fn long_string(bytes: usize) -> String {
    "ab".repeat(bytes / 2)
}

#[tokio::test]
async fn strings_built_from_the_data_are_charged_their_bytes() {
    // A 1 MB field doubled ten times over in nested maps: gigabytes before, now stopped at max_bytes.
    let sum = ["x"; 10].join(" + ");
    let rule = format!("[r.s].map(x, {sum}).map(y, y + y).map(z, z + z).all(w, size(w) > 0)");
    let decision = one(&rule, json!({"id": "A", "s": long_string(1 << 20)})).await;
    over_budget(&decision, "max_bytes");
    // The same rule over a short string is decided.
    assert_eq!(one(&rule, json!({"id": "B", "s": "ab"})).await.outcome, Outcome::Eligible);
}

#[tokio::test]
async fn splitting_replacing_and_joining_data_are_charged_what_they_build() {
    let data = json!({"id": "A", "s": long_string(1 << 20), "l": vec!["abcdefgh"; 100_000]});
    over_budget(&one("size(r.s.split('')) > 0", data.clone()).await, "");
    over_budget(
        &one("size(r.s.replace('a', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')) > 0", data.clone()).await,
        "max_bytes",
    );
    over_budget(&one("size(r.l.join(r.s)) > 0", data.clone()).await, "");
    // Within the budget they answer as CEL does.
    let small = json!({"id": "B", "s": "a,b,,c", "l": ["x", "y"]});
    assert_eq!(one("r.s.split(',') == ['a', 'b', '', 'c']", small.clone()).await.outcome, Outcome::Eligible);
    assert_eq!(one("r.s.split(',', 2) == ['a', 'b,,c']", small.clone()).await.outcome, Outcome::Eligible);
    assert_eq!(one("r.s.replace(',', ';', 2) == 'a;b;,c'", small.clone()).await.outcome, Outcome::Eligible);
    assert_eq!(one("r.l.join('-') == 'x-y'", small.clone()).await.outcome, Outcome::Eligible);
    assert_eq!(one("r.s.indexOf(',,') == 3 && r.s.lastIndexOf(',') == 4", small).await.outcome, Outcome::Eligible);
}

#[tokio::test]
async fn superlinear_functions_are_charged_their_real_cost() {
    let engine = engine(Vec::new());
    // `distinct` compares every element with every other: 100,000 ints took 30 s.
    let ints: Vec<i64> = (0..100_000).collect();
    let decisions = decide(&engine, "size(r.l.distinct()) > 0", vec![json!({"id": "A", "l": ints})]).await;
    over_budget(&decisions[0], "max_steps");
    // A range of 50,000 then `distinct`, with no data at all, is refused before it runs.
    assert_eq!(refused(&engine, "size(lists.range(50000).distinct()) > 0").code, "cost_too_high");
    // A sort of 200,000 items costs n log n comparisons.
    let many: Vec<i64> = (0..200_000).rev().collect();
    let decisions = decide(&engine, "r.l.sort()[0] == 0", vec![json!({"id": "A", "l": many})]).await;
    over_budget(&decisions[0], "max_steps");
    // Small lists are sorted and made distinct as CEL does.
    let small = json!({"id": "B", "l": [3, 1, 3, 2]});
    assert_eq!(
        decide(&engine, "r.l.distinct() == [3, 1, 2] && r.l.sort() == [1, 2, 3, 3]", vec![small]).await[0].outcome,
        Outcome::Eligible
    );
}

#[tokio::test]
async fn a_pattern_costs_its_automaton_times_the_haystack() {
    let engine = engine(Vec::new());
    // 10,000 bytes against an automaton of about 1,800 states: stopped, not seconds of matching.
    let decision =
        &decide(&engine, "r.s.matches('(?:[a-z]{0,9}){100}x')", vec![json!({"id": "A", "s": "a".repeat(10_000)})])
            .await[0];
    over_budget(decision, "max_steps");
    // A pattern whose automaton passes the size bound (1 MiB) is refused with its place.
    let huge = refused(&engine, "r.s.matches('(?:[a-z]{0,9}){8000}x')");
    assert_eq!(huge.code, "invalid_pattern", "{huge}");
    // A haystack the rule builds itself is known when the rule is compiled.
    let built = "'a'.replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').replace('a', 'aaaaaaaaaa').matches('(?:[a-z]{0,9}){100}x')";
    assert_eq!(refused(&engine, built).code, "cost_too_high");
    // A pattern written in the rule that does not compile is a diagnostic, with the place.
    let bad = refused(&engine, "r.s.matches('(unclosed')");
    assert_eq!(bad.code, "invalid_pattern", "{bad}");
    assert!(bad.message.contains("(unclosed"), "{bad}");
    // So is a rule writing more patterns than a rule may compile.
    let many: Vec<String> = (0..17).map(|i| format!("r.s.matches('^a{{{i}}}$')")).collect();
    assert_eq!(refused(&engine, &many.join(" || ")).code, "invalid_pattern");
    // Ordinary patterns match as CEL's `matches` does, as a method or a function.
    let id = json!({"id": "B", "s": "ID-12345"});
    assert_eq!(
        decide(&engine, "r.s.matches('^ID-[0-9]{5}$') && matches(r.s, '[0-9]+')", vec![id.clone()]).await[0].outcome,
        Outcome::Eligible
    );
    assert_eq!(decide(&engine, "r.s.matches('^[0-9]+$')", vec![id]).await[0].outcome, Outcome::Ineligible);
    // A pattern from the data is compiled when it runs, and its compiling is charged.
    let data_pattern = json!({"id": "C", "s": "abc", "p": "(?:[a-z]{0,9}){100}x"});
    let decision = &decide(&engine, "lists.range(100).all(i, !r.s.matches(r.p))", vec![data_pattern]).await[0];
    assert_eq!(decision.outcome, Outcome::Eligible, "{decision:?}");
}

#[tokio::test]
async fn searching_a_long_string_is_linear() {
    // `indexOf` was n × m: a 1 MB haystack and a 1,000-byte needle that nearly matches everywhere.
    let haystack = "a".repeat(1 << 20);
    let needle = format!("{}b", "a".repeat(1_000));
    let decision =
        one("r.s.indexOf(r.t) == -1 && r.s.lastIndexOf(r.t) == -1", json!({"id": "A", "s": haystack, "t": needle}))
            .await;
    assert_eq!(decision.outcome, Outcome::Eligible, "{decision:?}");
    let decision =
        one("r.s.indexOf('é', 2) == 3 && r.s.lastIndexOf('é', 2) == 1", json!({"id": "B", "s": "aébé"})).await;
    assert_eq!(decision.outcome, Outcome::Eligible, "{decision:?}");
}

#[tokio::test]
async fn iterations_that_fail_are_charged() {
    // Every innermost iteration divides by zero: 9 million of them were run, uncharged.
    let items: Vec<i64> = (0..3_000).collect();
    let decision = one("[r.l].all(L, L.all(x, L.all(y, 1 / 0 == 1)))", json!({"id": "A", "l": items})).await;
    over_budget(&decision, "max_steps");
}

#[tokio::test]
async fn iterations_over_unknown_values_are_charged() {
    // A cross product of 2,000 members whose registry values are all unknown (no registry).
    let members: Vec<Value> =
        (0..2_000).map(|i| json!({"identifiers": [{"type": "UIN", "value": format!("{i}")}]})).collect();
    let dr: Arc<dyn RegistryResolver> = Arc::new(MemoryRegistry::new(dr_spec()).failing());
    let engine = engine(vec![dr]);
    let rule = "members.all(a, members.all(b, a.dci.dr.has_disability == b.dci.dr.has_disability))";
    let decisions = decide(&engine, rule, vec![json!({"id": "A", "members": members})]).await;
    over_budget(&decisions[0], "max_steps");
}

#[tokio::test]
async fn a_stopped_evaluation_is_not_evaluated_again_for_its_detail() {
    // Each costly decision stops at max_steps; once the batch's budget is spent the later ones
    // stop at max_batch_steps; the first keep the cause they stopped for.
    let limits = Limits { max_batch_steps: 3_000_000, ..Limits::default() };
    let store = dci_metrics::MetricStore::new(
        Arc::new(dci_metrics::Catalog::default()),
        Vec::new(),
        &dci_metrics::StoreConfig::default(),
    )
    .expect("store");
    let engine = Engine::new(engine(Vec::new()).compiler().clone().with_limits(limits), Arc::new(store));
    let items: Vec<i64> = (0..2_000).collect();
    let people: Vec<Value> = (0..20).map(|i| json!({"id": format!("P{i}"), "l": items})).collect();
    let decisions = decide(&engine, "r.l.all(x, r.l.all(y, x != y + 5000))", people).await;
    let by_steps = decisions.iter().filter(|d| d.error.as_deref().unwrap_or_default().contains("(max_steps)")).count();
    let by_batch =
        decisions.iter().filter(|d| d.error.as_deref().unwrap_or_default().contains("max_batch_steps")).count();
    assert!(by_steps >= 2, "the first ones stopped at their own budget: {decisions:?}");
    assert_eq!(by_steps + by_batch, 20, "{decisions:?}");
}

#[tokio::test]
async fn a_cancelled_batch_stops_inside_a_long_operation() {
    // One beneficiary whose evaluation walks a long list in one loop: the cancellation is seen
    // at its next iteration, not at the end of the loop.
    let engine = engine(Vec::new());
    let items: Vec<i64> = (0..200_000).collect();
    let rule = engine.compiler().compile("r", "r.l.all(x, x >= 0)").expect("compiles");
    let options = EvaluationOptions::new(as_of());
    options.cancel.cancel();
    let result = engine.evaluate_batch(&[rule], vec![Ok(person(json!({"id": "A", "l": items})))], &options).await;
    let ItemResult::Decided { decisions, .. } = &result.items[0] else { panic!("decided") };
    assert_eq!(decisions[0].code, Some("cancelled"), "{decisions:?}");
}

#[tokio::test]
async fn messages_show_a_preview_of_the_data_not_all_of_it() {
    let big = long_string(100_000);
    for rule in ["r.s + 1 > 0", "r.s < 1", "r.m[r.s] == 1", "int(r.s) > 0", "r.s.matches(r.s)"] {
        let decision = one(rule, json!({"id": "A", "s": big, "m": {}})).await;
        assert_eq!(decision.outcome, Outcome::Error, "{rule}: {decision:?}");
        let message = decision.error.unwrap_or_default();
        assert!(message.len() < 1_000, "{rule}: {} bytes", message.len());
    }
}

#[tokio::test]
async fn nan_compares_as_cel_says() {
    for (rule, expected) in [
        ("double('nan') > 0.0", Outcome::Ineligible),
        ("double('nan') <= 0.0", Outcome::Ineligible),
        ("!(double('nan') < 1)", Outcome::Eligible),
        ("double('nan') != double('nan')", Outcome::Eligible),
        ("r.x / 0.0 > 1.0 || true", Outcome::Eligible),
        ("(r.x - r.x) / 0.0 >= 0.0", Outcome::Ineligible),
    ] {
        let decision = one(rule, json!({"id": "A", "x": 0.0})).await;
        assert_eq!(decision.outcome, expected, "{rule}: {decision:?}");
    }
}

#[test]
fn a_rule_name_is_bounded() {
    let engine = engine(Vec::new());
    let long = "n".repeat(dci_eligibility::MAX_RULE_NAME_BYTES + 1);
    let error = engine.compiler().compile(&long, "true").expect_err("too long");
    assert_eq!(error.diagnostics[0].code, "invalid_name");
    assert!(error.name.len() < 100, "the name is shown cut: {}", error.name.len());
    let fits = "n".repeat(dci_eligibility::MAX_RULE_NAME_BYTES);
    engine.compiler().compile(&fits, "true").expect("fits");
}

/// A disability registry that knows person 1 at level 4.
fn disability_engine() -> Engine {
    let dr = MemoryRegistry::new(dr_spec())
        .with("1", vec![MetricValue::Bool(true), MetricValue::Int(4), MetricValue::strings(["MOBILITY"])]);
    engine(vec![Arc::new(dr) as Arc<dyn RegistryResolver>])
}

#[tokio::test]
async fn registry_values_are_read_by_their_name_or_not_at_all() {
    let engine = disability_engine();
    let known = json!({"id": "A", "identifiers": [{"type": "UIN", "value": "1"}]});
    // Spellings that name the value: fetched and decided as the canonical spelling.
    for rule in [
        "dci.dr.disability_level >= 3",
        "r.dci.dr.disability_level >= 3",
        "me.dci.dr.disability_level >= 3",
        "r['dci']['dr']['disability_level'] >= 3",
        "dci['dr']['disability_level'] >= 3",
        "r['dci'].dr['disability_level'] >= 3",
    ] {
        let decisions = decide(&engine, rule, vec![known.clone()]).await;
        assert_eq!(decisions[0].outcome, Outcome::Eligible, "{rule}: {decisions:?}");
    }
    // Spellings that would read it as optional, test it, or compute its key: refused, naming the name.
    for rule in [
        "r.?dci.dr.disability_level.orValue(0) >= 3",
        "me.?dci.dr.disability_level.orValue(0) >= 3",
        "dci.?dr.disability_level.orValue(0) >= 3",
        "dci.dr.?disability_level.orValue(0) >= 3",
        "r[?'dci'].dr.disability_level.orValue(0) >= 3",
        "members.exists(m, m.?dci.dr.disability_level.orValue(0) >= 3)",
        "has(dci.dr.disability_level)",
        "has(r.dci)",
        "[r][0].dci.dr.disability_level >= 3",
        "dci.dr[r.key] >= 3",
        "dci[r.key].disability_level >= 3",
    ] {
        let diagnostic = refused(&engine, rule);
        assert_eq!(diagnostic.code, "misplaced_dci", "{rule}: {diagnostic}");
        if rule.contains("disability_level") && !rule.contains('[') {
            assert!(
                diagnostic.help.as_deref().unwrap_or_default().contains("dci.dr.disability_level"),
                "{rule}: {diagnostic:?}"
            );
        }
    }
    // A key computed at run time that reaches a value the rule does not name: an error, never a default.
    let decisions = decide(
        &engine,
        "r[r.k].dr.disability_level >= 3",
        vec![json!({"id": "A", "k": "dci", "identifiers": [{"type": "UIN", "value": "1"}]})],
    )
    .await;
    assert_eq!(decisions[0].outcome, Outcome::Error, "{decisions:?}");
    assert_eq!(decisions[0].code, Some("misplaced_dci"), "{decisions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_costlier_than_estimated_leaves_the_small_callers_pool() {
    // 8 beneficiaries of a cheap-looking rule (estimated over 100-item lists) whose lists hold
    // 100,000 items: small by estimate, so it starts on the small callers' one thread, and
    // about five million steps in fact. A one-beneficiary batch sent meanwhile is answered
    // once the costly one has taken its allotment, long before the costly one ends.
    let engine = engine(Vec::new());
    let items: Vec<i64> = (0..100_000).collect();
    let costly = engine.compiler().compile("costly", "r.l.exists(x, x < 0)").expect("compiles");
    let lane = dci_eligibility::pool::Lane::for_rules(std::slice::from_ref(&costly), 8);
    assert_eq!(lane, dci_eligibility::pool::Lane::Interactive);
    let people: Vec<_> = (0..8).map(|i| Ok(person(json!({"id": format!("P{i}"), "l": items})))).collect();
    let cheap = engine.compiler().compile("cheap", "r.age > 1").expect("compiles");
    let started = std::time::Instant::now();
    let costly_run = {
        let engine = engine.clone();
        tokio::spawn(async move {
            let result = engine.evaluate_batch(&[costly], people, &EvaluationOptions::new(as_of())).await;
            (result, started.elapsed())
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let asked = std::time::Instant::now();
    let one = vec![Ok(person(json!({"id": "C", "age": 5})))];
    let cheap_result = engine.evaluate_batch(&[cheap], one, &EvaluationOptions::new(as_of())).await;
    let waited = asked.elapsed();
    let (costly_result, costly_took) = costly_run.await.expect("joins");
    // Relative, not absolute: the small batch waits for the allotment, not for the whole batch.
    assert!(waited * 2 < costly_took, "the small batch waited {waited:?} of the costly batch's {costly_took:?}");
    let ItemResult::Decided { decisions, .. } = &cheap_result.items[0] else { panic!("decided") };
    assert_eq!(decisions[0].outcome, Outcome::Eligible);
    assert_eq!(costly_result.items.len(), 8);
}

#[test]
fn a_garbled_rule_is_reported_in_a_few_bounded_diagnostics() {
    // Before, a 3 KB garbled rule gave an error at nearly every character, each quoting the
    // whole line: 14 MB of diagnostics.
    let engine = engine(Vec::new());
    let garbled = format!("a {}", "@".repeat(3_000));
    let error = engine.compiler().compile("r", &garbled).expect_err("garbled");
    assert!(error.diagnostics.len() <= dci_eligibility::MAX_DIAGNOSTICS, "{}", error.diagnostics.len());
    let shown: usize = error.diagnostics.iter().map(|d| d.snippet.len() + d.message.len()).sum();
    assert!(shown < 10_000, "{shown} bytes of diagnostics");
}

#[tokio::test]
async fn a_field_read_by_an_optional_or_an_index_is_metered_like_any_read() {
    let data = json!({"id": "A", "s": long_string(1 << 20)});
    let doubled = ["r.?s.orValue('')"; 20].join(" + ");
    over_budget(&one(&format!("size({doubled}) > 0"), data.clone()).await, "");
    let indexed = ["r['s']"; 20].join(" + ");
    over_budget(&one(&format!("size({indexed}) > 0"), data).await, "");
}

#[tokio::test]
async fn work_on_values_built_from_literals_or_held_in_loops_is_charged() {
    // A 1 MiB haystack and a 512 KiB needle built from literals: the search is linear (CEL's
    // compared every window: 10¹² bytes).
    let grow = |seed: &str| format!("{seed}{}", ".replace('a', 'aaaaaaaaaaaaaaaa')".repeat(4));
    let rule = format!("{}.indexOf({} + 'b') < 0", grow("'aaaaaaaaaaaaaaaa'"), grow("'aaaaaaaa'"));
    assert_eq!(one(&rule, json!({"id": "A"})).await.outcome, Outcome::Eligible);
    // A 1 MB string held by a loop variable, copied into an optional or compared with a number
    // in an inner loop: each copy or comparison is charged, not only the first.
    let data = json!({"id": "B", "l": [long_string(1 << 20)], "big": (0..200_000).collect::<Vec<i64>>()});
    over_budget(&one("[r.l[0]].all(x, lists.range(2000).all(i, optional.of(x).hasValue()))", data.clone()).await, "");
    let decision = one("[r.l[0]].all(x, lists.range(2000).all(i, x < 1))", data.clone()).await;
    assert_eq!(decision.outcome, Outcome::Error, "{decision:?}");
    assert!(decision.error.as_deref().unwrap_or_default().len() < 1_000, "{decision:?}");
    over_budget(&one("[r.big].all(x, lists.range(2000).all(i, math.greatest(x) >= 0))", data).await, "");
}

#[tokio::test]
async fn metered_operators_answer_as_cel_does() {
    // A list joined with the household members (a list of persons, not a list value).
    let household = json!({"id": "A", "birthdate": "1950-01-01", "members": [{"birthdate": "2010-01-01"}], "extra": {"k": "v"}, "tags": ["t"]});
    let decision = one("([r] + members).exists(p, age_years(p.birthdate) >= 60)", household.clone()).await;
    assert_eq!(decision.outcome, Outcome::Eligible, "{decision:?}");
    // `join` is a list's: an object is refused, as CEL refuses it.
    assert_eq!(one("r.extra.join(',') == 'k'", household.clone()).await.outcome, Outcome::Error);
    // A list plus an object: CEL adds the object's keys.
    assert_eq!(one("r.tags + r.extra == ['t', 'k']", household).await.outcome, Outcome::Eligible);
}
