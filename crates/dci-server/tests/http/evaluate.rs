//! `POST /v1/evaluate` with JSON.

use serde_json::{Value, json};

use crate::common::*;

fn outcome<'a>(result: &'a Value, rule: &str) -> &'a str {
    result["outcomes"][rule]["outcome"].as_str().unwrap_or("<none>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fixture_is_decided_as_its_readme_says_in_request_order() {
    let h = start().await;
    let households = fixture();
    let (status, body) = h
        .evaluate(&json!({"rules": {"elderly": ELDERLY, "poor": POOR}, "as_of": AS_OF, "beneficiaries": households}))
        .await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().expect("results");
    assert_eq!(results.len(), households.len());
    for (result, household) in results.iter().zip(&households) {
        assert_eq!(result["id"], household["id"]);
    }
    let by_id = |id: &str| results.iter().find(|r| r["id"] == id).expect("result");
    // fixtures/README.md, rules 2 and 3
    for (id, elderly, poor) in [
        ("HH-0001", "eligible", "eligible"),
        ("HH-0002", "ineligible", "eligible"),
        ("HH-0003", "undetermined", "eligible"),
        ("HH-0004", "ineligible", "ineligible"),
        ("HH-0005", "eligible", "ineligible"),
        ("HH-0020", "undetermined", "undetermined"),
    ] {
        assert_eq!((outcome(by_id(id), "elderly"), outcome(by_id(id), "poor")), (elderly, poor), "{id}");
    }
    assert_eq!(
        by_id("HH-0003")["outcomes"]["elderly"]["missing"],
        json!([{"name": "dci.crvs.is_alive", "cause": "not_found"}])
    );

    let summary = &body["summary"];
    assert_eq!(summary["as_of"], AS_OF);
    assert_eq!(summary["items"], households.len());
    assert_eq!(summary["invalid"], 0);
    assert_eq!(summary["rules"][0]["rule"], "elderly");
    let counted: u64 = ["eligible", "ineligible", "undetermined", "error"]
        .iter()
        .map(|o| summary["rules"][0][o].as_u64().expect("count"))
        .sum();
    assert_eq!(counted, households.len() as u64);
    assert!(summary["round_trips"].as_u64().expect("round trips") >= 2);
    assert!(summary["registries"].as_array().expect("registries").iter().any(|r| r["registry"] == "crvs"));
    assert!(summary["wall_ms"].is_u64());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_beneficiary_never_fails_the_others() {
    let h = start().await;
    let beneficiaries = json!([
        household("HH-0001"),
        {"poverty_score": 0.9},
        "not an object",
        {"id": "X", "identifiers": [{"type": "UIN"}]},
        {"id": "Y", "members": "nobody"},
        household("HH-0004"),
    ]);
    let (status, body) = h.evaluate(&json!({"rule": POOR, "as_of": AS_OF, "beneficiaries": beneficiaries})).await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().expect("results");
    assert_eq!(results.len(), 6);
    assert_eq!(outcome(&results[0], "rule"), "eligible");
    assert_eq!(outcome(&results[5], "rule"), "ineligible");
    for (index, path) in [
        (1, "beneficiaries[1].id"),
        (2, "beneficiaries[2]"),
        (3, "beneficiaries[3].identifiers[0].value"),
        (4, "beneficiaries[4].members"),
    ] {
        let error = &results[index]["error"];
        assert_eq!(error["code"], "invalid_beneficiary", "{index}: {}", results[index]);
        assert_eq!(error["path"], path, "{index}");
        assert!(error["message"].as_str().expect("message").starts_with(path));
    }
    assert_eq!((body["summary"]["items"].as_u64(), body["summary"]["invalid"].as_u64()), (Some(6), Some(4)));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explanations_and_errors_per_decision() {
    let h = start().await;
    let mut odd = household("HH-0001");
    odd["id"] = json!("ODD");
    odd["poverty_score"] = json!("high");
    let (status, body) = h
        .evaluate(&json!({"rule": POOR, "as_of": AS_OF, "explain": true, "beneficiaries": [household("HH-0001"), odd]}))
        .await;
    assert_eq!(status, 200, "{body}");
    let clauses = body["results"][0]["outcomes"]["rule"]["clauses"].as_array().expect("clauses");
    assert_eq!(clauses.len(), 2);
    assert_eq!(
        (clauses[0]["clause"].as_str(), clauses[0]["value"].as_bool()),
        (Some("poverty_score >= 0.7"), Some(true))
    );
    let decision = &body["results"][1]["outcomes"]["rule"];
    assert_eq!(decision["outcome"], "error");
    assert!(decision["error"].as_str().expect("error").contains("poverty_score") || decision["error"].is_string());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_invalid_requests() {
    let h = start().await;
    let send = |body: &'static str| h.post("/v1/evaluate").header("content-type", "application/json").body(body).send();
    // syntax: 400 with line and column
    let response = send("{\n  \"rule\": \"true\",\n  \"beneficiaries\": [{\"id\": \"A\",}]\n}").await.expect("send");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(code(&body), "malformed_json");
    assert_eq!(body["error"]["details"]["line"], 3);
    assert!(body["error"]["details"]["column"].as_u64().expect("column") > 20);
    // shapes and values: 422
    for (text, field) in [
        (r#"{"rule": 5, "beneficiaries": []}"#, Some("rule")),
        (r#"{"rule": "true", "beneficiaries": {"id": "A"}}"#, Some("beneficiaries")),
        (r#"{"rule": "true"}"#, None),
        (r#"{"rule": "true", "beneficiaries": [], "colour": "blue"}"#, None),
        (r#"{"rule": "true", "rules": {"a": "true"}, "beneficiaries": []}"#, Some("rules")),
        (r#"{"beneficiaries": []}"#, Some("rules")),
        (r#"{"rules": {}, "beneficiaries": []}"#, Some("rules")),
        (r#"{"rules": {"a": 1}, "beneficiaries": []}"#, Some("rules.a")),
        (r#"{"rule": "true", "as_of": "2026-13-01", "beneficiaries": []}"#, Some("as_of")),
        (r#"{"rule": "true", "as_of": "01/01/2026", "beneficiaries": []}"#, Some("as_of")),
        (r#"{"rule": "true", "explain": "yes", "beneficiaries": []}"#, Some("explain")),
    ] {
        let response = send(text).await.expect("send");
        assert_eq!(response.status(), 422, "{text}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(code(&body), "invalid_request", "{text}: {body}");
        if let Some(field) = field {
            assert_eq!(body["error"]["details"]["field"], field, "{text}");
        }
    }
    // A value of the wrong type is named in the message too, with its place.
    let response = send(r#"{"rule": "true", "explain": "yes", "beneficiaries": []}"#).await.expect("send");
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["error"]["message"],
        "invalid request at line 1, column 33, in `explain`: invalid type: string \"yes\", expected a boolean",
        "{body}"
    );
    // invalid rules: 422 with every diagnostic
    let (status, body) = h
        .evaluate(&json!({"rules": {"ok": "true", "typo": "dci.crvs.is_alve", "syntax": "poverty_score >"}, "beneficiaries": []}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(code(&body), "invalid_rule");
    let invalid = body["error"]["details"]["rules"].as_array().expect("rules");
    assert_eq!(invalid.len(), 2);
    // (json! sorts keys: the request lists "ok", "syntax", "typo")
    assert_eq!(invalid[0]["rule"], "syntax");
    assert_eq!(invalid[0]["diagnostics"][0]["code"], "syntax");
    assert!(invalid[0]["diagnostics"][0]["line"].is_u64() && invalid[0]["diagnostics"][0]["column"].is_u64());
    assert_eq!(invalid[1]["rule"], "typo");
    assert_eq!(invalid[1]["diagnostics"][0]["code"], "unknown_metric");
    // the default as-of date is today
    let (status, body) = h.evaluate(&json!({"rule": "true", "beneficiaries": [{"id": "A"}]})).await;
    assert_eq!(status, 200);
    assert_eq!(body["summary"]["as_of"], chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string());
    h.stop().await;
}
