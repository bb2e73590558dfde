//! The shared fact tier (Redis) at 100,000 beneficiaries, seed rule 1 and
//! all four seed rules together:
//!
//! * a warm batch from the in-process cache;
//! * the same batch in a fresh replica that reads only from Redis;
//! * the same batch asking the registries (the simulator, 2 ms per message);
//! * two replicas cold, one after the other, with and without the shared
//!   tier: registry items, round trips and wall time.
//!
//! `cargo run --release -p dci-bench --example shared_tier -- 100000 2`
//! (households, registry latency in ms; a third argument `plain` stores
//! values unencrypted, to measure what sealing costs). Needs `redis-server` on PATH; it is
//! started on a free loopback port and stopped at the end.

use std::time::Instant;

use dci_bench::{Population, SEED_RULES, as_of};
use dci_client::SecretSource;
use dci_eligibility::{EvaluationOptions, Rule};
use dci_metrics::{RedisConfig, StoreConfig};
use dci_registry_sim::SimStats;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn shared(url: &str, prefix: &str) -> StoreConfig {
    let sealed = std::env::args().nth(3).as_deref() != Some("plain");
    StoreConfig {
        redis: Some(RedisConfig {
            url: url.to_owned(),
            username: None,
            password: None,
            key_prefix: prefix.to_owned(),
            timeout_ms: 1_000,
            key_secret: SecretSource::Value("a benchmark secret for keyed hashes".into()),
            ca_file: None,
        }),
        encryption_key: sealed.then(|| SecretSource::Value("5a".repeat(32))),
        ..StoreConfig::default()
    }
}

fn asked(before: &SimStats, after: &SimStats) -> (u64, u64) {
    let items = |s: &SimStats| s.crvs.items + s.ibr.items + s.dr.items;
    let messages = |s: &SimStats| s.crvs.messages + s.ibr.messages + s.dr.messages;
    (items(after) - items(before), messages(after) - messages(before))
}

#[tokio::main]
async fn main() {
    let households: u64 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let latency_ms: u64 = std::env::args().nth(2).and_then(|n| n.parse().ok()).unwrap_or(2);
    let Some(redis) = test_services::RedisServer::start() else { return };
    let dir = std::env::temp_dir().join(format!("elig-bench-population-{households}"));
    let population = Population::start(&dir, households, 1, latency_ms).await.expect("population");
    let items = population.beneficiaries().expect("beneficiaries");
    let options = EvaluationOptions::new(as_of());

    for (label, sources) in [("seed rule 1", &SEED_RULES[..1]), ("all four seed rules", &SEED_RULES[..])] {
        let prefix = format!("bench{}:", sources.len());
        let first = population.engine_with_cache(shared(&redis.url(), &prefix)).expect("engine");
        let rules: Vec<Rule> = sources.iter().map(|(n, s)| first.compiler().compile(n, s).expect("compiles")).collect();
        let decisions = items.len() * rules.len();
        println!("{label}: {households} beneficiaries, {decisions} decisions, registries {latency_ms} ms per message");

        let before = population.sim.stats();
        let started = Instant::now();
        first.evaluate_batch(&rules, items.clone(), &options).await;
        let cold = started.elapsed();
        let (cold_items, cold_messages) = asked(&before, &population.sim.stats());
        println!(
            "  replica 1, cold (registries, writes Redis): {cold:>9.2?}  {cold_items} items, {cold_messages} messages"
        );

        let started = Instant::now();
        first.evaluate_batch(&rules, items.clone(), &options).await;
        let warm = started.elapsed();
        println!("  replica 1, warm (in-process cache):         {warm:>9.2?}");

        let second = population.engine_with_cache(shared(&redis.url(), &prefix)).expect("engine");
        let before = population.sim.stats();
        let started = Instant::now();
        second.evaluate_batch(&rules, items.clone(), &options).await;
        let from_redis = started.elapsed();
        let (redis_items, redis_messages) = asked(&before, &population.sim.stats());
        println!(
            "  replica 2, fresh (Redis only):              {from_redis:>9.2?}  {redis_items} items, {redis_messages} messages  ({:.1}x the in-process time)",
            from_redis.as_secs_f64() / warm.as_secs_f64()
        );

        let alone = population.engine().expect("engine");
        let before = population.sim.stats();
        let started = Instant::now();
        alone.evaluate_batch(&rules, items.clone(), &options).await;
        let registries = started.elapsed();
        let (alone_items, alone_messages) = asked(&before, &population.sim.stats());
        println!(
            "  replica 3, no shared tier (registries):     {registries:>9.2?}  {alone_items} items, {alone_messages} messages  (Redis is {:.1}x faster)",
            registries.as_secs_f64() / from_redis.as_secs_f64()
        );
        println!(
            "  two replicas cold: without the shared tier {} items, {} messages, {:.2?}; with it {} items, {} messages, {:.2?}",
            2 * alone_items,
            2 * alone_messages,
            registries * 2,
            cold_items + redis_items,
            cold_messages + redis_messages,
            cold + from_redis
        );
        // What a cross-replica claim (single flight) could save: two replicas cold on the same
        // list at the same moment, over an empty tier, both miss and both ask the registries.
        let prefix = format!("bench{}-together:", sources.len());
        let (one, two) = (
            population.engine_with_cache(shared(&redis.url(), &prefix)).expect("engine"),
            population.engine_with_cache(shared(&redis.url(), &prefix)).expect("engine"),
        );
        let before = population.sim.stats();
        let started = Instant::now();
        tokio::join!(
            one.evaluate_batch(&rules, items.clone(), &options),
            two.evaluate_batch(&rules, items.clone(), &options)
        );
        let together = started.elapsed();
        let (together_items, together_messages) = asked(&before, &population.sim.stats());
        println!(
            "  two replicas cold at the same moment, with the tier: {together_items} items, {together_messages} messages, {together:.2?} ({:.2}x one replica's items)",
            together_items as f64 / cold_items.max(1) as f64
        );
        if let Some(stats) = second.store().stats().shared {
            println!(
                "  replica 2's shared tier: {} hits, {} misses, {} calls, {:.1} ms per call",
                stats.hits,
                stats.misses,
                stats.calls,
                stats.call_micros as f64 / 1000.0 / stats.calls.max(1) as f64
            );
        }
    }
    population.sim.shutdown().await;
}
