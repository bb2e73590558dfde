//! 250,000 beneficiaries streamed through `POST /v1/evaluate` as NDJSON: the
//! body is generated while it is sent, the response read while it arrives;
//! count and order are checked, and the process's memory must stay far below
//! what holding the batch would take. Its own test binary, so that nothing
//! else runs in the process while its memory is measured.

#[path = "http/common.rs"]
#[allow(dead_code)]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};

use common::*;

const BENEFICIARIES: usize = 250_000;
const LINES_PER_SEND: usize = 500;
const CHUNK: usize = 2_000;

fn kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// What one streamed request did.
struct Streamed {
    results: usize,
    summary: Value,
    /// Bytes sent and received.
    text: u64,
    /// The highest VmRSS seen while reading the response, in KiB.
    peak_kib: u64,
}

/// Streams `count` beneficiaries (the fixture's households over and over, each with its own id)
/// and reads the results as they arrive, checking their order.
async fn stream(h: &Harness, templates: &[String], count: usize) -> Streamed {
    let templates = templates.to_vec();
    let options = json!({"rules": {"poor": POOR, "elderly": ELDERLY}, "as_of": AS_OF}).to_string() + "\n";
    let sent = Arc::new(AtomicU64::new(options.len() as u64));
    let counter = sent.clone();
    let body = futures::stream::iter(std::iter::once(Bytes::from(options)).chain(
        (0..count).step_by(LINES_PER_SEND).map(move |start| {
            let mut text = String::with_capacity(LINES_PER_SEND * 400);
            for n in start..(start + LINES_PER_SEND).min(count) {
                text += &templates[n % templates.len()].replace("@ID@", &format!("B-{n:06}"));
                text.push('\n');
            }
            counter.fetch_add(text.len() as u64, Ordering::Relaxed);
            Bytes::from(text)
        }),
    ))
    .map(Ok::<Bytes, std::io::Error>);
    let response = h
        .post("/v1/evaluate")
        .header("content-type", "application/x-ndjson")
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let mut chunks = response.bytes_stream();
    let mut pending: Vec<u8> = Vec::new();
    let mut results = 0usize;
    let mut received = 0u64;
    let mut summary: Option<Value> = None;
    let mut peak_kib = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.expect("chunk");
        received += chunk.len() as u64;
        pending.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
            let line: Value = serde_json::from_slice(&pending[start..start + end]).expect("a result line");
            start += end + 1;
            if let Some(s) = line.get("summary") {
                summary = Some(s.clone());
                continue;
            }
            assert_eq!(line["id"], format!("B-{results:06}"), "in order");
            assert!(line["outcomes"]["poor"]["outcome"].is_string());
            results += 1;
            if results.is_multiple_of(1_000) {
                peak_kib = peak_kib.max(kib("VmRSS:"));
            }
        }
        pending.drain(..start);
    }
    Streamed {
        results,
        summary: summary.expect("a summary line"),
        text: sent.load(Ordering::Relaxed) + received,
        peak_kib,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarter_million_beneficiaries_stream_in_bounded_memory() {
    let h = start_with(Default::default(), |_| {}, |c| c.limits.ndjson_chunk = CHUNK).await;
    let templates: Vec<String> = fixture()
        .into_iter()
        .map(|mut household| {
            household["id"] = json!("@ID@");
            household.to_string()
        })
        .collect();
    // warm up: registry facts of the fixture identifiers cached, allocator arenas grown
    let warm = stream(&h, &templates, 4 * CHUNK).await;
    assert_eq!(warm.results, 4 * CHUNK);
    let before = kib("VmRSS:");

    let run = stream(&h, &templates, BENEFICIARIES).await;
    assert_eq!(run.results, BENEFICIARIES);
    assert_eq!(run.summary["items"], BENEFICIARIES);
    assert_eq!(run.summary["invalid"], 0);
    assert_eq!(run.summary["chunks"], BENEFICIARIES / CHUNK);

    // Holding the batch would take at least its text, request and response; parsed, several times that.
    // What the server holds is a few chunks in flight (read, parsed, evaluated, rendered): the same for
    // any list length, so a long list shows the difference.
    let held_kib = run.text / 1024;
    let growth = run.peak_kib.saturating_sub(before);
    eprintln!(
        "VmRSS before {before} KiB, peak while streaming {} KiB: growth {growth} KiB; batch text {held_kib} KiB",
        run.peak_kib
    );
    assert!(growth * 3 < held_kib, "RSS grew {growth} KiB while streaming {held_kib} KiB of batch text");
    h.stop().await;
}
