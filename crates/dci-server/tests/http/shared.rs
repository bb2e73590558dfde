//! The shared fact tier (a real Redis, started by the test) seen from the
//! API: two servers share facts, `/readyz` shows Redis `degraded` and stays
//! ready when it dies, and `/metrics` counts the tier's work.

use dci_client::SecretSource;
use dci_metrics::RedisConfig;
use dci_registry_sim::SimConfig;
use serde_json::{Value, json};
use test_services::RedisServer;

use crate::common::{fixture, start_with};
use crate::contract::{Contract, Side};

const RULE: &str = "dci.crvs.is_alive == true and dci.ibr.is_enrolled == false";

pub(crate) fn shared(redis: &RedisServer) -> RedisConfig {
    RedisConfig {
        url: redis.url(),
        username: None,
        password: None,
        key_prefix: "elig-http:".into(),
        timeout_ms: 200,
        key_secret: SecretSource::Value("a secret for the http tests".into()),
        ca_file: None,
    }
}

fn items(stats: &dci_registry_sim::SimStats) -> u64 {
    stats.crvs.items + stats.ibr.items + stats.dr.items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_facts_and_a_dead_redis_is_degraded_not_unready() {
    let Some(mut redis) = RedisServer::start() else { return };
    let first = start_with(SimConfig::default(), |engine| engine.cache.redis = Some(shared(&redis)), |_| {}).await;
    let body = json!({"rule": RULE, "as_of": "2026-01-01", "beneficiaries": fixture()});
    let (status, answer) = first.evaluate(&body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(items(&first.sim.stats()) > 0);
    // What the first replica wrote is counted as written.
    let written = first.get("/metrics").send().await.expect("send").text().await.expect("text");
    let writes = written
        .lines()
        .find_map(|line| line.strip_prefix("elig_shared_cache_writes_total").map(|rest| rest.trim_start_matches("{}")))
        .unwrap_or("0");
    assert!(writes.trim().parse::<f64>().unwrap_or(0.0) > 0.0, "{written}");

    // A second replica of the same deployment (the same registries): it asks them nothing.
    let registries = crate::common::sources(&first.sim);
    let second = start_with(
        SimConfig::default(),
        |engine| {
            engine.cache.redis = Some(shared(&redis));
            engine.registries = registries;
        },
        |_| {},
    )
    .await;
    let asked = items(&first.sim.stats());
    let (status, again) = second.evaluate(&body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(items(&first.sim.stats()), asked, "every fact came from Redis");
    assert_eq!(again["results"], answer["results"], "the same decisions");

    let contract = Contract::of(&second).await;
    let ready = second.get("/readyz").send().await.expect("send");
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.expect("json");
    assert_eq!(ready["shared_cache"]["status"], "ok", "{ready}");
    contract.check(Side::Response, &contract.component("Readiness"), &ready, "/readyz");

    let metrics = second.get("/metrics").send().await.expect("send").text().await.expect("text");
    let value = |name: &str| {
        metrics
            .lines()
            .find_map(|line| {
                line.strip_prefix(name).and_then(|rest| rest.trim_start_matches("{}").trim().parse::<f64>().ok())
            })
            .unwrap_or_else(|| panic!("{name} in {metrics}"))
    };
    assert!(value("elig_shared_cache_hits_total") > 0.0);
    assert!(metrics.contains("elig_shared_cache_errors_total{kind=\"auth\"} 0"), "{metrics}");
    assert!(metrics.contains("elig_shared_cache_up 1"), "{metrics}");
    assert!(value("elig_shared_cache_calls_total") > 0.0 && value("elig_shared_cache_call_seconds_total") > 0.0);

    redis.kill();
    let ready = second.get("/readyz").send().await.expect("send");
    assert_eq!(ready.status(), 200, "Redis down does not make the server unready");
    let ready: Value = ready.json().await.expect("json");
    assert_eq!(ready["shared_cache"]["status"], "degraded", "{ready}");
    assert!(ready["shared_cache"]["problem"].is_string(), "{ready}");
    assert_eq!(ready["shared_cache"]["cause"], "connection_lost", "the connection was cut: {ready}");
    tokio::time::sleep(dci_metrics::REST_AFTER_FAILURE + std::time::Duration::from_millis(100)).await;
    let ready: Value = second.get("/readyz").send().await.expect("send").json().await.expect("json");
    assert_eq!(ready["shared_cache"]["cause"], "refused", "then nothing listens: {ready}");
    let metrics = second.get("/metrics").send().await.expect("send").text().await.expect("text");
    assert!(metrics.contains("elig_shared_cache_up 0"), "{metrics}");
    assert!(!metrics.contains("elig_shared_cache_errors_total{kind=\"refused\"} 0"), "{metrics}");
    contract.check(Side::Response, &contract.component("Readiness"), &ready, "/readyz");

    // Decisions go on from the in-process cache and the registries.
    let third = start_with(SimConfig::default(), |engine| engine.cache.redis = Some(shared(&redis)), |_| {}).await;
    let (status, without) = third.evaluate(&body).await;
    assert_eq!(status, 200, "{without}");
    assert_eq!(without["results"], answer["results"], "the registries answer instead");
    assert!(items(&third.sim.stats()) > 0);
    first.stop().await;
    second.stop().await;
    third.stop().await;
}
