//! Measures the API end to end over loopback HTTP, release mode:
//!
//! 1. a streamed NDJSON evaluation of `STREAM` beneficiaries (default 1,000,000): wall time and
//!    the server's peak RSS;
//! 2. JSON requests of 1,000 beneficiaries at concurrency 1, 4 and 16, with a cold cache (every
//!    person looked up in the registries) and a warm one: decisions/s, latency p50/p99.
//!
//! ```text
//! cargo run --release -p dci-server --example measure_api -- [STREAM] [SECONDS] [CACHE_ENTRIES]
//! ```
//!
//! `SECONDS` 0 skips the JSON runs; `CACHE_ENTRIES` caps the fact cache (default 4,000,000), to
//! tell the stream's memory from the cache's.
//!
//! The population (`dci_registry_sim::population::generate`, seed 1) and the registry simulator
//! serving it run in a child process, so that this process's RSS is the server's (plus a load
//! client that streams and holds nothing). Rules: the four seed rules.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dci_client::{DataSource, RegistryType, SecretSource};
use dci_eligibility::{Engine, EngineConfig};
use dci_registry_sim::population::{GenConfig, generate};
use dci_registry_sim::{RegistryKind, SimConfig, Simulator};
use dci_server::access::{ApiKeyConfig, Scope};
use dci_server::{Server, ServerConfig};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

const KEY: &str = "measure-key";
const PER_REQUEST: usize = 1_000;
/// Households generated beyond the stream's, for the cold JSON runs.
const COLD_EXTRA: u64 = 600_000;
/// Requests of the warm JSON runs (cycled).
const WARM_REQUESTS: usize = 200;

fn rules() -> Value {
    json!({
        "disabled_not_enrolled": "dci.dr.has_disability == true and dci.dr.disability_level >= 3 and dci.ibr.is_enrolled == false",
        "elderly_alive": "dci.crvs.is_alive == true and age_years(r.birthdate) >= 60",
        "poor_not_enrolled": "poverty_score >= 0.7 and dci.ibr.program_count == 0",
        "household_disability": "members.exists(m, m.dci.dr.has_disability == true)",
    })
}

fn kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The child: serves `dir` until its stdin closes.
async fn simulator(dir: &str) {
    let sim =
        Simulator::start(SimConfig { data_dir: Some(dir.into()), ..SimConfig::default() }).await.expect("simulator");
    println!("ADDR {}", sim.local_addr());
    let _ = tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink())).await;
    sim.shutdown().await;
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
}

/// Sends the request bodies from `next` on, `concurrency` at a time, for `seconds`.
async fn load(
    client: &reqwest::Client,
    url: &str,
    bodies: &[Bytes],
    next: &AtomicUsize,
    concurrency: usize,
    seconds: u64,
    cycle: bool,
) -> (usize, Vec<Duration>, Duration) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let workers = (0..concurrency).map(|_| async {
        let mut latencies = Vec::new();
        while Instant::now() < deadline {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(body) = bodies.get(if cycle { index % bodies.len() } else { index }) else { break };
            let sent = Instant::now();
            let response = client
                .post(url)
                .bearer_auth(KEY)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .expect("send");
            assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
            let _ = response.bytes().await.expect("body");
            latencies.push(sent.elapsed());
        }
        latencies
    });
    let mut latencies: Vec<Duration> = futures::future::join_all(workers).await.into_iter().flatten().collect();
    let elapsed = started.elapsed();
    latencies.sort();
    (latencies.len(), latencies, elapsed)
}

/// Streams `path` (NDJSON beneficiaries) through the API; the count of results.
async fn stream(client: &reqwest::Client, url: &str, path: &Path, expected: usize) -> (usize, Value, u64) {
    let options = json!({"rules": rules(), "as_of": "2026-01-01"}).to_string() + "\n";
    let file = tokio::fs::File::open(path).await.expect("beneficiaries");
    let lines = futures::stream::unfold(tokio::io::BufReader::with_capacity(1 << 20, file), |mut reader| async move {
        let mut buffer = Vec::with_capacity(1 << 18);
        while buffer.len() < (1 << 18) {
            match reader.read_until(b'\n', &mut buffer).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) => return Some((Err(error), reader)),
            }
        }
        if buffer.is_empty() { None } else { Some((Ok(Bytes::from(buffer)), reader)) }
    });
    let body = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(Bytes::from(options)) }).chain(lines);
    let response = client
        .post(url)
        .bearer_auth(KEY)
        .header("content-type", "application/x-ndjson")
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let mut chunks = response.bytes_stream();
    let mut pending: Vec<u8> = Vec::new();
    let (mut results, mut peak) = (0usize, 0u64);
    let mut summary = Value::Null;
    while let Some(chunk) = chunks.next().await {
        pending.extend_from_slice(&chunk.expect("chunk"));
        let mut start = 0;
        while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
            let line = &pending[start..start + end];
            start += end + 1;
            if line.starts_with(b"{\"summary\"") {
                let mut line: Value = serde_json::from_slice(line).expect("summary");
                summary = line["summary"].take();
            } else {
                results += 1;
                if results.is_multiple_of(50_000) {
                    peak = peak.max(kib("VmRSS:"));
                    eprint!("\r  {results}/{expected}");
                }
            }
        }
        pending.drain(..start);
    }
    eprintln!();
    (results, summary, peak)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--simulator") {
        return simulator(&args[1]).await;
    }
    let stream_count: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let cache_entries: Option<u64> = args.get(2).and_then(|a| a.parse().ok());

    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    // the stream's households, then fresh ones for the cold JSON runs
    let cold_extra = if seconds == 0 { 0 } else { COLD_EXTRA };
    let households = stream_count + cold_extra;
    let population =
        generate(&GenConfig { households, seed: 1, ..GenConfig::default() }, dir.path()).expect("generate");
    let all = dir.path().join("beneficiaries.ndjson");
    let stream_file = dir.path().join("stream.ndjson");
    {
        use std::io::{BufRead, Write};
        let mut out = std::io::BufWriter::new(std::fs::File::create(&stream_file).expect("stream file"));
        let lines = std::io::BufReader::new(std::fs::File::open(&all).expect("beneficiaries")).lines();
        for line in lines.take(stream_count as usize) {
            writeln!(out, "{}", line.expect("line")).expect("write");
        }
        out.flush().expect("flush");
    }
    println!(
        "population: {} households, {} persons, in {:.1} s",
        population.households,
        population.persons,
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let mut child = std::process::Command::new(std::env::current_exe().expect("exe"))
        .args(["--simulator", dir.path().to_str().expect("path")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("simulator process");
    let child_out = child.stdout.take().expect("stdout");
    let addr = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        std::io::BufReader::new(child_out)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("ADDR ").map(str::to_owned))
            .expect("the simulator's address")
    })
    .await
    .expect("reader");
    println!("simulator (child process) at {addr}, loaded in {:.1} s", started.elapsed().as_secs_f64());

    let registries = [
        (RegistryType::Crvs, RegistryKind::Crvs),
        (RegistryType::Ibr, RegistryKind::Ibr),
        (RegistryType::Dr, RegistryKind::Dr),
    ]
    .into_iter()
    .map(|(registry, kind)| {
        DataSource::new(
            registry,
            format!("http://{addr}/{}", kind.as_str()),
            dci_registry_sim::DEMO_CLIENT_ID,
            SecretSource::Value(dci_registry_sim::DEMO_CLIENT_SECRET.into()),
        )
    })
    .collect();
    let mut engine_config = EngineConfig { registries, ..Default::default() };
    if let Some(entries) = cache_entries {
        engine_config.cache.max_entries = entries;
        println!("cache capped at {entries} entries");
    }
    let start_server = |engine_config: &EngineConfig| {
        let engine = Engine::from_config(engine_config).expect("engine");
        let config = ServerConfig {
            bind: "127.0.0.1:0".parse().expect("addr"),
            api_keys: vec![ApiKeyConfig::new(SecretSource::Value(KEY.into()), &Scope::ALL)],
            ..ServerConfig::default()
        };
        async move {
            let server = Server::start(engine.clone(), config).await.expect("server");
            let url = format!("http://{}/v1/evaluate", server.local_addr());
            (engine, server, url)
        }
    };
    let (engine, server, url) = start_server(&engine_config).await;
    let client = reqwest::Client::builder().pool_max_idle_per_host(32).build().expect("client");
    let idle = kib("VmRSS:");
    println!("server up: RSS {:.0} MiB", mib(idle));

    // 1. the stream
    println!("NDJSON stream of {stream_count} beneficiaries, 4 rules, cold cache:");
    let started = Instant::now();
    let (results, summary, sampled_peak) = stream(&client, &url, &stream_file, stream_count as usize).await;
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(results as u64, stream_count);
    let peak = kib("VmHWM:").max(sampled_peak);
    let stats = engine.store().stats();
    println!(
        "  {results} results in {wall:.1} s: {:.0} beneficiaries/s, {:.0} decisions/s; {} chunks, {} registry round trips",
        results as f64 / wall,
        4.0 * results as f64 / wall,
        summary["chunks"],
        summary["round_trips"],
    );
    println!(
        "  peak RSS {:.0} MiB (idle {:.0} MiB); cache {} entries at the end",
        mib(peak),
        mib(idle),
        stats.cache_entries
    );
    println!("  server timings (summed over chunks): {}", summary["timings"]);
    for registry in summary["registries"].as_array().into_iter().flatten() {
        println!(
            "  {}: {} persons asked, {} fetched in {} round trips, {} cache hits, {} ms fetching, failures {}",
            registry["registry"],
            registry["requested"],
            registry["fetched"],
            registry["round_trips"],
            registry["cache_hits"],
            registry["fetch_ms"],
            registry["failures"]
        );
    }

    // 2. JSON requests of 1,000, on a fresh server (an empty cache)
    server.shutdown().await;
    drop(engine);
    if seconds == 0 {
        drop(child.stdin.take());
        let _ = child.wait();
        return;
    }
    let (_engine, server, url) = start_server(&engine_config).await;
    let text = std::fs::read_to_string(&all).expect("beneficiaries");
    let lines: Vec<&str> = text.lines().collect();
    let bodies = |lines: &[&str]| -> Vec<Bytes> {
        lines
            .chunks(PER_REQUEST)
            .map(|chunk| {
                let mut body = format!("{{\"rules\":{},\"as_of\":\"2026-01-01\",\"beneficiaries\":[", rules());
                body += &chunk.join(",");
                body += "]}";
                Bytes::from(body)
            })
            .collect()
    };
    let warm_bodies = bodies(&lines[..lines.len().min(WARM_REQUESTS * PER_REQUEST).min(stream_count as usize)]);
    let cold_bodies = bodies(&lines[stream_count as usize..]);
    drop(lines);
    drop(text);
    println!("JSON requests of {PER_REQUEST} beneficiaries (4 rules), {seconds} s each:");
    println!(
        "  {:<6} {:>11} {:>8} {:>15} {:>13} {:>9} {:>9}",
        "cache", "concurrency", "requests", "beneficiaries/s", "decisions/s", "p50 ms", "p99 ms"
    );
    // cold: persons nobody asked about before (registry round trips); warm: everything cached
    let cold_cursor = AtomicUsize::new(0);
    for warm in [false, true] {
        if warm {
            let fill = AtomicUsize::new(0);
            let _ = load(&client, &url, &warm_bodies, &fill, 4, 3_600, false).await;
        }
        for concurrency in [1, 4, 16] {
            let (count, latencies, elapsed) = if warm {
                load(&client, &url, &warm_bodies, &AtomicUsize::new(0), concurrency, seconds, true).await
            } else {
                let run = load(&client, &url, &cold_bodies, &cold_cursor, concurrency, seconds, false).await;
                assert!(cold_cursor.load(Ordering::Relaxed) < cold_bodies.len(), "too few fresh persons for cold runs");
                run
            };
            let beneficiaries = (count * PER_REQUEST) as f64 / elapsed.as_secs_f64();
            println!(
                "  {:<6} {:>11} {:>8} {:>15.0} {:>13.0} {:>9.1} {:>9.1}",
                if warm { "warm" } else { "cold" },
                concurrency,
                count,
                beneficiaries,
                4.0 * beneficiaries,
                percentile(&latencies, 0.5),
                percentile(&latencies, 0.99)
            );
        }
    }
    println!("peak RSS over the whole run {:.0} MiB", mib(kib("VmHWM:")));
    server.shutdown().await;
    drop(child.stdin.take());
    let _ = child.wait();
}
