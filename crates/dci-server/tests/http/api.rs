//! Every route, authentication, errors, request ids, Prometheus, and the
//! OpenAPI document against the served routes.

use std::collections::BTreeSet;

use dci_client::SecretSource;
use dci_eligibility::{Engine, EngineConfig};
use dci_server::access::{ApiKeyConfig, Scope};
use dci_server::{AppState, ServerConfig, ServerError};
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_open_and_everything_else_needs_a_key() {
    let h = start().await;
    let health = h.client.get(h.url("/healthz")).send().await.expect("send");
    assert_eq!(health.status(), 200);
    assert_eq!(health.json::<Value>().await.expect("json"), json!({"status": "ok"}));
    // Our public keys are public: none here, no request is signed.
    let keys = h.client.get(h.url("/.well-known/jwks.json")).send().await.expect("send");
    assert_eq!(keys.status(), 200);
    assert_eq!(keys.json::<Value>().await.expect("json"), json!({"keys": []}));

    for (method, path) in dci_server::routes() {
        if dci_server::open_paths().contains(&path) {
            continue;
        }
        let request = h.client.request(method.clone(), h.url(path));
        // no key
        let response = request.try_clone().expect("clone").send().await.expect("send");
        assert_eq!(response.status(), 401, "{method} {path} without a key");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body: Value = response.json().await.expect("json");
        assert_eq!(code(&body), "unauthorized");
        assert!(body["error"]["message"].as_str().expect("message").contains("Authorization: Bearer"));
        // wrong key, and a key of another scheme
        for header in ["Bearer not-the-key", "Basic dGVzdDp0ZXN0", &format!("Bearer {KEY}x")] {
            let response =
                request.try_clone().expect("clone").header("authorization", header).send().await.expect("send");
            assert_eq!(response.status(), 401, "{method} {path} with {header}");
            assert_eq!(code(&response.json().await.expect("json")), "unauthorized");
        }
    }
    h.stop().await;
}

#[tokio::test]
async fn without_keys_the_server_refuses_to_start_unless_told() {
    let engine = Engine::from_config(&EngineConfig::default()).expect("engine");
    let refused = AppState::new(engine.clone(), &ServerConfig::default());
    assert!(matches!(refused, Err(ServerError::NoApiKeys)), "{refused:?}");
    let unset_key = ApiKeyConfig::new(SecretSource::Env("DCI_SERVER_TEST_UNSET_KEY".into()), &[Scope::Evaluate]);
    let unset = ServerConfig { api_keys: vec![unset_key], ..Default::default() };
    assert!(matches!(AppState::new(engine.clone(), &unset), Err(ServerError::ApiKey(_))));
    let open = ServerConfig { allow_unauthenticated: true, ..Default::default() };
    assert!(AppState::new(engine, &open).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_servers_serve_without_a_key() {
    let h = start_with(
        Default::default(),
        |_| {},
        |c| {
            c.api_keys.clear();
            c.allow_unauthenticated = true;
        },
    )
    .await;
    let response = h.client.get(h.url("/v1/metrics")).send().await.expect("send");
    assert_eq!(response.status(), 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_lists_every_metric_with_its_ttl() {
    let h = start().await;
    let body: Value = h.get("/v1/metrics").send().await.expect("send").json().await.expect("json");
    let metrics = body["metrics"].as_array().expect("metrics");
    assert_eq!(metrics.len(), 11);
    let alive = metrics.iter().find(|m| m["name"] == "dci.crvs.is_alive").expect("is_alive");
    assert_eq!(alive["ttl_secs"], 86_400);
    assert_eq!(alive["type"], "bool");
    assert_eq!(alive["when_not_found"], "unknown");
    let enrolled = metrics.iter().find(|m| m["name"] == "dci.ibr.is_enrolled").expect("is_enrolled");
    assert_eq!((enrolled["ttl_secs"].as_u64(), enrolled["when_not_found"].as_bool()), (Some(3_600), Some(false)));
    // Each metric lists the code tables it reads through: a value outside them is unknown.
    let status = &enrolled["codes"][0];
    assert_eq!(status["field"], "enrollment_status");
    assert_eq!(status["codes"][0], json!({"written": ["1", "active", "enrolled"], "means": "Active: enrolled"}));
    assert_eq!(status["codes"].as_array().map(Vec::len), Some(7));
    let level = metrics.iter().find(|m| m["name"] == "dci.dr.disability_level").expect("disability_level");
    let fields: Vec<&str> =
        level["codes"].as_array().expect("codes").iter().filter_map(|t| t["field"].as_str()).collect();
    assert_eq!(fields, ["functional_severity", "impairment_level", "disability_status_level", "disability_status"]);
    assert_eq!(alive["codes"], json!([]), "dates, no code table");
    h.stop().await;
}

/// The answer of `POST /v1/rules/validate` to `body`.
async fn validated(h: &Harness, body: Value) -> Value {
    h.post("/v1/rules/validate").json(&body).send().await.expect("send").json().await.expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_reports_diagnostics_and_needs() {
    let h = start().await;
    let response = h
        .post("/v1/rules/validate")
        .json(&json!({"rules": {"poor": POOR, "typo": "dci.crvs.is_alve == true\n  and r.age > 3"}}))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["valid"], false);
    let poor = &body["rules"][0];
    assert_eq!((poor["name"].as_str(), poor["valid"].as_bool()), (Some("poor"), Some(true)));
    assert_eq!(poor["registries"]["registrant"], json!(["ibr"]));
    assert_eq!(poor["fields"], json!(["poverty_score"]));
    assert_eq!(poor["metrics"][0]["name"], "dci.ibr.program_count");
    let typo = &body["rules"][1];
    assert_eq!(typo["valid"], false);
    let diagnostic = &typo["diagnostics"][0];
    assert_eq!(diagnostic["code"], "unknown_metric");
    assert_eq!((diagnostic["line"].as_u64(), diagnostic["column"].as_u64()), (Some(1), Some(1)));
    assert!(diagnostic["help"].as_str().expect("help").contains("dci.crvs.is_alive"));
    assert!(diagnostic["snippet"].as_str().expect("snippet").contains('^'));

    let single = validated(&h, json!({"rule": "true"})).await;
    assert_eq!((single["valid"].as_bool(), single["rules"][0]["name"].as_str()), (Some(true), Some("rule")));

    let malformed = h
        .post("/v1/rules/validate")
        .header("content-type", "application/json")
        .body("{\"rule\": ")
        .send()
        .await
        .expect("send");
    assert_eq!(malformed.status(), 400);
    assert_eq!(code(&malformed.json().await.expect("json")), "malformed_json");
    let wrong = h.post("/v1/rules/validate").json(&json!({"rules": ["a"]})).send().await.expect("send");
    assert_eq!(wrong.status(), 422);
    assert_eq!(code(&wrong.json().await.expect("json")), "invalid_request");

    // With sample beneficiaries, their fields' types are checked as `elig check --data` does.
    let data = json!([{"id": "A", "birthdate": "1950-03-02", "poverty_score": 0.8}]);
    let typed =
        validated(&h, json!({"rules": {"age": "age >= 60", "date": "birthdate < date('1960-01-01')"}, "data": data}))
            .await;
    let (age, date) = (&typed["rules"][0], &typed["rules"][1]);
    assert_eq!((age["valid"].as_bool(), age["diagnostics"][0]["code"].as_str()), (Some(true), Some("unknown_field")));
    assert!(age["diagnostics"][0]["help"].as_str().unwrap_or_default().contains("age_years(r.birthdate)"));
    assert_eq!(
        (date["valid"].as_bool(), date["diagnostics"][0]["code"].as_str()),
        (Some(false), Some("type_mismatch"))
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_reports_every_registry() {
    let h = start().await;
    let response = h.get("/readyz").send().await.expect("send");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["ready"], true);
    let registries: Vec<&str> =
        body["registries"].as_array().expect("list").iter().filter_map(|r| r["registry"].as_str()).collect();
    assert_eq!(registries, ["crvs", "ibr", "dr"]);
    assert!(
        body["registries"].as_array().expect("list").iter().all(|r| r["ready"] == true && r["breaker"] == "closed")
    );
    // Who answers for each: the registry's address, and as whom it is asked.
    let crvs = &body["registries"][0];
    let expected = format!("{} as elig-demo", h.sim.base_url(dci_registry_sim::RegistryKind::Crvs));
    assert!(crvs["answered_by"].as_str().is_some_and(|by| by.starts_with(&expected)), "{crvs}");
    // And every evaluation's statistics say who answered.
    let (status, answer) = h
        .evaluate(&json!({"rule": "dci.crvs.is_alive == true", "as_of": "2026-01-01", "beneficiaries": [crate::common::household("HH-0001")]}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.to_string().contains(&expected), "{answer}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_json_with_stable_codes() {
    let h = start().await;
    // unknown route: 404 with a key; without one, 401 (no route is revealed to strangers)
    let response = h.get("/v2/nothing").send().await.expect("send");
    assert_eq!(response.status(), 404);
    assert_eq!(code(&response.json().await.expect("json")), "not_found");
    let response = h.client.get(h.url("/nothing")).send().await.expect("send");
    assert_eq!(response.status(), 401);
    assert_eq!(code(&response.json().await.expect("json")), "unauthorized");
    // wrong method
    let response = h.client.delete(h.url("/v1/evaluate")).bearer_auth(KEY).send().await.expect("send");
    assert_eq!(response.status(), 405);
    assert_eq!(code(&response.json().await.expect("json")), "method_not_allowed");
    // unsupported media type
    let response = h.post("/v1/evaluate").header("content-type", "text/csv").body("id\n1").send().await.expect("send");
    assert_eq!(response.status(), 415);
    assert_eq!(code(&response.json().await.expect("json")), "unsupported_media_type");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_echoed_or_made() {
    let h = start().await;
    let response = h.client.get(h.url("/healthz")).header("x-request-id", "openspp-42").send().await.expect("send");
    assert_eq!(response.headers()["x-request-id"], "openspp-42");
    let response = h.client.get(h.url("/nothing")).send().await.expect("send");
    let id = response.headers()["x-request-id"].to_str().expect("text").to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_counts_requests_decisions_registries_and_the_cache() {
    let h = start().await;
    let households = fixture();
    let body = json!({"rules": {"poor": POOR}, "as_of": AS_OF, "beneficiaries": households});
    assert_eq!(h.evaluate(&body).await.0, 200);
    assert_eq!(h.evaluate(&body).await.0, 200); // the second is answered by the cache
    let response = h.get("/metrics").send().await.expect("send");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().expect("type").starts_with("application/openmetrics-text"));
    let text = response.text().await.expect("text");
    for expected in [
        "elig_http_requests_total{method=\"POST\",route=\"/v1/evaluate\",status=\"200\"} 2",
        "elig_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/evaluate\",status=\"200\"} 2",
        "elig_decisions_total{outcome=\"eligible\"}",
        "elig_decisions_total{outcome=\"undetermined\"}",
        "elig_beneficiaries_total 70",
        "elig_registry_round_trips_total{registry=\"ibr\"}",
        "elig_registry_items_total{registry=\"ibr\"}",
        "elig_registry_breaker_open{registry=\"ibr\"} 0",
        "elig_cache_entries",
        "elig_cache_hits_total",
        "elig_cache_hit_ratio",
        "elig_evaluations_running{lane=\"interactive\"} 0",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let ratio: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("elig_cache_hit_ratio "))
        .and_then(|v| v.trim().parse().ok())
        .expect("ratio");
    assert!(ratio > 0.4, "the second batch hit the cache: {ratio}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_exactly_the_served_routes() {
    let h = start().await;
    let doc: Value = h.get("/openapi.json").send().await.expect("send").json().await.expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|k| ["get", "post", "put", "delete", "patch", "head", "options"].contains(&k.as_str()))
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> =
        dci_server::routes().into_iter().map(|(method, path)| (method.to_string(), path.to_owned())).collect();
    assert_eq!(documented, served);

    // and the live router agrees: every documented operation is routed, every other method is 405
    for (method, path) in &documented {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = h.client.request(method.clone(), h.url(path)).bearer_auth(KEY).send().await.expect("send");
        assert!(![404, 405].contains(&response.status().as_u16()), "{method} {path}: {}", response.status());
        for other in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            if documented.contains(&(other.to_owned(), path.clone())) {
                continue;
            }
            let other = reqwest::Method::from_bytes(other.as_bytes()).expect("method");
            let response = h.client.request(other.clone(), h.url(path)).bearer_auth(KEY).send().await.expect("send");
            assert_eq!(response.status(), 405, "{other} {path}");
        }
    }

    // bearer security everywhere but /healthz; error schema with the stable codes
    assert_eq!(doc["components"]["securitySchemes"]["api_key"]["scheme"], "bearer");
    assert_eq!(doc["paths"]["/healthz"]["get"]["security"], json!([{}]));
    assert_eq!(doc["paths"]["/v1/evaluate"]["post"]["security"], json!([{"api_key": []}]));
    let codes = doc["components"]["schemas"]["ErrorCode"].to_string();
    for code in ["malformed_json", "too_many_beneficiaries", "overloaded", "invalid_rule", "timeout"] {
        assert!(codes.contains(code), "{code} in {codes}");
    }
    let content = doc["paths"]["/v1/evaluate"]["post"]["requestBody"]["content"].as_object().expect("content");
    assert!(content.contains_key("application/json") && content.contains_key("application/x-ndjson"));
    h.stop().await;
}

#[test]
fn elig_toml_reads_with_a_server_section() {
    let config: dci_server::Config = toml::from_str(
        r#"
        [[registry]]
        registry = "crvs"
        base_url = "http://127.0.0.1:9/crvs"
        client_id = "elig"
        client_secret = { env = "CRVS_SECRET" }

        [server]
        bind = "0.0.0.0:9090"
        api_keys = [{ env = "ELIG_API_KEY", scopes = ["evaluate"] }, { value = "inline-key", scopes = ["admin"] }]
        cors_origins = ["https://openspp.example.org"]

        [server.limits]
        max_beneficiaries = 500
        "#,
    )
    .expect("config");
    assert_eq!(config.engine.registries.len(), 1);
    assert_eq!(config.server.bind.port(), 9090);
    assert_eq!(config.server.api_keys.len(), 2);
    assert_eq!(config.server.limits.max_beneficiaries, 500);
    assert_eq!(config.server.limits.max_members, 100);
    assert!(!format!("{config:?}").contains("inline-key"));
    let defaults: dci_server::Config = toml::from_str("").expect("empty");
    assert_eq!(defaults.server.bind.to_string(), "127.0.0.1:8080");
}
