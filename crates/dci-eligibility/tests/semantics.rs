//! Outcome semantics with in-memory registries: unknowns, demand-driven fetching, errors.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use common::{MemoryRegistry, as_of, engine, person};
use dci_eligibility::{EvaluationOptions, ItemResult, Outcome};
use dci_metrics::{MetricValue, RegistryResolver, UnknownCause, crvs_spec, dr_spec, ibr_spec};
use serde_json::json;

fn outcome(result: &ItemResult, rule: usize) -> Outcome {
    match result {
        ItemResult::Decided { decisions, .. } => decisions[rule].outcome,
        ItemResult::Invalid { error } => panic!("invalid: {error}"),
    }
}

#[tokio::test]
async fn false_and_unknown_is_false_without_asking() {
    let ibr = Arc::new(MemoryRegistry::new(ibr_spec()).failing());
    let engine = engine(vec![ibr.clone() as Arc<dyn RegistryResolver>]);
    let rule = engine.compiler().compile("r", "poverty_score >= 0.7 and dci.ibr.program_count == 0").expect("compiles");
    let items = vec![
        Ok(person(json!({"id": "poor", "identifiers": [{"type": "UIN", "value": "1"}], "poverty_score": 0.9}))),
        Ok(person(json!({"id": "rich", "identifiers": [{"type": "UIN", "value": "2"}], "poverty_score": 0.1}))),
    ];
    let result = engine.evaluate_batch(&[rule], items, &EvaluationOptions::new(as_of())).await;
    assert_eq!(outcome(&result.items[1], 0), Outcome::Ineligible);
    assert_eq!(outcome(&result.items[0], 0), Outcome::Undetermined, "a registry outage is never ineligible");
    assert_eq!(*ibr.asked_ids.lock().unwrap(), vec!["1".to_owned()], "only the poor person is asked about");
    let ItemResult::Decided { decisions, .. } = &result.items[0] else { panic!() };
    assert_eq!(decisions[0].missing[0].name, "dci.ibr.program_count");
    assert_eq!(decisions[0].missing[0].cause, UnknownCause::Timeout);
}

#[tokio::test]
async fn unknown_or_true_is_true() {
    let crvs = Arc::new(MemoryRegistry::new(crvs_spec()).failing());
    let engine = engine(vec![crvs.clone() as Arc<dyn RegistryResolver>]);
    let rule = engine.compiler().compile("r", "dci.crvs.is_alive || r.override == true").expect("compiles");
    let items = vec![Ok(person(json!({"id": "a", "identifiers": [{"type": "UIN", "value": "1"}], "override": true})))];
    let result = engine.evaluate_batch(&[rule], items, &EvaluationOptions::new(as_of())).await;
    assert_eq!(outcome(&result.items[0], 0), Outcome::Eligible);
    assert_eq!(crvs.asked.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn seed_rule_one_asks_the_ibr_only_about_the_disabled() {
    let dr = Arc::new(
        MemoryRegistry::new(dr_spec())
            .with("1", vec![MetricValue::Bool(true), MetricValue::Int(3), MetricValue::strings(["MOBILITY"])])
            .with("2", vec![MetricValue::Bool(true), MetricValue::Int(2), MetricValue::strings(["VISION"])]),
    );
    let ibr = Arc::new(
        MemoryRegistry::new(ibr_spec())
            .with("1", vec![MetricValue::Bool(false), MetricValue::Int(0), MetricValue::strings::<&str>([])]),
    );
    let engine = engine(vec![dr.clone() as Arc<dyn RegistryResolver>, ibr.clone()]);
    let rule = engine
        .compiler()
        .compile(
            "seed1",
            "dci.dr.has_disability == true and dci.dr.disability_level >= 3 and dci.ibr.is_enrolled == false",
        )
        .expect("compiles");
    let items: Vec<_> = ["1", "2", "3", "4"]
        .iter()
        .map(|uin| Ok(person(json!({"id": uin, "identifiers": [{"type": "UIN", "value": uin}]}))))
        .collect();
    let result = engine.evaluate_batch(&[rule], items, &EvaluationOptions::new(as_of())).await;
    let outcomes: Vec<Outcome> = result.items.iter().map(|i| outcome(i, 0)).collect();
    assert_eq!(outcomes, [Outcome::Eligible, Outcome::Ineligible, Outcome::Ineligible, Outcome::Ineligible]);
    assert_eq!(dr.asked.load(Ordering::SeqCst), 4);
    assert_eq!(*ibr.asked_ids.lock().unwrap(), vec!["1".to_owned()]);
}

#[tokio::test]
async fn members_and_fields_and_errors() {
    let dr = Arc::new(
        MemoryRegistry::new(dr_spec())
            .with("m2", vec![MetricValue::Bool(true), MetricValue::Int(3), MetricValue::strings(["HEARING"])]),
    );
    let engine = engine(vec![dr.clone() as Arc<dyn RegistryResolver>]);
    let rules = vec![
        engine
            .compiler()
            .compile("any_disabled", "members.exists(m, m.dci.dr.has_disability == true)")
            .expect("compiles"),
        engine.compiler().compile("old", "age_years(r.birthdate) >= 60").expect("compiles"),
        engine.compiler().compile("poor", "poverty_score >= 0.7").expect("compiles"),
    ];
    let items = vec![
        Ok(person(json!({"id": "h1", "birthdate": "1950-05-01", "poverty_score": "high", "members": [
            {"identifiers": [{"type": "UIN", "value": "m1"}]}, {"identifiers": [{"type": "UIN", "value": "m2"}]}]}))),
        Ok(person(json!({"id": "h2", "members": [{"identifiers": []}]}))),
    ];
    let result = engine.evaluate_batch(&rules, items, &EvaluationOptions::new(as_of())).await;
    let ItemResult::Decided { decisions, .. } = &result.items[0] else { panic!() };
    assert_eq!(decisions[0].outcome, Outcome::Eligible);
    assert_eq!(decisions[1].outcome, Outcome::Eligible);
    assert_eq!(decisions[2].outcome, Outcome::Error);
    let message = decisions[2].error.as_deref().unwrap_or_default();
    assert!(message.contains("poverty_score is a string"), "{message}");
    let ItemResult::Decided { decisions, .. } = &result.items[1] else { panic!() };
    assert_eq!(decisions[0].outcome, Outcome::Undetermined);
    assert_eq!(decisions[0].missing[0].cause, UnknownCause::NoIdentifier);
    assert_eq!(decisions[0].missing[0].name, "members[0].dci.dr.has_disability");
    assert_eq!(decisions[1].outcome, Outcome::Undetermined);
    assert_eq!(decisions[1].missing[0].name, "birthdate");
    assert_eq!(decisions[1].missing[0].cause, UnknownCause::MissingField);
}

#[tokio::test]
async fn results_keep_input_order_across_a_large_batch_with_invalid_items() {
    let engine = engine(vec![]);
    let rules = [
        engine.compiler().compile("poor", "poverty_score >= 0.5").expect("compiles"),
        engine.compiler().compile("older", "r.age > 10").expect("compiles"),
    ];
    // Enough items for several of the engine's chunks; every 13th is invalid,
    // every 5th has an age that is text (an error), every 7th has none
    // (undetermined): both detailed.
    let count = 10_000;
    let items: Vec<_> = (0..count)
        .map(|i| {
            if i % 13 == 0 {
                return Err(dci_eligibility::BeneficiaryError {
                    line: Some(i + 1),
                    path: "identifiers".to_owned(),
                    problem: format!("broken {i}"),
                });
            }
            let mut item = json!({"id": format!("b{i}"), "poverty_score": if i % 2 == 0 { 0.9 } else { 0.1 }});
            if i % 5 == 0 {
                item["age"] = json!("old");
            } else if i % 7 != 0 {
                item["age"] = json!(i % 20);
            }
            Ok(person(item))
        })
        .collect();
    let result = engine.evaluate_batch(&rules, items, &EvaluationOptions::new(as_of())).await;
    assert_eq!(result.items.len(), count);
    for (i, item) in result.items.iter().enumerate() {
        match item {
            ItemResult::Invalid { error } => {
                assert_eq!(i % 13, 0, "item {i} is invalid");
                assert_eq!(error.problem, format!("broken {i}"));
            }
            ItemResult::Decided { id, decisions } => {
                assert_ne!(i % 13, 0, "item {i} is decided");
                assert_eq!(id, &format!("b{i}"));
                let poor = if i % 2 == 0 { Outcome::Eligible } else { Outcome::Ineligible };
                assert_eq!(decisions[0].outcome, poor, "item {i}");
                if i % 5 == 0 {
                    assert_eq!(decisions[1].outcome, Outcome::Error, "item {i}");
                    let error = decisions[1].error.as_deref().unwrap_or_default();
                    assert!(error.contains("age"), "item {i}: {error}");
                } else if i % 7 == 0 {
                    assert_eq!(decisions[1].outcome, Outcome::Undetermined, "item {i}");
                    assert_eq!(decisions[1].missing[0].cause, UnknownCause::MissingField, "item {i}");
                    assert!(decisions[1].missing[0].name.contains("age"), "item {i}");
                } else {
                    let older = if i % 20 > 10 { Outcome::Eligible } else { Outcome::Ineligible };
                    assert_eq!((decisions[1].outcome, decisions[1].error.as_deref()), (older, None), "item {i}");
                }
            }
        }
    }
    let invalid = count.div_ceil(13);
    assert_eq!(result.stats.invalid, invalid);
    let errors = (0..count).filter(|i| i % 5 == 0 && i % 13 != 0).count() as u64;
    assert_eq!(result.stats.rules[1].error, errors);
    let undetermined = (0..count).filter(|i| i % 7 == 0 && i % 5 != 0 && i % 13 != 0).count() as u64;
    assert_eq!(result.stats.rules[1].undetermined, undetermined);
    assert_eq!(result.stats.rules[0].eligible + result.stats.rules[0].ineligible, (count - invalid) as u64);
}

#[tokio::test]
async fn a_false_local_clause_decides_before_any_registry_or_cache_is_read() {
    let alive = || vec![MetricValue::Bool(true), MetricValue::Bool(true), MetricValue::NotRecorded, MetricValue::Null];
    let crvs = Arc::new(MemoryRegistry::new(crvs_spec()).with("1", alive()).with("2", alive()).with("3", alive()));
    let engine = engine(vec![crvs.clone() as Arc<dyn RegistryResolver>]);
    // The registry clause first: the engine still tries the local one first.
    let rule = engine
        .compiler()
        .compile("elderly", "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60")
        .expect("compiles");
    let items = || {
        [("1", "1950-01-01"), ("2", "2000-01-01"), ("3", "1940-06-30")]
            .iter()
            .map(|(uin, born)| {
                Ok(person(json!({"id": uin, "identifiers": [{"type": "UIN", "value": uin}], "birthdate": born})))
            })
            .collect::<Vec<_>>()
    };
    let expected = [Outcome::Eligible, Outcome::Ineligible, Outcome::Eligible];
    let cold = engine.evaluate_batch(std::slice::from_ref(&rule), items(), &EvaluationOptions::new(as_of())).await;
    assert_eq!(cold.items.iter().map(|i| outcome(i, 0)).collect::<Vec<_>>(), expected);
    assert_eq!(*crvs.asked_ids.lock().unwrap(), vec!["1".to_owned(), "3".to_owned()], "the young person is not asked");

    // Another rule has everyone fetched: all three are cached now.
    let alive = engine.compiler().compile("alive", "dci.crvs.is_alive == true").expect("compiles");
    engine.evaluate_batch(&[alive], items(), &EvaluationOptions::new(as_of())).await;
    assert_eq!(crvs.asked.load(Ordering::SeqCst), 3);

    // Warm: the cache is not even read for the young person.
    let warm = engine.evaluate_batch(&[rule], items(), &EvaluationOptions::new(as_of())).await;
    assert_eq!(warm.items.iter().map(|i| outcome(i, 0)).collect::<Vec<_>>(), expected);
    assert_eq!(crvs.asked.load(Ordering::SeqCst), 3, "the warm run asks no registry");
    let usage = warm.stats.registries.iter().find(|r| r.registry == "crvs").expect("crvs used");
    assert_eq!((usage.fetch.requested, usage.fetch.cache_hits), (2, 2));
}

#[tokio::test]
async fn the_local_screen_keeps_comprehension_variables_and_missing_fields_apart() {
    let alive = vec![MetricValue::Bool(true), MetricValue::Bool(true), MetricValue::NotRecorded, MetricValue::Null];
    let crvs = Arc::new(MemoryRegistry::new(crvs_spec()).with("1", alive));
    let engine = engine(vec![crvs.clone() as Arc<dyn RegistryResolver>]);
    let item = || vec![Ok(person(json!({"id": "a", "identifiers": [{"type": "UIN", "value": "1"}], "age": 10})))];
    let decide = |source: &str| {
        let rule = engine.compiler().compile("r", source).expect("compiles");
        let engine = engine.clone();
        let items = item();
        async move {
            let result = engine.evaluate_batch(&[rule], items, &EvaluationOptions::new(as_of())).await;
            let ItemResult::Decided { mut decisions, .. } = result.items.into_iter().next().expect("one item") else {
                panic!("invalid")
            };
            decisions.remove(0)
        }
    };
    // `r` here is the list's element (age 1), not the registrant (age 10).
    let shadowed = decide("[{'age': 1}].exists(r, r.age > 5) && dci.crvs.is_alive == true").await;
    assert_eq!(shadowed.outcome, Outcome::Ineligible);
    assert_eq!(crvs.asked.load(Ordering::SeqCst), 0, "decided by the local clause");
    let registrant = decide("r.age > 5 && dci.crvs.is_alive == true").await;
    assert_eq!(registrant.outcome, Outcome::Eligible);
    // An absent field leaves the decision to the whole rule: undetermined, naming the field.
    let absent = decide("r.height > 1 && dci.crvs.is_alive == true").await;
    assert_eq!(absent.outcome, Outcome::Undetermined);
    assert_eq!(absent.missing[0].name, "height");
    assert_eq!(absent.missing[0].cause, UnknownCause::MissingField);
}

/// Inside `members.exists(m, ...)`, `dci.*` and `r.*` are the registrant's
/// values and `m.*` the member's, also where the engine evaluates the test
/// natively; `r` as the variable names the member.
#[tokio::test]
async fn member_tests_read_the_right_persons_values() {
    let alive = vec![MetricValue::Bool(true), MetricValue::Bool(true), MetricValue::NotRecorded, MetricValue::Null];
    let dead =
        vec![MetricValue::Bool(false), MetricValue::Bool(true), MetricValue::NotRecorded, MetricValue::NotRecorded];
    let crvs = MemoryRegistry::new(crvs_spec()).with("dead", dead).with("alive", alive);
    let engine = engine(vec![Arc::new(crvs) as Arc<dyn RegistryResolver>]);
    // A dead registrant aged 70 with one living member aged 10.
    let household = json!({
        "id": "H", "identifiers": [{"type": "UIN", "value": "dead"}], "age": 70,
        "members": [{"identifiers": [{"type": "UIN", "value": "alive"}], "age": 10}],
    });
    for (source, expected) in [
        ("members.exists(m, m.dci.crvs.is_alive == true)", Outcome::Eligible),
        (
            "members.exists(m, dci.crvs.is_alive == true) && members.exists(m, m.dci.crvs.is_alive == true)",
            Outcome::Ineligible,
        ),
        (
            "members.exists(m, r.dci.crvs.is_alive == false) && members.all(m, m.dci.crvs.is_alive == true)",
            Outcome::Eligible,
        ),
        ("members.exists(m, r.age > 60)", Outcome::Eligible),
        ("members.exists(m, m.age > 60)", Outcome::Ineligible),
        ("members.exists(r, r.age > 60)", Outcome::Ineligible),
        ("members.all(m.age < 18)", Outcome::Eligible),
    ] {
        let rule = engine.compiler().compile("r", source).unwrap_or_else(|e| panic!("{source}: {e}"));
        let result =
            engine.evaluate_batch(&[rule], vec![Ok(person(household.clone()))], &EvaluationOptions::new(as_of())).await;
        assert_eq!(outcome(&result.items[0], 0), expected, "{source}");
    }
}
