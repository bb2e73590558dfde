//! The HTTP edge behaves as documented: slow or too many connections are
//! closed, large heads get the JSON 431, a body without `Content-Type` gets
//! 415, and without a key nothing tells which routes exist.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

/// Reads until the peer closes (or `within` passes): whether it closed.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let h = start_with(Default::default(), |_| {}, |c| c.limits.header_read_timeout_secs = 1).await;
    let mut slow = TcpStream::connect(h.server.local_addr()).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.expect("write");
    let started = Instant::now();
    assert!(closed_within(&mut slow, Duration::from_secs(5)).await, "the server closed the connection");
    assert!(started.elapsed() >= Duration::from_millis(900), "after the timeout, {:?}", started.elapsed());
    let health = h.client.get(h.url("/healthz")).send().await.expect("send");
    assert_eq!(health.status(), 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_bound_are_closed_and_the_server_recovers() {
    let h = start_with(Default::default(), |_| {}, |c| c.limits.max_connections = 2).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(h.server.local_addr()).await.expect("connect");
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
        let mut buffer = [0u8; 512];
        let read = stream.read(&mut buffer).await.expect("answer");
        assert!(String::from_utf8_lossy(&buffer[..read]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut third = TcpStream::connect(h.server.local_addr()).await.expect("connect");
    let _ = third.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(closed_within(&mut third, Duration::from_secs(3)).await, "the third connection is refused");
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fresh = reqwest::Client::new();
    assert_eq!(fresh.get(h.url("/healthz")).send().await.expect("send").status(), 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_at_the_edge_are_the_documented_json() {
    let h = start().await;
    // Headers over max_header_bytes (64 KiB by default): the JSON 431.
    let response = h.get("/v1/metrics").header("X-Big", "x".repeat(100_000)).send().await.expect("send");
    assert_eq!(response.status(), 431);
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(code(&body), "headers_too_large");
    // A body without Content-Type: 415, not read as JSON.
    let response = h
        .post("/v1/evaluate")
        .body(json!({"rule": "true", "beneficiaries": []}).to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 415);
    let body: Value = response.json().await.expect("json");
    assert_eq!(code(&body), "unsupported_media_type");
    // Without a key, a wrong method or an unknown route says no more than a protected route.
    let anonymous = reqwest::Client::new();
    for (method, path) in [("GET", "/v1/evaluate"), ("DELETE", "/v1/rules/validate"), ("GET", "/v1/nothing-here")] {
        let request = anonymous.request(method.parse().expect("method"), h.url(path));
        let response = request.send().await.expect("send");
        assert_eq!(response.status(), 401, "{method} {path}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(code(&body), "unauthorized");
    }
    // With a key, the wrong method is 405 as documented.
    let response = h.get("/v1/evaluate").send().await.expect("send");
    assert_eq!(response.status(), 405);
    h.stop().await;
}
