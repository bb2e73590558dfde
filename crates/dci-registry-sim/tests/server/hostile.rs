//! Hostile registries: each `Misbehaviour` over loopback HTTP, lies signed
//! with the registry's honest key.

use std::time::Duration;

use dci_protocol::records::{CrvsPerson, IbrBeneficiary};
use dci_protocol::signing::{Ed25519Verifier, Verifier};
use dci_protocol::{DciTimestamp, YesNoCriteria};
use dci_registry_sim::{FaultConfig, Misbehaviour, RegistryKind, SimConfig, SimStats, Simulator};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::Value;

use crate::common::*;
use crate::yes_no::yes_no_body;

const ELSEWHERE: &str = "http://127.0.0.1:1/elsewhere";
const SEARCH: &str = "/registry/sync/search";

fn lying(misbehaviour: Misbehaviour) -> FaultConfig {
    FaultConfig { misbehaviour: Some(misbehaviour), ..FaultConfig::default() }
}

async fn hostile(kind: RegistryKind, misbehaviour: Misbehaviour) -> (Simulator, String) {
    let sim = start(SimConfig::default().with_faults(kind, lying(misbehaviour))).await;
    // one token authority: a token from any registry works at all three
    let token = token(&sim, RegistryKind::Dr).await;
    (sim, token)
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).timeout(Duration::from_secs(20)).build().expect("client")
}

/// Searches one item per UIN (`R-0`, `R-1`, ...); the response, whose signature verifies.
async fn signed_search(sim: &Simulator, kind: RegistryKind, token: &str, uins: &[&str]) -> Value {
    let items = uins.iter().enumerate().map(|(i, uin)| id_item(&format!("R-{i}"), "UIN", uin)).collect();
    let response = search_ok(sim, kind, token, &search(items)).await;
    let signature = response.get("signature").and_then(Value::as_str);
    Ed25519Verifier::from_jwks(&sim.server_jwks())
        .verify(signature, &response["header"], &response["message"], DciTimestamp::now().unix_seconds())
        .expect("the registry signs its own lies");
    response
}

fn items(response: &Value) -> &Vec<Value> {
    response["message"]["search_response"].as_array().expect("search_response")
}

fn field(response: &Value, name: &str) -> Vec<Value> {
    items(response).iter().map(|item| item.get(name).cloned().unwrap_or(Value::String("<absent>".into()))).collect()
}

/// The identifier values a record carries.
fn identifier_values(kind: RegistryKind, record: &Value) -> Vec<String> {
    let identifiers = match kind {
        RegistryKind::Ibr => {
            serde_json::from_value::<IbrBeneficiary>(record.clone()).expect("IBR record").identifiers()
        }
        _ => serde_json::from_value::<CrvsPerson>(record.clone()).expect("CRVS record").identifier,
    };
    identifiers.into_iter().map(|identifier| identifier.identifier_value.to_string()).collect()
}

fn uins(item: &Value) -> Vec<String> {
    records(item).iter().flat_map(|record| identifier_values(RegistryKind::Crvs, record)).collect()
}

async fn served_stats(sim: &Simulator) -> SimStats {
    let response = http().get(format!("http://{}/sim/stats", sim.local_addr())).send().await.expect("stats");
    response.json().await.expect("stats JSON")
}

#[tokio::test]
async fn foreign_records_belong_to_the_next_person_not_asked() {
    let (sim, token) = hostile(RegistryKind::Crvs, Misbehaviour::ForeignRecords).await;
    let asked = ["800010000", "800020000", "999999999"];
    let response = signed_search(&sim, RegistryKind::Crvs, &token, &asked).await;
    let found: Vec<Vec<String>> = items(&response).iter().map(uins).collect();
    // the fixture's first three persons, in load order: 800010000, 800020000, 800020001
    assert_eq!(found, vec![vec!["800020000"], vec!["800020001"], vec!["800010000"]]);
    assert_eq!(field(&response, "status"), vec!["succ"; 3]);
    assert_eq!(field(&response, "reference_id"), vec!["R-0", "R-1", "R-2"]);

    // IBR: every record of one other member (the fixture's 800170000 has three)
    let response = signed_search(&sim, RegistryKind::Ibr, &token, &["800170000"]).await;
    assert_eq!(records(answer_for(&response, "R-0")).len(), 3, "honest IBR registry");
    sim.set_faults(RegistryKind::Ibr, lying(Misbehaviour::ForeignRecords));
    let response = signed_search(&sim, RegistryKind::Ibr, &token, &["800170000"]).await;
    let members: Vec<Vec<String>> = records(answer_for(&response, "R-0"))
        .iter()
        .map(|record| identifier_values(RegistryKind::Ibr, record))
        .collect();
    assert!(!members.is_empty());
    assert!(
        members.iter().all(|member| member == &members[0] && !member.contains(&"800170000".to_owned())),
        "{members:?}"
    );

    // the counters count what was asked and answered, as before
    let stats = served_stats(&sim).await;
    assert_eq!((stats.crvs.items, stats.crvs.item_outcomes.succ), (3, 3));
    assert_eq!((stats.ibr.items, stats.ibr.faults_injected), (2, 0));
    sim.shutdown().await;
}

#[tokio::test]
async fn swapped_references_rotate_by_one_and_leave_the_records_in_place() {
    let (sim, token) = hostile(RegistryKind::Crvs, Misbehaviour::SwappedReferences).await;
    let response = signed_search(&sim, RegistryKind::Crvs, &token, &["800010000", "800020000", "800020001"]).await;
    assert_eq!(field(&response, "reference_id"), vec!["R-1", "R-2", "R-0"]);
    let found: Vec<Vec<String>> = items(&response).iter().map(uins).collect();
    assert_eq!(found, vec![vec!["800010000"], vec!["800020000"], vec!["800020001"]]);
    // one item: nothing to swap with
    let response = signed_search(&sim, RegistryKind::Crvs, &token, &["800010000"]).await;
    assert_eq!(field(&response, "reference_id"), vec!["R-0"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn duplicate_references_repeat_the_first() {
    let (sim, token) = hostile(RegistryKind::Crvs, Misbehaviour::DuplicateReferences).await;
    let response = signed_search(&sim, RegistryKind::Crvs, &token, &["800010000", "800020000", "999999999"]).await;
    assert_eq!(field(&response, "reference_id"), vec!["R-0"; 3]);
    assert_eq!(uins(&items(&response)[1]), vec!["800020000"]);
    sim.shutdown().await;
}

#[tokio::test]
async fn pending_and_received_items_carry_no_data() {
    let (sim, token) = hostile(RegistryKind::Crvs, Misbehaviour::PendingItems).await;
    for (misbehaviour, status) in [(Misbehaviour::PendingItems, "pdng"), (Misbehaviour::ReceivedItems, "rcvd")] {
        sim.set_faults(RegistryKind::Crvs, lying(misbehaviour));
        let response = signed_search(&sim, RegistryKind::Crvs, &token, &["800010000", "999999999"]).await;
        assert_eq!(field(&response, "status"), vec![status; 2]);
        assert_eq!(field(&response, "data"), vec!["<absent>"; 2]);
        assert_eq!(field(&response, "reference_id"), vec!["R-0", "R-1"]);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_and_null_statuses_keep_the_data() {
    let (sim, token) = hostile(RegistryKind::Crvs, Misbehaviour::UnknownStatus).await;
    for (misbehaviour, status) in
        [(Misbehaviour::UnknownStatus, Value::from("zzz")), (Misbehaviour::NullStatus, Value::Null)]
    {
        sim.set_faults(RegistryKind::Crvs, lying(misbehaviour));
        let response = signed_search(&sim, RegistryKind::Crvs, &token, &["800010000", "800020000"]).await;
        assert_eq!(field(&response, "status"), vec![status; 2]);
        let found: Vec<Vec<String>> = items(&response).iter().map(uins).collect();
        assert_eq!(found, vec![vec!["800010000"], vec!["800020000"]]);
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn null_and_missing_data_keep_the_success_status() {
    let (sim, token) = hostile(RegistryKind::Crvs, Misbehaviour::NullData).await;
    let response = signed_search(&sim, RegistryKind::Crvs, &token, &["800010000", "999999999"]).await;
    assert_eq!(field(&response, "status"), vec!["succ"; 2]);
    assert_eq!(field(&response, "data"), vec![Value::Null; 2], "the key is there, null");

    sim.set_faults(RegistryKind::Crvs, lying(Misbehaviour::MissingData));
    let response = signed_search(&sim, RegistryKind::Crvs, &token, &["800010000", "999999999"]).await;
    assert_eq!(field(&response, "status"), vec!["succ"; 2]);
    assert_eq!(field(&response, "data"), vec!["<absent>"; 2]);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_malformed_record_replaces_only_the_first_record_found() {
    let (sim, token) = hostile(RegistryKind::Crvs, Misbehaviour::MalformedRecord).await;
    let response = signed_search(&sim, RegistryKind::Crvs, &token, &["999999999", "800010000", "800020000"]).await;
    let all = items(&response);
    assert!(records(&all[0]).is_empty(), "no record to spoil");
    assert_eq!(records(&all[1]), &vec![Value::from("garbage")]);
    assert_eq!(uins(&all[2]), vec!["800020000"], "later items untouched");
    sim.shutdown().await;
}

#[tokio::test]
async fn huge_bodies_are_signed_json_of_at_least_the_size_asked() {
    let bytes = 3_000_000;
    let (sim, token) = hostile(RegistryKind::Ibr, Misbehaviour::HugeBody { bytes }).await;
    let body = search(vec![id_item("R-0", "UIN", "800170000")]);
    let answer = post(&sim, RegistryKind::Ibr, SEARCH, &token, &body).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.text.len() as u64 >= bytes, "{} bytes", answer.text.len());
    assert!((answer.text.len() as u64) < bytes + 100, "padded to the size, not far beyond");
    let response = answer.json();
    assert_eq!(records(answer_for(&response, "R-0")).len(), 3, "the answer itself is intact");
    // signed_search checks the signature over the padded body
    let padded = signed_search(&sim, RegistryKind::Ibr, &token, &["800170000"]).await;
    assert!(padded["padding"].as_str().is_some_and(|padding| padding.len() > 2_000_000));

    // yes/no answers are padded too
    let body = yes_no_body("enrolled_criteria", YesNoCriteria::enrolled("800170000", None));
    let answer = post(&sim, RegistryKind::Ibr, "/registry/sync/enrolled", &token, &body).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.text.len() as u64 >= bytes);
    assert_eq!(answer.json()["message"]["enrolled_response"][0]["status"], "succ");
    sim.shutdown().await;
}

#[tokio::test]
async fn redirect_token_answers_307_to_the_location() {
    let (sim, token) = hostile(RegistryKind::Crvs, Misbehaviour::RedirectToken { location: ELSEWHERE.into() }).await;
    let response = no_redirects()
        .post(format!("{}/oauth2/client/token", sim.base_url(RegistryKind::Crvs)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"))
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(response.headers()["location"], ELSEWHERE);
    assert!(response.bytes().await.expect("body").is_empty());

    // the JWKS stays honest and the data endpoints serve
    let jwks = http().get(format!("{}/.well-known/jwks.json", sim.base_url(RegistryKind::Crvs))).send().await;
    assert_eq!(jwks.expect("JWKS").status(), StatusCode::OK);
    signed_search(&sim, RegistryKind::Crvs, &token, &["800010000"]).await;
    sim.shutdown().await;
}

#[tokio::test]
async fn redirect_search_answers_307_on_every_data_endpoint() {
    let (sim, token) = hostile(RegistryKind::Ibr, Misbehaviour::RedirectSearch { location: ELSEWHERE.into() }).await;
    let search_body = search(vec![id_item("R-0", "UIN", "800170000")]);
    let enrolled_body = yes_no_body("enrolled_criteria", YesNoCriteria::enrolled("800170000", None));
    for (path, body) in [(SEARCH, search_body), ("/registry/sync/enrolled", enrolled_body)] {
        let response = no_redirects()
            .post(format!("{}{path}", sim.base_url(RegistryKind::Ibr)))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT, "{path}");
        assert_eq!(response.headers()["location"], ELSEWHERE);
        assert!(response.bytes().await.expect("body").is_empty());
    }
    // still after authentication; the token endpoint serves
    let unauthenticated = post_bytes(&sim, RegistryKind::Ibr, SEARCH, None, b"{}".to_vec()).await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    crate::common::token(&sim, RegistryKind::Ibr).await;
    let stats = sim.stats().ibr;
    assert_eq!((stats.messages, stats.items, stats.faults_injected), (3, 0, 2));
    assert_eq!(stats.http_status.get(&307), Some(&2));
    sim.shutdown().await;
}

#[tokio::test]
async fn huge_token_lifetime_is_u64_max_as_text() {
    let (sim, _) = hostile(RegistryKind::Dr, Misbehaviour::HugeTokenLifetime).await;
    let response = http()
        .post(format!("{}/oauth2/client/token", sim.base_url(RegistryKind::Dr)))
        .form(&[("grant_type", "client_credentials"), ("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)])
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.expect("token JSON");
    assert_eq!(answer["expires_in"], "18446744073709551615");
    let token = answer["access_token"].as_str().expect("access_token");
    signed_search(&sim, RegistryKind::Dr, token, &["800070000"]).await;
    // other registries tell the configured lifetime
    let honest = http()
        .post(format!("{}/oauth2/client/token", sim.base_url(RegistryKind::Crvs)))
        .form(&[("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)])
        .send()
        .await
        .expect("token request");
    assert_eq!(honest.json::<Value>().await.expect("token JSON")["expires_in"], "3600");
    sim.shutdown().await;
}

#[tokio::test]
async fn scripted_faults_come_first_and_clearing_the_misbehaviour_restores_the_truth() {
    let faults = FaultConfig { fail_next: vec![503], ..lying(Misbehaviour::NullStatus) };
    let sim = start(SimConfig::default().with_faults(RegistryKind::Crvs, faults)).await;
    let token = token(&sim, RegistryKind::Crvs).await;
    let body = search(vec![id_item("R-0", "UIN", "800010000")]);
    assert_eq!(post(&sim, RegistryKind::Crvs, SEARCH, &token, &body).await.status.as_u16(), 503);
    let response = signed_search(&sim, RegistryKind::Crvs, &token, &["800010000"]).await;
    assert_eq!(field(&response, "status"), vec![Value::Null]);
    sim.set_faults(RegistryKind::Crvs, FaultConfig::default());
    let response = signed_search(&sim, RegistryKind::Crvs, &token, &["800010000"]).await;
    assert_eq!(field(&response, "status"), vec!["succ"]);
    sim.shutdown().await;
}
