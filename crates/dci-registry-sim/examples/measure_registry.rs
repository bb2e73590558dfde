//! Measures the simulator at scale: generation time, load time and memory,
//! and `idtype-value` lookup throughput over loopback HTTP.
//!
//! ```text
//! cargo run --release -p dci-registry-sim --example measure_registry -- [households] [connections] [seconds]
//! ```
//!
//! Defaults: 330,000 households (≈ 1,000,000 persons), 4 connections, 10 seconds.
//! The client runs in the same process as the server and shares its cores. The
//! process uses mimalloc, as the `elig` binary does (glibc's allocator spends a
//! third of the server's time at this scale).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dci_protocol::{
    DciTimestamp, PredicateItem, Query, RequestEnvelope, RequestHeader, SearchCriteria, SearchRequest,
    SearchRequestItem, action, attribute,
};
use dci_registry_sim::population::{GenConfig, generate};
use dci_registry_sim::{RegistryKind, SimConfig, Simulator};
use serde_json::Value;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

fn search_body(items: Vec<SearchRequestItem>, n: u64) -> Vec<u8> {
    let header =
        RequestHeader::new(format!("M-{n}"), DciTimestamp::now(), action::SEARCH, "measure", items.len() as u64);
    let message = SearchRequest { transaction_id: format!("T-{n}"), search_request: items };
    serde_json::to_vec(&RequestEnvelope::new(header, message)).expect("encode")
}

/// A 100-item idtype-value search, written directly (the client's cost is not what is measured).
fn lookup_body<'a>(n: u64, uins: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let ts = DciTimestamp::now().to_string();
    let mut items = String::with_capacity(16 * 1024);
    let mut count = 0;
    for (i, uin) in uins.enumerate() {
        if i > 0 {
            items.push(',');
        }
        items.push_str(&format!(
            r#"{{"reference_id":"R-{i}","timestamp":"{ts}","search_criteria":{{"query_type":"idtype-value","query":{{"type":"UIN","value":"{uin}"}}}}}}"#
        ));
        count += 1;
    }
    format!(
        r#"{{"header":{{"version":"1.0.0","message_id":"M-{n}","message_ts":"{ts}","action":"search","sender_id":"measure","total_count":{count}}},"message":{{"transaction_id":"T-{n}","search_request":[{items}]}}}}"#
    )
    .into_bytes()
}

/// The parts of a search response the measurement checks.
#[derive(serde::Deserialize)]
struct Answer {
    message: AnswerMessage,
}

#[derive(serde::Deserialize)]
struct AnswerMessage {
    search_response: Vec<AnswerItem>,
}

#[derive(serde::Deserialize)]
struct AnswerItem {
    status: String,
    data: Option<AnswerData>,
}

#[derive(serde::Deserialize)]
struct AnswerData {
    reg_records: Vec<serde::de::IgnoredAny>,
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let households: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(330_000);
    let connections: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let dir = tempfile::tempdir().expect("temp dir");

    let started = Instant::now();
    let summary = generate(&GenConfig { households, seed: 1, ..GenConfig::default() }, dir.path()).expect("generate");
    println!(
        "generate: {} households, {} persons (CRVS {}, IBR {}, DR {}) in {:.2} s",
        summary.households,
        summary.persons,
        summary.crvs_records,
        summary.ibr_records,
        summary.dr_records,
        started.elapsed().as_secs_f64()
    );
    let bytes: u64 = ["crvs.ndjson", "ibr.ndjson", "dr.ndjson"]
        .iter()
        .map(|f| std::fs::metadata(dir.path().join(f)).map(|m| m.len()).unwrap_or(0))
        .sum();

    // identifiers to look up: the UINs of the beneficiary list
    let uins: Vec<String> = std::fs::read_to_string(dir.path().join("beneficiaries.ndjson"))
        .expect("beneficiaries")
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .flat_map(|h| {
            let mut people = vec![h.clone()];
            people.extend(h["members"].as_array().cloned().unwrap_or_default());
            people
        })
        .filter_map(|p| {
            p["identifiers"].as_array()?.iter().find(|id| id["type"] == "UIN")?["value"].as_str().map(str::to_owned)
        })
        .collect();

    let before = rss_mib();
    let started = Instant::now();
    let config = SimConfig { data_dir: Some(dir.path().to_owned()), sign_responses: true, ..SimConfig::default() };
    let sim = Arc::new(Simulator::start(config).await.expect("start"));
    let load = started.elapsed();
    let after = rss_mib();
    println!(
        "load: {:.2} s for {:.0} MiB of NDJSON; RSS {:.0} MiB -> {:.0} MiB (+{:.0} MiB); index estimate {:.0} MiB",
        load.as_secs_f64(),
        bytes as f64 / 1048576.0,
        before,
        after,
        after - before,
        RegistryKind::ALL.iter().map(|k| sim.data(*k).approximate_bytes()).sum::<usize>() as f64 / 1048576.0
    );

    let http = reqwest::Client::builder().pool_max_idle_per_host(connections).build().expect("client");
    let token: Value = http
        .post(format!("{}/oauth2/client/token", sim.base_url(RegistryKind::Crvs)))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "elig-demo"),
            ("client_secret", "elig-demo-secret"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let token = token["access_token"].as_str().expect("access_token").to_owned();

    // one predicate scan over every CRVS record
    let started = Instant::now();
    let range = Query::Predicate(vec![PredicateItem::and(
        attribute("birth_date").ge("1990-01-01"),
        attribute("birth_date").le("1990-01-31"),
    )]);
    let item = SearchRequestItem {
        reference_id: "range".into(),
        timestamp: Some(DciTimestamp::now()),
        search_criteria: SearchCriteria::new(range).with_pagination(100, 1),
        locale: None,
    };
    let response: Value = http
        .post(format!("{}/registry/sync/search", sim.base_url(RegistryKind::Crvs)))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(search_body(vec![item], 0))
        .send()
        .await
        .expect("predicate")
        .json()
        .await
        .expect("predicate json");
    println!(
        "predicate scan over {} CRVS records: {:.2} s, {} matches",
        sim.data(RegistryKind::Crvs).len(),
        started.elapsed().as_secs_f64(),
        response["message"]["search_response"][0]["pagination"]["total_count"]
    );

    // lookup throughput: 100-item idtype-value messages on `connections` connections
    let uins = Arc::new(uins);
    let items_done = Arc::new(AtomicU64::new(0));
    let found = Arc::new(AtomicU64::new(0));
    let serial = Arc::new(AtomicU64::new(1));
    sim.reset_stats();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (http, sim, uins, items_done, found, serial, token) =
            (http.clone(), sim.clone(), uins.clone(), items_done.clone(), found.clone(), serial.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let url = format!("{}/registry/sync/search", sim.base_url(RegistryKind::Crvs));
            while Instant::now() < deadline {
                let n = serial.fetch_add(1, Ordering::Relaxed);
                let body = lookup_body(
                    n,
                    (0..100u64).map(|i| uins[((n * 100 + i) * 7919 % uins.len() as u64) as usize].as_str()),
                );
                let response = http
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("search")
                    .bytes()
                    .await
                    .expect("search body");
                let response: Answer = serde_json::from_slice(&response).expect("search json");
                let answers = response.message.search_response;
                let hits = answers
                    .iter()
                    .filter(|a| a.status == "succ" && a.data.as_ref().is_some_and(|d| !d.reg_records.is_empty()));
                found.fetch_add(hits.count() as u64, Ordering::Relaxed);
                items_done.fetch_add(answers.len() as u64, Ordering::Relaxed);
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let items = items_done.load(Ordering::Relaxed);
    let stats = sim.stats();
    println!(
        "lookups: {items} items in {} messages over {connections} connections in {elapsed:.1} s = {:.0} items/s ({:.0} messages/s); {} found; server counted {} items",
        stats.crvs.messages,
        items as f64 / elapsed,
        stats.crvs.messages as f64 / elapsed,
        found.load(Ordering::Relaxed),
        stats.crvs.items,
    );
    println!("RSS at the end: {:.0} MiB", rss_mib());
    if let Ok(sim) = Arc::try_unwrap(sim) {
        sim.shutdown().await;
    }
}
