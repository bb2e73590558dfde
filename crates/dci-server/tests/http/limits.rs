//! Every limit gives its documented error.

use std::time::Duration;

use dci_registry_sim::{FaultConfig, RegistryKind, SimConfig};
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_limits() {
    let h = start_with(
        Default::default(),
        |_| {},
        |c| {
            c.limits.max_body_bytes = 4_096;
            c.limits.max_beneficiaries = 3;
            c.limits.max_members = 2;
            c.limits.max_rules = 2;
            c.limits.max_rule_length = 100;
            c.limits.max_rule_depth = 5;
        },
    )
    .await;
    // body size
    let padding = "x".repeat(5_000);
    let (status, body) = h.evaluate(&json!({"rule": "true", "beneficiaries": [{"id": "A", "note": padding}]})).await;
    assert_eq!((status, code(&body)), (413, "payload_too_large"), "{body}");
    // beneficiaries per request
    let four: Vec<Value> = (0..4).map(|i| json!({"id": format!("B{i}")})).collect();
    let (status, body) = h.evaluate(&json!({"rule": "true", "beneficiaries": four})).await;
    assert_eq!((status, code(&body)), (413, "too_many_beneficiaries"), "{body}");
    assert_eq!(body["error"]["details"], json!({"limit": 3, "received": 4}));
    // members per beneficiary: that beneficiary only
    let members: Vec<Value> = (0..3).map(|i| json!({"id": format!("M{i}")})).collect();
    let (status, body) = h
        .evaluate(&json!({"rule": "true", "beneficiaries": [{"id": "BIG", "members": members}, {"id": "SMALL", "members": [{"id": "M"}]}]}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["error"]["path"], "beneficiaries[0].members");
    assert!(body["results"][0]["error"]["message"].as_str().expect("message").contains("at most 2"));
    assert_eq!(body["results"][1]["outcomes"]["rule"]["outcome"], "eligible");
    // rules per request
    let (status, body) =
        h.evaluate(&json!({"rules": {"a": "true", "b": "true", "c": "true"}, "beneficiaries": []})).await;
    assert_eq!((status, code(&body)), (422, "invalid_request"), "{body}");
    // rule length and depth: invalid rules, with the diagnostic
    let long = format!("poverty_score >= 0.7{}", " && true".repeat(20));
    let deep = format!("{}true{}", "(".repeat(6), ")".repeat(6));
    for (rule, diagnostic) in [(long, "too_long"), (deep, "too_deep")] {
        let (status, body) = h.evaluate(&json!({"rule": rule, "beneficiaries": []})).await;
        assert_eq!((status, code(&body)), (422, "invalid_rule"), "{body}");
        assert_eq!(body["error"]["details"]["rules"][0]["diagnostics"][0]["code"], diagnostic);
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluations_beyond_the_slots_and_queue_are_refused_with_retry_after() {
    let slow = FaultConfig { latency_ms: 600, ..FaultConfig::default() };
    let h = start_with(
        SimConfig::default().with_faults(RegistryKind::Ibr, slow),
        |_| {},
        |c| {
            c.limits.max_concurrent_evaluations = 1;
            c.limits.max_queued = 1;
            c.limits.max_concurrent_interactive = 1;
            c.limits.max_queued_interactive = 1;
        },
    )
    .await;
    // each request asks the (slow) IBR about a person nobody asked about before
    let requests = (0..6).map(|i| {
        let body = json!({"rule": "dci.ibr.is_enrolled == false", "as_of": AS_OF,
            "beneficiaries": [{"id": format!("P{i}"), "identifiers": [{"type": "UIN", "value": format!("77700{i}")}]}]});
        let request = h.post("/v1/evaluate").json(&body);
        async move {
            let response = request.send().await.expect("send");
            let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap_or_default().to_owned());
            (response.status().as_u16(), retry_after, response.json::<Value>().await.expect("json"))
        }
    });
    let answers = futures::future::join_all(requests).await;
    let refused: Vec<_> = answers.iter().filter(|(status, _, _)| *status == 503).collect();
    let served = answers.iter().filter(|(status, _, _)| *status == 200).count();
    assert!(served >= 2, "one running and one queued are served: {answers:?}");
    assert!(!refused.is_empty(), "{answers:?}");
    for (_, retry_after, body) in refused {
        assert_eq!(code(body), "overloaded");
        assert!(retry_after.as_deref().and_then(|s| s.parse::<u64>().ok()).is_some());
    }
    let text = h.get("/metrics").send().await.expect("send").text().await.expect("text");
    assert!(text.contains("elig_overloaded_total"), "{text}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_its_time_gets_a_timeout() {
    let slow = FaultConfig { latency_ms: 3_000, ..FaultConfig::default() };
    let h = start_with(
        SimConfig::default().with_faults(RegistryKind::Crvs, slow),
        |_| {},
        |c| {
            c.limits.request_timeout_secs = 1;
        },
    )
    .await;
    let started = std::time::Instant::now();
    let (status, body) =
        h.evaluate(&json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiaries": [household("HH-0001")]})).await;
    assert_eq!((status, code(&body)), (504, "timeout"), "{body}");
    assert!(started.elapsed() < Duration::from_millis(2_500));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_requests_in_flight_finish() {
    let slow = FaultConfig { latency_ms: 800, ..FaultConfig::default() };
    let h = start_with(SimConfig::default().with_faults(RegistryKind::Crvs, slow), |_| {}, |_| {}).await;
    let request = h
        .post("/v1/evaluate")
        .json(&json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiaries": [household("HH-0001")]}))
        .send();
    let in_flight = tokio::spawn(async move {
        let response = request.await.expect("send");
        (response.status().as_u16(), response.json::<Value>().await.expect("json"))
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let base = h.base.clone();
    let client = h.client.clone();
    h.server.shutdown().await;
    let (status, body) = in_flight.await.expect("task");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["outcomes"]["rule"]["outcome"], "eligible");
    assert!(client.get(format!("{base}/healthz")).send().await.is_err(), "no longer listening");
    h.sim.shutdown().await;
}

/// Opens a request to `path` on `h` and sends its head and the first byte of its body.
async fn slow_post(h: &Harness, path: &str) -> tokio::net::TcpStream {
    slow_post_of(h, path, "application/json").await
}

/// [`slow_post`] with another `Content-Type`.
async fn slow_post_of(h: &Harness, path: &str, content_type: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let address = h.base.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.expect("connects");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: {content_type}\r\nContent-Length: 100\r\n\r\n{{"
    );
    slow.write_all(head.as_bytes()).await.expect("writes");
    slow
}

/// A server with one evaluation slot per lane and no queue (so four JSON bodies may be received at once),
/// its body timeouts set by `timeouts`, and a request to `/v1/explain` whose body has begun.
/// Returns the harness, that connection and an explain request.
async fn one_slot_and_a_slow_body(
    timeouts: impl FnOnce(&mut dci_server::ServerLimits),
) -> (Harness, tokio::net::TcpStream, Value) {
    let h = start_with(
        Default::default(),
        |_| {},
        |c| {
            c.limits.max_concurrent_evaluations = 1;
            c.limits.max_queued = 0;
            c.limits.max_concurrent_interactive = 1;
            c.limits.max_queued_interactive = 0;
            timeouts(&mut c.limits);
        },
    )
    .await;
    let explain = json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiary": household("HH-0001")});
    let slow = slow_post(&h, "/v1/explain").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A body still arriving holds no evaluation slot: the only one serves another request.
    let quick = h.post("/v1/explain").json(&explain).send().await.expect("send");
    assert_eq!(quick.status(), 200, "the slow request holds no slot");
    (h, slow, explain)
}

/// Sends a space every 200 ms on `writing` (never idle for long, never done), for 10 s.
fn trickle(mut writing: tokio::net::tcp::OwnedWriteHalf) -> tokio::task::JoinHandle<()> {
    use tokio::io::AsyncWriteExt;
    tokio::spawn(async move {
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if writing.write_all(b" ").await.is_err() {
                return;
            }
        }
    })
}

/// The first answer read from `stream` (within 10 s), as text.
async fn answer(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer)).await.expect("answered");
    String::from_utf8_lossy(&answer[..read.expect("reads")]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_holds_no_slot_and_is_answered_408() {
    let (h, mut stalled, explain) = one_slot_and_a_slow_body(|limits| limits.body_idle_timeout_secs = 1).await;
    let answer = answer(&mut stalled).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"timeout\""), "{answer}");
    let after = h.post("/v1/explain").json(&explain).send().await.expect("send");
    assert_eq!(after.status(), 200);
    h.stop().await;
}

/// A JSON body that keeps arriving, a byte at a time, each pause shorter than the idle timeout,
/// holds no evaluation slot and is cut off once it has taken `body_read_timeout_secs`: 408. The
/// bodies received at once are bounded: past twice the slots and queue places, 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_holds_no_slot_and_is_cut_off_after_the_read_timeout() {
    let (h, trickling, explain) = one_slot_and_a_slow_body(|limits| {
        limits.body_idle_timeout_secs = 5;
        limits.body_read_timeout_secs = 2;
    })
    .await;
    // The validation of rules takes no slot, and its body is bounded the same way.
    let validating = slow_post(&h, "/v1/rules/validate").await;
    let mut readers = Vec::new();
    let mut trickles = Vec::new();
    for stream in [trickling, validating] {
        let (reading, writing) = stream.into_split();
        readers.push(reading);
        trickles.push(trickle(writing));
    }
    // Bodies received at once: twice the slots and queue places of both lanes (1 + 0 + 1 + 0).
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(slow_post(&h, "/v1/explain").await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = h.post("/v1/explain").json(&explain).send().await.expect("send");
    assert_eq!(refused.status(), 503, "four bodies being received, one slot per lane and no queue");
    let body: Value = refused.json().await.expect("json");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("bodies are being received"), "{body}");

    for reading in &mut readers {
        let answer = answer(reading).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("body_read_timeout_secs"), "{answer}");
    }
    trickles.iter().for_each(tokio::task::JoinHandle::abort);
    h.stop().await;
}

/// The options line of an NDJSON stream is bounded like a JSON body: trickling, it is cut off
/// once it has taken `body_read_timeout_secs` (the lines after it stream as long as they come).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ndjson_options_line_that_trickles_is_cut_off_after_the_read_timeout() {
    let h = start_with(
        Default::default(),
        |_| {},
        |c| {
            c.limits.body_idle_timeout_secs = 5;
            c.limits.body_read_timeout_secs = 1;
        },
    )
    .await;
    let (mut reading, writing) = slow_post_of(&h, "/v1/evaluate", "application/x-ndjson").await.into_split();
    let trickle = trickle(writing);
    let answer = answer(&mut reading).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("options line") && answer.contains("body_read_timeout_secs"), "{answer}");
    trickle.abort();
    h.stop().await;
}
