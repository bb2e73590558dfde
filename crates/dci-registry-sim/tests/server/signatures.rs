use dci_protocol::signing::{Ed25519Signer, Ed25519Verifier, SignatureError, Signer, Verifier};
use dci_protocol::{DciTimestamp, Jwks};
use dci_registry_sim::{FaultConfig, KeySeed, RegistryKind, SimConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

async fn fetch_jwks(sim: &dci_registry_sim::Simulator, kind: RegistryKind) -> Jwks {
    let response = http().get(format!("{}/.well-known/jwks.json", sim.base_url(kind))).send().await.expect("JWKS");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("JWKS JSON")
}

fn verify(jwks: &Jwks, response: &Value) -> Result<(), SignatureError> {
    let signature = response.get("signature").and_then(Value::as_str);
    Ed25519Verifier::from_jwks(jwks).verify(
        signature,
        &response["header"],
        &response["message"],
        DciTimestamp::now().unix_seconds(),
    )
}

#[tokio::test]
async fn responses_are_signed_with_the_key_the_jwks_publishes() {
    let seed = [7u8; 32];
    let sim = start(SimConfig { server_key_seed: Some(KeySeed::Bytes(seed)), ..SimConfig::default() }).await;
    let jwks = fetch_jwks(&sim, RegistryKind::Ibr).await;
    assert_eq!(jwks, sim.server_jwks());
    let expected = Ed25519Signer::new("ibr.registry-sim", "sim-key-1", &seed).jwk();
    assert_eq!(jwks.find("ibr.registry-sim|sim-key-1|ed25519"), Some(&expected));
    let token = token(&sim, RegistryKind::Ibr).await;
    let response = search_ok(&sim, RegistryKind::Ibr, &token, &search(vec![id_item("R", "UIN", "800170000")])).await;
    assert!(response["signature"].as_str().unwrap().contains("kidId=\"ibr.registry-sim|sim-key-1|ed25519\""));
    verify(&jwks, &response).expect("the signature verifies");
    let mut tampered = response.clone();
    tampered["message"]["search_response"][0]["data"]["reg_records"] = json!([]);
    assert_eq!(verify(&jwks, &tampered), Err(SignatureError::Invalid));
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_signature_faults_fail_verification_and_unsigned_mode_omits_the_signature() {
    let faults = FaultConfig { bad_signature_rate: 1.0, ..FaultConfig::default() };
    let sim = start(SimConfig::default().with_faults(RegistryKind::Crvs, faults)).await;
    let token = token(&sim, RegistryKind::Crvs).await;
    let response = search_ok(&sim, RegistryKind::Crvs, &token, &search(vec![id_item("R", "UIN", "800010000")])).await;
    assert_eq!(verify(&sim.server_jwks(), &response), Err(SignatureError::Invalid));
    sim.shutdown().await;

    let sim = start(SimConfig { sign_responses: false, ..SimConfig::default() }).await;
    let token = crate::common::token(&sim, RegistryKind::Crvs).await;
    let response = search_ok(&sim, RegistryKind::Crvs, &token, &search(vec![id_item("R", "UIN", "800010000")])).await;
    assert!(response.get("signature").is_none(), "{response}");
    assert_eq!(records(answer_for(&response, "R")).len(), 1);
    sim.shutdown().await;
}

fn signed(signer: &Ed25519Signer, body: &Value) -> Value {
    let signature = signer.sign(&body["header"], &body["message"], DciTimestamp::now().unix_seconds()).expect("signed");
    let mut body = body.clone();
    body["signature"] = json!(signature);
    body
}

#[tokio::test]
async fn request_signatures_are_checked_when_asked() {
    let client = Ed25519Signer::new("elig.test", "k1", &[3u8; 32]);
    let impostor = Ed25519Signer::new("elig.test", "k1", &[4u8; 32]);
    let config = SimConfig { verify_request_signatures: true, client_keys: vec![client.jwk()], ..SimConfig::default() };
    let sim = start(config).await;
    let token = token(&sim, RegistryKind::Crvs).await;
    let path = "/registry/sync/search";
    let body = || search(vec![id_item("R", "UIN", "800010000")]);

    let missing = post(&sim, RegistryKind::Crvs, path, &token, &body()).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert_eq!(missing.error_code(), "err.signature.missing");

    let wrong_key = post(&sim, RegistryKind::Crvs, path, &token, &signed(&impostor, &body())).await;
    assert_eq!(wrong_key.status, StatusCode::FORBIDDEN);
    assert_eq!(wrong_key.error_code(), "err.signature.invalid");

    let mut tampered = signed(&client, &body());
    tampered["message"]["search_request"][0]["search_criteria"]["query"]["value"] = json!("800020000");
    let answer = post(&sim, RegistryKind::Crvs, path, &token, &tampered).await;
    assert_eq!((answer.status, answer.error_code().as_str()), (StatusCode::FORBIDDEN, "err.signature.invalid"));

    let valid = post(&sim, RegistryKind::Crvs, path, &token, &signed(&client, &body())).await;
    assert_eq!(valid.status, StatusCode::OK, "{}", valid.text);
    assert_eq!(answer_for(&valid.json(), "R")["status"], "succ");
    sim.shutdown().await;

    // off (the default): unsigned and wrongly signed requests are both served
    let sim = fixture().await;
    let token = crate::common::token(&sim, RegistryKind::Crvs).await;
    assert_eq!(post(&sim, RegistryKind::Crvs, path, &token, &body()).await.status, StatusCode::OK);
    assert_eq!(post(&sim, RegistryKind::Crvs, path, &token, &signed(&impostor, &body())).await.status, StatusCode::OK);
    sim.shutdown().await;
}
