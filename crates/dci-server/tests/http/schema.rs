//! Every route's answers, successes and errors, match the response schemas of
//! the served `/openapi.json`, strictly (no field the document does not list).

use serde_json::{Value, json};

use crate::common::*;
use crate::contract::{Contract, Side};

/// Checks a JSON answer against the document: its status is documented for the route (when
/// the route exists), the body matches that status's schema, and an error body matches
/// `ErrorBody` with a code that the status's description names. Returns the body.
async fn answer(contract: &Contract, method: &str, path: &str, response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let media = response.headers()["content-type"].to_str().expect("content type").to_owned();
    assert!(media.starts_with("application/json"), "{method} {path} → {status} {media}");
    let body: Value = response.json().await.expect("a JSON body");
    let what = format!("{method} {path} → {status}");
    if let Some(documented) = contract.response(method, path, status) {
        let schema = documented["content"]["application/json"]["schema"].clone();
        assert!(schema.is_object(), "{what}: no application/json schema documented");
        contract.check(Side::Response, &schema, &body, &what);
        if schema == contract.component("ErrorBody") {
            let code = code(&body);
            let description = documented["description"].as_str().unwrap_or_default();
            assert!(description.contains(&format!("`{code}`")), "{what}: `{code}` is not in {description:?}");
        }
    } else {
        // Only unknown routes and methods have no operation to document them.
        assert!(matches!(status, 404 | 405) || (status == 401 && !path.starts_with("/v1/")), "{what} is undocumented");
        contract.check(Side::Response, &contract.component("ErrorBody"), &body, &what);
    }
    (status, body)
}

/// The decisions of a body, whatever their rule.
fn decisions(body: &Value) -> Vec<&Value> {
    let results = body["results"].as_array().expect("results");
    results.iter().filter_map(|r| r["outcomes"].as_object()).flat_map(|o| o.values()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn successful_answers_match_their_schemas() {
    let h = start().await;
    let contract = Contract::of(&h).await;

    // JSON evaluation: every outcome, missing values, clauses, an error code, an unreadable item.
    let mut beneficiaries = fixture();
    beneficiaries.push(json!({"poverty_score": 0.9}));
    beneficiaries.push(json!({"id": "NO-DATA"}));
    let rules = json!({
        "elderly": ELDERLY,
        "poor": POOR,
        "typed": "age_years(r.poverty_score) > 1",
        "household": "members.exists(m, m.dci.dr.has_disability)",
    });
    let request = json!({"rules": rules, "as_of": AS_OF, "explain": true, "beneficiaries": beneficiaries});
    // The request schema says which item is not a beneficiary, and nothing else.
    let unreadable = format!("/beneficiaries/{}", beneficiaries.len() - 2);
    let violations =
        contract.violations(Side::Request, &contract.request_schema("/v1/evaluate", "application/json"), &request);
    assert!(
        !violations.is_empty() && violations.iter().all(|v| v.starts_with(&format!("at {unreadable}"))),
        "{violations:?}"
    );
    let response = h.post("/v1/evaluate").json(&request).send().await.expect("send");
    let (status, body) = answer(&contract, "POST", "/v1/evaluate", response).await;
    assert_eq!(status, 200, "{body}");
    let outcomes: Vec<&str> = decisions(&body).iter().filter_map(|d| d["outcome"].as_str()).collect();
    for outcome in ["eligible", "ineligible", "undetermined", "error"] {
        assert!(outcomes.contains(&outcome), "no {outcome} decision to check");
    }
    assert!(decisions(&body).iter().any(|d| d["missing"].is_array() && d["clauses"].is_array()));
    let invalid = body["results"].as_array().expect("results").iter().filter(|r| r.get("error").is_some()).count();
    assert_eq!(invalid, 1);

    // The strict check refuses what the document does not list, and what it requires but is absent.
    let schema = contract.response_schema("POST", "/v1/evaluate", 200, "application/json");
    for (pointer, change) in [
        ("/summary", json!({"unlisted": 1})),
        ("/results/0", json!({"unlisted": 1})),
        ("/summary/registries/0", json!({"unlisted": 1})),
        ("/results/0/outcomes/elderly", json!({"outcome": "maybe"})),
    ] {
        let mut changed = body.clone();
        let target = changed.pointer_mut(pointer).and_then(Value::as_object_mut).expect(pointer);
        target.extend(change.as_object().expect("object").clone());
        assert!(!contract.violations(Side::Response, &schema, &changed).is_empty(), "{pointer} {change}");
    }
    let mut changed = body.clone();
    changed["summary"].as_object_mut().expect("summary").remove("wall_ms");
    assert!(!contract.violations(Side::Response, &schema, &changed).is_empty(), "wall_ms is required");

    // NDJSON evaluation: each line.
    let line_schema = contract.response_schema("POST", "/v1/evaluate", 200, "application/x-ndjson");
    let options = json!({"rules": {"elderly": ELDERLY, "typed": "age_years(r.poverty_score) > 1"}, "as_of": AS_OF});
    contract.check(
        Side::Request,
        &contract.request_schema("/v1/evaluate", "application/x-ndjson"),
        &options,
        "options",
    );
    let mut body = format!("{options}\n");
    for household in fixture().iter().take(10) {
        body.push_str(&format!("{household}\n"));
    }
    body.push_str("not json\n{\"id\": \"\"}\n");
    let response =
        h.post("/v1/evaluate").header("content-type", "application/x-ndjson").body(body).send().await.expect("send");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().expect("type").starts_with("application/x-ndjson"));
    let text = response.text().await.expect("text");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect();
    assert_eq!(lines.len(), 13, "{text}");
    for (index, line) in lines.iter().enumerate() {
        contract.check(Side::Response, &line_schema, line, &format!("NDJSON line {}", index + 1));
    }
    assert_eq!((lines[10]["line"].as_u64(), lines[11]["line"].as_u64()), (Some(12), Some(13)));
    contract.check(Side::Response, &contract.component("SummaryLine"), &lines[12], "the last line");

    // Validation: valid rules (with a warning) and invalid ones.
    let request =
        json!({"rules": {"poor": POOR, "typo": "dci.crvs.is_alve == true", "precedence": "not true and false"}});
    let response = h.post("/v1/rules/validate").json(&request).send().await.expect("send");
    let (status, body) = answer(&contract, "POST", "/v1/rules/validate", response).await;
    assert_eq!((status, body["valid"].as_bool()), (200, Some(false)), "{body}");
    let report = |name: &str| body["rules"].as_array().expect("rules").iter().find(|r| r["name"] == name).cloned();
    assert_eq!(report("precedence").expect("precedence")["diagnostics"][0]["severity"], "warning");
    assert!(report("poor").expect("poor")["cost"]["steps"].as_u64().is_some_and(|steps| steps > 0));
    assert_eq!(report("typo").expect("typo")["diagnostics"][0]["severity"], "error");

    // The catalog, health, readiness.
    for (path, key) in [("/v1/metrics", true), ("/healthz", false), ("/readyz", true)] {
        let request = h.client.get(h.url(path));
        let request = if key { request.bearer_auth(KEY) } else { request };
        let (status, _) = answer(&contract, "GET", path, request.send().await.expect("send")).await;
        assert_eq!(status, 200, "{path}");
    }

    // This document and Prometheus: the documented media types.
    for path in ["/openapi.json", "/metrics"] {
        let response = h.get(path).send().await.expect("send");
        assert_eq!(response.status(), 200);
        let media = response.headers()["content-type"].to_str().expect("type").to_owned();
        let documented = contract.response("GET", path, 200).expect("documented");
        let content = documented["content"].as_object().expect("content");
        assert!(content.keys().any(|m| media.starts_with(m.as_str())), "{path}: {media} not in {content:?}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_of_a_registry_that_is_down_matches_its_schema() {
    // A port nobody listens on: a freed ephemeral port could be taken by another test's server.
    let dead = "127.0.0.1:1";
    let h = start_with(
        Default::default(),
        |engine| {
            for source in &mut engine.registries {
                if source.registry == dci_client::RegistryType::Dr {
                    source.base_url = format!("http://{dead}/dr");
                    source.timeouts.call_deadline_ms = 1_000;
                }
            }
        },
        |_| {},
    )
    .await;
    let contract = Contract::of(&h).await;
    let (status, body) = answer(&contract, "GET", "/readyz", h.get("/readyz").send().await.expect("send")).await;
    assert_eq!((status, body["ready"].as_bool()), (503, Some(false)), "{body}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_answers_match_error_body_and_their_documented_status() {
    let h = start_with(
        Default::default(),
        |_| {},
        |c| {
            c.limits.max_body_bytes = 4_096;
            c.limits.max_beneficiaries = 2;
        },
    )
    .await;
    let contract = Contract::of(&h).await;
    let evaluate = || h.post("/v1/evaluate");
    let validate = || h.post("/v1/rules/validate");
    let three: Vec<Value> = (0..3).map(|i| json!({"id": format!("B{i}")})).collect();
    let padding = "x".repeat(5_000);
    let big_header = "x".repeat(100_000);
    let cases: Vec<(&str, &str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "POST",
            "/v1/evaluate",
            evaluate().header("content-type", "application/json").body("{\"rule\": "),
            400,
            "malformed_json",
        ),
        ("POST", "/v1/rules/validate", validate().body("{\"rule\": "), 400, "malformed_json"),
        ("GET", "/v1/nothing", h.get("/v1/nothing"), 404, "not_found"),
        ("DELETE", "/v1/evaluate", h.client.delete(h.url("/v1/evaluate")).bearer_auth(KEY), 405, "method_not_allowed"),
        (
            "POST",
            "/v1/evaluate",
            evaluate().json(&json!({"rule": "true", "beneficiaries": [{"id": "A", "note": padding}]})),
            413,
            "payload_too_large",
        ),
        ("POST", "/v1/rules/validate", validate().json(&json!({"rule": padding})), 413, "payload_too_large"),
        (
            "POST",
            "/v1/evaluate",
            evaluate().json(&json!({"rule": "true", "beneficiaries": three})),
            413,
            "too_many_beneficiaries",
        ),
        (
            "POST",
            "/v1/evaluate",
            evaluate().header("content-type", "text/csv").body("id\n1"),
            415,
            "unsupported_media_type",
        ),
        ("POST", "/v1/evaluate", evaluate().body("{}"), 415, "unsupported_media_type"),
        (
            "POST",
            "/v1/evaluate",
            evaluate().json(&json!({"rule": "true", "rules": {"a": "true"}, "beneficiaries": []})),
            422,
            "invalid_request",
        ),
        ("POST", "/v1/evaluate", evaluate().json(&json!({"beneficiaries": []})), 422, "invalid_request"),
        (
            "POST",
            "/v1/evaluate",
            evaluate().json(&json!({"rule": "true", "as_of": "01/02/2026", "beneficiaries": []})),
            422,
            "invalid_request",
        ),
        (
            "POST",
            "/v1/evaluate",
            evaluate().json(&json!({"rule": "true", "beneficiaries": [], "extra": 1})),
            422,
            "invalid_request",
        ),
        (
            "POST",
            "/v1/evaluate",
            evaluate().json(&json!({"rule": "dci.crvs.is_alve", "beneficiaries": []})),
            422,
            "invalid_rule",
        ),
        (
            "POST",
            "/v1/evaluate",
            evaluate().header("content-type", "application/x-ndjson").body("{\"rule\": \"1 +\"}\n"),
            422,
            "invalid_rule",
        ),
        ("POST", "/v1/rules/validate", validate().json(&json!({"rules": {}})), 422, "invalid_request"),
        ("GET", "/v1/metrics", h.get("/v1/metrics").header("x-big", &big_header), 431, "headers_too_large"),
        (
            "POST",
            "/v1/evaluate",
            evaluate().header("x-big", &big_header).json(&json!({"rule": "true", "beneficiaries": []})),
            431,
            "headers_too_large",
        ),
    ];
    for (method, path, request, expected, expected_code) in cases {
        let (status, body) = answer(&contract, method, path, request.send().await.expect("send")).await;
        assert_eq!((status, code(&body)), (expected, expected_code), "{method} {path}: {body}");
    }
    // Without a key, every route but the open ones is 401, documented as such.
    for (method, path) in dci_server::routes() {
        if dci_server::open_paths().contains(&path) {
            continue;
        }
        let response = h.client.request(method.clone(), h.url(path)).send().await.expect("send");
        let (status, body) = answer(&contract, method.as_str(), path, response).await;
        assert_eq!((status, code(&body)), (401, "unauthorized"), "{method} {path}");
    }
    h.stop().await;
}
