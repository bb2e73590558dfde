//! What one budget means in time: for each costly shape of rule, how long one
//! evaluation takes until it is stopped at `max_steps` or `max_bytes`, on this
//! machine, and how far the resident memory rose. The README's "What a
//! budget is in time" and BENCHMARKS.md come from this.
//!
//! ```sh
//! cargo run --release -p dci-eligibility --example budget_time
//! ```

use std::sync::Arc;
use std::time::Instant;

use dci_eligibility::{Beneficiary, Compiler, Engine, EvaluationOptions, ItemResult};
use dci_metrics::{Catalog, MetricStore, StoreConfig};
use serde_json::json;

/// A line of `/proc/self/status` in bytes (`VmHWM`, the peak resident memory; `VmRSS`, the current).
fn status_bytes(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(key)).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|kib| kib.parse::<u64>().ok()).unwrap_or(0) * 1024
}

/// Resets the peak resident memory to the current (Linux: `5` to `clear_refs`).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let store = MetricStore::new(Arc::new(Catalog::default()), Vec::new(), &StoreConfig::default()).expect("store");
    let engine = Engine::new(Compiler::new(Arc::new(Catalog::default())), Arc::new(store));
    let long = "ab".repeat(1 << 19);
    let ints: Vec<i64> = (0..100_000).collect();
    let shapes: Vec<(&str, String, serde_json::Value)> = vec![
        ("loop of comparisons", "r.l.all(x, r.l.all(y, x != y + 1000000))".into(), json!({"l": ints})),
        ("loop ending in errors", "[r.l].all(L, L.all(x, L.all(y, 1 / 0 == 1)))".into(), json!({"l": ints})),
        ("concatenation", "[r.s].map(x, x + x + x + x).map(y, y + y).all(w, size(w) > 0)".into(), json!({"s": long})),
        ("split into characters", "size(r.s.split('')) > 0".into(), json!({"s": long})),
        ("distinct", "size(r.l.distinct()) > 0".into(), json!({"l": ints})),
        ("sort", "r.l.sort()[0] == 0".into(), json!({"l": ints.iter().rev().collect::<Vec<_>>()})),
        ("matches", "r.s.matches('(?:[a-z]{0,9}){100}x')".into(), json!({"s": "a".repeat(10_000)})),
        ("matches, under budget", "r.s.matches('(?:[a-z]{0,9}){100}x')".into(), json!({"s": "a".repeat(3_000)})),
        ("matches \\w{20}", r"r.s.matches('\\w{20}x')".into(), json!({"s": "é".repeat(8_000)})),
        (
            "matches in a loop",
            "r.l.all(x, r.s.matches('(?:[a-z]{0,9}){20}x'))".into(),
            json!({"l": ints, "s": "a".repeat(1_000)}),
        ),
        ("indexOf in a loop", "r.l.all(x, r.s.indexOf('abc') >= -1)".into(), json!({"l": ints, "s": long})),
        ("in over a list", "r.l.all(x, x in r.l)".into(), json!({"l": ints})),
    ];
    println!("{:<24} {:>10} {:>12} {:>16}  outcome", "shape", "ms", "peak MiB", "data MiB");
    for (name, rule, data) in shapes {
        let mut data = data;
        data["id"] = json!("A");
        let text = data.to_string();
        let compiled = engine.compiler().compile(name, &rule).expect("compiles");
        let beneficiary = Beneficiary::from_json_str(&text).expect("reads");
        reset_peak();
        let baseline = status_bytes("VmRSS:");
        let started = Instant::now();
        let result = runtime.block_on(engine.evaluate_batch(
            &[compiled],
            vec![Ok(beneficiary)],
            &EvaluationOptions::new(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date")),
        ));
        let elapsed = started.elapsed();
        let peak = status_bytes("VmHWM:").saturating_sub(baseline);
        let outcome = match &result.items[0] {
            ItemResult::Decided { decisions, .. } => {
                format!("{:?} {}", decisions[0].outcome, decisions[0].code.unwrap_or_default())
            }
            ItemResult::Invalid { error } => error.to_string(),
        };
        println!(
            "{:<24} {:>10.1} {:>12.1} {:>16.1}  {outcome}",
            name,
            elapsed.as_secs_f64() * 1e3,
            peak as f64 / (1 << 20) as f64,
            text.len() as f64 / (1 << 20) as f64
        );
    }
}
