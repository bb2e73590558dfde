use dci_protocol::YesNoCriteria;
use dci_registry_sim::{RegistryKind, SimStats};
use reqwest::StatusCode;

use crate::common::*;
use crate::yes_no::yes_no_body;

async fn served_stats(sim: &dci_registry_sim::Simulator) -> SimStats {
    http()
        .get(format!("http://{}/sim/stats", sim.local_addr()))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats JSON")
}

#[tokio::test]
async fn counters_track_messages_items_endpoints_statuses_and_reset() {
    let sim = fixture().await;
    let token = token(&sim, RegistryKind::Ibr).await;
    let _second = crate::common::token(&sim, RegistryKind::Ibr).await;
    http().get(format!("{}/.well-known/jwks.json", sim.base_url(RegistryKind::Ibr))).send().await.unwrap();
    let hundred = search((0..100).map(|i| id_item(&format!("R-{i}"), "UIN", "800170000")).collect());
    search_ok(&sim, RegistryKind::Ibr, &token, &hundred).await;
    let mut two = search(vec![id_item("a", "UIN", "1"), id_item("b", "UIN", "2")]);
    two["message"]["search_request"][1]["search_criteria"]["query_type"] = serde_json::json!("graphql");
    search_ok(&sim, RegistryKind::Ibr, &token, &two).await;
    let body = yes_no_body("enrolled_criteria", YesNoCriteria::enrolled("800170000", None));
    assert_eq!(post(&sim, RegistryKind::Ibr, "/registry/sync/enrolled", &token, &body).await.status, StatusCode::OK);
    let unauthorized = post(&sim, RegistryKind::Ibr, "/registry/sync/search", "nope", &hundred).await;
    assert_eq!(unauthorized.status, StatusCode::UNAUTHORIZED);

    let stats = sim.stats();
    let ibr = &stats.ibr;
    assert_eq!(ibr.messages, 4, "{ibr:?}");
    assert_eq!(ibr.items, 103);
    assert_eq!(ibr.token_requests, 2);
    assert_eq!((ibr.endpoints.token.messages, ibr.endpoints.jwks.messages), (2, 1));
    assert_eq!((ibr.endpoints.search.messages, ibr.endpoints.search.items), (3, 102));
    assert_eq!((ibr.endpoints.enrolled.messages, ibr.endpoints.enrolled.items), (1, 1));
    assert_eq!((ibr.item_outcomes.succ, ibr.item_outcomes.rjct), (102, 1));
    assert_eq!(ibr.http_status.get(&200), Some(&6));
    assert_eq!(ibr.http_status.get(&401), Some(&1));
    assert_eq!(stats.crvs, Default::default(), "other registries untouched");
    assert_eq!(served_stats(&sim).await, stats, "GET /sim/stats serves the same counters");

    let reset = http().post(format!("http://{}/sim/reset", sim.local_addr())).send().await.unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(sim.stats(), SimStats::default());
    search_ok(&sim, RegistryKind::Crvs, &token, &search(vec![id_item("R", "UIN", "1")])).await;
    assert_eq!(sim.stats().crvs.items, 1);
    sim.reset_stats();
    assert_eq!(served_stats(&sim).await, SimStats::default());
    sim.shutdown().await;
}
