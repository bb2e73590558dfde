//! The shared tier against a real Redis (started by the test on a loopback
//! port; see the `test-services` crate) and the registry simulator.

use std::sync::Arc;
use std::time::Duration;

use dci_client::{DataSource, RegistryType, SecretSource};
use dci_metrics::{
    Catalog, CatalogConfig, MetricRead, MetricStore, MetricValue, REST_AFTER_FAILURE, RedisConfig, RegistryIndex,
    RegistryResolver, Resolution, SharedHealth, StoreConfig, TierFault, resolver_for,
};
use dci_protocol::records::Identifier;
use dci_registry_sim::{RegistryData, RegistryKind, SimConfig, Simulator};
use serde_json::json;
use test_services::RedisServer;

const PEOPLE: usize = 400;
const KEY_SECRET: &str = "a test secret for keyed hashes";
const ENCRYPTION_KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";

fn uin(i: usize) -> Identifier {
    Identifier::new("UIN", format!("U{i:05}"))
}

async fn simulator() -> Simulator {
    let crvs = (0..PEOPLE)
        .map(|i| {
            json!({"identifier": [{"identifier_type": "UIN", "identifier_value": format!("U{i:05}")}],
            "given_name": "Amina", "birth_date": "1950-01-01"})
        })
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

fn redis_config(redis: &RedisServer) -> RedisConfig {
    RedisConfig { url: redis.url(), ..redis_config_for_url() }
}

/// The test settings of the tier, its URL left empty.
fn redis_config_for_url() -> RedisConfig {
    RedisConfig {
        url: String::new(),
        username: None,
        password: None,
        key_prefix: "elig-test:".into(),
        timeout_ms: 200,
        key_secret: SecretSource::Value(KEY_SECRET.into()),
        ca_file: None,
    }
}

/// A store with its own in-process cache, over the simulator and `redis`.
fn store(sim: &Simulator, redis: RedisConfig, encryption_key: Option<&str>, catalog: CatalogConfig) -> MetricStore {
    let catalog = Arc::new(Catalog::default().configure(&catalog).expect("catalog"));
    let source = |registry, kind| {
        let mut source =
            DataSource::new(registry, sim.base_url(kind), "elig-demo", SecretSource::Value("elig-demo-secret".into()));
        source.retry.max_attempts = 1;
        source
    };
    let resolvers: Vec<Arc<dyn RegistryResolver>> = vec![
        resolver_for(source(RegistryType::Crvs, RegistryKind::Crvs)).expect("crvs"),
        resolver_for(source(RegistryType::Ibr, RegistryKind::Ibr)).expect("ibr"),
    ];
    let config = StoreConfig {
        redis: Some(redis),
        encryption_key: encryption_key.map(|key| SecretSource::Value(key.into())),
        ..Default::default()
    };
    MetricStore::new(catalog, resolvers, &config).expect("store")
}

fn crvs(store: &MetricStore) -> RegistryIndex {
    store.catalog().registry_index("crvs").expect("crvs")
}

fn ibr(store: &MetricStore) -> RegistryIndex {
    store.catalog().registry_index("ibr").expect("ibr")
}

fn items_asked(sim: &Simulator) -> u64 {
    let stats = sim.stats();
    stats.crvs.items + stats.ibr.items
}

async fn connection(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url()).expect("client").get_multiplexed_async_connection().await.expect("connects")
}

async fn all_keys(redis: &RedisServer) -> Vec<String> {
    let mut connection = connection(redis).await;
    redis::cmd("KEYS").arg("*").query_async(&mut connection).await.expect("keys")
}

/// The yes/no metric `name` as `resolution` gives it.
fn flag(store: &MetricStore, resolution: &Resolution, name: &str) -> Option<bool> {
    let metric = store.catalog().metric(name).expect("metric");
    match resolution.read(store.catalog(), metric, chrono::NaiveDate::MAX) {
        MetricRead::Value(MetricValue::Bool(value)) => Some(*value),
        _ => None,
    }
}

fn alive(store: &MetricStore, resolution: &Resolution) -> Option<bool> {
    flag(store, resolution, "dci.crvs.is_alive")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_replica_asks_no_registry_for_what_the_first_fetched() {
    let Some(redis) = RedisServer::start() else { return };
    let sim = simulator().await;
    let people: Vec<Identifier> = (0..PEOPLE).map(uin).collect();
    let first = store(&sim, redis_config(&redis), None, CatalogConfig::default());
    let fetched = first.fetch(crvs(&first), &people).await;
    first.fetch(ibr(&first), &people).await;
    assert_eq!(fetched.counts.fetched, PEOPLE);
    let asked = items_asked(&sim);
    assert_eq!(first.stats().shared.expect("shared").writes, 2 * PEOPLE as u64);

    let second = store(&sim, redis_config(&redis), None, CatalogConfig::default());
    let again = second.fetch(crvs(&second), &people).await;
    let enrolled = second.fetch(ibr(&second), &people).await;
    assert_eq!(items_asked(&sim), asked, "the second replica asks the registries nothing");
    assert_eq!((again.counts.shared_hits, enrolled.counts.shared_hits), (PEOPLE, PEOPLE));
    assert_eq!(again.counts.fetched, 0);
    for (a, b) in fetched.resolutions.iter().zip(&again.resolutions) {
        assert_eq!(alive(&first, a), alive(&second, b));
        assert_eq!(alive(&second, b), Some(true));
    }
    // Found and not found alike: half the people are in no IBR record.
    let is_enrolled = second.catalog().metric("dci.ibr.is_enrolled").expect("metric");
    assert_eq!(
        enrolled.resolutions[0].read(second.catalog(), is_enrolled, chrono::NaiveDate::MAX),
        MetricRead::Value(&MetricValue::Bool(true))
    );
    assert_eq!(
        enrolled.resolutions[PEOPLE - 1].read(second.catalog(), is_enrolled, chrono::NaiveDate::MAX),
        MetricRead::Value(&MetricValue::Bool(false))
    );
    // Now in the second replica's own cache: known without awaiting.
    assert!(second.known(crvs(&second), &people).iter().all(Option::is_some));
    let stats = second.stats().shared.expect("shared");
    assert_eq!((stats.hits, stats.misses, stats.errors), (2 * PEOPLE as u64, 0, 0));
    assert!(stats.calls >= 2 && stats.call_micros > 0);
    sim.shutdown().await;
}

/// Facts another endpoint answered (a test registry under the same name)
/// are never served: the shared tier keys them by who answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_of_another_endpoint_under_the_same_name_are_not_served() {
    let Some(redis) = RedisServer::start() else { return };
    let test_registry = simulator().await;
    let production = simulator().await;
    let people: Vec<Identifier> = (0..PEOPLE).map(uin).collect();
    let first = store(&test_registry, redis_config(&redis), None, CatalogConfig::default());
    assert_eq!(first.fetch(crvs(&first), &people).await.counts.fetched, PEOPLE);
    let second = store(&production, redis_config(&redis), None, CatalogConfig::default());
    let fetched = second.fetch(crvs(&second), &people).await;
    assert_eq!((fetched.counts.shared_hits, fetched.counts.fetched), (0, PEOPLE));
    assert_eq!(production.stats().crvs.items, PEOPLE as u64, "production is asked");
    let third = store(&test_registry, redis_config(&redis), None, CatalogConfig::default());
    assert_eq!(third.fetch(crvs(&third), &people).await.counts.shared_hits, PEOPLE, "the same endpoint is served");
    test_registry.shutdown().await;
    production.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_no_identifier_and_no_name_and_sealed_values_hold_no_facts_in_clear() {
    let Some(redis) = RedisServer::start() else { return };
    let sim = simulator().await;
    let people: Vec<Identifier> = (0..PEOPLE).map(uin).collect();
    let sealed = store(&sim, redis_config(&redis), Some(ENCRYPTION_KEY), CatalogConfig::default());
    sealed.fetch(crvs(&sealed), &people).await;
    sealed.fetch(ibr(&sealed), &people).await;
    let keys = all_keys(&redis).await;
    assert_eq!(keys.len(), 2 * PEOPLE);
    let mut connection = connection(&redis).await;
    for key in &keys {
        assert!(key.starts_with("elig-test:f2:"), "{key}");
        assert!(!key.contains('U') && !key.contains("crvs") && !key.contains("ibr"), "{key}");
        let value: Vec<u8> = redis::cmd("GET").arg(key).query_async(&mut connection).await.expect("get");
        let text = String::from_utf8_lossy(&value);
        // An identifier is `U` and five digits: a sealed value holds none (three bytes such as
        // `U00` turn up by chance in about one run of a hundred, so the whole shape is looked for).
        let holds_identifier = value.windows(6).any(|w| w[0] == b'U' && w[1..].iter().all(u8::is_ascii_digit));
        assert!(!text.contains("Child Grant") && !text.contains("Amina") && !holds_identifier, "{text}");
        let ttl: i64 = redis::cmd("TTL").arg(key).query_async(&mut connection).await.expect("ttl");
        assert!(ttl > 0 && ttl <= 24 * 3600, "every fact expires: {ttl}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fact_expired_in_redis_is_fetched_again() {
    let Some(redis) = RedisServer::start() else { return };
    let sim = simulator().await;
    let people: Vec<Identifier> = (0..50).map(uin).collect();
    let short = CatalogConfig { ttl_secs: [("dci.crvs".to_owned(), 1)].into(), ..Default::default() };
    let first = store(&sim, redis_config(&redis), None, short.clone());
    first.fetch(crvs(&first), &people).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let asked = items_asked(&sim);
    let second = store(&sim, redis_config(&redis), None, short);
    let again = second.fetch(crvs(&second), &people).await;
    assert_eq!(again.counts.shared_hits, 0);
    assert_eq!(items_asked(&sim), asked + 50, "expired in Redis: asked again");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_dying_mid_batch_changes_no_answer_and_the_tier_comes_back() {
    let Some(mut redis) = RedisServer::start() else { return };
    let sim = simulator().await;
    let people: Vec<Identifier> = (0..PEOPLE).map(uin).collect();
    let engine = store(&sim, redis_config(&redis), None, CatalogConfig::default());
    engine.fetch(crvs(&engine), &people[..100]).await;
    redis.kill();
    // A guard against hanging, not a timing target: each call is bounded by `timeout_ms`.
    let during = tokio::time::timeout(Duration::from_secs(60), engine.fetch(crvs(&engine), &people[100..200]))
        .await
        .expect("a dead Redis does not hang the fetch");
    assert_eq!(during.counts.fetched, 100, "the registry answers instead");
    assert!(during.resolutions.iter().all(|r| alive(&engine, r) == Some(true)));
    let stats = engine.stats().shared.expect("shared");
    assert!(stats.errors > 0, "{stats:?}");
    let status = engine.shared_status().await.expect("a shared tier");
    assert_eq!(status.status, SharedHealth::Degraded, "{status:?}");

    redis.restart();
    tokio::time::sleep(REST_AFTER_FAILURE + Duration::from_millis(200)).await;
    assert_eq!(engine.shared_status().await.expect("a shared tier").status, SharedHealth::Ok);
    engine.fetch(crvs(&engine), &people[200..300]).await;
    let asked = items_asked(&sim);
    let fresh = store(&sim, redis_config(&redis), None, CatalogConfig::default());
    let later = fresh.fetch(crvs(&fresh), &people[200..300]).await;
    assert_eq!(later.counts.shared_hits, 100, "written again once Redis was back");
    assert_eq!(items_asked(&sim), asked);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_foreign_and_differently_sealed_values_are_counted_misses() {
    let Some(redis) = RedisServer::start() else { return };
    let sim = simulator().await;
    let people: Vec<Identifier> = (0..100).map(uin).collect();
    let sealed = store(&sim, redis_config(&redis), Some(ENCRYPTION_KEY), CatalogConfig::default());
    sealed.fetch(crvs(&sealed), &people).await;

    // Another encryption key, or none: the values cannot be read, and are asked again.
    let other_key = "17".repeat(32);
    for key in [Some(other_key.as_str()), None] {
        let asked = items_asked(&sim);
        let reader = store(&sim, redis_config(&redis), key, CatalogConfig::default());
        let fetched = reader.fetch(crvs(&reader), &people).await;
        assert_eq!(fetched.counts.shared_hits, 0);
        assert_eq!(items_asked(&sim), asked + 100);
        assert_eq!(reader.stats().shared.expect("shared").unreadable, 100, "key {key:?}");
        assert!(fetched.resolutions.iter().all(|r| alive(&reader, r) == Some(true)));
    }

    // Whatever is now under the keys (the plain values the last reader wrote),
    // overwritten with garbage and another format: misses.
    let mut connection = connection(&redis).await;
    let keys = all_keys(&redis).await;
    for (n, key) in keys.iter().enumerate() {
        let junk: Vec<u8> = match n % 3 {
            0 => b"not ours".to_vec(),
            1 => vec![9, 0, 1, 2],
            _ => vec![1, 0, 0xff],
        };
        let _: () = redis::cmd("SET").arg(key).arg(junk).query_async(&mut connection).await.expect("set");
    }
    let plain = store(&sim, redis_config(&redis), None, CatalogConfig::default());
    let fetched = plain.fetch(crvs(&plain), &people).await;
    assert_eq!(fetched.counts.shared_hits, 0);
    assert_eq!(plain.stats().shared.expect("shared").unreadable, 100);
    assert!(fetched.resolutions.iter().all(|r| alive(&plain, r) == Some(true)));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_protected_redis_is_used_and_the_password_is_never_shown() {
    let password = "s3cret-redis-password";
    let Some(redis) = RedisServer::start_with_password(password) else { return };
    let sim = simulator().await;
    let people: Vec<Identifier> = (0..20).map(uin).collect();
    let with =
        |password: &str| RedisConfig { password: Some(SecretSource::Value(password.into())), ..redis_config(&redis) };
    let config = with(password);
    assert!(!format!("{config:?}").contains(password), "{config:?}");
    let first = store(&sim, config.clone(), None, CatalogConfig::default());
    first.fetch(crvs(&first), &people).await;
    assert!(!format!("{first:?}").contains(password));
    assert_eq!(first.stats().shared.expect("shared").writes, 20);

    let wrong = store(&sim, with("not the password"), None, CatalogConfig::default());
    let fetched = wrong.fetch(crvs(&wrong), &people).await;
    assert_eq!(fetched.counts.shared_hits, 0, "refused by Redis: the registry answers");
    let status = wrong.shared_status().await.expect("a shared tier");
    assert_eq!(status.status, SharedHealth::Degraded);
    assert!(!status.problem.unwrap_or_default().contains("not the password"));

    let in_url =
        RedisConfig { url: format!("redis://:{password}@127.0.0.1:{}/0", redis.port()), ..redis_config(&redis) };
    let refused = MetricStore::new(
        Arc::new(Catalog::default()),
        Vec::new(),
        &StoreConfig { redis: Some(in_url), ..Default::default() },
    )
    .expect_err("a password in the URL is refused");
    assert!(refused.to_string().contains("not in the URL") && !refused.to_string().contains(password), "{refused}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_redis_is_used_when_its_authority_is_trusted_and_refused_otherwise() {
    let Some(redis) = RedisServer::start_tls() else { return };
    let sim = simulator().await;
    let people: Vec<Identifier> = (0..30).map(uin).collect();
    let trusted = || RedisConfig { ca_file: redis.ca_file(), ..redis_config(&redis) };
    assert!(trusted().url.starts_with("rediss://"));

    let first = store(&sim, trusted(), Some(ENCRYPTION_KEY), CatalogConfig::default());
    first.fetch(crvs(&first), &people).await;
    assert_eq!(first.stats().shared.expect("shared").writes, 30, "written over TLS");
    let asked = items_asked(&sim);
    let second = store(&sim, trusted(), Some(ENCRYPTION_KEY), CatalogConfig::default());
    let again = second.fetch(crvs(&second), &people).await;
    assert_eq!(again.counts.shared_hits, 30, "read over TLS");
    assert_eq!(items_asked(&sim), asked);
    assert_eq!(second.shared_status().await.expect("a shared tier").status, SharedHealth::Ok);

    // Without the private authority the server's certificate is not trusted:
    // the tier is degraded and the registry answers.
    let untrusting = store(&sim, redis_config(&redis), Some(ENCRYPTION_KEY), CatalogConfig::default());
    let fetched = untrusting.fetch(crvs(&untrusting), &people).await;
    assert_eq!((fetched.counts.shared_hits, fetched.counts.fetched), (0, 30));
    assert!(fetched.resolutions.iter().all(|r| alive(&untrusting, r) == Some(true)));
    let status = untrusting.shared_status().await.expect("a shared tier");
    assert_eq!(status.status, SharedHealth::Degraded, "{status:?}");

    // A CA file is for TLS only.
    let plain_url = RedisConfig { url: format!("redis://127.0.0.1:{}/0", redis.port()), ..trusted() };
    let refused = MetricStore::new(
        Arc::new(Catalog::default()),
        Vec::new(),
        &StoreConfig { redis: Some(plain_url), ..Default::default() },
    )
    .expect_err("ca_file without rediss://");
    assert!(refused.to_string().contains("rediss://"), "{refused}");
    sim.shutdown().await;
}

/// A fetch larger than one read of the tier (several pipelined calls, the
/// next asked while this one is opened): every answer lands at its own
/// person, duplicates and order included, found and not found alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_read_in_several_calls_land_at_their_own_persons() {
    const MANY: usize = 5_000;
    let Some(redis) = RedisServer::start() else { return };
    let registry = || {
        let mut resolver = dci_metrics::FixedResolver::new(dci_metrics::dr_spec());
        for i in (0..MANY).filter(|i| i % 7 != 0) {
            let values = vec![MetricValue::Bool(true), MetricValue::Int(i as i64), MetricValue::strings(["MOBILITY"])];
            resolver = resolver.found("UIN", &format!("U{i:05}"), values);
        }
        let resolvers: Vec<Arc<dyn RegistryResolver>> = vec![Arc::new(resolver)];
        let config = StoreConfig { redis: Some(redis_config(&redis)), ..Default::default() };
        MetricStore::new(Arc::new(Catalog::default()), resolvers, &config).expect("store")
    };
    let first = registry();
    let dr = first.catalog().registry_index("dr").expect("dr");
    let people: Vec<Identifier> = (0..MANY).map(uin).collect();
    first.fetch(dr, &people).await;

    let second = registry();
    // Backwards, each person asked twice.
    let asked: Vec<usize> = (0..MANY).rev().flat_map(|i| [i, i]).collect();
    let identifiers: Vec<Identifier> = asked.iter().map(|&i| uin(i)).collect();
    let fetched = second.fetch(dr, &identifiers).await;
    assert_eq!((fetched.counts.shared_hits, fetched.counts.fetched), (MANY, 0), "{:?}", fetched.counts);
    // What the tier answered is now in the second replica's own cache, each under its person.
    let known: Vec<Resolution> = second.known(dr, &identifiers).into_iter().map(|k| k.expect("cached")).collect();
    let level = second.catalog().metric("dci.dr.disability_level").expect("metric");
    for (&i, resolution) in asked.iter().chain(&asked).zip(fetched.resolutions.iter().chain(&known)) {
        match resolution {
            Resolution::NotFound(_) => assert_eq!(i % 7, 0, "U{i:05} is in the registry"),
            found => match found.read(second.catalog(), level, chrono::NaiveDate::MAX) {
                MetricRead::Value(MetricValue::Int(value)) => assert_eq!(*value, i as i64, "U{i:05}"),
                other => panic!("U{i:05}: {other:?}"),
            },
        }
    }
}

/// A server speaking just enough of the Redis protocol to answer each `MGET`
/// with one value fewer than it was asked for (all empty), and `OK` or
/// `PONG` to anything else; on a loopback port. Returns its URL.
fn redis_answering_one_value_short() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let url = format!("redis://{}/", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut writer = stream;
                let mut line = String::new();
                // Each command: `*<n>` then n bulk strings (`$<len>`, then the bytes).
                while reader.read_line(&mut line).is_ok_and(|read| read > 0) {
                    let count: usize = line.trim().trim_start_matches('*').parse().unwrap_or(0);
                    let mut words = Vec::with_capacity(count);
                    for _ in 0..count {
                        line.clear();
                        let _ = reader.read_line(&mut line);
                        let length: usize = line.trim().trim_start_matches('$').parse().unwrap_or(0);
                        let mut word = vec![0; length + 2];
                        let _ = std::io::Read::read_exact(&mut reader, &mut word);
                        words.push(String::from_utf8_lossy(&word[..length]).to_uppercase());
                    }
                    let reply = match words.first().map(String::as_str) {
                        Some("MGET") => {
                            let values = words.len().saturating_sub(2);
                            format!("*{values}\r\n{}", "$-1\r\n".repeat(values))
                        }
                        Some("PING") => "+PONG\r\n".to_owned(),
                        _ => "+OK\r\n".to_owned(),
                    };
                    if writer.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                    line.clear();
                }
            });
        }
    });
    url
}

/// A Redis that answers fewer values than keys asked is failing, not a
/// source of answers: which value is whose is unknown, so every person is
/// asked of the registry and each gets their own answer (none left unasked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_answering_fewer_values_than_keys_is_a_failing_tier() {
    let mut resolver = dci_metrics::FixedResolver::new(dci_metrics::dr_spec());
    for i in 0..10 {
        let values = vec![MetricValue::Bool(true), MetricValue::Int(i), MetricValue::strings(["MOBILITY"])];
        resolver = resolver.found("UIN", &format!("U{i:05}"), values);
    }
    let redis = RedisConfig { url: redis_answering_one_value_short(), ..redis_config_for_url() };
    let resolvers: Vec<Arc<dyn RegistryResolver>> = vec![Arc::new(resolver)];
    let config = StoreConfig { redis: Some(redis), ..Default::default() };
    let store = MetricStore::new(Arc::new(Catalog::default()), resolvers, &config).expect("store");
    let dr = store.catalog().registry_index("dr").expect("dr");
    let people: Vec<Identifier> = (0..10).map(uin).collect();
    let fetched = store.fetch(dr, &people).await;
    assert_eq!((fetched.counts.shared_hits, fetched.counts.fetched), (0, 10), "{:?}", fetched.counts);
    let level = store.catalog().metric("dci.dr.disability_level").expect("metric");
    for (i, resolution) in fetched.resolutions.iter().enumerate() {
        assert_eq!(
            resolution.read(store.catalog(), level, chrono::NaiveDate::MAX),
            MetricRead::Value(&MetricValue::Int(i as i64))
        );
    }
    let stats = store.stats().shared.expect("shared");
    assert_eq!((stats.hits, stats.misses), (0, 10), "{stats:?}");
    assert!(stats.errors >= 1, "{stats:?}");
}

/// What a writer to Redis does to the `n`-th of the stored values.
type Tamper = fn(usize, &[Vec<u8>]) -> Vec<u8>;

fn enrolled(store: &MetricStore, resolution: &Resolution) -> Option<bool> {
    flag(store, resolution, "dci.ibr.is_enrolled")
}

/// Without `[cache] encryption_key`, every value is authenticated under
/// `key_secret`: values moved between persons' keys, values planted in clear by
/// anyone who can write to Redis, and values whose tag was altered are all
/// refused (counted as unreadable, fetched again), and no answer changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_or_planted_values_are_refused_without_encryption() {
    let Some(redis) = RedisServer::start() else { return };
    let sim = simulator().await;
    let people: Vec<Identifier> = (0..PEOPLE).map(uin).collect();
    let writer = store(&sim, redis_config(&redis), None, CatalogConfig::default());
    let honest = writer.fetch(ibr(&writer), &people).await;
    let truth: Vec<Option<bool>> = honest.resolutions.iter().map(|r| enrolled(&writer, r)).collect();
    assert_eq!(truth.iter().filter(|t| **t == Some(true)).count(), PEOPLE / 2, "half are enrolled");

    let mut connection = connection(&redis).await;
    let keys = all_keys(&redis).await;
    assert_eq!(keys.len(), PEOPLE);
    let values: Vec<Vec<u8>> = redis::cmd("MGET").arg(&keys).query_async(&mut connection).await.expect("mget");
    let tampered: [(&str, Tamper); 3] = [
        // Each key gets another person's value, whole and authentic for that person.
        ("moved", |n, values| values[(n + PEOPLE / 2) % values.len()].clone()),
        // The record in clear, without its tag: what anyone could write.
        ("planted", |n, values| [&values[n][..1], &[0u8], &values[n][2 + 32..]].concat()),
        // The tag altered by one bit.
        ("retagged", |n, values| {
            let mut value = values[n].clone();
            value[5] ^= 1;
            value
        }),
    ];
    for (how, tamper) in tampered {
        for (n, key) in keys.iter().enumerate() {
            let value = tamper(n, &values);
            let _: () = redis::cmd("SET").arg(key).arg(value).query_async(&mut connection).await.expect("set");
        }
        let asked = items_asked(&sim);
        let reader = store(&sim, redis_config(&redis), None, CatalogConfig::default());
        let read = reader.fetch(ibr(&reader), &people).await;
        assert_eq!(read.counts.shared_hits, 0, "{how}");
        let stats = reader.stats().shared.expect("shared");
        assert_eq!(
            (stats.unreadable, count_of(&stats, TierFault::Unreadable)),
            (PEOPLE as u64, PEOPLE as u64),
            "{how}"
        );
        assert_eq!(items_asked(&sim), asked + PEOPLE as u64, "{how}: every person asked again");
        let answers: Vec<Option<bool>> = read.resolutions.iter().map(|r| enrolled(&reader, r)).collect();
        assert_eq!(answers, truth, "{how}: no answer changed");
    }
    // The values the readers wrote back are read by the next replica.
    let next = store(&sim, redis_config(&redis), None, CatalogConfig::default());
    assert_eq!(next.fetch(ibr(&next), &people).await.counts.shared_hits, PEOPLE);
    sim.shutdown().await;
}

/// What the tier says of itself after `store` used it for `people`: its status and stats.
async fn tier_after(
    sim: &Simulator,
    config: RedisConfig,
    people: &[Identifier],
) -> (dci_metrics::SharedStatus, dci_metrics::SharedStats) {
    let store = store(sim, config, None, CatalogConfig::default());
    let fetched = store.fetch(crvs(&store), people).await;
    assert!(fetched.resolutions.iter().all(|r| alive(&store, r) == Some(true)), "the registry answers");
    let status = store.shared_status().await.expect("a shared tier");
    (status, store.stats().shared.expect("shared"))
}

fn count_of(stats: &dci_metrics::SharedStats, kind: TierFault) -> u64 {
    stats.errors_by_kind.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n)
}

/// Each way the tier can fail is told apart, in the status `/readyz` shows
/// and in the counts by kind: a wrong password, nothing listening, a server
/// that never answers, a full Redis, a read-only replica; and the decisions
/// are the registry's all along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tier_failure_is_named_by_its_kind() {
    let password = "the right redis password";
    let Some(redis) = RedisServer::start_with_password(password) else { return };
    let sim = simulator().await;
    let people: Vec<Identifier> = (0..20).map(uin).collect();
    let with =
        |password: &str| RedisConfig { password: Some(SecretSource::Value(password.into())), ..redis_config(&redis) };

    // At the default timeout: a refused password is told as such, not as a slow Redis.
    let wrong = RedisConfig { timeout_ms: 50, ..with("a wrong password") };
    let (status, stats) = tier_after(&sim, wrong, &people).await;
    assert_eq!((status.status, status.cause), (SharedHealth::Degraded, Some(TierFault::Auth)), "{status:?}");
    assert!(count_of(&stats, TierFault::Auth) > 0 && !stats.up, "{stats:?}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let nobody = RedisConfig { url: format!("redis://127.0.0.1:{closed}/0"), ..redis_config(&redis) };
    let (status, _) = tier_after(&sim, nobody, &people).await;
    assert_eq!(status.cause, Some(TierFault::Refused), "{status:?}");

    // Accepts connections, never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let mute = RedisConfig { url: format!("redis://127.0.0.1:{silent_port}/0"), ..redis_config(&redis) };
    let (status, _) = tier_after(&sim, mute, &people).await;
    assert_eq!(status.cause, Some(TierFault::Timeout), "{status:?}");
    held.abort();

    // Full, evicting nothing: writes fail.
    let client = redis::Client::open(format!("redis://:{password}@127.0.0.1:{}/0", redis.port())).expect("client");
    let mut admin = client.get_multiplexed_async_connection().await.expect("connects");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("noeviction")
        .query_async(&mut admin)
        .await
        .expect("policy");
    let _: () =
        redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg("1").query_async(&mut admin).await.expect("maxmemory");
    let (status, stats) = tier_after(&sim, with(password), &people).await;
    assert!(count_of(&stats, TierFault::OutOfMemory) > 0, "{stats:?} {status:?}");
    assert_eq!(stats.writes, 0);
    let _: () =
        redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg("0").query_async(&mut admin).await.expect("maxmemory");

    // A replica (of a primary that is not there) is read-only.
    let _: () = redis::cmd("REPLICAOF").arg("127.0.0.1").arg(closed).query_async(&mut admin).await.expect("replicaof");
    let (_, stats) = tier_after(&sim, with(password), &people).await;
    assert!(count_of(&stats, TierFault::ReadOnly) > 0, "{stats:?}");
    let _: () = redis::cmd("REPLICAOF").arg("NO").arg("ONE").query_async(&mut admin).await.expect("primary again");

    let (status, stats) = tier_after(&sim, with(password), &people).await;
    assert_eq!((status.status, status.cause), (SharedHealth::Ok, None), "{status:?}");
    assert!(stats.up && stats.writes == 20, "{stats:?}");
    sim.shutdown().await;
}
