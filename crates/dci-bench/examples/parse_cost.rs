//! Parse cost of beneficiary lines: `cargo run --release -p dci-bench --example parse_cost -- beneficiaries.ndjson`

use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let path = std::env::args().nth(1).expect("give an NDJSON file");
    let text = std::fs::read_to_string(path).expect("reads");
    let lines: Vec<dci_eligibility::io::Line> =
        text.lines().enumerate().map(|(i, l)| dci_eligibility::io::Line::Text(i + 1, l.to_owned())).collect();
    // The same line again and again: allocations are reused, caches are hot.
    let started = Instant::now();
    for _ in 0..100_000 {
        let value: serde_json::Value = serde_json::from_str(text.lines().next().unwrap_or_default()).expect("json");
        std::hint::black_box(value);
    }
    println!("one line, repeated: {:.0} ns", started.elapsed().as_nanos() as f64 / 100_000.0);
    for _ in 0..3 {
        let started = Instant::now();
        let parsed: Vec<_> = lines.iter().map(dci_eligibility::io::parse_line).collect();
        let parse_ns = started.elapsed().as_nanos() as f64 / lines.len() as f64;
        let started = Instant::now();
        let copy = parsed.clone();
        let clone_ns = started.elapsed().as_nanos() as f64 / lines.len() as f64;
        drop(copy);
        let started = Instant::now();
        drop(parsed);
        println!(
            "all lines kept: {parse_ns:.0} ns/line, clone {clone_ns:.0} ns/line, drop {:.0} ns/line",
            started.elapsed().as_nanos() as f64 / lines.len() as f64
        );
        let started = Instant::now();
        for line in &lines {
            std::hint::black_box(dci_eligibility::io::parse_line(line).ok());
        }
        println!("each dropped at once: {:.0} ns/line", started.elapsed().as_nanos() as f64 / lines.len() as f64);
    }
}
