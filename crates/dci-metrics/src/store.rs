//! [`MetricStore`]: the registry facts of persons, with two data operations.
//!
//! * [`MetricStore::known`]: what the cache holds now; synchronous, from any thread.
//! * [`MetricStore::fetch`]: everything else: duplicates asked once, the cache
//!   first, identical lookups already in flight awaited rather than repeated,
//!   the rest sent to the registry in batches behind its circuit breaker, and
//!   what it answers remembered (failures never are).
//!
//! A fetch reads in tiers: the in-process cache ([`FactCache`]), then the
//! registry. A shared tier ([`SharedTier`]) plugs in between them at two
//! calls: it is read for the cache's misses before anything is sent, and
//! written with what the registry answers.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use dci_protocol::records::Identifier;
use serde::{Deserialize, Serialize};

use crate::breaker::{BreakerConfig, BreakerState, CircuitBreaker};
use crate::cache::{FactCache, Ttls};
use crate::catalog::{Catalog, RegistryIndex};
use crate::cause::UnknownCause;
use crate::entry::{CacheKey, Cached, unix_now};
use crate::resolution::{Facts, Failure, Resolution, Source};
use crate::resolver::{Lookup, RegistryResolver};
use crate::seal::Sealer;
use crate::shared::{RedisConfig, SharedError, SharedStats, SharedStatus, SharedTier};
use crate::value::{MetricValue, Unusable};

/// Identifier types tried, in order, for a registry with no configured resolver.
pub const DEFAULT_ID_TYPE_PRIORITY: [&str; 5] = ["UIN", "DRN", "NATIONAL_ID", "NID", "BRN"];

/// Bounds and behaviour of the store (`[cache]` in `elig.toml`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Most entries (one per person and registry) kept.
    pub max_entries: u64,
    /// Circuit breaker of each registry.
    pub breaker: BreakerConfig,
    /// The key that seals facts leaving the process (the shared tier's
    /// values, snapshot files), by environment reference: 64 hex digits or
    /// 32 bytes in base64. Without it they are written in clear.
    pub encryption_key: Option<dci_client::SecretSource>,
    /// The shared tier on Redis (`[cache.redis]`), if any.
    pub redis: Option<RedisConfig>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { max_entries: 4_000_000, breaker: BreakerConfig::default(), encryption_key: None, redis: None }
    }
}

/// Hash maps keyed by identifiers: a fast hasher (keys are not attacker-chosen
/// in a way that matters here: a lookup list comes from the operator).
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Appends the key of `identifier` in `registry` to `out`.
fn write_key(out: &mut String, registry: RegistryIndex, identifier: &Identifier) {
    // A catalog holds at most 64 registries: '0' + index is one ASCII character.
    out.push(char::from(b'0' + registry.get() as u8));
    for c in identifier.identifier_type.chars() {
        out.push(c.to_ascii_uppercase());
    }
    out.push('\u{1f}');
    out.push_str(&identifier.identifier_value);
}

/// `identifiers` whose type is in `priority`, in its order, then as listed;
/// blank values and repeats (the same type and value again) left out.
fn accepted<'a, 'p>(
    priority: impl Iterator<Item = &'p str>,
    identifiers: &'a [Identifier],
) -> impl Iterator<Item = &'a Identifier> {
    priority.flat_map(move |wanted| {
        identifiers.iter().enumerate().filter_map(move |(at, id)| {
            let of_type = |other: &Identifier| other.identifier_type.eq_ignore_ascii_case(wanted);
            let repeated = identifiers[..at]
                .iter()
                .any(|earlier| of_type(earlier) && earlier.identifier_value == id.identifier_value);
            (of_type(id) && !id.identifier_value.trim().is_empty() && !repeated).then_some(id)
        })
    })
}

/// What fetching from one registry did: one fetch's counts, or (summed) a
/// batch's. One definition for the store's report and the batch statistics.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FetchCounts {
    /// Identifiers asked for (in a batch's statistics: persons looked up,
    /// those without a usable identifier left out).
    pub requested: usize,
    /// Answered from the cache (the shared tier's answers included).
    pub cache_hits: usize,
    /// Of those, answered by the shared tier.
    pub shared_hits: usize,
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
    /// Time spent fetching, in milliseconds.
    pub fetch_ms: u64,
}

/// The result of a fetch: one resolution per identifier asked for, in order.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// Aligned with the identifiers.
    pub resolutions: Vec<Resolution>,
    /// Distinct identifiers among those asked for.
    pub unique: usize,
    /// What it took.
    pub counts: FetchCounts,
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
    /// Lookups by a person's identifiers after the first the registry accepts
    /// (see [`MetricStore::count_other_identifier_lookups`]).
    pub other_identifier_lookups: u64,
    /// Failed lookups, by cause.
    pub failures: BTreeMap<UnknownCause, u64>,
    /// The breaker.
    pub breaker: Option<BreakerState>,
}

/// Whether a registry can be used now.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = RegistryReadiness))]
pub struct Readiness {
    /// The registry.
    pub registry: String,
    /// Whether a data source is configured.
    pub configured: bool,
    /// Configured, probe passed, breaker not open, and its last lookup did not
    /// fail whole within [`FAILING_FOR`].
    pub ready: bool,
    /// The breaker (configured registries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerState>,
    /// Who answers for it ([`MetricStore::answered_by`]).
    pub answered_by: String,
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
    /// The shared tier, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<SharedStats>,
    /// Per registry.
    pub registries: Vec<RegistryStats>,
}

struct Registry {
    resolver: Arc<dyn RegistryResolver>,
    /// The registry's id and its resolver's identity: what the snapshot file
    /// and the shared tier key its facts by.
    scope: String,
    breaker: CircuitBreaker,
    round_trips: AtomicU64,
    items: AtomicU64,
    other_identifiers: AtomicU64,
    failures: Mutex<BTreeMap<UnknownCause, u64>>,
    /// When the registry last failed a whole lookup (every person of it), and
    /// why; cleared by a lookup that succeeds.
    failing: Mutex<Option<(Instant, Arc<str>)>>,
}

/// Records in `state`'s breaker and readiness whether a chunk's `lookups`
/// all failed for the registry's own sake (down, slow, unavailable).
fn record_health(state: &Registry, lookups: &[Lookup]) {
    let down = |lookup: &Lookup| matches!(lookup, Lookup::Failed(f) if matches!(f.cause, UnknownCause::RegistryError | UnknownCause::Timeout | UnknownCause::RegistryUnavailable));
    let mut failing = state.failing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if !lookups.is_empty() && lookups.iter().all(down) {
        state.breaker.record_failure();
        if let Some(Lookup::Failed(failure)) = lookups.first() {
            *failing = Some((Instant::now(), failure.message.clone()));
        }
    } else {
        state.breaker.record_success();
        *failing = None;
    }
}

/// How long a registry that failed its last lookup counts as not ready.
pub const FAILING_FOR: Duration = Duration::from_secs(60);

/// A lookup in flight, shared by the fetches that want the same persons.
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

/// Completes a flight when dropped, even when its fetch is cancelled, so
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

/// The registry facts of persons: a cache, and the registries behind it.
/// Share one per process (`Arc`).
pub struct MetricStore {
    catalog: Arc<Catalog>,
    registries: Vec<Option<Registry>>,
    pub(crate) cache: FactCache,
    inflight: Mutex<HashMap<CacheKey, (Arc<Flight>, usize)>>,
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    evictions: Arc<AtomicU64>,
    shared: Option<SharedTier>,
    pub(crate) sealer: Option<Arc<Sealer>>,
}

impl std::fmt::Debug for MetricStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricStore").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl MetricStore {
    /// A store over `catalog`, with a resolver for some of its registries
    /// (matched by `spec().id`); registries without one answer "unavailable".
    /// Refused when the encryption key or the shared tier's settings are
    /// unusable (nothing is connected yet).
    pub fn new(
        catalog: Arc<Catalog>,
        resolvers: Vec<Arc<dyn RegistryResolver>>,
        config: &StoreConfig,
    ) -> Result<Self, SharedError> {
        let sealer = match &config.encryption_key {
            Some(key) => Some(Arc::new(Sealer::new(key, "cache.encryption_key")?)),
            None => None,
        };
        let shared = match &config.redis {
            Some(redis) => Some(SharedTier::new(redis, sealer.clone())?),
            None => None,
        };
        let registries = catalog
            .registries()
            .iter()
            .map(|spec| {
                resolvers.iter().find(|r| r.spec().id == spec.id).map(|resolver| Registry {
                    scope: format!("{}\u{1f}{}", spec.id, resolver.identity()),
                    resolver: resolver.clone(),
                    breaker: CircuitBreaker::new(config.breaker.clone()),
                    round_trips: AtomicU64::new(0),
                    items: AtomicU64::new(0),
                    other_identifiers: AtomicU64::new(0),
                    failures: Mutex::new(BTreeMap::new()),
                    failing: Mutex::new(None),
                })
            })
            .collect();
        let ttls = Ttls::of(&catalog);
        let evictions = Arc::new(AtomicU64::new(0));
        let cache = FactCache::new(config.max_entries, ttls, evictions.clone());
        Ok(MetricStore {
            catalog,
            registries,
            cache,
            inflight: Mutex::new(HashMap::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            inserts: AtomicU64::new(0),
            evictions,
            shared,
            sealer,
        })
    }

    /// The catalog.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    fn registry(&self, registry: RegistryIndex) -> Option<&Registry> {
        self.registries.get(registry.get()).and_then(Option::as_ref)
    }

    /// Who answers for `registry` ([`RegistryResolver::identity`]); `None`
    /// when no data source is configured for it.
    pub fn identity(&self, registry: RegistryIndex) -> Option<String> {
        self.registry(registry).map(|state| state.resolver.identity())
    }

    /// Who answers for `registry`, for people: its label and identity
    /// ([`RegistryResolver::answered_by`]), or that no data source is configured.
    pub fn answered_by(&self, registry: RegistryIndex) -> String {
        match self.registry(registry) {
            Some(state) => state.resolver.answered_by(),
            None => "no data source configured".to_owned(),
        }
    }

    /// Whether any registry has a data source.
    pub fn has_registries(&self) -> bool {
        self.registries.iter().any(Option::is_some)
    }

    /// The identifier to look a person up by first in `registry`: the first of
    /// the person's identifiers whose type comes earliest in the registry's
    /// priority list.
    pub fn choose_identifier<'a>(
        &self,
        registry: RegistryIndex,
        identifiers: &'a [Identifier],
    ) -> Option<&'a Identifier> {
        self.nth_identifier(registry, identifiers, 0)
    }

    /// Counts `n` lookups by a person's identifiers after the first the
    /// registry accepts: the engine's, for the statistics.
    pub fn count_other_identifier_lookups(&self, registry: RegistryIndex, n: usize) {
        if let Some(state) = self.registry(registry) {
            state.other_identifiers.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// The person's identifiers `registry` accepts, in the order they are
    /// asked: by the registry's priority list, then as the person lists them;
    /// blank values and repeats left out. "Not found" is concluded only once
    /// the registry knows none of them.
    pub fn accepted_identifiers<'a>(
        &self,
        registry: RegistryIndex,
        identifiers: &'a [Identifier],
    ) -> Vec<&'a Identifier> {
        match self.registry(registry) {
            Some(state) => {
                accepted(state.resolver.id_type_priority().iter().map(String::as_str), identifiers).collect()
            }
            None => accepted(DEFAULT_ID_TYPE_PRIORITY.iter().copied(), identifiers).collect(),
        }
    }

    /// The `n`-th of [`MetricStore::accepted_identifiers`] (0: the first
    /// asked), without building the list: it is read for every person of a
    /// warm run.
    pub fn nth_identifier<'a>(
        &self,
        registry: RegistryIndex,
        identifiers: &'a [Identifier],
        n: usize,
    ) -> Option<&'a Identifier> {
        if n >= identifiers.len() {
            return None; // most persons hold one identifier: no need to read the priority list
        }
        match self.registry(registry) {
            Some(state) => accepted(state.resolver.id_type_priority().iter().map(String::as_str), identifiers).nth(n),
            None => accepted(DEFAULT_ID_TYPE_PRIORITY.iter().copied(), identifiers).nth(n),
        }
    }

    /// What the cache holds now about these persons in `registry`, still
    /// fresh: `None` where it has nothing. Synchronous and callable from any
    /// thread (a large batch reads in parallel); no registry is asked. Hits
    /// are counted as cache hits.
    pub fn known<I: Borrow<Identifier>>(&self, registry: RegistryIndex, identifiers: &[I]) -> Vec<Option<Resolution>> {
        let found = self.peek(registry, identifiers);
        self.count_hits(found.iter().filter(|f| f.is_some()).count());
        found
    }

    /// [`MetricStore::known`] without counting hits: for a caller that uses only some of
    /// them (the others are read again by a fetch, which counts them) and counts those
    /// with [`MetricStore::count_hits`].
    pub fn peek<I: Borrow<Identifier>>(&self, registry: RegistryIndex, identifiers: &[I]) -> Vec<Option<Resolution>> {
        let now = unix_now();
        let mut key = String::with_capacity(32);
        identifiers
            .iter()
            .map(|identifier| {
                key.clear();
                write_key(&mut key, registry, identifier.borrow());
                self.cache.get(&key, now).map(Cached::resolution)
            })
            .collect()
    }

    /// Counts `hits` answers read from the cache.
    pub fn count_hits(&self, hits: usize) {
        self.hits.fetch_add(hits as u64, Ordering::Relaxed);
    }

    /// Resolves these persons in `registry`: duplicates are asked once, what
    /// the cache knows is not asked, persons another fetch is already asking
    /// about are awaited rather than asked twice, and the rest go to the
    /// registry in batched messages. Failures are never remembered.
    pub async fn fetch<I: Borrow<Identifier>>(&self, registry: RegistryIndex, identifiers: &[I]) -> Fetched {
        let started = Instant::now();
        let mut report = FetchCounts { requested: identifiers.len(), ..Default::default() };
        // Deduplicated by borrowed `&str` keys.
        let mut buffer = String::with_capacity(32);
        let keys: Vec<CacheKey> = identifiers
            .iter()
            .map(|identifier| {
                buffer.clear();
                write_key(&mut buffer, registry, identifier.borrow());
                CacheKey::from(buffer.as_str())
            })
            .collect();
        let mut unique: Vec<(&str, &Identifier)> = Vec::new();
        let mut index_of: HashMap<&str, usize> = HashMap::with_capacity_and_hasher(keys.len(), Default::default());
        let slots: Vec<usize> = identifiers
            .iter()
            .zip(&keys)
            .map(|(identifier, key)| {
                *index_of.entry(key.as_str()).or_insert_with(|| {
                    unique.push((key.as_str(), identifier.borrow()));
                    unique.len() - 1
                })
            })
            .collect();

        let now = unix_now();
        let mut results: Vec<Option<Resolution>> =
            unique.iter().map(|(key, _)| self.cache.get(key, now).map(Cached::resolution)).collect();
        let mut misses: Vec<usize> = (0..unique.len()).filter(|i| results[*i].is_none()).collect();
        // Facts of a registry no data source is configured for are not served from the shared tier.
        if let (Some(shared), Some(state)) = (&self.shared, self.registry(registry)) {
            misses = self.ask_shared(shared, registry, &state.scope, &unique, misses, &mut results, &mut report).await;
        }
        report.cache_hits = unique.len() - misses.len();
        self.hits.fetch_add(report.cache_hits as u64, Ordering::Relaxed);
        self.misses.fetch_add(misses.len() as u64, Ordering::Relaxed);

        match self.registry(registry) {
            None => {
                let failure = Failure {
                    cause: UnknownCause::RegistryUnavailable,
                    message: Arc::from(format!(
                        "no data source is configured for registry {}",
                        self.catalog.registry(registry).id
                    )),
                };
                for index in misses {
                    results[index] = Some(Resolution::Failed(failure.clone()));
                }
                *report.failures.entry(UnknownCause::RegistryUnavailable).or_default() +=
                    unique.len() - report.cache_hits;
            }
            Some(state) => self.ask_registry(registry, state, &unique, &misses, &mut results, &mut report).await,
        }

        report.fetch_ms = started.elapsed().as_millis() as u64;
        let resolutions = slots.into_iter().map(|u| results[u].clone().unwrap_or(Resolution::NotFetched)).collect();
        Fetched { resolutions, unique: unique.len(), counts: report }
    }

    /// Asks the shared tier about the `misses` among `unique`: what it knows,
    /// fresh by this catalog's TTLs, goes into the cache and `results`.
    /// Returns the misses left.
    #[allow(clippy::too_many_arguments)]
    async fn ask_shared(
        &self,
        shared: &SharedTier,
        registry: RegistryIndex,
        scope: &str,
        unique: &[(&str, &Identifier)],
        misses: Vec<usize>,
        results: &mut [Option<Resolution>],
        report: &mut FetchCounts,
    ) -> Vec<usize> {
        let spec = self.catalog.registry(registry);
        let asked: Vec<&Identifier> = misses.iter().map(|&index| unique[index].1).collect();
        let now = unix_now();
        let found = shared
            .read(scope, spec.metrics.len(), &asked, |position, cached| {
                let fresh = self.cache.ttls().fresh(registry, cached.facts.is_some(), cached.fetched_at, now);
                fresh.then(|| {
                    self.cache.insert(CacheKey::from(unique[misses[position]].0), cached.clone());
                    cached.resolution()
                })
            })
            .await;
        let mut left = Vec::new();
        for (&index, resolution) in misses.iter().zip(found) {
            match resolution {
                Some(resolution) => {
                    results[index] = Some(resolution);
                    report.shared_hits += 1;
                }
                None => left.push(index),
            }
        }
        left
    }

    /// Stores what a registry answered about the person under `key`; returns
    /// the entry, for the shared tier.
    fn remember(&self, key: CacheKey, facts: Option<Facts>) -> Cached {
        let cached = Cached { facts, fetched_at: unix_now() };
        self.cache.insert(key, cached.clone());
        self.inserts.fetch_add(1, Ordering::Relaxed);
        cached
    }

    /// What one lookup gives: its resolution, and the cache entry written
    /// for the shared tier (none for a failure or an answer a metric cannot
    /// use, which the next run asks again); failures counted by cause.
    fn settle(
        &self,
        state: &Registry,
        key: &str,
        lookup: Lookup,
        report: &mut FetchCounts,
    ) -> (Resolution, Option<Cached>) {
        let mut count = |cause: UnknownCause, said: &str| {
            *report.failures.entry(cause).or_default() += 1;
            report.first_failure.get_or_insert_with(|| said.to_owned());
            *state.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).entry(cause).or_default() += 1;
        };
        match lookup {
            Lookup::Found { values } => {
                let facts: Facts = Arc::from(values);
                let mut doubts: Vec<&Unusable> = facts.iter().flat_map(MetricValue::doubts).collect();
                doubts.dedup_by_key(|unusable| unusable.cause);
                for unusable in &doubts {
                    count(unusable.cause, &unusable.detail);
                }
                let remembered = doubts.is_empty().then(|| self.remember(CacheKey::from(key), Some(facts.clone())));
                (Resolution::Found(facts, Source::Registry), remembered)
            }
            Lookup::NotFound => {
                (Resolution::NotFound(Source::Registry), Some(self.remember(CacheKey::from(key), None)))
            }
            Lookup::Failed(failure) => {
                count(failure.cause, &failure.message);
                (Resolution::Failed(failure), None)
            }
        }
    }

    /// Counts, in the shared tier, the distinct identifiers `who` looks up this
    /// hour against `bound` (see [`crate::LookupCount`]); `None` without a
    /// shared tier, or when it does not answer.
    pub async fn admit_lookups(
        &self,
        who: &str,
        identifiers: &[(&str, &str)],
        bound: u64,
    ) -> Option<crate::LookupCount> {
        match &self.shared {
            Some(shared) => shared.admit_lookups(who, identifiers, bound).await,
            None => None,
        }
    }

    /// Whether the shared tier answers now (`None`: there is none).
    pub async fn shared_status(&self) -> Option<SharedStatus> {
        match &self.shared {
            Some(shared) => Some(shared.status().await),
            None => None,
        }
    }

    /// Asks the registry about the `misses` among `unique`, merging with
    /// lookups in flight, and fills their `results`.
    async fn ask_registry(
        &self,
        registry: RegistryIndex,
        state: &Registry,
        unique: &[(&str, &Identifier)],
        misses: &[usize],
        results: &mut [Option<Resolution>],
        report: &mut FetchCounts,
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
                        self.catalog.registry(registry).id
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
            record_health(state, &lookups);
            let mut answered: Vec<(&Identifier, Cached)> = Vec::new();
            for (position, &index) in chunk.iter().enumerate() {
                let lookup = lookups.get(position).cloned().unwrap_or_else(|| {
                    Lookup::Failed(Failure {
                        cause: UnknownCause::RegistryError,
                        message: Arc::from("the resolver gave no answer"),
                    })
                });
                let (resolution, remembered) = self.settle(state, unique[index].0, lookup, report);
                answered.extend(remembered.map(|cached| (unique[index].1, cached)));
                fetched.push(resolution);
            }
            if let Some(shared) = &self.shared {
                let ttl = |cached: &Cached| self.cache.ttls().ttl(registry, cached.facts.is_some());
                shared.write(&state.scope, answered, ttl).await;
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
            cache_entries: self.cache.entry_count(),
            cache_hits: self.hits.load(Ordering::Relaxed),
            cache_misses: self.misses.load(Ordering::Relaxed),
            inserts: self.inserts.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            shared: self.shared.as_ref().map(SharedTier::stats),
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
                        other_identifier_lookups: state.other_identifiers.load(Ordering::Relaxed),
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
                    answered_by: "no data source configured".to_owned(),
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
                        answered_by: state.resolver.answered_by(),
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

    /// The public keys our requests are signed with, one per key id: what a
    /// registry verifies us with (`/.well-known/jwks.json`).
    pub fn public_keys(&self) -> dci_protocol::Jwks {
        let mut keys: Vec<dci_protocol::Jwk> = Vec::new();
        for jwk in self.registries.iter().flatten().filter_map(|state| state.resolver.public_jwk()) {
            if !keys.iter().any(|known| known.kid == jwk.kid) {
                keys.push(jwk);
            }
        }
        dci_protocol::Jwks { keys }
    }

    /// The connection check of every configured registry, in catalog order
    /// (registries whose resolver talks to no registry over DCI left out).
    pub async fn check_registries(&self) -> Vec<dci_client::RegistryCheck> {
        let mut checks = Vec::new();
        for state in self.registries.iter().flatten() {
            checks.extend(state.resolver.check().await);
        }
        checks
    }

    /// Drops every cached fact.
    pub fn clear(&self) {
        self.cache.clear();
    }

    /// Drops expired facts and runs the cache's pending bookkeeping now, for
    /// exact counts (reports, tests). Without it an expired fact is dropped
    /// when it is next read or evicted.
    pub fn sweep(&self) {
        self.cache.sweep();
    }
}
