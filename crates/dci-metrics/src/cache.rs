//! The in-process fact cache behind [`MetricStore`](crate::MetricStore):
//! `quick_cache::sync::Cache` (CLOCK-Pro eviction, sharded read-write locks),
//! synchronous and callable from any thread.
//!
//! TTLs are checked when an entry is read: an expired entry is removed then
//! and counts as a miss, so it holds its slot until it is read, evicted or
//! swept by [`FactCache::sweep`]. The cache never holds more than
//! `max_entries` entries either way.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::catalog::{Catalog, RegistryIndex};
use crate::entry::{CacheKey, Cached, registry_of_key, unix_now};

/// The TTL of found and not-found entries, per registry.
#[derive(Clone, Debug)]
pub(crate) struct Ttls {
    found: Vec<Duration>,
    not_found: Vec<Duration>,
}

impl Ttls {
    /// The TTLs the catalog gives each registry.
    pub(crate) fn of(catalog: &Catalog) -> Self {
        Ttls {
            found: catalog.registry_indices().map(|r| catalog.registry_ttl(r)).collect(),
            not_found: catalog.registry_indices().map(|r| catalog.not_found_ttl(r)).collect(),
        }
    }

    /// How long an entry of `registry`, found or not, stays fresh.
    pub(crate) fn ttl(&self, registry: RegistryIndex, found: bool) -> Duration {
        self.ttl_at(registry.get(), found)
    }

    fn ttl_at(&self, registry: usize, found: bool) -> Duration {
        let ttls = if found { &self.found } else { &self.not_found };
        ttls.get(registry).copied().unwrap_or_default()
    }

    /// The TTL of `cached` under `key`.
    fn of_entry(&self, key: &str, cached: &Cached) -> Duration {
        self.ttl_at(registry_of_key(key), cached.facts.is_some())
    }

    /// Whether an entry of `registry` (found or not) fetched at `fetched_at`
    /// is still fresh at `now` (Unix seconds).
    pub(crate) fn fresh(&self, registry: RegistryIndex, found: bool, fetched_at: u64, now: u64) -> bool {
        now.saturating_sub(fetched_at) < self.ttl(registry, found).as_secs()
    }

    fn is_fresh(&self, key: &str, cached: &Cached, now: u64) -> bool {
        now.saturating_sub(cached.fetched_at) < self.of_entry(key, cached).as_secs()
    }
}

/// Counts capacity evictions.
#[derive(Clone)]
struct EvictionCounter(Arc<AtomicU64>);

impl quick_cache::Lifecycle<CacheKey, Cached> for EvictionCounter {
    type RequestState = ();

    fn begin_request(&self) -> Self::RequestState {}

    fn on_evict(&self, _state: &mut Self::RequestState, _key: CacheKey, _value: Cached) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

type Hasher = foldhash::fast::RandomState;

type QuickCache = quick_cache::sync::Cache<CacheKey, Cached, quick_cache::UnitWeighter, Hasher, EvictionCounter>;

/// The cache, and the TTLs its entries live by.
pub(crate) struct FactCache {
    cache: QuickCache,
    ttls: Ttls,
}

impl FactCache {
    /// A cache of at most `max_entries` entries; capacity evictions are
    /// counted in `evictions`.
    pub(crate) fn new(max_entries: u64, ttls: Ttls, evictions: Arc<AtomicU64>) -> Self {
        let capacity = max_entries.max(1);
        // quick_cache remembers recently evicted keys (CLOCK-Pro "ghosts",
        // each taking a slot like an entry) up to half its estimated item
        // count: estimating a quarter of the bound keeps that record to an
        // eighth of it. Nothing is allocated up front either way.
        let estimated = usize::try_from(capacity / 4).unwrap_or(usize::MAX).max(1);
        let cache = QuickCache::with(
            estimated,
            capacity,
            quick_cache::UnitWeighter,
            Hasher::default(),
            EvictionCounter(evictions),
        );
        FactCache { cache, ttls }
    }

    /// The TTLs entries live by.
    pub(crate) fn ttls(&self) -> &Ttls {
        &self.ttls
    }

    /// The fresh entry under `key` at `now` (Unix seconds); an expired one is dropped.
    pub(crate) fn get(&self, key: &str, now: u64) -> Option<Cached> {
        let cached = self.cache.get(key)?;
        if self.ttls.is_fresh(key, &cached, now) {
            return Some(cached);
        }
        // Unless a fresh one replaced it meanwhile.
        self.cache.remove_if(key, |current| !self.ttls.is_fresh(key, current, now));
        None
    }

    /// Stores `cached` under `key`.
    pub(crate) fn insert(&self, key: CacheKey, cached: Cached) {
        self.cache.insert(key, cached);
    }

    /// Makes room at once for `additional` more entries (at most the bound),
    /// so that loading many does not grow the tables step by step, hashing
    /// every key again at each step.
    pub(crate) fn reserve(&self, additional: u64) {
        // Each entry weighs one: the capacity is the bound on entries.
        let room = additional.min(self.cache.capacity().saturating_sub(self.entry_count()));
        self.cache.reserve(usize::try_from(room).unwrap_or(usize::MAX));
    }

    /// How many entries are held.
    pub(crate) fn entry_count(&self) -> u64 {
        self.cache.len() as u64
    }

    /// Every fresh entry.
    pub(crate) fn entries(&self) -> Vec<(CacheKey, Cached)> {
        let now = unix_now();
        self.cache.iter().filter(|(key, cached)| self.ttls.is_fresh(key, cached, now)).collect()
    }

    /// Drops every entry.
    pub(crate) fn clear(&self) {
        self.cache.clear();
    }

    /// Drops expired entries now.
    pub(crate) fn sweep(&self) {
        let now = unix_now();
        self.cache.retain(|key, cached| self.ttls.is_fresh(key, cached, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_entries_are_misses_and_are_swept() {
        let ttls = Ttls { found: vec![Duration::from_secs(60)], not_found: vec![Duration::from_secs(10)] };
        let cache = FactCache::new(100, ttls, Arc::new(AtomicU64::new(0)));
        let now = unix_now();
        for (value, age) in [("1", 11), ("2", 9), ("3", 12)] {
            cache.insert(CacheKey::from(format!("0UIN\u{1f}{value}")), Cached { facts: None, fetched_at: now - age });
        }
        assert!(cache.get("0UIN\u{1f}1", now).is_none(), "not-found TTL 10 s passed");
        assert!(cache.get("0UIN\u{1f}2", now).is_some());
        assert_eq!(cache.entry_count(), 2, "the expired entry read is dropped; the other waits for a sweep");
        assert_eq!(cache.entries().len(), 1, "only the fresh entry is listed");
        cache.sweep();
        assert_eq!(cache.entry_count(), 1);
    }
}
