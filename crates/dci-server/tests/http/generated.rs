//! Requests generated to the served request schemas of `POST /v1/evaluate`
//! and `POST /v1/rules/validate`, within the limits the document states, sent
//! to a running server. A generated request that does not match its schema is
//! a bug of the generator (checked before sending). Properties:
//!
//! * a schema-valid request is never refused as malformed or invalid
//!   (`malformed_json`, `invalid_request`, a beneficiary's `invalid_beneficiary`);
//!   the one 422 it may get is `invalid_rule`, exactly when validation says a
//!   rule is invalid (the schema cannot know CEL);
//! * every answer matches its response schema, strictly;
//! * the JSON and the NDJSON form of a request get the same results.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

use crate::common::*;
use crate::contract::{Contract, Side};

/// What the document says a request may hold, read from it.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    rules: usize,
    rule_length: usize,
    beneficiaries: usize,
    members: usize,
}

impl Bounds {
    fn of(contract: &Contract) -> Bounds {
        Bounds {
            rules: contract.limit("EvaluateRequest", "/allOf/0/properties/rules/maxProperties"),
            rule_length: contract.limit("EvaluateRequest", "/allOf/0/properties/rule/maxLength"),
            beneficiaries: contract.limit("EvaluateRequest", "/allOf/0/properties/beneficiaries/maxItems"),
            members: contract.limit("Beneficiary", "/properties/members/maxItems"),
        }
    }
}

/// Rule expressions that compile, from the fields, metrics and functions rules use.
fn valid_rule() -> impl Strategy<Value = String> {
    let atom = prop::sample::select(vec![
        "true",
        "1 < 2",
        "r.poverty_score >= 0.5",
        "poverty_score < 0.3",
        "has(r.birthdate)",
        "age_years(r.birthdate) >= 60",
        "r.?poverty_score.orValue(0.0) >= 0.7",
        "dci.crvs.is_alive == true",
        "dci.ibr.program_count == 0",
        "dci.ibr.is_enrolled == false",
        "dci.dr.has_disability",
        "dci.dr.disability_level >= 3",
        "members.exists(m, m.dci.dr.has_disability)",
        "members.count(m, m.age > 5) >= 1",
        "members.sum(m, m.income) > 100.0",
        "size(members) == 0",
    ])
    .prop_map(str::to_owned);
    atom.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            (inner.clone(), prop::sample::select(vec!["and", "or", "&&", "||"]), inner.clone())
                .prop_map(|(a, op, b)| format!("({a}) {op} ({b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

/// Any text: mostly not a rule, to see `invalid_rule` agree with validation.
fn any_rule(max_length: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => valid_rule(),
        1 => proptest::string::string_regex(&format!("[a-z0-9 .()=<>!&|]{{0,{}}}", max_length.min(40)))
            .expect("regex"),
    ]
    .prop_filter("within the length the schema allows", move |rule| rule.chars().count() <= max_length)
}

/// A rule name: not blank, any characters.
fn rule_name() -> impl Strategy<Value = String> {
    "[ a-zA-Zé_-]{0,6}[a-z0-9Ω][ a-z]{0,3}"
}

/// `{"rules": {...}}` or `{"rule": "..."}`, the other absent or `null`.
fn rule_source(bounds: Bounds) -> impl Strategy<Value = Map<String, Value>> {
    let named = prop::collection::btree_map(rule_name(), any_rule(bounds.rule_length), 1..=bounds.rules);
    prop_oneof![
        (named, any::<bool>()).prop_map(|(rules, null_rule)| {
            let mut source = Map::new();
            source.insert("rules".into(), json!(rules));
            if null_rule {
                source.insert("rule".into(), Value::Null);
            }
            source
        }),
        (any_rule(bounds.rule_length), any::<bool>()).prop_map(|(rule, null_rules)| {
            let mut source = Map::new();
            source.insert("rule".into(), json!(rule));
            if null_rules {
                source.insert("rules".into(), Value::Null);
            }
            source
        }),
    ]
}

/// `as_of` and `explain`: absent, `null` or a value.
fn options(bounds: Bounds) -> impl Strategy<Value = Map<String, Value>> {
    let date = (1900i32..2100, 1u32..=12, 1u32..=31).prop_filter_map("a real date", |(y, m, d)| {
        chrono::NaiveDate::from_ymd_opt(y, m, d).map(|date| json!(date.format("%Y-%m-%d").to_string()))
    });
    let as_of = prop_oneof![Just(None), Just(Some(Value::Null)), date.prop_map(Some)];
    let explain = prop_oneof![Just(None), Just(Some(Value::Null)), any::<bool>().prop_map(|b| Some(json!(b)))];
    (rule_source(bounds), as_of, explain).prop_map(|(mut options, as_of, explain)| {
        options.extend(as_of.map(|v| ("as_of".to_owned(), v)));
        options.extend(explain.map(|v| ("explain".to_owned(), v)));
        options
    })
}

/// Text that is not blank, or a whole number (also written with a fraction of zero): what ids
/// and identifiers may be.
fn text() -> impl Strategy<Value = Value> {
    const EXACT: i64 = 1 << 53;
    prop_oneof![
        "[ ]{0,2}[A-Za-z0-9é/-][A-Za-z0-9 -]{0,10}".prop_map(Value::from),
        any::<u32>().prop_map(Value::from),
        (-EXACT..=EXACT).prop_map(Value::from),
        (-1_000_000i32..1_000_000).prop_map(|n| Value::from(f64::from(n))),
    ]
}

fn identifier() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![prop::sample::select(vec!["UIN", "DRN", "BRN", "NID"]).prop_map(Value::from), text()];
    (kind, text(), any::<bool>()).prop_map(|(kind, value, dci_spelling)| {
        if dci_spelling {
            json!({"identifier_type": kind, "identifier_value": value})
        } else {
            json!({"type": kind, "value": value})
        }
    })
}

/// Any JSON value a field may hold (shallow; finite numbers).
fn field_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1.0e9f64..1.0e9).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        (1900i32..2030, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| json!(format!("{y:04}-{m:02}-{d:02}"))),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3).prop_map(|m| json!(m)),
        ]
    })
}

/// A person's own fields: the names rules read, and others.
fn fields() -> impl Strategy<Value = Map<String, Value>> {
    let name = prop_oneof![
        prop::sample::select(vec!["poverty_score", "birthdate", "age", "income", "name"]).prop_map(str::to_owned),
        "\\PC{0,8}",
    ]
    .prop_filter("not a reserved name", |name| !["id", "identifiers", "members"].contains(&name.as_str()));
    prop::collection::btree_map(name, field_value(), 0..4).prop_map(|fields| fields.into_iter().collect())
}

/// `identifiers`: absent, `null` or a list.
fn identifiers() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        prop::collection::vec(identifier(), 0..3).prop_map(|list| Some(Value::from(list))),
    ]
}

fn member() -> impl Strategy<Value = Value> {
    (prop::option::of(text()), identifiers(), fields(), any::<bool>()).prop_map(|(id, identifiers, fields, null)| {
        let mut member = fields;
        member.extend(id.map(|id| ("id".to_owned(), id)));
        member.extend(identifiers.map(|list| ("identifiers".to_owned(), list)));
        if null {
            member.insert("members".into(), Value::Null);
        }
        Value::Object(member)
    })
}

fn beneficiary(bounds: Bounds) -> impl Strategy<Value = Value> {
    let members = prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        prop::collection::vec(member(), 0..=bounds.members).prop_map(|list| Some(Value::from(list))),
    ];
    (text(), identifiers(), members, fields()).prop_map(|(id, identifiers, members, fields)| {
        let mut beneficiary = fields;
        beneficiary.insert("id".into(), id);
        beneficiary.extend(identifiers.map(|list| ("identifiers".to_owned(), list)));
        beneficiary.extend(members.map(|list| ("members".to_owned(), list)));
        Value::Object(beneficiary)
    })
}

fn evaluate_request(bounds: Bounds) -> impl Strategy<Value = (Map<String, Value>, Vec<Value>)> {
    (options(bounds), prop::collection::vec(beneficiary(bounds), 0..=bounds.beneficiaries))
}

/// The rule names of a request, in the order its JSON gives them (`serde_json` writes and
/// reads object keys sorted).
fn rule_names(options: &Map<String, Value>) -> Vec<String> {
    match options.get("rules").and_then(Value::as_object) {
        Some(rules) => rules.keys().cloned().collect(),
        None => vec!["rule".to_owned()],
    }
}

async fn send(h: &Harness, path: &str, media: &str, body: String) -> (u16, String) {
    let response = h.post(path).header("content-type", media).body(body).send().await.expect("send");
    (response.status().as_u16(), response.text().await.expect("body"))
}

/// The answer of `POST path`, checked against its schema.
fn checked(contract: &Contract, path: &str, status: u16, media: &str, text: &str) -> Result<Value, TestCaseError> {
    let body: Value = serde_json::from_str(text).map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {text}")))?;
    let schema = contract.response_schema("POST", path, status, media);
    let violations = contract.violations(Side::Response, &schema, &body);
    prop_assert!(violations.is_empty(), "POST {path} → {status} does not match its schema: {violations:?}\n{body}");
    Ok(body)
}

/// The rules of `options` that validation says are invalid; checks the validation's answer.
async fn invalid_rules(
    h: &Harness,
    contract: &Contract,
    options: &Map<String, Value>,
) -> Result<Vec<String>, TestCaseError> {
    let mut request = Map::new();
    for key in ["rules", "rule"] {
        request.extend(options.get(key).map(|v| (key.to_owned(), v.clone())));
    }
    let request = Value::Object(request);
    let schema = contract.request_schema("/v1/rules/validate", "application/json");
    let violations = contract.violations(Side::Request, &schema, &request);
    prop_assert!(violations.is_empty(), "generator bug: {violations:?}\n{request}");
    let (status, text) = send(h, "/v1/rules/validate", "application/json", request.to_string()).await;
    prop_assert_eq!(status, 200, "validation refused a schema-valid request: {}", text);
    let body = checked(contract, "/v1/rules/validate", status, "application/json", &text)?;
    let reports = body["rules"].as_array().cloned().unwrap_or_default();
    let names: Vec<String> = reports.iter().filter_map(|r| r["name"].as_str().map(str::to_owned)).collect();
    prop_assert_eq!(&names, &rule_names(options), "one report per rule, in request order");
    Ok(reports.iter().filter(|r| r["valid"] == false).filter_map(|r| r["name"].as_str().map(str::to_owned)).collect())
}

/// One generated request, sent as JSON and as NDJSON.
async fn evaluate(
    h: &Harness,
    contract: &Contract,
    options: Map<String, Value>,
    beneficiaries: Vec<Value>,
    accepted: &AtomicUsize,
) -> Result<(), TestCaseError> {
    let mut request = options.clone();
    request.insert("beneficiaries".into(), Value::from(beneficiaries.clone()));
    let request = Value::Object(request);
    let schema = contract.request_schema("/v1/evaluate", "application/json");
    let violations = contract.violations(Side::Request, &schema, &request);
    prop_assert!(violations.is_empty(), "generator bug: {violations:?}\n{request:#}");
    let options_schema = contract.request_schema("/v1/evaluate", "application/x-ndjson");
    let options_value = Value::Object(options.clone());
    let violations = contract.violations(Side::Request, &options_schema, &options_value);
    prop_assert!(violations.is_empty(), "generator bug: {violations:?}\n{options_value}");
    let beneficiary = contract.component("Beneficiary");
    for item in &beneficiaries {
        prop_assert!(contract.violations(Side::Request, &beneficiary, item).is_empty(), "generator bug: {item}");
    }

    let invalid = invalid_rules(h, contract, &options).await?;
    let (status, text) = send(h, "/v1/evaluate", "application/json", request.to_string()).await;
    if !invalid.is_empty() {
        prop_assert_eq!(status, 422, "{:?} are invalid rules: {}", invalid, text);
        let body = checked(contract, "/v1/evaluate", status, "application/json", &text)?;
        prop_assert_eq!(code(&body), "invalid_rule");
        let refused: Vec<&str> = body["error"]["details"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["rule"].as_str())
            .collect();
        prop_assert_eq!(refused, invalid.iter().map(String::as_str).collect::<Vec<_>>());
        return Ok(());
    }
    prop_assert_eq!(status, 200, "a schema-valid request with valid rules was refused: {}", text);
    accepted.fetch_add(1, Ordering::Relaxed);
    let body = checked(contract, "/v1/evaluate", status, "application/json", &text)?;
    let results = body["results"].as_array().cloned().unwrap_or_default();
    prop_assert_eq!(results.len(), beneficiaries.len());
    let names = rule_names(&options);
    for (result, item) in results.iter().zip(&beneficiaries) {
        prop_assert!(result.get("error").is_none(), "a schema-valid beneficiary was not read: {result}\n{item}");
        let decided: Vec<&String> = result["outcomes"].as_object().map(|o| o.keys().collect()).unwrap_or_default();
        prop_assert_eq!(decided, names.iter().collect::<Vec<_>>(), "one decision per rule");
    }

    let mut ndjson = format!("{options_value}\n");
    for item in &beneficiaries {
        ndjson.push_str(&format!("{item}\n"));
    }
    let (status, text) = send(h, "/v1/evaluate", "application/x-ndjson", ndjson).await;
    prop_assert_eq!(status, 200, "the NDJSON form was refused: {}", text);
    let mut lines = Vec::new();
    for line in text.lines() {
        lines.push(checked(contract, "/v1/evaluate", status, "application/x-ndjson", line)?);
    }
    prop_assert_eq!(lines.len(), results.len() + 1, "a line per beneficiary, then the summary");
    prop_assert_eq!(&lines[..results.len()], &results[..], "NDJSON and JSON decide alike");
    Ok(())
}

#[test]
fn generated_requests_are_accepted_and_answered_as_documented() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let h = runtime.block_on(start_with(
        Default::default(),
        |_| {},
        |c| {
            // Small limits, so that generated requests reach them.
            c.limits.max_rules = 3;
            c.limits.max_rule_length = 200;
            c.limits.max_beneficiaries = 6;
            c.limits.max_members = 3;
        },
    ));
    let contract = runtime.block_on(Contract::of(&h));
    let bounds = Bounds::of(&contract);
    assert_eq!((bounds.rules, bounds.rule_length, bounds.beneficiaries, bounds.members), (3, 200, 6, 3));

    let config = Config { cases: 64, failure_persistence: None, ..Config::default() };
    let accepted = AtomicUsize::new(0);
    let mut runner = TestRunner::new(config.clone());
    let result = runner.run(&evaluate_request(bounds), |(options, beneficiaries)| {
        runtime.block_on(evaluate(&h, &contract, options, beneficiaries, &accepted))
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    assert!(accepted.load(Ordering::Relaxed) >= config.cases as usize / 2, "most generated rules compile");

    // Validation reports on rules of any length: generate some longer than evaluation takes.
    let longer = Bounds { rule_length: bounds.rule_length * 2, ..bounds };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&rule_source(longer), |source| {
        runtime.block_on(async {
            invalid_rules(&h, &contract, &source).await?;
            Ok(())
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    runtime.block_on(h.stop());
}
