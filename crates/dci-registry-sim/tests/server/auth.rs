use std::time::Duration;

use dci_protocol::{HttpErrorResponse, TokenResponse};
use dci_registry_sim::{RegistryKind, SimConfig};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn tokens_are_issued_for_form_and_json_bodies_and_work_at_every_registry() {
    let sim = fixture().await;
    let url = format!("{}/oauth2/client/token", sim.base_url(RegistryKind::Crvs));
    let form = http()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&client_id=elig-demo&client_secret=elig-demo-secret&scope=search")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    assert_eq!(form.headers()["cache-control"], "no-store");
    let form: TokenResponse = form.json().await.unwrap();
    assert_eq!(form.token_type, "bearer");
    assert_eq!(form.expires_in, Some(dci_protocol::ExpiresIn::Seconds(3600.0)));
    assert_eq!(form.scope.as_deref(), Some("search"));

    let ibr_url = format!("{}/oauth2/client/token", sim.base_url(RegistryKind::Ibr));
    let json_body = json!({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET});
    let from_json = http().post(&ibr_url).json(&json_body).send().await.unwrap();
    assert_eq!(from_json.status(), StatusCode::OK);
    let from_json: TokenResponse = from_json.json().await.unwrap();
    assert_ne!(from_json.access_token, form.access_token, "every token is new");

    // one token authority: a token from the CRVS endpoint works at the DR, and the other way round
    let body = search(vec![id_item("R-1", "UIN", "800070000")]);
    for (kind, token) in [(RegistryKind::Dr, &form.access_token), (RegistryKind::Crvs, &from_json.access_token)] {
        let answer = post(&sim, kind, "/registry/sync/search", token, &search(vec![id_item("R", "UIN", "1")])).await;
        assert_eq!(answer.status, StatusCode::OK, "{kind}: {}", answer.text);
    }
    let found = search_ok(&sim, RegistryKind::Dr, &form.access_token, &body).await;
    assert_eq!(records(answer_for(&found, "R-1")).len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_and_missing_or_forged_tokens_get_401() {
    let sim = fixture().await;
    let url = format!("{}/oauth2/client/token", sim.base_url(RegistryKind::Crvs));
    for body in [
        "grant_type=client_credentials&client_id=elig-demo&client_secret=wrong",
        "grant_type=client_credentials&client_id=nobody&client_secret=elig-demo-secret",
    ] {
        let response = http()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{body}");
        let error: HttpErrorResponse = response.json().await.unwrap();
        assert_eq!(error.errors[0].code.as_str(), "err.request.unauthorized");
    }
    let unsupported = http()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&client_id=elig-demo&client_secret=elig-demo-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(unsupported.status(), StatusCode::BAD_REQUEST);

    let body = serde_json::to_vec(&search(vec![id_item("R-1", "UIN", "800010000")])).unwrap();
    let missing = post_bytes(&sim, RegistryKind::Crvs, "/registry/sync/search", None, body.clone()).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.error_code(), "err.request.unauthorized");
    assert_eq!(missing.headers["www-authenticate"], "Bearer");
    let forged = post_bytes(&sim, RegistryKind::Crvs, "/registry/sync/search", Some("not-a-token"), body).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert_eq!(forged.error_code(), "err.request.unauthorized");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_token_gets_401() {
    let sim = start(SimConfig { token_lifetime_secs: 1, ..SimConfig::default() }).await;
    let token = token(&sim, RegistryKind::Crvs).await;
    let body = search(vec![id_item("R-1", "UIN", "800010000")]);
    search_ok(&sim, RegistryKind::Crvs, &token, &body).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let answer =
        post(&sim, RegistryKind::Crvs, "/registry/sync/search", &token, &search(vec![id_item("R-1", "UIN", "1")]))
            .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.error_code(), "err.request.unauthorized");
    assert!(answer.json()["errors"][0]["message"].as_str().unwrap().contains("expired"), "{}", answer.text);
    sim.shutdown().await;
}
