//! Heap allocations of a warm run, per beneficiary and by phase (reading the
//! lines, deciding, writing the decisions), for each seed rule; the list is
//! read and decided in chunks of 10,000 as `elig eval` does. The last column
//! reads it as `elig eval` did before it read in blocks: line by line, each
//! line copied, every household's members built.
//! `cargo run --release -p dci-bench --example alloc_count -- 20000`
//! (argument: households). Counted by dhat's allocator, which also slows the
//! run: the counts are the figures, not the times.

use std::io::Cursor;

use dci_bench::{Population, SEED_RULES, as_of};
use dci_eligibility::EvaluationOptions;
use dci_eligibility::io::{BlockReader, Format, Line, Writer, parse_line};
use dci_eligibility::stream::member_reading;

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

/// Allocations and bytes allocated so far.
fn allocated() -> (u64, u64) {
    let stats = dhat::HeapStats::get();
    (stats.total_blocks, stats.total_bytes)
}

/// Adds what was allocated since `since` to `into`.
fn count(since: (u64, u64), into: &mut (u64, u64)) {
    let now = allocated();
    into.0 += now.0 - since.0;
    into.1 += now.1 - since.1;
}

#[tokio::main]
async fn main() {
    let households: u64 = std::env::args().nth(1).map_or(20_000, |a| a.parse().expect("households: a number"));
    let dir = std::env::temp_dir().join(format!("elig-bench-population-{households}"));
    let population = Population::start(&dir, households, 1, 0).await.expect("population");
    let engine = population.engine().expect("engine");
    let rules: Vec<_> = SEED_RULES.iter().map(|(n, s)| engine.compiler().compile(n, s).expect("compiles")).collect();
    let cold = EvaluationOptions { demand_driven: false, ..EvaluationOptions::new(as_of()) };
    engine.evaluate_batch(&rules, population.beneficiaries().expect("beneficiaries"), &cold).await;
    let text = std::fs::read(dir.join("beneficiaries.ndjson")).expect("the list");
    let _profiler = dhat::Profiler::builder().testing().trim_backtraces(Some(1)).build();
    println!("{households} households; allocations (bytes) per beneficiary");
    println!("{:<30} {:>16} {:>16} {:>16} {:>18}", "rule", "read", "decide", "write", "read line by line");
    for rule in &rules {
        let rule = std::slice::from_ref(rule);
        let (mut read, mut decide, mut write) = ((0, 0), (0, 0), (0, 0));
        let mut reader = BlockReader::new(Cursor::new(text.as_slice()));
        loop {
            let start = allocated();
            let block = reader.next_block(10_000).expect("reads");
            let items = block.parse(member_reading(rule));
            count(start, &mut read);
            if items.is_empty() {
                break;
            }
            let start = allocated();
            let result = engine.evaluate_batch(rule, items, &EvaluationOptions::new(as_of())).await;
            count(start, &mut decide);
            let start = allocated();
            std::hint::black_box(Writer::<Vec<u8>>::render(Format::Ndjson, rule, &result.items, 0));
            count(start, &mut write);
        }
        let (start, mut by_line) = (allocated(), (0, 0));
        for (number, line) in String::from_utf8_lossy(&text).lines().enumerate() {
            std::hint::black_box(parse_line(&Line::Text(number + 1, line.trim().to_owned())).ok());
        }
        count(start, &mut by_line);
        let per = |(blocks, bytes): (u64, u64)| {
            format!("{:.1} ({:.0})", blocks as f64 / households as f64, bytes as f64 / households as f64)
        };
        let (read, decide, write, by_line) = (per(read), per(decide), per(write), per(by_line));
        println!("{:<30} {read:>16} {decide:>16} {write:>16} {by_line:>18}", rule[0].name());
    }
}
