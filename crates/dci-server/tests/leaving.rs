//! A client that leaves frees its evaluation slot promptly: its work stops at
//! the next loop iteration, and what is left of it runs on the small callers'
//! pool. In a binary of its own, so that no other test's work shares the
//! process's pools with it.

// Shared with the HTTP tests, which use more of it.
#[allow(dead_code)]
#[path = "http/common.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

/// A beneficiary whose list field holds `n` items.
fn with_list(id: &str, n: u32) -> Value {
    json!({"id": id, "xs": (0..n).collect::<Vec<u32>>()})
}

const PAIRS: &str = "r.xs.all(a, r.xs.all(b, a != b || a == b))";

/// How many evaluations run now, in both lanes together.
async fn running(h: &Harness) -> f64 {
    let metrics = h.get("/metrics").send().await.expect("send").text().await.expect("text");
    metrics
        .lines()
        .filter(|line| line.starts_with("elig_evaluations_running{"))
        .filter_map(|line| line.rsplit(' ').next()?.trim().parse::<f64>().ok())
        .sum()
}

/// Sends `body` with a client that gives up after 700 ms (unless answered sooner), then waits
/// for the slot to be free again: how long that took after the client left.
async fn slot_freed_after_leaving(h: &Harness, body: &Value) -> Duration {
    let leaving = h.client.post(h.url("/v1/evaluate")).bearer_auth(KEY).json(body).timeout(Duration::from_millis(700));
    let _ = leaving.send().await;
    let left = Instant::now();
    while running(h).await > 0.0 {
        assert!(left.elapsed() < Duration::from_secs(30), "the slot was still held {:?} after", left.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    left.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_frees_its_slot_promptly() {
    // One operation that could not be interrupted: `distinct` over 150,000 items (about a minute
    // of one core in CEL's implementation). It is charged its real cost first, so it never starts.
    let h = start().await;
    let body = json!({"rule": "size(r.xs.distinct()) >= 0", "beneficiaries": [with_list("D", 150_000)]});
    let freed = slot_freed_after_leaving(&h, &body).await;
    assert!(freed < Duration::from_secs(5), "the slot was held {freed:?} after the client left");
    h.stop().await;
    // Loops with a budget so large that only the cancellation stops them: they stop at their
    // next iteration.
    let h = start_with(
        Default::default(),
        |engine| {
            engine.rules.max_steps = u64::MAX / 4;
            engine.rules.max_bytes = u64::MAX / 4;
            engine.rules.max_batch_steps = u64::MAX / 4;
        },
        |_| {},
    )
    .await;
    let people: Vec<Value> = (0..20).map(|i| with_list(&format!("P{i}"), 3_000)).collect();
    let freed = slot_freed_after_leaving(&h, &json!({"rule": PAIRS, "beneficiaries": people})).await;
    assert!(freed < Duration::from_secs(5), "the slot was held {freed:?} after the client left");
    h.stop().await;
}
