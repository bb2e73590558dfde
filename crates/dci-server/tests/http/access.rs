//! Access that fits the roles: each key's scopes admit their routes only; an
//! evaluate-only key sees no registry value; a key's distinct lookups per hour
//! are bounded; every request that reads registry facts leaves one audit
//! record, naming no one in clear.

use dci_client::SecretSource;
use dci_registry_sim::SimConfig;
use dci_server::access::{ApiKeyConfig, Scope};
use dci_server::audit::AuditConfig;
use serde_json::{Value, json};

use crate::common::*;

const SERVICE: &str = "service-key-0123456789";
const OFFICER: &str = "officer-key-0123456789";
const ADMIN: &str = "admin-key-0123456789";
const AUDIT_SECRET: &str = "an audit secret of some length";

fn key(value: &str, name: &str, scopes: &[Scope]) -> ApiKeyConfig {
    ApiKeyConfig::new(SecretSource::Value(value.into()), scopes).named(name)
}

/// A server with a service key, an officer key bounded to `officer_bound` identifiers per
/// hour, an admin key, and its audit in `audit` (a file).
async fn roles(officer_bound: u64, audit: Option<std::path::PathBuf>) -> Harness {
    roles_sharing(officer_bound, audit, None).await
}

/// [`roles`], with the facts (and the lookup counts) shared through `redis`.
async fn roles_sharing(
    officer_bound: u64,
    audit: Option<std::path::PathBuf>,
    redis: Option<dci_metrics::RedisConfig>,
) -> Harness {
    start_with(
        SimConfig::default(),
        move |engine| engine.cache.redis = redis,
        move |config| {
            let officer = ApiKeyConfig {
                max_identifiers_per_hour: Some(officer_bound),
                ..key(OFFICER, "officer", &[Scope::Evaluate, Scope::Explain, Scope::Export])
            };
            config.api_keys =
                vec![key(SERVICE, "openspp", &[Scope::Evaluate]), officer, key(ADMIN, "ops", &[Scope::Admin])];
            config.audit = audit.map(|file| AuditConfig {
                file: Some(file),
                max_file_bytes: 1 << 20,
                keep_files: 2,
                secret: SecretSource::Value(AUDIT_SECRET.into()),
            });
        },
    )
    .await
}

async fn call(h: &Harness, key: &str, method: &axum::http::Method, path: &str, body: &Value) -> (u16, Value) {
    let request = if *method == axum::http::Method::POST {
        h.client.post(h.url(path)).json(body)
    } else {
        h.client.get(h.url(path))
    };
    let response = request.bearer_auth(key).send().await.expect("send");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// `POST /v1/evaluate` as NDJSON: the `options` line, then the fixture household `id`.
async fn stream(h: &Harness, key: &str, options: Value, id: &str) -> reqwest::Response {
    let body = format!("{options}\n{}\n", household(id));
    let request = h.client.post(h.url("/v1/evaluate")).bearer_auth(key).header("content-type", "application/x-ndjson");
    request.body(body).send().await.expect("send")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scope_admits_its_routes_and_is_refused_the_others() {
    let h = roles(0, None).await;
    let keys = [
        (SERVICE, vec![Scope::Evaluate]),
        (OFFICER, vec![Scope::Evaluate, Scope::Explain, Scope::Export]),
        (ADMIN, vec![Scope::Admin]),
    ];
    let body = json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiaries": [household("HH-0001")],
                      "beneficiary": household("HH-0001"), "old": ELDERLY, "new": ELDERLY});
    for (method, path, scope) in dci_server::route_scopes() {
        if dci_server::open_paths().contains(&path) {
            continue;
        }
        for (key, scopes) in &keys {
            let (status, answer) = call(&h, key, &method, path, &body).await;
            let allowed = scope.is_none_or(|scope| scopes.contains(&scope));
            if allowed {
                assert!(status != 403 && status != 401, "{method} {path} with {scopes:?}: {status} {answer}");
            } else {
                let scope = scope.map(Scope::as_str).unwrap_or_default();
                assert_eq!((status, code(&answer)), (403, "forbidden"), "{method} {path} with {scopes:?}: {answer}");
                assert_eq!(answer["error"]["details"]["scope"], scope, "{answer}");
                let message = answer["error"]["message"].as_str().unwrap_or_default();
                assert!(message.contains(&format!("`{scope}` scope")) && !message.contains(key), "{message}");
            }
        }
    }
    // Readiness is open to probes, its details to `admin` keys only.
    let brief = h.client.get(h.url("/readyz")).send().await.expect("send");
    assert_eq!(brief.status().as_u16(), 200);
    assert_eq!(brief.json::<Value>().await.expect("JSON"), json!({"ready": true}));
    assert_eq!(call(&h, SERVICE, &axum::http::Method::GET, "/readyz", &Value::Null).await.1, json!({"ready": true}));
    let (_, full) = call(&h, ADMIN, &axum::http::Method::GET, "/readyz", &Value::Null).await;
    assert!(full["registries"].as_array().is_some_and(|r| r.len() == 3), "{full}");
    // What a key may do, for the playground.
    let (_, access) = call(&h, OFFICER, &axum::http::Method::GET, "/v1/access", &Value::Null).await;
    assert_eq!(
        access,
        json!({"key": "officer", "scopes": ["evaluate", "explain", "export"], "max_identifiers_per_hour": 0})
    );
    h.stop().await;
}

/// An evaluate-only key gets outcomes and the causes of what is missing, never a
/// registry value: no clause values, reasons, values used or metric values, in JSON or NDJSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evaluate_only_key_sees_no_registry_value() {
    let h = roles(0, None).await;
    let people: Vec<Value> = ["HH-0002", "HH-0003", "HH-0007"].into_iter().map(household).collect();
    let rules =
        json!({"elderly": ELDERLY, "disabled": "dci.dr.has_disability == true and dci.dr.disability_level >= 3"});
    let post = json!({"rules": rules, "as_of": AS_OF, "beneficiaries": people});
    let (status, answer) = call(&h, SERVICE, &axum::http::Method::POST, "/v1/evaluate", &post).await;
    assert_eq!(status, 200, "{answer}");
    let text = answer.to_string();
    for field in ["\"clauses\"", "\"reason\"", "\"used\"", "\"says\"", "\"metrics\"", "\"value\""] {
        assert!(!text.contains(field), "{field} in {text}");
    }
    assert!(text.contains("\"missing\"") && text.contains("not_found"), "the causes are given: {text}");
    // HH-0002's death date and HH-0007's disability level are registry values.
    assert!(!text.contains("death") && !text.contains("disability level"), "{text}");
    // An error can quote the value it failed on: its message is withheld (HH-0007's disability
    // type is VISION in the registry); a key with `explain` reads it.
    let probing = json!({"rule": "date(dci.dr.disability_types[0]) == date(\"2026-01-01\")", "as_of": AS_OF,
                         "beneficiaries": [household("HH-0007")]});
    let (_, answer) = call(&h, SERVICE, &axum::http::Method::POST, "/v1/evaluate", &probing).await;
    let decision = &answer["results"][0]["outcomes"]["rule"];
    assert_eq!(
        (decision["outcome"].as_str(), decision["error"].as_str()),
        (Some("error"), Some(dci_eligibility::WITHHELD_ERROR)),
        "{answer}"
    );
    assert!(!answer.to_string().contains("VISION"), "{answer}");
    let (_, answer) = call(&h, OFFICER, &axum::http::Method::POST, "/v1/evaluate", &probing).await;
    assert!(answer.to_string().contains("VISION"), "the officer sees why: {answer}");
    let explained = json!({"rule": ELDERLY, "as_of": AS_OF, "explain": true, "beneficiaries": [household("HH-0002")]});
    let (status, answer) = call(&h, SERVICE, &axum::http::Method::POST, "/v1/evaluate", &explained).await;
    assert_eq!((status, code(&answer)), (403, "forbidden"), "{answer}");
    let response = stream(&h, SERVICE, json!({"rule": ELDERLY, "as_of": AS_OF, "explain": true}), "HH-0002").await;
    assert_eq!(response.status().as_u16(), 403);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_past_its_distinct_lookups_per_hour_gets_429() {
    let h = roles(3, None).await;
    let explain = |id: &str| json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiary": household(id)});
    for id in ["HH-0001", "HH-0002", "HH-0003", "HH-0001"] {
        let (status, answer) = call(&h, OFFICER, &axum::http::Method::POST, "/v1/explain", &explain(id)).await;
        assert_eq!(status, 200, "{id} (the same person again costs nothing): {answer}");
    }
    let response =
        h.client.post(h.url("/v1/explain")).bearer_auth(OFFICER).json(&explain("HH-0004")).send().await.expect("send");
    assert_eq!(response.status().as_u16(), 429);
    let retry: u64 = response.headers()["retry-after"].to_str().expect("text").parse().expect("seconds");
    assert!((1..=3600).contains(&retry), "{retry}");
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!((code(&answer), &answer["error"]["details"]["limit"]), ("too_many_lookups", &json!(3)), "{answer}");
    // A request past the bound by itself cannot succeed later: 422, not 429.
    let many = json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiaries": fixture()});
    let (status, answer) = call(&h, OFFICER, &axum::http::Method::POST, "/v1/evaluate", &many).await;
    assert_eq!((status, code(&answer)), (422, "too_many_lookups"), "{answer}");
    // A rule reading no registry looks no one up; the service key has no bound.
    let local = json!({"rule": "age_years(r.birthdate) >= 60", "as_of": AS_OF, "beneficiary": household("HH-0009")});
    assert_eq!(call(&h, OFFICER, &axum::http::Method::POST, "/v1/explain", &local).await.0, 200);
    let many = json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiaries": fixture()});
    assert_eq!(call(&h, SERVICE, &axum::http::Method::POST, "/v1/evaluate", &many).await.0, 200);
    let (_, metrics) = call(&h, ADMIN, &axum::http::Method::GET, "/metrics", &Value::Null).await;
    let metrics = metrics.as_str().unwrap_or_default().to_owned();
    assert!(metrics.contains("elig_lookups_refused_total{key=\"officer\"} 2"), "{metrics}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fact_reading_route_is_audited_without_identifiers_in_clear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("audit.ndjson");
    let h = roles(0, Some(file.clone())).await;
    let people = json!([household("HH-0002"), household("HH-0003")]);
    let requests = [
        ("/v1/evaluate", json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiaries": people})),
        ("/v1/explain", json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiary": household("HH-0002")})),
        // Two rules reading the CRVS, and one the IBR: each registry counted once per person.
        (
            "/v1/diff",
            json!({"old": ELDERLY, "new": format!("{POOR} && {ELDERLY}"), "as_of": AS_OF, "beneficiaries": people}),
        ),
        ("/v1/rules/export-test", json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiaries": people})),
        // Reads no registry: no record.
        ("/v1/evaluate", json!({"rule": "age_years(r.birthdate) >= 60", "as_of": AS_OF, "beneficiaries": people})),
    ];
    for (path, body) in &requests {
        let (status, answer) = call(&h, OFFICER, &axum::http::Method::POST, path, body).await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
    let response = stream(&h, SERVICE, json!({"rule": ELDERLY, "as_of": AS_OF}), "HH-0005").await;
    assert!(response.text().await.expect("body").contains("summary"));
    let text = std::fs::read_to_string(&file).expect("the audit file");
    let records: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).expect("a JSON record")).collect();
    let routes: Vec<&str> = records.iter().map(|r| r["route"].as_str().unwrap_or_default()).collect();
    assert_eq!(
        routes,
        ["POST /v1/evaluate", "POST /v1/explain", "POST /v1/diff", "POST /v1/rules/export-test", "POST /v1/evaluate"]
    );
    assert_eq!(records[0]["key"], "officer");
    assert_eq!(records[4]["key"], "openspp");
    assert_eq!(records[0]["as_of"], AS_OF);
    assert_eq!(records[0]["beneficiaries"], 2);
    assert_eq!(records[0]["identifiers"].as_array().map(Vec::len), Some(2), "{}", records[0]);
    assert_eq!(records[0]["registries"], json!({"crvs": {"persons": 2}}), "{}", records[0]);
    assert_eq!(records[2]["registries"], json!({"crvs": {"persons": 2}, "ibr": {"persons": 2}}), "{}", records[2]);
    assert_eq!(records[0]["rules_sha256"].as_array().map(Vec::len), Some(1));
    for person in ["800020000", "800030000", "800050000", "HH-0002"] {
        assert!(!text.contains(person), "{person} in clear in the audit log");
    }
    // The auditor, holding the secret, finds who was looked up, and only them.
    let secret = dci_client::Secret::new(AUDIT_SECRET);
    let found = dci_server::audit::find(&file, &secret, "UIN", "800020000").expect("reads");
    assert_eq!(found.len(), 4, "HH-0002 in every request but the stream");
    assert_eq!(dci_server::audit::find(&file, &secret, "uin", "800050000").expect("reads").len(), 1);
    assert!(dci_server::audit::find(&file, &secret, "UIN", "800010000").expect("reads").is_empty());
    h.stop().await;
}

/// A record that cannot be written withholds the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_that_cannot_be_written_withholds_the_answer() {
    let full = std::path::PathBuf::from("/dev/full");
    if !full.exists() {
        return;
    }
    let h = roles(0, Some(full)).await;
    let body = json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiary": household("HH-0002")});
    let (status, answer) = call(&h, OFFICER, &axum::http::Method::POST, "/v1/explain", &body).await;
    assert_eq!((status, code(&answer)), (503, "audit_unavailable"), "{answer}");
    assert!(answer.get("decision").is_none());
    let local = json!({"rule": "age_years(r.birthdate) >= 60", "as_of": AS_OF, "beneficiary": household("HH-0002")});
    assert_eq!(call(&h, OFFICER, &axum::http::Method::POST, "/v1/explain", &local).await.0, 200, "reads no registry");
    h.stop().await;
}

#[tokio::test]
async fn a_key_without_scopes_is_refused_at_start_with_how_to_write_them() {
    let engine = dci_eligibility::Engine::from_config(&Default::default()).expect("engine");
    let bare = ApiKeyConfig { scopes: None, ..key(SERVICE, "openspp", &[]) };
    let config = dci_server::ServerConfig { api_keys: vec![bare], ..Default::default() };
    let error = dci_server::AppState::new(engine.clone(), &config).expect_err("refused").to_string();
    assert!(error.contains("server.api_keys[1] has no scopes") && error.contains("scopes = [\"evaluate\"]"), "{error}");
    assert!(!error.contains(SERVICE), "{error}");
    let twins = vec![key(SERVICE, "same", &[Scope::Evaluate]), key(OFFICER, "same", &[Scope::Explain])];
    let config = dci_server::ServerConfig { api_keys: twins, ..Default::default() };
    let error = dci_server::AppState::new(engine, &config).expect_err("refused").to_string();
    assert!(error.contains("two keys are named `same`"), "{error}");
}

/// Behind a balancer, a key's bound is one for all replicas: counted in the shared tier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lookup_bound_holds_across_replicas_sharing_redis() {
    let Some(redis) = test_services::RedisServer::start() else { return };
    let tier = crate::shared::shared(&redis);
    let (a, b) = (roles_sharing(3, None, Some(tier.clone())).await, roles_sharing(3, None, Some(tier)).await);
    let explain = |id: &str| json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiary": household(id)});
    for (replica, id) in [(&a, "HH-0001"), (&b, "HH-0002"), (&a, "HH-0003"), (&b, "HH-0001")] {
        let (status, answer) = call(replica, OFFICER, &axum::http::Method::POST, "/v1/explain", &explain(id)).await;
        assert_eq!(status, 200, "{id}: {answer}");
    }
    let (status, answer) = call(&b, OFFICER, &axum::http::Method::POST, "/v1/explain", &explain("HH-0004")).await;
    assert_eq!((status, code(&answer)), (429, "too_many_lookups"), "the fourth person, on the other replica: {answer}");
    let (status, _) = call(&a, OFFICER, &axum::http::Method::POST, "/v1/explain", &explain("HH-0004")).await;
    assert_eq!(status, 429, "and on the first");
    // Redis holds the count, never an identifier.
    let mut connection =
        redis::Client::open(redis.url()).expect("client").get_multiplexed_async_connection().await.expect("connects");
    let keys: Vec<String> = redis::cmd("KEYS").arg("*lookups:*").query_async(&mut connection).await.expect("keys");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let members: Vec<String> =
        redis::cmd("SMEMBERS").arg(&keys[0]).query_async(&mut connection).await.expect("members");
    assert_eq!(members.len(), 3);
    assert!(members.iter().all(|m| !m.contains("8000")) && !keys[0].contains("officer"), "{keys:?} {members:?}");
    a.stop().await;
    b.stop().await;
}
