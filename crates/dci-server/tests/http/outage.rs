//! Registry outages: decisions that depend on a registry that is down or
//! hanging are undetermined with the cause, never ineligible; /readyz says so.

use dci_client::{RetryPolicy, Timeouts};
use dci_registry_sim::{FaultConfig, RegistryKind, SimConfig};
use serde_json::{Value, json};

use crate::common::*;

fn quick(source: &mut dci_client::DataSource) {
    source.timeouts = Timeouts { connect_ms: 300, request_ms: 400, call_deadline_ms: 1_000 };
    source.retry = RetryPolicy { max_attempts: 1, ..RetryPolicy::default() };
}

fn by_id<'a>(body: &'a Value, id: &str) -> &'a Value {
    body["results"].as_array().expect("results").iter().find(|r| r["id"] == id).expect("result")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_is_down_makes_its_decisions_undetermined() {
    // A port nobody listens on: a freed ephemeral port could be taken by another test's server.
    let dead = "127.0.0.1:1";
    let h = start_with(
        SimConfig::default(),
        |engine| {
            for source in &mut engine.registries {
                quick(source);
                if source.registry == dci_client::RegistryType::Crvs {
                    source.base_url = format!("http://{dead}/crvs");
                }
            }
        },
        |_| {},
    )
    .await;
    let (status, body) = h
        .evaluate(&json!({"rules": {"elderly": ELDERLY, "poor": POOR}, "as_of": AS_OF, "beneficiaries": fixture()}))
        .await;
    assert_eq!(status, 200, "{body}");
    // eligible with a working CRVS: now undetermined, with the cause
    let first = &by_id(&body, "HH-0001")["outcomes"];
    assert_eq!(first["elderly"]["outcome"], "undetermined");
    assert_eq!(first["elderly"]["missing"][0]["name"], "dci.crvs.is_alive");
    assert_eq!(first["elderly"]["missing"][0]["cause"], "registry_error");
    // decided without the CRVS: unchanged (under 60)
    assert_eq!(by_id(&body, "HH-0004")["outcomes"]["elderly"]["outcome"], "ineligible");
    // the other registries still serve
    assert_eq!(first["poor"]["outcome"], "eligible");
    // nobody whose decision needed the CRVS is ineligible
    for result in body["results"].as_array().expect("results") {
        let elderly = &result["outcomes"]["elderly"];
        if elderly["outcome"] == "ineligible" {
            let household = household(result["id"].as_str().expect("id"));
            let born: chrono::NaiveDate = household["birthdate"].as_str().expect("birthdate").parse().expect("date");
            assert!(born > chrono::NaiveDate::from_ymd_opt(1966, 1, 1).expect("date"), "{result}");
        }
    }
    let crvs =
        body["summary"]["registries"].as_array().expect("registries").iter().find(|r| r["registry"] == "crvs").cloned();
    assert!(crvs.expect("crvs")["failures"]["registry_error"].as_u64().expect("failures") > 0);

    let response = h.get("/readyz").send().await.expect("send");
    assert_eq!(response.status(), 503);
    let ready: Value = response.json().await.expect("json");
    assert_eq!(ready["ready"], false);
    let registries = ready["registries"].as_array().expect("registries");
    assert_eq!(registries[0]["registry"], "crvs");
    assert_eq!(registries[0]["ready"], false);
    assert!(registries[0]["problem"].is_string());
    assert!(registries[1]["ready"] == true && registries[2]["ready"] == true);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_registry_times_out_and_opens_its_breaker() {
    let hang = FaultConfig { hang_rate: 1.0, hang_secs: 5, ..FaultConfig::default() };
    let h = start_with(
        SimConfig::default().with_faults(RegistryKind::Ibr, hang),
        |engine| {
            engine.registries.iter_mut().for_each(quick);
            engine.cache.breaker.failure_threshold = 1;
        },
        |_| {},
    )
    .await;
    let (status, body) = h.evaluate(&json!({"rule": POOR, "as_of": AS_OF, "beneficiaries": fixture()})).await;
    assert_eq!(status, 200, "{body}");
    let first = &by_id(&body, "HH-0001")["outcomes"]["rule"];
    assert_eq!(first["outcome"], "undetermined", "{first}");
    assert_eq!(first["missing"], json!([{"name": "dci.ibr.program_count", "cause": "timeout"}]));
    // poverty_score 0.65 < 0.7: ineligible without asking the IBR
    assert_eq!(by_id(&body, "HH-0005")["outcomes"]["rule"]["outcome"], "ineligible");
    assert_eq!(body["summary"]["rules"][0]["eligible"], 0);

    let response = h.get("/readyz").send().await.expect("send");
    assert_eq!(response.status(), 503);
    let ready: Value = response.json().await.expect("json");
    let ibr = ready["registries"]
        .as_array()
        .expect("registries")
        .iter()
        .find(|r| r["registry"] == "ibr")
        .cloned()
        .expect("ibr");
    assert_eq!((ibr["ready"].as_bool(), ibr["breaker"].as_str()), (Some(false), Some("open")));
    let text = h.get("/metrics").send().await.expect("send").text().await.expect("text");
    assert!(text.contains("elig_registry_breaker_open{registry=\"ibr\"} 1"), "{text}");
    assert!(text.contains("elig_registry_failures_total{registry=\"ibr\",cause=\"timeout\"}"), "{text}");
    h.stop().await;
}

/// A registry that issues tokens but answers every search 403 is not ready,
/// in its own words, before any evaluation has asked it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_that_forbids_searching_is_not_ready_in_its_own_words() {
    let faults = FaultConfig { misbehaviour: Some(forbidden()), ..FaultConfig::default() };
    let h = start_with(
        SimConfig::default().with_faults(RegistryKind::Dr, faults),
        |engine| engine.registries.iter_mut().for_each(quick),
        |_| {},
    )
    .await;
    let response = h.get("/readyz").send().await.expect("send");
    assert_eq!(response.status(), 503);
    let ready: Value = response.json().await.expect("json");
    let dr = ready["registries"].as_array().expect("registries").iter().find(|r| r["registry"] == "dr").expect("dr");
    assert_eq!(dr["ready"], false, "{ready}");
    let problem = dr["problem"].as_str().expect("problem");
    assert!(problem.contains("not permitted to search") && problem.contains("may not search"), "{problem}");
    let crvs =
        ready["registries"].as_array().expect("registries").iter().find(|r| r["registry"] == "crvs").expect("crvs");
    assert_eq!(crvs["ready"], true, "{ready}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_whose_searches_fail_is_not_ready_though_its_token_works() {
    // Tokens are issued; every search answers 503.
    let failing = FaultConfig { error_503_rate: 1.0, ..FaultConfig::default() };
    let h = start_with(
        SimConfig::default().with_faults(RegistryKind::Crvs, failing),
        |engine| engine.registries.iter_mut().for_each(quick),
        |_| {},
    )
    .await;
    let ready: Value = h.get("/readyz").send().await.expect("send").json().await.expect("json");
    assert_eq!(ready["ready"], true, "nothing has failed yet: {ready}");
    let (status, body) =
        h.evaluate(&json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiaries": [household("HH-0001")]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["outcomes"]["rule"]["outcome"], "undetermined");
    let response = h.get("/readyz").send().await.expect("send");
    assert_eq!(response.status(), 503);
    let ready: Value = response.json().await.expect("json");
    let crvs = &ready["registries"][0];
    assert_eq!(crvs["ready"], false, "{ready}");
    let problem = crvs["problem"].as_str().expect("problem");
    assert!(problem.contains("last lookup failed") && problem.contains("503"), "{problem}");
    h.stop().await;
}

/// Answers a metric cannot use are counted per registry and cause, in the
/// decision, the summary and `/metrics`: a status outside IBR's code list
/// (unrecognised_value), a death date given twice at the CRVS (ambiguous_record).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_answers_are_counted_per_registry_and_cause() {
    use dci_registry_sim::Misbehaviour;
    let status = Misbehaviour::FieldValue { field: "enrollment_status".into(), value: json!("approved") };
    let twice = Misbehaviour::DuplicateKey { field: "death_date".into(), first: Value::Null };
    let h = start_with(
        SimConfig::default()
            .with_faults(RegistryKind::Ibr, FaultConfig { misbehaviour: Some(status), ..FaultConfig::default() })
            .with_faults(RegistryKind::Crvs, FaultConfig { misbehaviour: Some(twice), ..FaultConfig::default() }),
        |_| {},
        |_| {},
    )
    .await;
    let rules = json!({"poor": POOR, "elderly": "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60"});
    let (status, body) = h.evaluate(&json!({"rules": rules, "as_of": AS_OF, "beneficiaries": fixture()})).await;
    assert_eq!(status, 200, "{body}");
    // HH-0004 is actively enrolled; HH-0002 died in 2025.
    assert_eq!(
        by_id(&body, "HH-0004")["outcomes"]["poor"]["missing"],
        json!([{"name": "dci.ibr.program_count", "cause": "unrecognised_value"}])
    );
    assert_eq!(
        by_id(&body, "HH-0002")["outcomes"]["elderly"]["missing"],
        json!([{"name": "dci.crvs.is_alive", "cause": "ambiguous_record"}])
    );
    let registries = body["summary"]["registries"].as_array().expect("registries");
    let failures = |id: &str| registries.iter().find(|r| r["registry"] == id).expect("registry")["failures"].clone();
    assert!(failures("ibr")["unrecognised_value"].as_u64().is_some_and(|n| n > 0), "{}", failures("ibr"));
    assert!(failures("crvs")["ambiguous_record"].as_u64().is_some_and(|n| n > 0), "{}", failures("crvs"));
    let text = h.get("/metrics").send().await.expect("send").text().await.expect("text");
    assert!(text.contains("elig_registry_failures_total{registry=\"ibr\",cause=\"unrecognised_value\"}"), "{text}");
    assert!(text.contains("elig_registry_failures_total{registry=\"crvs\",cause=\"ambiguous_record\"}"), "{text}");
    h.stop().await;
}

/// A person the IBR knows by national ID, holding an unknown UIN asked first:
/// asked again by the national ID, decided so, and the second lookup counted
/// in the summary and on `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_not_found_under_one_identifier_is_asked_by_the_next() {
    let h = start().await;
    let mut beneficiaries = fixture();
    let hh18 = beneficiaries.iter_mut().find(|b| b["id"] == "HH-0018").expect("HH-0018");
    hh18["identifiers"].as_array_mut().expect("identifiers").insert(0, json!({"type": "UIN", "value": "800999999"}));
    let (status, body) = h.evaluate(&json!({"rule": POOR, "as_of": AS_OF, "beneficiaries": beneficiaries})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(by_id(&body, "HH-0018")["outcomes"]["rule"]["outcome"], "ineligible", "enrolled (FSP) by national ID");
    let registries = body["summary"]["registries"].as_array().expect("registries");
    let ibr = registries.iter().find(|r| r["registry"] == "ibr").expect("ibr");
    assert_eq!(ibr["other_identifiers"], 1);
    let text = h.get("/metrics").send().await.expect("send").text().await.expect("text");
    assert!(text.contains("elig_registry_other_identifier_lookups_total{registry=\"ibr\"} 1"), "{text}");
    h.stop().await;
}

/// `GET /v1/registries` reports each registry's steps, and checks at most once
/// per `registries_check_secs`: a registry that starts refusing searches is
/// seen at the next check, not on every call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registries_report_names_each_step_and_is_not_made_on_every_call() {
    let h = start_with(
        SimConfig::default(),
        |engine| engine.registries.iter_mut().for_each(quick),
        |server| server.registries_check_secs = 3600,
    )
    .await;
    let report: Value = h.get("/v1/registries").send().await.expect("send").json().await.expect("json");
    assert_eq!(report["ok"], true, "{report}");
    let names: Vec<&str> =
        report["registries"].as_array().expect("registries").iter().filter_map(|r| r["registry"].as_str()).collect();
    assert_eq!(names, ["crvs", "ibr", "dr"]);
    let steps: Vec<&str> =
        report["registries"][0]["steps"].as_array().expect("steps").iter().filter_map(|s| s["step"].as_str()).collect();
    assert_eq!(steps, ["reach", "token", "search", "permission"], "{report}");

    h.sim.set_faults(RegistryKind::Ibr, FaultConfig { misbehaviour: Some(forbidden()), ..FaultConfig::default() });
    let again: Value = h.get("/v1/registries").send().await.expect("send").json().await.expect("json");
    assert_eq!(again["ok"], true, "the last check is served: {again}");
    h.stop().await;

    let h = start_with(
        SimConfig::default(),
        |engine| engine.registries.iter_mut().for_each(quick),
        |server| server.registries_check_secs = 0,
    )
    .await;
    h.sim.set_faults(RegistryKind::Ibr, FaultConfig { misbehaviour: Some(forbidden()), ..FaultConfig::default() });
    let report: Value = h.get("/v1/registries").send().await.expect("send").json().await.expect("json");
    assert_eq!(report["ok"], false, "{report}");
    let ibr = &report["registries"][1];
    let last = ibr["steps"].as_array().expect("steps").last().cloned().expect("a step");
    assert_eq!((last["step"].as_str(), last["passed"].as_bool()), (Some("permission"), Some(false)), "{ibr}");
    assert!(last["detail"].as_str().is_some_and(|d| d.contains("may not search")), "{last}");
    h.stop().await;
}

/// With signed requests, the server publishes the key at `/.well-known/jwks.json`
/// (no API key needed), once for every registry sharing it; a registry that
/// verifies requests with that key answers them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_our_requests_are_signed_with_is_published_and_verifies_them() {
    let seed = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=".to_owned(); // 32 bytes of 7, base64
    let signer = dci_protocol::signing::Ed25519Signer::from_base64_seed("elig", "k1", &seed).expect("signer");
    let sim = SimConfig { verify_request_signatures: true, client_keys: vec![signer.jwk()], ..SimConfig::default() };
    let h = start_with(
        sim,
        |engine| {
            for source in &mut engine.registries {
                quick(source);
                source.sender_id = "elig".into();
                source.signing = dci_client::SigningConfig {
                    scheme: Some(dci_client::SigningScheme::Ed25519),
                    key_id: "k1".into(),
                    key: Some(dci_client::SecretSource::Value(seed.clone())),
                    ..Default::default()
                };
            }
        },
        |_| {},
    )
    .await;
    let published: Value =
        h.client.get(h.url("/.well-known/jwks.json")).send().await.expect("send").json().await.expect("json");
    assert_eq!(published, json!({"keys": [serde_json::to_value(signer.jwk()).expect("JWK")]}));
    let (status, body) =
        h.evaluate(&json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiaries": [household("HH-0001")]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["outcomes"]["rule"]["outcome"], "eligible", "the registry verified us: {body}");
    h.stop().await;
}

/// Every search answered 403 with the registry's words, after a good token.
fn forbidden() -> dci_registry_sim::Misbehaviour {
    dci_registry_sim::Misbehaviour::DataAnswer {
        status: 403,
        body: r#"{"detail": "client elig-demo may not search"}"#.into(),
        retry_after: None,
    }
}
