//! The metric store against the registry simulator: dedupe, merging of
//! in-flight lookups, TTLs, failures never cached, the circuit breaker.

use std::sync::Arc;
use std::time::Duration;

use dci_client::{DataSource, RegistryType, SecretSource};
use dci_metrics::{
    BreakerConfig, BreakerState, Catalog, CatalogConfig, MetricRead, MetricStore, MetricValue, RegistryIndex,
    RegistryResolver, Resolution, Source, StoreConfig, UnknownCause, resolver_for,
};
use dci_protocol::records::Identifier;
use dci_registry_sim::{FaultConfig, RegistryData, RegistryKind, SimConfig, Simulator};
use serde_json::json;

const PEOPLE: usize = 2_000;

fn uin(i: usize) -> Identifier {
    Identifier::new("UIN", format!("U{i:05}"))
}

/// A fact file's path in a directory of its own (`name`, this process).
fn fact_file(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("elig-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("facts.bin");
    (dir, path)
}

async fn simulator() -> Simulator {
    let crvs = (0..PEOPLE)
        .map(|i| json!({"identifier": [{"identifier_type": "UIN", "identifier_value": format!("U{i:05}")}], "birth_date": "1950-01-01"}))
        .collect();
    let ibr = (0..PEOPLE / 2)
        .map(|i| json!({"member": {"member_identifier": [{"identifier_type": "UIN", "identifier_value": format!("U{i:05}")}]},
            "programme_identifier": [{"programme_name": "Child Grant", "programme_identifier": "CG"}], "enrollment_status": "1"}))
        .collect();
    let config = SimConfig::default()
        .with_data(RegistryData::from_records(RegistryKind::Crvs, crvs).expect("crvs"))
        .with_data(RegistryData::from_records(RegistryKind::Ibr, ibr).expect("ibr"))
        .with_data(RegistryData::empty(RegistryKind::Dr));
    Simulator::start(config).await.expect("simulator")
}

fn source(sim: &Simulator, registry: RegistryType, kind: RegistryKind) -> DataSource {
    let mut source =
        DataSource::new(registry, sim.base_url(kind), "elig-demo", SecretSource::Value("elig-demo-secret".into()));
    source.retry.max_attempts = 1;
    source.timeouts.request_ms = 2_000;
    source
}

fn store(sim: &Simulator, catalog: CatalogConfig, config: StoreConfig) -> MetricStore {
    let catalog = Arc::new(Catalog::default().configure(&catalog).expect("catalog"));
    let resolvers: Vec<Arc<dyn RegistryResolver>> = vec![
        resolver_for(source(sim, RegistryType::Crvs, RegistryKind::Crvs)).expect("crvs"),
        resolver_for(source(sim, RegistryType::Ibr, RegistryKind::Ibr)).expect("ibr"),
    ];
    MetricStore::new(catalog, resolvers, &config).expect("store")
}

fn crvs(store: &MetricStore) -> RegistryIndex {
    store.catalog().registry_index("crvs").expect("crvs")
}

fn ibr(store: &MetricStore) -> RegistryIndex {
    store.catalog().registry_index("ibr").expect("ibr")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_identifiers_with_two_thousand_distinct_fetch_two_thousand() {
    let sim = simulator().await;
    let store = store(&sim, CatalogConfig::default(), StoreConfig::default());
    let identifiers: Vec<Identifier> = (0..10_000).map(|i| uin(i % PEOPLE)).collect();
    let prefetch = store.fetch(crvs(&store), &identifiers).await;
    assert_eq!(prefetch.resolutions.len(), 10_000);
    assert_eq!(prefetch.unique, 2_000);
    assert_eq!(prefetch.counts.fetched, 2_000);
    assert_eq!(sim.stats().crvs.items, 2_000);
    assert!(prefetch.resolutions.iter().all(|r| matches!(r, Resolution::Found(_, Source::Registry))));
    let again = store.fetch(crvs(&store), &identifiers[..100]).await;
    assert_eq!(again.counts.cache_hits, 100);
    assert_eq!(sim.stats().crvs.items, 2_000, "served from the cache");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_overlapping_prefetches_fetch_each_person_once() {
    let sim = simulator().await;
    sim.set_faults(RegistryKind::Crvs, FaultConfig { latency_ms: 150, ..Default::default() });
    let store = store(&sim, CatalogConfig::default(), StoreConfig::default());
    let first: Vec<Identifier> = (0..1_000).map(uin).collect();
    let second: Vec<Identifier> = (500..1_500).map(uin).collect();
    let registry = crvs(&store);
    let (a, b) = tokio::join!(store.fetch(registry, &first), store.fetch(registry, &second));
    assert_eq!(sim.stats().crvs.items, 1_500, "the 500 shared persons are fetched once");
    assert_eq!(a.counts.merged + b.counts.merged, 500);
    assert!(a.resolutions.iter().chain(&b.resolutions).all(|r| matches!(r, Resolution::Found(..))));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_expire_per_registry_and_not_found_has_its_own_ttl() {
    let sim = simulator().await;
    let config = CatalogConfig {
        ttl_secs: [("dci.crvs".to_owned(), 1)].into(),
        not_found_ttl_secs: Some(1),
        ..Default::default()
    };
    let store = store(&sim, config, StoreConfig::default());
    let people: Vec<Identifier> = (0..10).map(uin).collect();
    store.fetch(crvs(&store), &people).await;
    store.fetch(ibr(&store), &people).await;
    let before = sim.stats();
    let hit = store.fetch(crvs(&store), &people).await;
    assert_eq!(hit.counts.cache_hits, 10, "fresh before expiry");
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let refetched = store.fetch(crvs(&store), &people).await;
    assert_eq!(refetched.counts.fetched, 10, "CRVS (TTL 1 s) is asked again");
    let cached = store.fetch(ibr(&store), &people).await;
    assert_eq!(cached.counts.cache_hits, 10, "IBR (TTL 1 h) is still fresh");
    assert_eq!(sim.stats().ibr.items, before.ibr.items);

    let unknown = vec![Identifier::new("UIN", "nobody")];
    let first = store.fetch(ibr(&store), &unknown).await;
    assert!(matches!(first.resolutions[0], Resolution::NotFound(Source::Registry)));
    let second = store.fetch(ibr(&store), &unknown).await;
    assert!(matches!(second.resolutions[0], Resolution::NotFound(Source::Cache)), "not-found is cached");
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let third = store.fetch(ibr(&store), &unknown).await;
    assert!(
        matches!(third.resolutions[0], Resolution::NotFound(Source::Registry)),
        "and expires after not_found_ttl_secs"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_not_cached() {
    let sim = simulator().await;
    let store = store(&sim, CatalogConfig::default(), StoreConfig::default());
    let people: Vec<Identifier> = (0..5).map(uin).collect();
    sim.set_faults(RegistryKind::Crvs, FaultConfig { error_500_rate: 1.0, ..Default::default() });
    let failed = store.fetch(crvs(&store), &people).await;
    assert!(
        failed.resolutions.iter().all(|r| matches!(r, Resolution::Failed(f) if f.cause == UnknownCause::RegistryError))
    );
    let alive = store.catalog().metric("dci.crvs.is_alive").expect("metric");
    assert_eq!(
        failed.resolutions[0].read(store.catalog(), alive, chrono::NaiveDate::MAX),
        MetricRead::Unknown(UnknownCause::RegistryError)
    );
    sim.set_faults(RegistryKind::Crvs, FaultConfig::default());
    let recovered = store.fetch(crvs(&store), &people).await;
    assert_eq!(recovered.counts.fetched, 5, "the next prefetch asks again");
    assert_eq!(
        recovered.resolutions[0].read(store.catalog(), alive, chrono::NaiveDate::MAX),
        MetricRead::Value(&MetricValue::Bool(true))
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_circuit_breaker_opens_and_closes() {
    let sim = simulator().await;
    let config =
        StoreConfig { breaker: BreakerConfig { failure_threshold: 2, cool_down_secs: 1 }, ..Default::default() };
    let store = store(&sim, CatalogConfig::default(), config);
    let registry = crvs(&store);
    sim.set_faults(RegistryKind::Crvs, FaultConfig { error_503_rate: 1.0, ..Default::default() });
    for round in 0..2 {
        let people: Vec<Identifier> = (round * 10..round * 10 + 10).map(uin).collect();
        store.fetch(registry, &people).await;
    }
    assert_eq!(store.stats().registries[registry.get()].breaker, Some(BreakerState::Open));
    let messages = sim.stats().crvs.messages;
    let refused = store.fetch(registry, &[uin(100)]).await;
    assert!(matches!(&refused.resolutions[0], Resolution::Failed(f) if f.cause == UnknownCause::RegistryUnavailable));
    assert_eq!(sim.stats().crvs.messages, messages, "an open breaker sends nothing");

    sim.set_faults(RegistryKind::Crvs, FaultConfig::default());
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let probe = store.fetch(registry, &[uin(100)]).await;
    assert!(matches!(probe.resolutions[0], Resolution::Found(..)), "after the cool-down one probe goes through");
    assert_eq!(store.stats().registries[registry.get()].breaker, Some(BreakerState::Closed));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registries_without_a_data_source_are_unavailable_not_false() {
    let sim = simulator().await;
    let store = store(&sim, CatalogConfig::default(), StoreConfig::default());
    let dr = store.catalog().registry_index("dr").expect("dr");
    let prefetch = store.fetch(dr, &[uin(1)]).await;
    let disabled = store.catalog().metric("dci.dr.has_disability").expect("metric");
    assert_eq!(
        prefetch.resolutions[0].read(store.catalog(), disabled, chrono::NaiveDate::MAX),
        MetricRead::Unknown(UnknownCause::RegistryUnavailable)
    );
    let readiness = store.readiness().await;
    assert!(readiness.iter().find(|r| r.registry == "crvs").is_some_and(|r| r.ready));
    assert!(readiness.iter().find(|r| r.registry == "dr").is_some_and(|r| !r.configured && !r.ready));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_cache_restores_warm_and_keeps_expiry() {
    let sim = simulator().await;
    let people: Vec<Identifier> = (0..300).map(uin).collect();
    let (dir, path) = fact_file("snapshot");
    {
        let store = store(&sim, CatalogConfig::default(), StoreConfig::default());
        store.fetch(crvs(&store), &people).await;
        store.fetch(ibr(&store), &people).await;
        store.sweep();
        let saved = store.save_snapshot(&path).expect("saves");
        assert_eq!(saved.entries, 600);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("written").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
        }
    }
    let items = sim.stats().crvs.items + sim.stats().ibr.items;
    let restored = store(&sim, CatalogConfig::default(), StoreConfig::default());
    let report = restored.load_snapshot(&path).expect("loads");
    assert_eq!((report.entries, report.expired), (600, 0));
    let again = restored.fetch(crvs(&restored), &people).await;
    assert_eq!(again.counts.cache_hits, 300);
    let alive = restored.catalog().metric("dci.crvs.is_alive").expect("metric");
    assert_eq!(
        again.resolutions[0].read(restored.catalog(), alive, chrono::NaiveDate::MAX),
        MetricRead::Value(&MetricValue::Bool(true))
    );
    let enrolled = restored.fetch(ibr(&restored), &people).await;
    let programmes = restored.catalog().metric("dci.ibr.programmes").expect("metric");
    assert_eq!(
        enrolled.resolutions[0].read(restored.catalog(), programmes, chrono::NaiveDate::MAX),
        MetricRead::Value(&MetricValue::strings(["Child Grant"]))
    );
    assert_eq!(sim.stats().crvs.items + sim.stats().ibr.items, items, "nothing asked again");
    let mut probe: Vec<Identifier> = people[..2].to_vec();
    probe.push(uin(999_999));
    let in_snapshot = restored.known(crvs(&restored), &probe);
    assert_eq!(
        in_snapshot[0].as_ref().map(|r| r.read(restored.catalog(), alive, chrono::NaiveDate::MAX)),
        Some(MetricRead::Value(&MetricValue::Bool(true)))
    );
    assert!(in_snapshot[1].is_some());
    assert!(in_snapshot[2].is_none(), "never fetched: not in the snapshot");
    let truncated = dir.join("truncated.bin");
    let bytes = std::fs::read(&path).expect("reads");
    std::fs::write(&truncated, &bytes[..bytes.len() - 3]).expect("writes");
    let damaged = store(&sim, CatalogConfig::default(), StoreConfig::default()).load_snapshot(&truncated);
    let message = damaged.expect_err("truncated").to_string();
    assert!(message.contains("ends in the middle"), "{message}");

    // With a 1 s TTL, restoring after it passed drops the entries.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let short = store(
        &sim,
        CatalogConfig { ttl_secs: [("dci.crvs".to_owned(), 1)].into(), ..Default::default() },
        StoreConfig::default(),
    );
    let report = short.load_snapshot(&path).expect("loads");
    assert_eq!((report.entries, report.expired), (300, 300), "CRVS entries expired, IBR kept");
    std::fs::remove_dir_all(&dir).ok();
    sim.shutdown().await;
}

/// A cache file of more entries than a store makes room for at once (it
/// does after the first few thousand) is restored whole into a large
/// store, and within the bound of a small one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_cache_file_is_restored_whole_or_within_the_bound() {
    let sim = simulator().await;
    let people: Vec<Identifier> = (0..10_000).map(uin).collect();
    let (dir, path) = fact_file("snapshot-large");
    let first = store(&sim, CatalogConfig::default(), StoreConfig::default());
    first.fetch(crvs(&first), &people).await;
    assert_eq!(first.save_snapshot(&path).expect("saves").entries, 10_000, "2,000 found, 8,000 not found");

    let whole = store(&sim, CatalogConfig::default(), StoreConfig::default());
    assert_eq!(whole.load_snapshot(&path).expect("loads").entries, 10_000);
    let again = whole.fetch(crvs(&whole), &people).await;
    assert_eq!(again.counts.cache_hits, 10_000);
    let alive = whole.catalog().metric("dci.crvs.is_alive").expect("metric");
    for (i, resolution) in again.resolutions.iter().enumerate() {
        let read = resolution.read(whole.catalog(), alive, chrono::NaiveDate::MAX);
        match i < PEOPLE {
            true => assert_eq!(read, MetricRead::Value(&MetricValue::Bool(true)), "person {i}"),
            false => assert!(matches!(resolution, Resolution::NotFound(_)), "person {i}: {resolution:?}"),
        }
    }

    let bounded = store(&sim, CatalogConfig::default(), StoreConfig { max_entries: 6_000, ..Default::default() });
    bounded.load_snapshot(&path).expect("loads");
    bounded.sweep();
    let stats = bounded.stats();
    assert!(stats.cache_entries <= 6_000, "{} entries held, bound 6,000", stats.cache_entries);
    assert!(stats.evictions >= 4_000, "{} evictions for 10,000 entries in 6,000 places", stats.evictions);
    std::fs::remove_dir_all(&dir).ok();
    sim.shutdown().await;
}

/// A cache file filled from one endpoint is not served for another
/// configured under the same registry name (a test registry, then
/// production), nor for a registry no longer configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_file_from_one_endpoint_is_not_served_for_another() {
    let test_registry = simulator().await;
    let production = simulator().await;
    let people: Vec<Identifier> = (0..50).map(uin).collect();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("facts.bin");
    let filled = store(&test_registry, CatalogConfig::default(), StoreConfig::default());
    filled.fetch(crvs(&filled), &people).await;
    filled.sweep();
    assert_eq!(filled.save_snapshot(&path).expect("saves").entries, 50);

    let elsewhere = store(&production, CatalogConfig::default(), StoreConfig::default());
    let report = elsewhere.load_snapshot(&path).expect("loads");
    assert_eq!((report.entries, report.ignored), (0, 50), "{report:?}");
    let note = report.notes.join("\n");
    assert!(note.contains(&test_registry.base_url(RegistryKind::Crvs)), "{note}");
    assert!(note.contains(&production.base_url(RegistryKind::Crvs)), "{note}");
    let fetched = elsewhere.fetch(crvs(&elsewhere), &people).await;
    assert_eq!((fetched.counts.cache_hits, fetched.counts.fetched), (0, 50));
    assert_eq!(production.stats().crvs.items, 50, "production is asked");

    // Another client of the same registry is another identity too.
    let catalog = Arc::new(Catalog::default());
    let mut other_client = source(&test_registry, RegistryType::Crvs, RegistryKind::Crvs);
    other_client.sender_id = "another.sender".into();
    let other =
        MetricStore::new(catalog.clone(), vec![resolver_for(other_client).expect("crvs")], &StoreConfig::default())
            .expect("store");
    assert_eq!(other.load_snapshot(&path).expect("loads").entries, 0);

    // No data source for the registry: its facts are not served.
    let unconfigured = MetricStore::new(catalog, Vec::new(), &StoreConfig::default()).expect("store");
    let report = unconfigured.load_snapshot(&path).expect("loads");
    assert_eq!((report.entries, report.ignored), (0, 50));
    assert!(report.notes[0].contains("no data source is configured"), "{:?}", report.notes);

    // The same endpoint restores it all.
    let same = store(&test_registry, CatalogConfig::default(), StoreConfig::default());
    assert_eq!(same.load_snapshot(&path).expect("loads").entries, 50);
    test_registry.shutdown().await;
    production.shutdown().await;
}

/// A large warm lookup (fetch and `known`): every answer lands at its own person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_warm_lookups_answer_each_person() {
    let count = 20_000;
    let mut resolver = dci_metrics::FixedResolver::new(dci_metrics::dr_spec());
    for i in 0..count {
        resolver = resolver.found(
            "UIN",
            &i.to_string(),
            vec![MetricValue::Bool(true), MetricValue::Int(i % 5), MetricValue::strings(["MOBILITY"])],
        );
    }
    let catalog = Arc::new(Catalog::default());
    let resolvers: Vec<Arc<dyn dci_metrics::RegistryResolver>> = vec![Arc::new(resolver)];
    let store = MetricStore::new(catalog.clone(), resolvers, &StoreConfig::default()).expect("store");
    let dr = catalog.registry_index("dr").expect("dr");
    let people: Vec<Identifier> = (0..count + 100).map(|i| Identifier::new("UIN", i.to_string())).collect();
    let cold = store.fetch(dr, &people).await;
    assert_eq!(cold.counts.cache_hits, 0);
    store.sweep();
    let warm = store.fetch(dr, &people).await;
    assert_eq!(warm.counts.cache_hits, people.len(), "found and not-found persons are cached");
    let level = catalog.metric("dci.dr.disability_level").expect("metric");
    let zero = MetricValue::Int(0);
    let cached = store.known(dr, &people);
    for (i, (resolution, probed)) in warm.resolutions.iter().zip(&cached).enumerate() {
        // Not in the DR: disability level 0 (RULES-AND-METRICS.md).
        let expected = if i < count as usize {
            MetricRead::Value(&MetricValue::Int(i as i64 % 5))
        } else {
            MetricRead::Value(&zero)
        };
        assert_eq!(resolution.read(&catalog, level, chrono::NaiveDate::MAX), expected, "person {i}");
        let probed = probed.as_ref().expect("cached");
        assert_eq!(probed.read(&catalog, level, chrono::NaiveDate::MAX), expected, "person {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_is_bounded_and_counts_evictions() {
    let sim = simulator().await;
    let store = store(&sim, CatalogConfig::default(), StoreConfig { max_entries: 500, ..Default::default() });
    let people: Vec<Identifier> = (0..PEOPLE).map(uin).collect();
    for chunk in people.chunks(100) {
        store.fetch(crvs(&store), chunk).await;
    }
    store.sweep();
    let stats = store.stats();
    assert_eq!(stats.inserts, PEOPLE as u64);
    assert!(stats.cache_entries <= 500, "{} entries held, bound 500", stats.cache_entries);
    assert!(
        stats.evictions >= PEOPLE as u64 - 500,
        "{} evictions counted for {} inserts and {} entries held",
        stats.evictions,
        stats.inserts,
        stats.cache_entries
    );
    sim.shutdown().await;
}

/// What is known is read without awaiting, from any thread (the evaluator's
/// pool).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_known_is_read_from_any_thread() {
    let sim = simulator().await;
    let store = Arc::new(store(&sim, CatalogConfig::default(), StoreConfig::default()));
    let people: Vec<Identifier> = (0..50).map(uin).collect();
    store.fetch(crvs(&store), &people).await;
    let reader = store.clone();
    let mut asked = people.clone();
    asked.push(uin(PEOPLE + 1));
    let found = std::thread::spawn(move || reader.known(crvs(&reader), &asked)).join().expect("thread");
    let alive = store.catalog().metric("dci.crvs.is_alive").expect("metric");
    for resolution in &found[..50] {
        let resolution = resolution.as_ref().expect("fetched, so known");
        assert_eq!(
            resolution.read(store.catalog(), alive, chrono::NaiveDate::MAX),
            MetricRead::Value(&MetricValue::Bool(true))
        );
        assert_eq!(resolution.source(), Some(Source::Cache));
    }
    assert!(found[50].is_none(), "never fetched");
    assert_eq!(store.stats().cache_hits, 50);
    sim.shutdown().await;
}

/// With `[cache] encryption_key`, a snapshot is sealed: it holds no
/// identifier or fact in clear, opens only with its key, and an altered file,
/// or one written in clear, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_snapshot_opens_only_with_its_key() {
    let sim = simulator().await;
    let people: Vec<Identifier> = (0..100).map(uin).collect();
    let (dir, path) = fact_file("sealed-snapshot");
    let keyed = |key: Option<&str>| StoreConfig {
        encryption_key: key.map(|key| SecretSource::Value(key.to_owned())),
        ..Default::default()
    };
    let key = "2a".repeat(32);
    let sealed = store(&sim, CatalogConfig::default(), keyed(Some(&key)));
    sealed.fetch(ibr(&sealed), &people).await;
    sealed.save_snapshot(&path).expect("saves");
    let bytes = std::fs::read(&path).expect("reads");
    let text = String::from_utf8_lossy(&bytes);
    // An identifier is `U` and five digits (three bytes such as `U00` can turn up by chance).
    let holds_identifier = bytes.windows(6).any(|w| w[0] == b'U' && w[1..].iter().all(u8::is_ascii_digit));
    assert!(!holds_identifier && !text.contains("Child Grant"), "nothing in clear");

    let reopened = store(&sim, CatalogConfig::default(), keyed(Some(&key)));
    assert_eq!(reopened.load_snapshot(&path).expect("opens").entries, 100);
    let wrong = store(&sim, CatalogConfig::default(), keyed(Some(&"2b".repeat(32))))
        .load_snapshot(&path)
        .expect_err("another key");
    assert!(wrong.to_string().contains("another encryption key"), "{wrong}");
    let none = store(&sim, CatalogConfig::default(), keyed(None)).load_snapshot(&path).expect_err("no key");
    assert!(none.to_string().contains("encryption_key"), "{none}");
    let mut altered = bytes.clone();
    let middle = altered.len() / 2;
    altered[middle] ^= 0x40;
    std::fs::write(&path, &altered).expect("writes");
    assert!(store(&sim, CatalogConfig::default(), keyed(Some(&key))).load_snapshot(&path).is_err(), "altered");
    // A file in clear is not trusted where a key is set: anyone could have written its facts.
    let plain = store(&sim, CatalogConfig::default(), keyed(None));
    plain.fetch(ibr(&plain), &people).await;
    plain.save_snapshot(&path).expect("saves");
    let refused = store(&sim, CatalogConfig::default(), keyed(Some(&key))).load_snapshot(&path).expect_err("in clear");
    assert!(refused.to_string().contains("written in clear") && refused.to_string().contains("delete it"), "{refused}");
    std::fs::remove_dir_all(&dir).ok();
    sim.shutdown().await;
}
