use std::time::{Duration, Instant};

use dci_registry_sim::{FaultConfig, RegistryKind, SimConfig, Simulator};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

async fn faulty(kind: RegistryKind, faults: FaultConfig) -> (Simulator, String) {
    let sim = start(SimConfig { seed: 11, ..SimConfig::default() }.with_faults(kind, faults)).await;
    let token = token(&sim, kind).await;
    (sim, token)
}

async fn search_once(sim: &Simulator, kind: RegistryKind, token: &str) -> Answer {
    post(sim, kind, "/registry/sync/search", token, &search(vec![id_item("R", "UIN", "800010000")])).await
}

#[tokio::test]
async fn error_statuses_carry_a_spec_error_body_and_retry_after() {
    for (rate, status, code) in [
        (FaultConfig { error_500_rate: 1.0, ..FaultConfig::default() }, 500, "err.service.unavailable"),
        (FaultConfig { error_503_rate: 1.0, ..FaultConfig::default() }, 503, "err.service.unavailable"),
        (
            FaultConfig { error_429_rate: 1.0, retry_after_secs: 7, ..FaultConfig::default() },
            429,
            "err.request.too_many_requests",
        ),
    ] {
        let retry_after = rate.retry_after_secs.to_string();
        let (sim, token) = faulty(RegistryKind::Crvs, rate).await;
        let answer = search_once(&sim, RegistryKind::Crvs, &token).await;
        assert_eq!(answer.status.as_u16(), status);
        assert_eq!(answer.error_code(), code);
        match status {
            500 => assert!(answer.headers.get("retry-after").is_none()),
            _ => assert_eq!(answer.headers["retry-after"], retry_after.as_str()),
        }
        // token and JWKS endpoints are not subject to error faults; other registries are not affected
        let jwks =
            http().get(format!("{}/.well-known/jwks.json", sim.base_url(RegistryKind::Crvs))).send().await.unwrap();
        assert_eq!(jwks.status(), StatusCode::OK);
        assert_eq!(search_once(&sim, RegistryKind::Ibr, &token).await.status, StatusCode::OK);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn fail_next_scripts_exact_statuses_then_serves_normally() {
    let (sim, token) =
        faulty(RegistryKind::Crvs, FaultConfig { fail_next: vec![500, 503, 500], ..FaultConfig::default() }).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(search_once(&sim, RegistryKind::Crvs, &token).await.status.as_u16());
    }
    assert_eq!(statuses, vec![500, 503, 500, 200, 200]);

    // changed at run time
    sim.set_faults(RegistryKind::Crvs, FaultConfig { fail_next: vec![429], ..FaultConfig::default() });
    assert_eq!(search_once(&sim, RegistryKind::Crvs, &token).await.status.as_u16(), 429);
    assert_eq!(search_once(&sim, RegistryKind::Crvs, &token).await.status.as_u16(), 200);
    assert_eq!(sim.stats().crvs.faults_injected, 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_bodies_are_not_json() {
    let (sim, token) = faulty(RegistryKind::Dr, FaultConfig { malformed_rate: 1.0, ..FaultConfig::default() }).await;
    let answer = search_once(&sim, RegistryKind::Dr, &token).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&answer.text).is_err(), "{}", answer.text);
    sim.shutdown().await;
}

fn rejected_references(response: &Value) -> Vec<String> {
    response["message"]["search_response"]
        .as_array()
        .expect("search_response")
        .iter()
        .filter(|a| a["status"] == "rjct")
        .map(|a| {
            assert_eq!(a["status_reason_code"], "rjct.filter.invalid");
            assert_eq!(a["status_reason_message"], "injected fault");
            a["reference_id"].as_str().expect("reference_id").to_owned()
        })
        .collect()
}

#[tokio::test]
async fn items_are_rejected_at_the_configured_rate_reproducibly() {
    let body = search((0..200).map(|i| id_item(&format!("R-{i}"), "UIN", "800010000")).collect());
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (sim, token) =
            faulty(RegistryKind::Crvs, FaultConfig { reject_item_rate: 0.5, ..FaultConfig::default() }).await;
        runs.push(rejected_references(&search_ok(&sim, RegistryKind::Crvs, &token, &body).await));
        sim.shutdown().await;
    }
    assert!((60..140).contains(&runs[0].len()), "{} of 200 rejected", runs[0].len());
    assert_eq!(runs[0], runs[1], "the same seed rejects the same items");

    let (sim, token) =
        faulty(RegistryKind::Crvs, FaultConfig { reject_item_rate: 1.0, ..FaultConfig::default() }).await;
    assert_eq!(rejected_references(&search_ok(&sim, RegistryKind::Crvs, &token, &body).await).len(), 200);
    sim.shutdown().await;
}

#[tokio::test]
async fn latency_delays_every_endpoint_by_at_least_the_configured_time() {
    let (sim, token) =
        faulty(RegistryKind::Ibr, FaultConfig { latency_ms: 150, jitter_ms: 50, ..FaultConfig::default() }).await;
    let started = Instant::now();
    assert_eq!(search_once(&sim, RegistryKind::Ibr, &token).await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150), "{:?}", started.elapsed());
    let started = Instant::now();
    let jwks = http().get(format!("{}/.well-known/jwks.json", sim.base_url(RegistryKind::Ibr))).send().await.unwrap();
    assert_eq!(jwks.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(150));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_hanging_request_does_not_answer_before_the_client_gives_up() {
    let (sim, token) = faulty(RegistryKind::Crvs, FaultConfig { hang_next: 1, ..FaultConfig::default() }).await;
    let body = serde_json::to_vec(&search(vec![id_item("R", "UIN", "800010000")])).unwrap();
    let url = format!("{}/registry/sync/search", sim.base_url(RegistryKind::Crvs));
    let attempt = http()
        .post(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body.clone())
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(attempt.as_ref().is_err_and(reqwest::Error::is_timeout), "{attempt:?}");
    assert_eq!(
        search_once(&sim, RegistryKind::Crvs, &token).await.status,
        StatusCode::OK,
        "only the next request hangs"
    );

    sim.set_faults(RegistryKind::Crvs, FaultConfig { hang_rate: 1.0, ..FaultConfig::default() });
    let attempt = http().post(&url).bearer_auth(&token).body(body).timeout(Duration::from_millis(300)).send().await;
    assert!(attempt.as_ref().is_err_and(reqwest::Error::is_timeout), "{attempt:?}");
    // shutting down does not wait for the hang
    tokio::time::timeout(Duration::from_secs(10), sim.shutdown()).await.expect("shutdown is prompt");
}
