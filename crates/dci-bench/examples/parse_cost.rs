//! Parse cost of beneficiary lines against the parsing floor (serde_json into `IgnoredAny`), on one
//! thread, in blocks of 10,000 lines as `elig eval` reads them:
//! `cargo run --release -p dci-bench --example parse_cost -- beneficiaries.ndjson [eager|on-demand]`

use std::io::Cursor;
use std::time::Instant;

use dci_eligibility::MemberReading;
use dci_eligibility::io::{BlockReader, LineBlock};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let path = std::env::args().nth(1).expect("give an NDJSON file");
    // A second argument, `eager` or `on-demand`, measures that reading only.
    let only = std::env::args().nth(2).map(|reading| match reading.as_str() {
        "eager" => MemberReading::Eager,
        _ => MemberReading::OnDemand,
    });
    let text = std::fs::read_to_string(path).expect("reads");
    let mut reader = BlockReader::new(Cursor::new(text.as_bytes()));
    let mut blocks = Vec::<LineBlock>::new();
    loop {
        let block = reader.next_block(10_000).expect("reads");
        if block.is_empty() {
            break;
        }
        blocks.push(block);
    }
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a pool");
    for _ in 0..3 {
        let started = Instant::now();
        for line in text.lines() {
            let _: serde::de::IgnoredAny = serde_json::from_str(line).expect("JSON");
        }
        let floor = started.elapsed().as_secs_f64();
        print!("{} lines: IgnoredAny {floor:.3} s", reader.lines_read());
        for reading in [MemberReading::Eager, MemberReading::OnDemand] {
            if only.is_some_and(|only| only != reading) {
                continue;
            }
            let started = Instant::now();
            one_thread.install(|| blocks.iter().for_each(|block| drop(block.parse(reading))));
            let seconds = started.elapsed().as_secs_f64();
            print!(", {reading:?} {seconds:.3} s ({:.2}×)", seconds / floor);
        }
        println!();
    }
}
