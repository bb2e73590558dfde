//! [`MetricStore`]: the TTL cache of registry facts, and bulk prefetch through
//! the resolvers (dedupe, cache hits, batched fetch of the misses, merging of
//! identical lookups already in flight, circuit breaker per registry).

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use dci_protocol::records::Identifier;
use serde::{Deserialize, Serialize};

use crate::breaker::{BreakerConfig, BreakerState, CircuitBreaker};
use crate::cache::{CacheBackend, FactCache, Ttls};
use crate::catalog::{Catalog, RegistryIndex};
use crate::resolution::{Facts, Failure, Resolution, Source, UnknownCause};
use crate::resolver::{Lookup, RegistryResolver};

/// Identifier types tried, in order, for a registry with no configured resolver.
pub const DEFAULT_ID_TYPE_PRIORITY: [&str; 5] = ["UIN", "DRN", "NATIONAL_ID", "NID", "BRN"];

/// Bounds and behaviour of the store (`[cache]` in `elig.toml`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Most entries (one per person and registry) kept.
    pub max_entries: u64,
    /// Which cache holds the facts (`"moka"`, the default, or `"quick_cache"`).
    pub backend: CacheBackend,
    /// Circuit breaker of each registry.
    pub breaker: BreakerConfig,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { max_entries: 4_000_000, backend: CacheBackend::default(), breaker: BreakerConfig::default() }
    }
}

/// A cache key: the registry index as one character, then `TYPE \u{1f} value`
/// (type uppercased). One string, so that lookups borrow a `&str` instead of
/// allocating a key; held inline up to 24 bytes (a typical key takes 15), so
/// that comparing keys reads no other memory and a key costs no allocation.
pub(crate) type CacheKey = compact_str::CompactString;

/// Hash maps keyed by identifiers: a fast hasher (keys are not attacker-chosen
/// in a way that matters here: a lookup list comes from the operator).
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The keys of many identifiers in one registry, written one after another
/// into one buffer (one allocation for a whole list).
struct Keys {
    arena: String,
    ends: Vec<usize>,
}

impl Keys {
    fn new<I: Borrow<Identifier>>(registry: RegistryIndex, identifiers: &[I]) -> Self {
        let mut arena = String::with_capacity(identifiers.len() * 24);
        let mut ends = Vec::with_capacity(identifiers.len());
        for identifier in identifiers {
            write_key(&mut arena, registry, identifier.borrow());
            ends.push(arena.len());
        }
        Keys { arena, ends }
    }

    /// The keys, in the order of the identifiers.
    fn iter(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let key = &self.arena[start..end];
            start = end;
            key
        })
    }
}

/// Appends the key of `identifier` in `registry` to `out`.
fn write_key(out: &mut String, registry: RegistryIndex, identifier: &Identifier) {
    out.push(char::from_u32(0x30 + registry as u32).unwrap_or('?'));
    for c in identifier.identifier_type.chars() {
        out.push(c.to_ascii_uppercase());
    }
    out.push('\u{1f}');
    out.push_str(&identifier.identifier_value);
}

pub(crate) fn registry_of_key(key: &str) -> usize {
    key.chars().next().map_or(0, |c| (c as u32).saturating_sub(0x30) as usize)
}

/// A cached lookup: the facts (`None`: the registry does not know the
/// person) and when they were fetched (Unix seconds), so that a snapshot
/// restored later keeps its original expiry.
#[derive(Clone, Debug)]
pub(crate) struct Cached {
    pub(crate) facts: Option<Facts>,
    pub(crate) fetched_at: u64,
}

impl Cached {
    fn resolution(self) -> Resolution {
        match self.facts {
            Some(facts) => Resolution::Found(facts, Source::Cache),
            None => Resolution::NotFound(Source::Cache),
        }
    }
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// What one prefetch did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PrefetchReport {
    /// The registry.
    pub registry: String,
    /// Identifiers asked for.
    pub requested: usize,
    /// Distinct identifiers among them.
    pub unique: usize,
    /// Answered from the cache.
    pub cache_hits: usize,
    /// Answered by a lookup another caller had in flight.
    pub merged: usize,
    /// Sent to the registry.
    pub fetched: usize,
    /// Messages sent to the registry.
    pub round_trips: u64,
    /// Failed lookups, by cause.
    pub failures: BTreeMap<UnknownCause, usize>,
    /// What the registry said when the first lookup failed, naming the cause
    /// (authentication refused, unreachable, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<String>,
    /// Wall time.
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
}

fn millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(duration.as_millis() as u64)
}

/// The result of a prefetch: one resolution per identifier asked for, in order.
#[derive(Clone, Debug)]
pub struct Prefetch {
    /// Aligned with the identifiers.
    pub resolutions: Vec<Resolution>,
    /// What it took.
    pub report: PrefetchReport,
}

/// Counters of one registry.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RegistryStats {
    /// The registry.
    pub registry: String,
    /// Whether a resolver (data source) is configured.
    pub configured: bool,
    /// Messages sent.
    pub round_trips: u64,
    /// Identifiers sent.
    pub items_fetched: u64,
    /// Failed lookups, by cause.
    pub failures: BTreeMap<UnknownCause, u64>,
    /// The breaker.
    pub breaker: Option<BreakerState>,
}

/// Whether a registry can be used now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Readiness {
    /// The registry.
    pub registry: String,
    /// Whether a data source is configured.
    pub configured: bool,
    /// Configured, probe passed, breaker not open, and its last lookup did not
    /// fail whole within [`FAILING_FOR`].
    pub ready: bool,
    /// The breaker.
    pub breaker: Option<BreakerState>,
    /// What is wrong, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Counters of the store.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StoreStats {
    /// Entries in the cache.
    pub cache_entries: u64,
    /// Lookups answered by the cache.
    pub cache_hits: u64,
    /// Lookups the cache could not answer.
    pub cache_misses: u64,
    /// Entries inserted.
    pub inserts: u64,
    /// Entries evicted for space (not expiry).
    pub evictions: u64,
    /// Per registry.
    pub registries: Vec<RegistryStats>,
}

struct Registry {
    resolver: Arc<dyn RegistryResolver>,
    breaker: CircuitBreaker,
    round_trips: AtomicU64,
    items: AtomicU64,
    failures: Mutex<BTreeMap<UnknownCause, u64>>,
    /// When the registry last failed a whole lookup (every person of it), and
    /// why; cleared by a lookup that succeeds.
    failing: Mutex<Option<(Instant, Arc<str>)>>,
}

/// How long a registry that failed its last lookup counts as not ready.
pub const FAILING_FOR: Duration = Duration::from_secs(60);

/// A lookup in flight, shared by the prefetches that want the same persons.
struct Flight {
    results: OnceLock<Vec<Resolution>>,
    done: tokio::sync::Notify,
}

impl Flight {
    async fn wait(&self, index: usize) -> Resolution {
        loop {
            let notified = self.done.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(results) = self.results.get() {
                return results.get(index).cloned().unwrap_or(Resolution::NotFetched);
            }
            notified.await;
        }
    }
}

/// Completes a flight when dropped, even when its prefetch is cancelled, so
/// that callers waiting on it never hang.
struct FlightGuard<'a> {
    store: &'a MetricStore,
    flight: Arc<Flight>,
    keys: Vec<CacheKey>,
}

impl FlightGuard<'_> {
    fn complete(&self, results: Vec<Resolution>) {
        let _ = self.flight.results.set(results);
        self.flight.done.notify_waiters();
    }
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        if self.flight.results.get().is_none() {
            let cancelled = Resolution::Failed(Failure {
                cause: UnknownCause::RegistryError,
                message: Arc::from("lookup cancelled"),
            });
            self.complete(vec![cancelled; self.keys.len()]);
        }
        let mut inflight = self.store.inflight.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for key in &self.keys {
            if inflight.get(key.as_str()).is_some_and(|(flight, _)| Arc::ptr_eq(flight, &self.flight)) {
                inflight.remove(key.as_str());
            }
        }
    }
}

/// The fact cache and the prefetch machinery. Share one per process (`Arc`).
pub struct MetricStore {
    catalog: Arc<Catalog>,
    /// Facts restored from a snapshot file: read-only, consulted before the
    /// cache (loading them into moka one by one would cost microseconds each).
    pub(crate) restored: OnceLock<HashMap<CacheKey, Cached>>,
    registries: Vec<Option<Registry>>,
    pub(crate) cache: FactCache,
    inflight: Mutex<HashMap<CacheKey, (Arc<Flight>, usize)>>,
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    evictions: Arc<AtomicU64>,
}

impl std::fmt::Debug for MetricStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricStore").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl MetricStore {
    /// A store over `catalog`, with a resolver for some of its registries
    /// (matched by `spec().id`); registries without one answer "unavailable".
    pub fn new(catalog: Arc<Catalog>, resolvers: Vec<Arc<dyn RegistryResolver>>, config: &StoreConfig) -> Self {
        let registries = catalog
            .registries()
            .iter()
            .map(|spec| {
                resolvers.iter().find(|r| r.spec().id == spec.id).map(|resolver| Registry {
                    resolver: resolver.clone(),
                    breaker: CircuitBreaker::new(config.breaker.clone()),
                    round_trips: AtomicU64::new(0),
                    items: AtomicU64::new(0),
                    failures: Mutex::new(BTreeMap::new()),
                    failing: Mutex::new(None),
                })
            })
            .collect();
        let count = catalog.registries().len();
        let ttls = Ttls {
            found: (0..count).map(|r| catalog.registry_ttl(r)).collect(),
            not_found: (0..count).map(|r| catalog.not_found_ttl(r)).collect(),
        };
        let evictions = Arc::new(AtomicU64::new(0));
        let cache = FactCache::new(config.backend, config.max_entries, ttls, evictions.clone());
        MetricStore {
            catalog,
            registries,
            cache,
            inflight: Mutex::new(HashMap::default()),
            restored: OnceLock::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            inserts: AtomicU64::new(0),
            evictions,
        }
    }

    /// The catalog.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// Whether a resolver is configured for `registry`.
    pub fn is_configured(&self, registry: RegistryIndex) -> bool {
        self.registries.get(registry).is_some_and(Option::is_some)
    }

    /// The identifier to look a person up by in `registry`: the first of the
    /// person's identifiers whose type comes earliest in the registry's priority list.
    pub fn choose_identifier<'a>(
        &self,
        registry: RegistryIndex,
        identifiers: &'a [Identifier],
    ) -> Option<&'a Identifier> {
        fn pick<'a, 'p>(
            priority: impl Iterator<Item = &'p str>,
            identifiers: &'a [Identifier],
        ) -> Option<&'a Identifier> {
            let mut priority = priority;
            priority.find_map(|wanted| {
                identifiers.iter().find(|id| {
                    id.identifier_type.eq_ignore_ascii_case(wanted) && !id.identifier_value.trim().is_empty()
                })
            })
        }
        match self.registries.get(registry).and_then(Option::as_ref) {
            Some(state) => pick(state.resolver.id_type_priority().iter().map(String::as_str), identifiers),
            None => pick(DEFAULT_ID_TYPE_PRIORITY.iter().copied(), identifiers),
        }
    }

    /// The breaker state of each configured registry.
    pub fn breaker_states(&self) -> Vec<(String, Option<BreakerState>)> {
        self.catalog
            .registries()
            .iter()
            .zip(&self.registries)
            .map(|(spec, state)| (spec.id.to_owned(), state.as_ref().map(|s| s.breaker.state())))
            .collect()
    }

    /// Resolves these persons in `registry`: duplicates are asked once, cache
    /// hits are not asked, misses go to the registry in batched messages, and
    /// persons another prefetch is already fetching are awaited, not fetched
    /// twice. Failures are never cached.
    pub async fn prefetch<I: Borrow<Identifier>>(&self, registry: RegistryIndex, identifiers: &[I]) -> Prefetch {
        let started = Instant::now();
        let mut report = PrefetchReport {
            registry: self.catalog.registries().get(registry).map(|r| r.id.to_owned()).unwrap_or_default(),
            requested: identifiers.len(),
            ..Default::default()
        };
        // Deduplicated by borrowed `&str` keys.
        let keys = Keys::new(registry, identifiers);
        let mut unique: Vec<(&str, &Identifier)> = Vec::new();
        let mut slots: Vec<usize> = Vec::with_capacity(identifiers.len());
        {
            let mut index_of: HashMap<&str, usize> =
                HashMap::with_capacity_and_hasher(identifiers.len(), Default::default());
            for (identifier, key) in identifiers.iter().zip(keys.iter()) {
                let slot = *index_of.entry(key).or_insert_with(|| {
                    unique.push((key, identifier.borrow()));
                    unique.len() - 1
                });
                slots.push(slot);
            }
        }
        report.unique = unique.len();

        let keys: Vec<&str> = unique.iter().map(|(key, _)| *key).collect();
        let mut results: Vec<Option<Resolution>> =
            self.lookup_many(&keys).await.into_iter().map(|found| found.map(Cached::resolution)).collect();
        let misses: Vec<usize> = (0..unique.len()).filter(|i| results[*i].is_none()).collect();
        report.cache_hits = unique.len() - misses.len();
        self.hits.fetch_add(report.cache_hits as u64, Ordering::Relaxed);
        self.misses.fetch_add(misses.len() as u64, Ordering::Relaxed);

        match self.registries.get(registry).and_then(Option::as_ref) {
            None => {
                let failure = Failure {
                    cause: UnknownCause::RegistryUnavailable,
                    message: Arc::from(format!("no data source is configured for registry {}", report.registry)),
                };
                for index in misses {
                    results[index] = Some(Resolution::Failed(failure.clone()));
                }
                *report.failures.entry(UnknownCause::RegistryUnavailable).or_default() +=
                    report.unique - report.cache_hits;
            }
            Some(state) => self.fetch(state, &unique, &misses, &mut results, &mut report).await,
        }

        report.elapsed = started.elapsed();
        let resolutions = slots.into_iter().map(|u| results[u].clone().unwrap_or(Resolution::NotFetched)).collect();
        Prefetch { resolutions, report }
    }

    /// Fresh cached entries: from the restored snapshot, else from the cache.
    /// (Splitting moka reads over several tasks was measured and gains nothing:
    /// its read bookkeeping serialises them; ≈ 0.5 µs each either way.)
    async fn lookup_many(&self, keys: &[&str]) -> Vec<Option<Cached>> {
        let now = unix_now();
        let mut found: Vec<Option<Cached>> = keys.iter().map(|key| self.restored_fresh(key, now).cloned()).collect();
        if self.cache.is_empty() {
            return found;
        }
        for (slot, key) in found.iter_mut().zip(keys) {
            if slot.is_none() {
                *slot = self.cache.get(key, now).await;
            }
        }
        found
    }

    /// A fresh entry of the restored snapshot.
    fn restored_fresh(&self, key: &str, now: u64) -> Option<&Cached> {
        let cached = self.restored.get()?.get(key)?;
        self.cache.ttls().is_fresh(key, cached, now).then_some(cached)
    }

    /// What is at hand, still fresh, about these persons without awaiting: a
    /// restored snapshot (see [`MetricStore::load_snapshot`]) and, when the
    /// cache can be read synchronously (see [`MetricStore::reads_synchronously`]),
    /// the cache; `None` where neither has anything (with moka, ask
    /// [`MetricStore::cached`] for those). Synchronous, so that a large warm
    /// batch can read from several threads at once. Hits are counted as cache hits.
    pub fn facts_at_hand<I: Borrow<Identifier>>(
        &self,
        registry: RegistryIndex,
        identifiers: &[I],
    ) -> Vec<Option<Resolution>> {
        let snapshot = self.restored.get().is_some();
        let cache = self.cache.reads_synchronously() && !self.cache.is_empty();
        if !snapshot && !cache {
            return vec![None; identifiers.len()];
        }
        let now = unix_now();
        let mut key = String::with_capacity(32);
        let found: Vec<Option<Resolution>> = identifiers
            .iter()
            .map(|identifier| {
                key.clear();
                write_key(&mut key, registry, identifier.borrow());
                let cached = match self.restored_fresh(&key, now) {
                    Some(cached) => Some(cached.clone()),
                    None if cache => self.cache.get_now(&key, now).ok().flatten(),
                    None => None,
                };
                cached.map(Cached::resolution)
            })
            .collect();
        self.hits.fetch_add(found.iter().filter(|f| f.is_some()).count() as u64, Ordering::Relaxed);
        found
    }

    /// Whether a snapshot has been restored (see [`MetricStore::load_snapshot`]).
    pub fn has_snapshot(&self) -> bool {
        self.restored.get().is_some()
    }

    /// Whether [`MetricStore::facts_at_hand`] reads the cache too, not only a
    /// restored snapshot (true for the quick_cache backend).
    pub fn reads_synchronously(&self) -> bool {
        self.cache.reads_synchronously()
    }

    /// Whether the cache (not counting a restored snapshot) holds anything.
    pub fn cache_is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// What the cache alone says about these persons (no registry is asked):
    /// `None` where it has nothing fresh. Hits are counted as cache hits.
    pub async fn cached<I: Borrow<Identifier>>(
        &self,
        registry: RegistryIndex,
        identifiers: &[I],
    ) -> Vec<Option<Resolution>> {
        let keys = Keys::new(registry, identifiers);
        let keys: Vec<&str> = keys.iter().collect();
        let out: Vec<Option<Resolution>> =
            self.lookup_many(&keys).await.into_iter().map(|found| found.map(Cached::resolution)).collect();
        self.hits.fetch_add(out.iter().filter(|found| found.is_some()).count() as u64, Ordering::Relaxed);
        out
    }

    async fn fetch(
        &self,
        state: &Registry,
        unique: &[(&str, &Identifier)],
        misses: &[usize],
        results: &mut [Option<Resolution>],
        report: &mut PrefetchReport,
    ) {
        let flight = Arc::new(Flight { results: OnceLock::new(), done: tokio::sync::Notify::new() });
        let mut mine: Vec<usize> = Vec::new();
        let mut theirs: Vec<(usize, Arc<Flight>, usize)> = Vec::new();
        {
            let mut inflight = self.inflight.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            for &index in misses {
                let key = unique[index].0;
                match inflight.get(key) {
                    Some((other, position)) => theirs.push((index, other.clone(), *position)),
                    None => {
                        inflight.insert(CacheKey::from(key), (flight.clone(), mine.len()));
                        mine.push(index);
                    }
                }
            }
        }
        let guard =
            FlightGuard { store: self, flight, keys: mine.iter().map(|&i| CacheKey::from(unique[i].0)).collect() };

        let mut fetched: Vec<Resolution> = Vec::with_capacity(mine.len());
        for chunk in mine.chunks(state.resolver.chunk_size().max(1)) {
            if !state.breaker.allow() {
                let failure = Failure {
                    cause: UnknownCause::RegistryUnavailable,
                    message: Arc::from(format!(
                        "registry {} is failing; not asked until its cool-down ends",
                        report.registry
                    )),
                };
                fetched.extend(chunk.iter().map(|_| Resolution::Failed(failure.clone())));
                *report.failures.entry(UnknownCause::RegistryUnavailable).or_default() += chunk.len();
                continue;
            }
            let identifiers: Vec<Identifier> = chunk.iter().map(|&i| unique[i].1.clone()).collect();
            let lookups = state.resolver.lookup(&identifiers).await;
            let round_trips = state.resolver.round_trips(identifiers.len());
            report.round_trips += round_trips;
            report.fetched += identifiers.len();
            state.round_trips.fetch_add(round_trips, Ordering::Relaxed);
            state.items.fetch_add(identifiers.len() as u64, Ordering::Relaxed);
            let registry_down = !lookups.is_empty()
                && lookups.iter().all(|lookup| {
                    matches!(lookup, Lookup::Failed(f) if matches!(f.cause, UnknownCause::RegistryError | UnknownCause::Timeout))
                });
            {
                let mut failing = state.failing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if registry_down {
                    state.breaker.record_failure();
                    if let Some(Lookup::Failed(failure)) = lookups.first() {
                        *failing = Some((Instant::now(), failure.message.clone()));
                    }
                } else {
                    state.breaker.record_success();
                    *failing = None;
                }
            }
            for (position, &index) in chunk.iter().enumerate() {
                let lookup = lookups.get(position).cloned().unwrap_or_else(|| {
                    Lookup::Failed(Failure {
                        cause: UnknownCause::RegistryError,
                        message: Arc::from("the resolver gave no answer"),
                    })
                });
                let key = CacheKey::from(unique[index].0);
                let resolution = match lookup {
                    Lookup::Found(values) => {
                        let facts: Facts = Arc::from(values);
                        self.cache.insert(key, Cached { facts: Some(facts.clone()), fetched_at: unix_now() }).await;
                        self.inserts.fetch_add(1, Ordering::Relaxed);
                        Resolution::Found(facts, Source::Registry)
                    }
                    Lookup::NotFound => {
                        self.cache.insert(key, Cached { facts: None, fetched_at: unix_now() }).await;
                        self.inserts.fetch_add(1, Ordering::Relaxed);
                        Resolution::NotFound(Source::Registry)
                    }
                    Lookup::Failed(failure) => {
                        *report.failures.entry(failure.cause).or_default() += 1;
                        report.first_failure.get_or_insert_with(|| failure.message.to_string());
                        let mut failures = state.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                        *failures.entry(failure.cause).or_default() += 1;
                        Resolution::Failed(failure)
                    }
                };
                fetched.push(resolution);
            }
        }
        guard.complete(fetched.clone());
        drop(guard);
        for (&index, resolution) in mine.iter().zip(fetched) {
            results[index] = Some(resolution);
        }
        for (index, flight, position) in theirs {
            results[index] = Some(flight.wait(position).await);
            report.merged += 1;
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            cache_entries: self.cache.entry_count() + self.restored.get().map_or(0, |r| r.len() as u64),
            cache_hits: self.hits.load(Ordering::Relaxed),
            cache_misses: self.misses.load(Ordering::Relaxed),
            inserts: self.inserts.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            registries: self
                .catalog
                .registries()
                .iter()
                .zip(&self.registries)
                .map(|(spec, state)| match state {
                    None => RegistryStats { registry: spec.id.to_owned(), ..Default::default() },
                    Some(state) => RegistryStats {
                        registry: spec.id.to_owned(),
                        configured: true,
                        round_trips: state.round_trips.load(Ordering::Relaxed),
                        items_fetched: state.items.load(Ordering::Relaxed),
                        failures: state.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone(),
                        breaker: Some(state.breaker.state()),
                    },
                })
                .collect(),
        }
    }

    /// The readiness of each registry: configured or not, a probe result
    /// (e.g. a token obtained), and the breaker state.
    pub async fn readiness(&self) -> Vec<Readiness> {
        let mut out = Vec::new();
        for (spec, state) in self.catalog.registries().iter().zip(&self.registries) {
            out.push(match state {
                None => Readiness {
                    registry: spec.id.to_owned(),
                    configured: false,
                    ready: false,
                    breaker: None,
                    problem: Some("no data source configured".into()),
                },
                Some(state) => {
                    let probe = state.resolver.probe().await;
                    let breaker = state.breaker.state();
                    let failing = state
                        .failing
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .as_ref()
                        .filter(|(at, _)| at.elapsed() < FAILING_FOR)
                        .map(|(at, why)| format!("its last lookup failed {} s ago: {why}", at.elapsed().as_secs()));
                    Readiness {
                        registry: spec.id.to_owned(),
                        configured: true,
                        ready: probe.is_ok() && breaker != BreakerState::Open && failing.is_none(),
                        breaker: Some(breaker),
                        problem: probe
                            .err()
                            .or_else(|| (breaker == BreakerState::Open).then(|| "circuit breaker open".to_owned()))
                            .or(failing),
                    }
                }
            });
        }
        out
    }

    /// Drops every cached fact.
    pub fn clear(&self) {
        self.cache.clear();
    }

    /// Runs pending cache maintenance (expiry, eviction counts) now; for tests and reports.
    pub async fn sync(&self) {
        self.cache.sync().await;
    }
}
