//! The rule authors' routes: `/v1/diff`, `/v1/explain`, `/v1/rules/export-test`,
//! `/v1/samples` and the playground page, each answer checked against the
//! served OpenAPI document.

use serde_json::{Value, json};

use crate::common::*;
use crate::contract::{Contract, Side};

const OLDER: &str = "dci.crvs.is_alive == true and age_years(r.birthdate) >= 65";

/// Sends `body` to `path` (checked against its request schema) and checks the answer against
/// the documented response.
async fn post(h: &Harness, contract: &Contract, path: &str, body: &Value) -> (u16, Value) {
    contract.check(Side::Request, &contract.request_schema(path, "application/json"), body, path);
    answer(h, contract, path, body).await
}

/// Sends `body` to `path` (valid or not) and checks the answer against the documented response.
async fn answer(h: &Harness, contract: &Contract, path: &str, body: &Value) -> (u16, Value) {
    let response = h.post(path).json(body).send().await.expect("send");
    let status = response.status().as_u16();
    let answer: Value = response.json().await.expect("JSON");
    let schema = contract.response_schema("POST", path, status, "application/json");
    contract.check(Side::Response, &schema, &answer, &format!("POST {path} {status}"));
    (status, answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diff_counts_every_change_and_lists_the_changed_with_their_clauses() {
    let h = start().await;
    let contract = Contract::of(&h).await;
    let mut beneficiaries = fixture();
    beneficiaries.push(json!({"id": "BAD", "members": "none"}));
    let body = json!({"old": OLDER, "new": ELDERLY, "as_of": AS_OF, "beneficiaries": beneficiaries});
    let (status, diff) = answer(&h, &contract, "/v1/diff", &body).await;
    let mut valid = body.clone();
    valid["beneficiaries"].as_array_mut().expect("list").pop();
    contract.check(Side::Request, &contract.request_schema("/v1/diff", "application/json"), &valid, "the valid part");
    assert_eq!(status, 200, "{diff}");

    // The same as two evaluations, one rule each.
    let (_, older) = h.evaluate(&json!({"rule": OLDER, "as_of": AS_OF, "beneficiaries": fixture()})).await;
    let (_, elderly) = h.evaluate(&json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiaries": fixture()})).await;
    let outcome = |body: &Value, i: usize| {
        body["results"][i]["outcomes"]["rule"]["outcome"].as_str().unwrap_or_default().to_owned()
    };
    let mut gained = Vec::new();
    for i in 0..fixture().len() {
        let (before, after) = (outcome(&older, i), outcome(&elderly, i));
        if before != after {
            assert_eq!((before.as_str(), after.as_str()), ("ineligible", "eligible"), "only gains from 65 to 60");
            gained.push(i);
        }
    }
    assert!(!gained.is_empty());
    let counts = &diff["counts"];
    assert_eq!(counts["gained"], gained.len());
    assert_eq!(counts["unchanged"], fixture().len() - gained.len());
    assert_eq!((counts["lost"].as_u64(), counts["invalid"].as_u64()), (Some(0), Some(1)));
    let listed: Vec<usize> = diff["changed"]
        .as_array()
        .expect("changed")
        .iter()
        .map(|c| c["index"].as_u64().unwrap_or(0) as usize)
        .collect();
    assert_eq!(listed, gained);
    let first = &diff["changed"][0];
    assert_eq!(first["change"], "gained");
    assert_eq!(
        first["clauses"],
        json!([{"clause": "age_years(r.birthdate) >= 60", "was": "age_years(r.birthdate) >= 65", "old": false, "new": true}])
    );
    assert!(
        first["old"].get("clauses").is_none() && first["new"].get("clauses").is_none(),
        "clauses once, in `clauses`"
    );
    assert_eq!(diff["invalid"][0]["index"], fixture().len());
    assert_eq!(diff["invalid"][0]["error"]["code"], "invalid_beneficiary");
    // Both rules in one pass: the CRVS asked once for everyone, then HH-0031 by its BRN.
    let crvs = &diff["summary"]["registries"][0];
    let asked = (crvs["registry"].as_str(), crvs["round_trips"].as_u64(), crvs["other_identifiers"].as_u64());
    assert_eq!(asked, (Some("crvs"), Some(2), Some(1)), "{crvs}");
    assert_eq!(diff["summary"]["rules"][0]["rule"], "old");

    // Errors as /v1/evaluate answers them.
    let (status, invalid) =
        post(&h, &contract, "/v1/diff", &json!({"old": OLDER, "new": "dci.crvs.is_alve == true", "beneficiaries": []}))
            .await;
    assert_eq!((status, code(&invalid)), (422, "invalid_rule"));
    assert_eq!(invalid["error"]["details"]["rules"][0]["rule"], "new");
    let response = h.post("/v1/diff").json(&json!({"old": "true", "beneficiaries": []})).send().await.expect("send");
    assert_eq!(response.status(), 422, "`new` is required");
    let unauthorised = h.client.post(h.url("/v1/diff")).json(&body).send().await.expect("send");
    assert_eq!(unauthorised.status(), 401);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explanation_names_each_metrics_value_and_source() {
    let h = start().await;
    let contract = Contract::of(&h).await;
    let body = json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiary": household("HH-0003")});
    let (status, explained) = post(&h, &contract, "/v1/explain", &body).await;
    assert_eq!(status, 200, "{explained}");
    assert_eq!(explained["decision"]["outcome"], "undetermined");
    assert_eq!(explained["decision"]["clauses"][0]["clause"], "dci.crvs.is_alive == true");
    let metric = &explained["metrics"][0];
    assert_eq!(
        (metric["metric"].as_str(), metric["found"].as_bool()),
        (Some("dci.crvs.is_alive"), Some(false)),
        "{metric}"
    );
    assert_eq!(metric["cause"], "not_found");

    let bad = json!({"rule": ELDERLY, "beneficiary": {"id": "X", "members": [{"identifiers": 5}]}});
    let (status, refused) = answer(&h, &contract, "/v1/explain", &bad).await;
    assert_eq!((status, code(&refused)), (422, "invalid_request"));
    assert_eq!(refused["error"]["details"]["field"], "beneficiary.members[0].identifiers", "{refused}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_test_file_expects_the_outcomes_as_they_are() {
    let h = start().await;
    let contract = Contract::of(&h).await;
    let chosen: Vec<Value> = ["HH-0001", "HH-0002", "HH-0003"].into_iter().map(household).collect();
    let body = json!({"rule": ELDERLY, "as_of": AS_OF, "name": "elderly, today", "beneficiaries": chosen});
    let (status, exported) = post(&h, &contract, "/v1/rules/export-test", &body).await;
    assert_eq!(status, 200, "{exported}");
    assert_eq!(exported["cases"], 3);
    let file: Value = serde_norway::from_str(exported["yaml"].as_str().expect("yaml")).expect("YAML");
    assert_eq!(file["name"], "elderly, today");
    assert_eq!(file["as_of"], AS_OF);
    let expected: Vec<&str> =
        file["cases"].as_array().expect("cases").iter().map(|c| c["expect"].as_str().unwrap_or_default()).collect();
    assert_eq!(expected, ["eligible", "ineligible", "undetermined"]);
    assert_eq!(file["registries"]["crvs"]["UIN:800030000"], "not_found", "{file:#}");
    assert!(file["cases"][2]["missing"][0]["cause"] == "not_found");

    let too_many =
        json!({"rule": ELDERLY, "beneficiaries": vec![household("HH-0001"); dci_server::MAX_EXPORT_CASES + 1]});
    let response = h.post("/v1/rules/export-test").json(&too_many).send().await.expect("send");
    assert_eq!(response.status(), 413);
    let none = json!({"rule": ELDERLY, "beneficiaries": []});
    let response = h.post("/v1/rules/export-test").json(&none).send().await.expect("send");
    assert_eq!(response.status(), 422);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_is_served_without_a_key_under_a_strict_policy() {
    let h = start().await;
    let home = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    for path in ["/", "/playground/"] {
        let redirect = home.get(h.url(path)).send().await.expect("send");
        assert_eq!(
            (redirect.status().as_u16(), redirect.headers()["location"].to_str().ok()),
            (303, Some("/playground"))
        );
    }
    for (path, media) in
        [("/playground", "text/html"), ("/playground/app.js", "text/javascript"), ("/playground/app.css", "text/css")]
    {
        let response = h.client.get(h.url(path)).send().await.expect("send");
        assert_eq!(response.status(), 200, "{path} needs no key");
        let headers = response.headers();
        assert!(headers["content-type"].to_str().unwrap_or_default().starts_with(media), "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap_or_default();
        assert!(policy.contains("default-src 'self'") && policy.contains("script-src 'self'"), "{policy}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
    let page = h.client.get(h.url("/playground")).send().await.expect("send").text().await.expect("text");
    assert!(page.contains("/playground/app.js") && !page.contains("<script>"), "no inline script");

    let contract = Contract::of(&h).await;
    let samples: Value = h.get("/v1/samples").send().await.expect("send").json().await.expect("JSON");
    contract.check(
        Side::Response,
        &contract.response_schema("GET", "/v1/samples", 200, "application/json"),
        &samples,
        "samples",
    );
    assert_eq!(samples["beneficiaries"].as_array().map(Vec::len), Some(fixture().len()));
    let catalog: Value = h.get("/v1/metrics").send().await.expect("send").json().await.expect("JSON");
    let names = |field: &str| catalog[field].as_array().cloned().unwrap_or_default();
    assert!(
        names("functions").contains(&json!("age_years")) && names("methods").contains(&json!("exists")),
        "{catalog}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_diff_is_refused_as_an_evaluation_is() {
    let h = start().await;
    let contract = Contract::of(&h).await;
    let bodies = [
        ("/v1/diff", json!({"old": OLDER, "new": ELDERLY, "beneficiaries": []})),
        ("/v1/explain", json!({"rule": OLDER, "beneficiary": household("HH-0001")})),
        ("/v1/rules/export-test", json!({"rule": OLDER, "beneficiaries": [household("HH-0001")]})),
    ];
    let cases = [(None, 415), (Some("text/plain"), 415), (Some("application/x-ndjson"), 415)];
    for ((path, body), (content_type, expected)) in bodies.iter().flat_map(|b| cases.iter().map(move |c| (b, c))) {
        let mut request = h.post(path).body(body.to_string());
        if let Some(content_type) = content_type {
            request = request.header("content-type", *content_type);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        let answer: Value = response.json().await.expect("JSON");
        assert_eq!((status, code(&answer)), (*expected, "unsupported_media_type"), "{path} {content_type:?}");
        assert!(answer["error"]["message"].as_str().unwrap_or_default().contains("application/json"), "{answer}");
        let schema = contract.response_schema("POST", path, status, "application/json");
        contract.check(Side::Response, &schema, &answer, "415");
    }
    let limit = contract.limit("DiffRequest", "/properties/beneficiaries/maxItems");
    let many = json!({"old": OLDER, "new": ELDERLY, "beneficiaries": vec![json!({"id": "A"}); limit + 1]});
    let (status, refused) = answer(&h, &contract, "/v1/diff", &many).await;
    assert_eq!((status, code(&refused)), (413, "too_many_beneficiaries"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explanations_past_the_bound_of_a_response_are_refused_up_front() {
    // ELDERLY's explanation is estimated at 761 bytes a beneficiary (64 for the decision, and per
    // clause its text as JSON, 64, and 256 for its value) and its two clauses' words: 20
    // beneficiaries fit, 21 do not.
    let each = 761 + 2 * dci_eligibility::CLAUSE_WORDS_BYTES;
    let h = start_with(Default::default(), |_| {}, move |c| c.limits.max_explanation_bytes = 20 * each).await;
    let contract = Contract::of(&h).await;
    let people = |n: usize| fixture().into_iter().take(n).collect::<Vec<_>>();
    let (status, _) = h.evaluate(&json!({"rule": ELDERLY, "explain": true, "beneficiaries": people(20)})).await;
    assert_eq!(status, 200);
    let (status, refused) = h.evaluate(&json!({"rule": ELDERLY, "explain": true, "beneficiaries": people(21)})).await;
    assert_eq!((status, code(&refused)), (413, "too_many_beneficiaries"), "{refused}");
    assert_eq!(refused["error"]["details"], json!({"limit": 20, "received": 21}));
    assert!(refused["error"]["message"].as_str().unwrap_or_default().contains("max_explanation_bytes"), "{refused}");
    let (status, _) = h.evaluate(&json!({"rule": ELDERLY, "beneficiaries": people(21)})).await;
    assert_eq!(status, 200, "without explanations the bound does not apply");
    // A diff explains both rules (OLDER's estimate is the same).
    let (status, refused) =
        answer(&h, &contract, "/v1/diff", &json!({"old": OLDER, "new": ELDERLY, "beneficiaries": people(11)})).await;
    assert_eq!((status, code(&refused)), (413, "too_many_beneficiaries"), "{refused}");
    let (status, _) =
        answer(&h, &contract, "/v1/diff", &json!({"old": OLDER, "new": ELDERLY, "beneficiaries": people(10)})).await;
    assert_eq!(status, 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_clauses_count_by_their_length_so_a_diff_cannot_amplify_a_small_request() {
    let h = start().await;
    // Two clauses of 4,900 control characters each (six bytes each once escaped) per rule: a
    // 60 KB explanation per beneficiary, so 10,000 small beneficiaries would be a 600 MB response.
    let long = "\u{1}".repeat(4_900);
    let old = format!("r.k != \"{long}a\" && r.k != \"{long}b\"");
    let new = format!("r.k == \"{long}c\" || r.k == \"{long}d\"");
    let people: Vec<Value> = (0..10_000).map(|i| json!({"id": i.to_string(), "k": "x"})).collect();
    let response =
        h.post("/v1/diff").json(&json!({"old": old, "new": new, "beneficiaries": people})).send().await.expect("send");
    assert_eq!(response.status(), 413);
    let refused: Value = response.json().await.expect("JSON");
    assert_eq!(code(&refused), "too_many_beneficiaries");
    let most = refused["error"]["details"]["limit"].as_u64().expect("limit");
    assert!((500..2_000).contains(&most), "{refused}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_objects_and_dates_are_written_as_documented() {
    let h = start().await;
    // serde would read a struct written as the list of its fields; no caller means that.
    for (path, body) in [
        ("/v1/evaluate", json!(["true", null, null, null, []])),
        ("/v1/rules/validate", json!([null, "true"])),
        ("/v1/explain", json!(["true", null, {"id": "A"}])),
        ("/v1/diff", json!(["true", "false", null, []])),
        ("/v1/rules/export-test", json!(["true", null, null, [{"id": "A"}]])),
        ("/v1/evaluate", json!([])),
        ("/v1/evaluate", json!([1])),
        ("/v1/evaluate", json!(5)),
        ("/v1/explain", json!("x")),
        ("/v1/diff", json!(null)),
        ("/v1/rules/validate", json!(true)),
    ] {
        let response = h.post(path).json(&body).send().await.expect("send");
        let status = response.status().as_u16();
        let refused: Value = response.json().await.expect("JSON");
        assert_eq!((status, code(&refused)), (422, "invalid_request"), "{path}: {refused}");
        assert_eq!(
            refused["error"]["message"], "the request must be a JSON object: {\"field\": value, ...}",
            "{path} {body}: one message whatever serde would have said"
        );
    }
    let ndjson = h
        .post("/v1/evaluate")
        .header("content-type", "application/x-ndjson")
        .body("[\"true\"]\n{\"id\": \"A\"}\n")
        .send()
        .await
        .expect("send");
    assert_eq!(ndjson.status(), 422, "the options line is an object too");

    for as_of in ["2026-1-1", "+12026-01-01", " 2026-01-01", "2026-01-01T00:00:00Z", "2026-02-30"] {
        let (status, refused) = h.evaluate(&json!({"rule": "true", "as_of": as_of, "beneficiaries": []})).await;
        assert_eq!((status, code(&refused)), (422, "invalid_request"), "{as_of:?}: {refused}");
        assert_eq!(refused["error"]["details"]["field"], "as_of");
    }
    let (status, _) = h.evaluate(&json!({"rule": "true", "as_of": "0001-01-01", "beneficiaries": []})).await;
    assert_eq!(status, 200);
    h.stop().await;
}
