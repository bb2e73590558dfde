//! No request can crash or pin the server: deep and costly rules are refused,
//! evaluations past their budget end as errors, a request that times out
//! stops its work and keeps its slot until then, and a small request is
//! answered while large ones run.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

/// `[0..9].all(a, [0..9].all(b, ... true))`, twelve deep: 10^12 steps in 364 bytes.
fn nested_all() -> String {
    let digits = "[0,1,2,3,4,5,6,7,8,9]";
    let mut rule = "true".to_owned();
    for variable in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"] {
        rule = format!("{digits}.all({variable}, {rule})");
    }
    rule
}

fn first_diagnostic(body: &Value) -> &str {
    body["error"]["details"]["rules"][0]["diagnostics"][0]["code"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_and_costly_rules_are_refused_and_the_server_stays_up() {
    let h = start().await;
    let chain = format!("{} > 0", vec!["1"; 2000].join(" + "));
    for (rule, diagnostic) in [(chain.clone(), "too_deep"), (nested_all(), "cost_too_high")] {
        let (status, body) = h.evaluate(&json!({"rule": rule, "beneficiaries": [{"id": "A"}]})).await;
        assert_eq!((status, code(&body)), (422, "invalid_rule"), "{body}");
        assert_eq!(first_diagnostic(&body), diagnostic, "{body}");
        // The validation route says the same.
        let response = h.post("/v1/rules/validate").json(&json!({"rule": rule})).send().await.expect("send");
        let report: Value = response.json().await.expect("json");
        assert_eq!(report["rules"][0]["valid"], false, "{report}");
        assert_eq!(report["rules"][0]["diagnostics"][0]["code"], diagnostic, "{report}");
    }
    let (status, body) =
        h.evaluate(&json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiaries": [household("HH-0001")]})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["outcomes"]["rule"]["outcome"], "eligible");
    h.stop().await;
}

/// A beneficiary whose list field is far longer than the estimate assumes.
fn long_list(id: &str) -> Value {
    json!({"id": id, "xs": (0..3000).collect::<Vec<u32>>()})
}

const PAIRS: &str = "r.xs.all(a, r.xs.all(b, a != b || a == b))";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evaluation_past_its_budget_is_an_error_and_a_small_request_is_answered_meanwhile() {
    let h = start().await;
    // Two large requests whose every beneficiary runs to its budget.
    let heavy = (0..2).map(|request| {
        let people: Vec<Value> = (0..30).map(|i| long_list(&format!("R{request}-{i}"))).collect();
        let body = json!({"rule": PAIRS, "beneficiaries": people});
        let call = h.post("/v1/evaluate").json(&body);
        tokio::spawn(async move {
            let response = call.send().await.expect("send");
            (response.status().as_u16(), response.json::<Value>().await.expect("json"))
        })
    });
    let heavy: Vec<_> = heavy.collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let (status, body) =
        h.evaluate(&json!({"rule": ELDERLY, "as_of": AS_OF, "beneficiaries": [household("HH-0001")]})).await;
    let waited = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(waited < Duration::from_secs(1), "a one-beneficiary evaluation took {waited:?} beside two large ones");
    for request in heavy {
        let (status, body) = request.await.expect("task");
        assert_eq!(status, 200, "{body}");
        let decision = &body["results"][0]["outcomes"]["rule"];
        assert_eq!(decision["outcome"], "error", "{decision}");
        assert_eq!(decision["code"], "budget_exceeded", "{decision}");
        assert!(decision["error"].as_str().unwrap_or_default().contains("rule `rule`"), "{decision}");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_times_out_stops_its_work_and_frees_its_slot() {
    // A budget so large that only cancellation stops the work.
    let h = start_with(
        Default::default(),
        |engine| {
            engine.rules.max_steps = u64::MAX / 4;
            engine.rules.max_bytes = u64::MAX / 4;
        },
        |c| {
            c.limits.request_timeout_secs = 1;
            c.limits.max_concurrent_evaluations = 1;
            c.limits.max_queued = 4;
            c.limits.max_concurrent_interactive = 1;
            c.limits.max_queued_interactive = 4;
        },
    )
    .await;
    let people: Vec<Value> = (0..50).map(|i| long_list(&format!("P{i}"))).collect();
    let started = Instant::now();
    let (status, body) = h.evaluate(&json!({"rule": PAIRS, "beneficiaries": people})).await;
    assert_eq!((status, code(&body)), (504, "timeout"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // The work goes on only until it notices: then the only slot is free again.
    let metrics = h.get("/metrics").send().await.expect("send").text().await.expect("text");
    assert!(metrics.contains("elig_evaluation_oldest_age_seconds"), "{metrics}");
    let freed = Instant::now();
    loop {
        let metrics = h.get("/metrics").send().await.expect("send").text().await.expect("text");
        // Both lanes together.
        let running: f64 = metrics
            .lines()
            .filter(|line| line.starts_with("elig_evaluations_running{"))
            .filter_map(|line| line.rsplit(' ').next()?.trim().parse::<f64>().ok())
            .sum();
        if running == 0.0 {
            break;
        }
        assert!(freed.elapsed() < Duration::from_secs(10), "the slot was held {:?} after the timeout", freed.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready: Value = h.get("/readyz").send().await.expect("send").json().await.expect("json");
    assert_eq!(ready["saturated"], false, "{ready}");
    h.stop().await;
}
