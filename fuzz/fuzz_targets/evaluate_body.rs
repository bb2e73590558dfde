//! `POST /v1/evaluate` through the real router: the first byte picks JSON or
//! NDJSON (options line, then beneficiaries), the rest is the body. Any body
//! gets a documented answer: never a 500, always JSON or NDJSON.
#![no_main]

use std::sync::LazyLock;

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

#[path = "common.rs"]
mod common;

static ROUTER: LazyLock<axum::Router> = LazyLock::new(|| {
    let config = dci_server::ServerConfig { allow_unauthenticated: true, ..Default::default() };
    let state = dci_server::AppState::new(common::WORLD.engine.clone(), &config).expect("state");
    dci_server::router(state)
});

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else { return };
    let media = if kind % 2 == 0 { "application/json" } else { "application/x-ndjson" };
    let request = Request::post("/v1/evaluate").header("content-type", media).body(Body::from(body.to_vec()));
    let Ok(request) = request else { return };
    let world = &*common::WORLD;
    world.runtime.block_on(async {
        let _guard = world.runtime.enter();
        let response = ROUTER.clone().oneshot(request).await.expect("the router answers");
        let status = response.status();
        assert_ne!(status.as_u16(), 500, "a body made the server fail");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        if status.is_success() && kind % 2 == 0 {
            serde_json::from_slice::<serde_json::Value>(&bytes).expect("a JSON answer");
        }
    });
});
