//! The rule language over beneficiary data alone: macros, the function
//! library, presence tests, errors. No registry is involved.

mod common;

use common::{as_of, engine, person};
use dci_eligibility::{EvaluationOptions, ItemResult, Outcome};
use dci_metrics::UnknownCause;
use serde_json::{Value, json};

fn household() -> Value {
    json!({
        "id": "H", "name": "Amina", "birthdate": "1950-03-02", "zero": 0, "nothing": null,
        "members": [
            {"age": 2, "income": 0},
            {"age": 4, "income": 50.5},
            {"age": 40, "income": 100}
        ]
    })
}

async fn decide(rule: &str, data: Value) -> (Outcome, Vec<(String, UnknownCause)>, Option<String>) {
    let engine = engine(vec![]);
    let rule = engine.compiler().compile("t", rule).unwrap_or_else(|e| panic!("{e:#?}"));
    let result = engine.evaluate_batch(&[rule], vec![Ok(person(data))], &EvaluationOptions::new(as_of())).await;
    match &result.items[0] {
        ItemResult::Decided { decisions, .. } => {
            let d = &decisions[0];
            (d.outcome, d.missing.iter().map(|m| (m.name.clone(), m.cause)).collect(), d.error.clone())
        }
        ItemResult::Invalid { error } => panic!("{error}"),
    }
}

#[tokio::test]
async fn member_macros_and_aggregates() {
    for rule in [
        "members.count(m, m.age < 5) == 2",
        "members.count() == 3",
        "members.exists(m.age > 30)",
        "members.all(m.age >= 2)",
        "members.exists_one(m, m.age > 30)",
        "size(members.filter(m.age < 5)) == 2",
        "members.sum(m, m.income) == 150.5",
        "members.sum(m, m.income, m.age >= 18) == 100",
        "members.sum(m.age) == 46",
        "members.avg(m.age) > 15.3 && members.avg(m.age) < 15.4",
        "members.min(m, m.age) == 2 && members.max(m.age) == 40",
        "members.map(m.age) == [2, 4, 40]",
        "size(members) == 3",
    ] {
        assert_eq!(decide(rule, household()).await.0, Outcome::Eligible, "{rule}");
    }
    let alone = json!({"id": "A", "members": []});
    let unknown = [json!({"id": "A"}), json!({"id": "A", "members": null})];
    for rule in [
        "members.count() == 0",
        "members.sum(m.income) == 0",
        "members.avg(m.income) == null",
        "members.max(m.age) == null",
        "members.all(m, m.age > 100)",
        "!members.exists(m, m.age > 0)",
        "members.count(m, true) == 0",
        "r.members.all(m, m.age > 100)",
    ] {
        assert_eq!(decide(rule, alone.clone()).await.0, Outcome::Eligible, "{rule}: an empty household");
        // Without `members` (or with null), the household is unknown, as any absent field.
        for household in &unknown {
            let (outcome, missing, _) = decide(rule, household.clone()).await;
            assert_eq!(outcome, Outcome::Undetermined, "{rule}: {household}");
            assert_eq!(missing, vec![("members".to_owned(), UnknownCause::MissingField)], "{rule}: {household}");
        }
    }
    // As with any unknown, what the rest of the rule decides stands.
    assert_eq!(decide("false && members.exists(m, true)", json!({"id": "A"})).await.0, Outcome::Ineligible);
    assert_eq!(decide("members.exists(m, true) || true", json!({"id": "A"})).await.0, Outcome::Eligible);
}

#[tokio::test]
async fn the_function_library_uses_the_as_of_date() {
    for rule in [
        "age_years(r.birthdate) == 75",
        "age_years('2000-02-29') == 25",
        "age_years('1966-01-01T10:00:00Z') == 60",
        "age_years(' 1966-01-01 ') == 60",
        "age_months('2025-11-15') == 1",
        "age_days('2025-12-01') == 31",
        "today() == date('2026-01-01')",
        "years_ago(60) == date('1966-01-01')",
        "months_ago(1) == timestamp('2025-12-01T00:00:00Z')",
        "days_ago(1) == date('2025-12-31')",
        "between(5, 1, 10) && !between(11, 1, 10)",
        "between(r.birthdate, '1950-01-01', '1960-12-31')",
        "date(r.birthdate) <= years_ago(60)",
        "age_years(timestamp('2006-01-02T00:00:00Z')) == 19",
    ] {
        assert_eq!(decide(rule, household()).await.0, Outcome::Eligible, "{rule}");
    }
}

/// Comparisons of one value with a constant are evaluated without the
/// interpreter where the answer is plain (see `comparisons_decide_as_the_interpreter_does`
/// in `properties.rs`); these are the cases where reading the value natively
/// could go wrong.
#[tokio::test]
async fn comparisons_with_a_constant_read_values_as_cel_does() {
    use Outcome::{Eligible, Error, Ineligible, Undetermined};
    let cases = [
        ("r.v == 'x\"y'", json!("x\"y"), Eligible),
        ("r.v != 'x\"y'", json!("x\\\"y"), Eligible),
        ("v >= 60", json!(60), Eligible),
        ("v >= 60", json!(59), Ineligible),
        ("60 <= v", json!(60), Eligible),
        ("60 > v", json!(60), Ineligible),
        ("v >= 60.0", json!(60.5), Eligible),
        ("v < 0.7", json!(0.7), Ineligible),
        ("v == 60", json!(60.0), Eligible),
        ("v >= 60", json!(60.0), Eligible),
        ("v == true", json!("true"), Ineligible),
        ("v != 'a'", json!(null), Eligible),
        ("v < 1", json!("0"), Error),
        ("age_years(r.v) >= 60", json!("1966-01-01"), Eligible),
        ("age_years(r.v) >= 60", json!("1966-01-02"), Ineligible),
        ("60 <= age_years(r.v)", json!("1966-01-01"), Eligible),
        ("age_years(r.v) >= 60", json!(" 1966-01-01 "), Eligible),
        ("age_years(r.v) >= 60", json!("1966-01-01T23:00:00Z"), Eligible),
        ("age_years(r.v) >= 60", json!("1966-02-30"), Error),
        ("age_months(r.v) == 1", json!("2025-11-15"), Eligible),
        ("age_days(r.v) > 30", json!("2025-12-01"), Eligible),
        ("age_years(r.v) >= 59.5", json!("1966-01-01"), Eligible),
    ];
    for (rule, value, expected) in cases {
        let (outcome, _, error) = decide(rule, json!({"id": "A", "v": value})).await;
        assert_eq!(outcome, expected, "{rule} with v = {value}: {error:?}");
    }
    let (outcome, missing, _) = decide("age_days(r.v) > 30", json!({"id": "A"})).await;
    assert_eq!((outcome, missing), (Undetermined, vec![("v".to_owned(), UnknownCause::MissingField)]));
}

#[tokio::test]
async fn absent_and_null_data_make_decisions_undetermined_unless_the_rule_says_otherwise() {
    let (outcome, missing, _) = decide("age_years(r.birthdate) >= 60", json!({"id": "A"})).await;
    assert_eq!(outcome, Outcome::Undetermined);
    assert_eq!(missing, vec![("birthdate".to_owned(), UnknownCause::MissingField)]);

    let (outcome, missing, _) = decide("age_years(r.nothing) >= 60", household()).await;
    assert_eq!(outcome, Outcome::Undetermined);
    assert_eq!(missing[0].1, UnknownCause::NullValue);

    assert_eq!(
        decide("has(r.birthdate) && age_years(r.birthdate) >= 60", json!({"id": "A"})).await.0,
        Outcome::Ineligible
    );
    assert_eq!(decide("r.?poverty_score.orValue(0.0) >= 0.7", json!({"id": "A"})).await.0, Outcome::Ineligible);
    assert_eq!(
        decide("members.exists(m, m.age > 3)", json!({"id": "A", "members": [{"income": 1}]})).await.0,
        Outcome::Undetermined
    );
}

#[tokio::test]
async fn errors_name_the_operation_and_the_field() {
    let (outcome, _, error) = decide("1 / r.zero > 0", household()).await;
    assert_eq!(outcome, Outcome::Error);
    assert_eq!(error.as_deref(), Some("division by zero"));

    let (outcome, _, error) = decide("r.name > 3", household()).await;
    assert_eq!(outcome, Outcome::Error);
    let error = error.unwrap_or_default();
    assert!(error.contains("`>`") && error.contains("name is a string"), "{error}");

    let (outcome, _, error) = decide("age_years('yesterday') > 1", household()).await;
    assert_eq!(outcome, Outcome::Error);
    assert!(error.unwrap_or_default().contains("age_years: \"yesterday\" is not a date"));

    let (outcome, _, error) = decide("age_days(r.zero) > 1", household()).await;
    assert_eq!(outcome, Outcome::Error);
    assert!(error.unwrap_or_default().contains("age_days: expects a date, got an int"));

    let (outcome, _, error) = decide("r.name", household()).await;
    assert_eq!(outcome, Outcome::Error);
    assert_eq!(error.as_deref(), Some("the rule gives a string, not true or false"));
}

#[tokio::test]
async fn strings_and_dialect() {
    assert_eq!(
        decide("r.name.lowerAscii() == 'amina' and not (r.name == 'x' or false)", household()).await.0,
        Outcome::Eligible
    );
    assert_eq!(decide("me.name.startsWith('Am') && name.size() == 5", household()).await.0, Outcome::Eligible);
}
