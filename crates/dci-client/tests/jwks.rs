//! A registry whose key set is huge: read up to its bound, and not fetched
//! again on every message.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::{get, post};
use dci_client::{ClientError, DataSource, DciClient, RegistryType, SecretSource};
use dci_protocol::{Query, SearchCriteria};
use serde_json::{Value, json};

#[tokio::test]
async fn a_huge_jwks_fails_its_messages_and_is_fetched_once_a_minute_at_most() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counted = fetches.clone();
    let huge = Arc::new(json!({"keys": (0..20_000).map(|i| json!({"kty": "OKP", "crv": "Ed25519", "kid": format!("k{i}"), "x": "AAAA"})).collect::<Vec<_>>()}).to_string());
    let app = Router::new()
        .route(
            "/oauth2/client/token",
            post(|| async { axum::Json(json!({"access_token": "t", "token_type": "bearer", "expires_in": "3600"})) }),
        )
        .route(
            "/registry/sync/search",
            post(|| async {
                axum::Json(json!({"signature": "x", "header": {"version": "1.0.0", "message_id": "m", "message_ts": "2026-01-01T00:00:00+00:00", "action": "on-search", "status": "succ", "total_count": 0, "completed_count": 0}, "message": {"transaction_id": "t", "search_response": []}}))
            }),
        )
        .route(
            "/.well-known/jwks.json",
            get(move || {
                counted.fetch_add(1, Ordering::Relaxed);
                let body = huge.clone();
                async move { (([("content-type", "application/json")]), body.to_string()) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut source =
        DataSource::new(RegistryType::Crvs, format!("http://{address}"), "elig", SecretSource::Value("secret".into()));
    source.verify_responses = true;
    source.retry.max_attempts = 1;
    let client = DciClient::new(source).expect("client");
    let mut errors = Vec::new();
    for _ in 0..3 {
        let result = client.search::<Value>(SearchCriteria::new(Query::id("UIN", "1"))).await;
        errors.push(result.expect_err("no key set to verify with"));
    }
    assert!(matches!(errors[0], ClientError::ResponseTooLarge { .. }), "{}", errors[0]);
    assert!(errors[1].to_string().contains("not fetched again yet"), "{}", errors[1]);
    assert_eq!(fetches.load(Ordering::Relaxed), 1, "the key set is not fetched on every message");
}
