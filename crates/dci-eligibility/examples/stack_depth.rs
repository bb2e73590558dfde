//! How deep a rule of each shape can be before a thread with a given stack
//! overflows, when it is compiled and evaluated (with an explanation) on that
//! thread. The rule limit `max_depth` is chosen from these numbers.
//!
//! ```sh
//! cargo run --release -p dci-eligibility --example stack_depth -- 2048      # stack in KiB
//! ```
//!
//! Each probe runs in a child process (an overflow aborts the process), with
//! the compiler's own depth limit lifted; the answer is the deepest rule of
//! each shape that passed.

use std::process::Command;
use std::sync::Arc;

use dci_eligibility::{Beneficiary, Compiler, Engine, EvaluationOptions, Limits};
use dci_metrics::{Catalog, MetricStore, StoreConfig};

/// A rule of `shape` whose parsed expression is about `depth` deep.
fn rule(shape: &str, depth: usize) -> String {
    let n = depth.max(1);
    match shape {
        "plus" => format!("{} > 0", vec!["1"; n].join(" + ")),
        "and" => vec!["true"; n].join(" and "),
        "or" => vec!["false"; n].join(" || "),
        "not" => format!("{}true", "!".repeat(n)),
        "neg" => format!("{}1 < 0", "-".repeat(n)),
        "ternary" => format!("{}false", "false ? true : ".repeat(n)),
        "parens" => format!("{}true{}", "(".repeat(n), ")".repeat(n)),
        "select" => format!("has(r{})", ".a".repeat(n)),
        "index" => format!("size(r.x{}) > 0", "[0]".repeat(n)),
        "call" => format!("{}1{} > 0", "int(".repeat(n), ")".repeat(n)),
        "list" => format!("size({}1{}) > 0", "[".repeat(n), "]".repeat(n)),
        "map" => format!("size({}1{}) > 0", "{1: ".repeat(n), "}".repeat(n)),
        "exists" => {
            let mut text = "true".to_owned();
            for i in 0..n {
                text = format!("[1].exists(v{i}, {text})");
            }
            text
        }
        other => panic!("unknown shape {other}"),
    }
}

const SHAPES: &[&str] =
    &["plus", "and", "or", "not", "neg", "ternary", "parens", "select", "index", "call", "list", "map", "exists"];

/// Compiles and evaluates `rule(shape, depth)` on a thread with `stack` bytes.
fn probe(shape: &str, depth: usize, stack: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    rayon::ThreadPoolBuilder::new().num_threads(1).stack_size(stack).build_global().expect("pool");
    let text = rule(shape, depth);
    let handle = std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            let catalog = Arc::new(Catalog::default());
            let store =
                Arc::new(MetricStore::new(catalog.clone(), Vec::new(), &StoreConfig::default()).expect("store"));
            let compiler = Compiler::new(catalog).with_limits(Limits {
                max_length: usize::MAX,
                max_depth: usize::MAX,
                ..Limits::default()
            });
            let engine = Engine::new(compiler, store);
            match engine.compiler().compile("probe", &text) {
                Ok(rule) => {
                    let person = Beneficiary::from_json(serde_json::json!({"id": "A", "x": [[1]]}));
                    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
                    let options = EvaluationOptions { explain: true, ..EvaluationOptions::new(as_of) };
                    runtime.block_on(engine.evaluate_batch(&[rule], vec![person], &options));
                    true
                }
                Err(error) => {
                    eprintln!("{}", error.diagnostics[0].code);
                    false
                }
            }
        })
        .expect("thread");
    if !handle.join().expect("probe") {
        std::process::exit(3);
    }
}

/// Whether the rule compiled and evaluated, or was refused, without a crash.
fn passes(shape: &str, depth: usize, stack_kib: usize) -> bool {
    let exe = std::env::current_exe().expect("exe");
    let output = Command::new(exe)
        .args(["--probe", shape, &depth.to_string(), &stack_kib.to_string()])
        .output()
        .expect("probe runs");
    output.status.success() || output.status.code() == Some(3)
}

/// ", refused: <code>" when the compiler refuses the rule, else "".
fn refused_at(shape: &str, depth: usize, stack_kib: usize) -> String {
    let exe = std::env::current_exe().expect("exe");
    let output = Command::new(exe)
        .args(["--probe", shape, &depth.to_string(), &stack_kib.to_string()])
        .output()
        .expect("probe runs");
    if output.status.code() == Some(3) {
        format!(", refused: {}", String::from_utf8_lossy(&output.stderr).trim())
    } else {
        String::new()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--probe") {
        let depth = args[2].parse().expect("depth");
        let stack: usize = args[3].parse().expect("stack");
        probe(&args[1], depth, stack * 1024);
        return;
    }
    let stack_kib: usize = args.first().map_or(2048, |s| s.parse().expect("stack in KiB"));
    println!("stack {stack_kib} KiB: deepest rule compiled and evaluated, per shape");
    for shape in SHAPES {
        let (mut ok, mut bad) = (1usize, 1usize);
        while passes(shape, bad, stack_kib) {
            ok = bad;
            bad *= 2;
            if bad > 20_000 {
                break;
            }
        }
        if bad > 20_000 {
            println!("{shape:>8}: > {ok}");
            continue;
        }
        while bad - ok > 1.max(ok / 50) {
            let mid = (ok + bad) / 2;
            if passes(shape, mid, stack_kib) { ok = mid } else { bad = mid }
        }
        let refused = refused_at(shape, ok, stack_kib);
        println!("{shape:>8}: {ok}{refused} ({} bytes per level)", stack_kib * 1024 / ok.max(1));
    }
}
