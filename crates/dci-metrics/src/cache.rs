//! The in-process fact cache behind [`MetricStore`](crate::MetricStore): one
//! synchronous interface, two backends to choose from (`[cache] backend` in
//! `elig.toml`). Nothing above this module knows which one it has.
//!
//! * [`CacheBackend::QuickCache`] (the default): `quick_cache::sync::Cache`,
//!   CLOCK-Pro eviction, sharded read-write locks. TTLs are checked when an
//!   entry is read (an expired entry is removed then and counts as a miss), so
//!   an expired entry holds memory until it is read, evicted or swept by
//!   [`FactCache::sweep`].
//! * [`CacheBackend::Moka`]: `moka::sync::Cache`, TinyLFU admission and a
//!   timer per entry, so expired entries are dropped without being read; its
//!   bookkeeping makes an entry about 2.5 times larger and a read slower
//!   (`BENCHMARKS.md`, "Cache memory").

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, RegistryIndex};
use crate::store::{CacheKey, Cached, registry_of_key, unix_now};

/// Which cache holds the facts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheBackend {
    /// `quick_cache::sync::Cache` (CLOCK-Pro, TTL checked on read): small
    /// entries, fast reads.
    #[default]
    QuickCache,
    /// `moka::sync::Cache` (TinyLFU admission, a timer per entry).
    Moka,
}

impl CacheBackend {
    /// Every backend.
    pub const ALL: [CacheBackend; 2] = [CacheBackend::QuickCache, CacheBackend::Moka];

    /// The name used in `elig.toml` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            CacheBackend::Moka => "moka",
            CacheBackend::QuickCache => "quick_cache",
        }
    }
}

impl std::fmt::Display for CacheBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CacheBackend {
    type Err = String;

    /// `quick_cache` (also spelled `quick-cache`) or `moka`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "moka" => Ok(CacheBackend::Moka),
            "quick_cache" | "quick-cache" => Ok(CacheBackend::QuickCache),
            other => Err(format!("unknown cache backend `{other}`: quick_cache or moka")),
        }
    }
}

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

impl moka::Expiry<CacheKey, Cached> for Ttls {
    fn expire_after_create(&self, key: &CacheKey, value: &Cached, _created_at: Instant) -> Option<Duration> {
        let age = Duration::from_secs(unix_now().saturating_sub(value.fetched_at));
        Some(self.of_entry(key, value).saturating_sub(age))
    }
}

/// Counts capacity evictions of the quick_cache backend.
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

enum Backend {
    QuickCache(QuickCache),
    Moka(moka::sync::Cache<CacheKey, Cached, Hasher>),
}

/// The cache, and the TTLs its entries live by. Every operation is
/// synchronous and callable from any thread.
pub(crate) struct FactCache {
    backend: Backend,
    ttls: Ttls,
}

impl FactCache {
    /// A cache of at most `max_entries` entries; capacity evictions are
    /// counted in `evictions`.
    pub(crate) fn new(backend: CacheBackend, max_entries: u64, ttls: Ttls, evictions: Arc<AtomicU64>) -> Self {
        let backend = match backend {
            CacheBackend::QuickCache => {
                let capacity = max_entries.max(1);
                // quick_cache remembers recently evicted keys (CLOCK-Pro "ghosts",
                // each taking a slot like an entry) up to half its estimated item
                // count: estimating a quarter of the bound keeps that record to an
                // eighth of it. Nothing is allocated up front either way.
                let estimated = usize::try_from(capacity / 4).unwrap_or(usize::MAX).max(1);
                Backend::QuickCache(QuickCache::with(
                    estimated,
                    capacity,
                    quick_cache::UnitWeighter,
                    Hasher::default(),
                    EvictionCounter(evictions),
                ))
            }
            CacheBackend::Moka => Backend::Moka(
                moka::sync::Cache::builder()
                    .max_capacity(max_entries)
                    .expire_after(ttls.clone())
                    .eviction_listener(move |_key, _value, cause| {
                        if cause == moka::notification::RemovalCause::Size {
                            evictions.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                    .build_with_hasher(Hasher::default()),
            ),
        };
        FactCache { backend, ttls }
    }

    /// The TTLs entries live by.
    pub(crate) fn ttls(&self) -> &Ttls {
        &self.ttls
    }

    /// The fresh entry under `key` at `now` (Unix seconds).
    pub(crate) fn get(&self, key: &str, now: u64) -> Option<Cached> {
        let cached = match &self.backend {
            Backend::QuickCache(cache) => cache.get(key)?,
            Backend::Moka(cache) => cache.get(key)?,
        };
        if self.ttls.is_fresh(key, &cached, now) {
            return Some(cached);
        }
        // Expired: dropped now, unless a fresh one replaced it meanwhile.
        if let Backend::QuickCache(cache) = &self.backend {
            cache.remove_if(key, |current| !self.ttls.is_fresh(key, current, now));
        }
        None
    }

    /// Stores `cached` under `key`.
    pub(crate) fn insert(&self, key: CacheKey, cached: Cached) {
        match &self.backend {
            Backend::QuickCache(cache) => cache.insert(key, cached),
            Backend::Moka(cache) => cache.insert(key, cached),
        }
    }

    /// How many entries are held (moka: as of its last maintenance).
    pub(crate) fn entry_count(&self) -> u64 {
        match &self.backend {
            Backend::QuickCache(cache) => cache.len() as u64,
            Backend::Moka(cache) => cache.entry_count(),
        }
    }

    /// Every fresh entry.
    pub(crate) fn entries(&self) -> Vec<(CacheKey, Cached)> {
        let now = unix_now();
        let fresh = |(key, cached): &(CacheKey, Cached)| self.ttls.is_fresh(key, cached, now);
        match &self.backend {
            Backend::QuickCache(cache) => cache.iter().filter(fresh).collect(),
            Backend::Moka(cache) => {
                cache.iter().map(|(key, cached)| (CacheKey::clone(&key), cached)).filter(fresh).collect()
            }
        }
    }

    /// Drops every entry.
    pub(crate) fn clear(&self) {
        match &self.backend {
            Backend::QuickCache(cache) => cache.clear(),
            Backend::Moka(cache) => cache.invalidate_all(),
        }
    }

    /// Drops expired entries and runs the backend's pending bookkeeping now.
    pub(crate) fn sweep(&self) {
        match &self.backend {
            Backend::QuickCache(cache) => {
                let now = unix_now();
                cache.retain(|key, cached| self.ttls.is_fresh(key, cached, now));
            }
            Backend::Moka(cache) => cache.run_pending_tasks(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    #[test]
    fn the_backend_is_chosen_by_name_and_defaults_to_quick_cache() {
        let chosen: StoreConfig = serde_json::from_str(r#"{"backend": "moka"}"#).expect("reads");
        assert_eq!(chosen.backend, CacheBackend::Moka);
        let default: StoreConfig = serde_json::from_str("{}").expect("reads");
        assert_eq!(default.backend, CacheBackend::QuickCache);
        let wrong = serde_json::from_str::<StoreConfig>(r#"{"backend": "redis"}"#).expect_err("unknown backend");
        assert!(wrong.to_string().contains("moka") && wrong.to_string().contains("quick_cache"), "{wrong}");
        assert_eq!("quick-cache".parse(), Ok(CacheBackend::QuickCache));
        for backend in CacheBackend::ALL {
            assert_eq!(backend.to_string().parse(), Ok(backend), "the name it is shown by is the name it is read by");
        }
        assert_eq!(
            "redis".parse::<CacheBackend>(),
            Err("unknown cache backend `redis`: quick_cache or moka".to_owned())
        );
    }

    #[test]
    fn expired_entries_are_misses_on_every_backend() {
        for backend in CacheBackend::ALL {
            let ttls = Ttls { found: vec![Duration::from_secs(60)], not_found: vec![Duration::from_secs(10)] };
            let cache = FactCache::new(backend, 100, ttls, Arc::new(AtomicU64::new(0)));
            let now = unix_now();
            cache.insert(CacheKey::from("0UIN\u{1f}1"), Cached { facts: None, fetched_at: now - 11 });
            cache.insert(CacheKey::from("0UIN\u{1f}2"), Cached { facts: None, fetched_at: now - 9 });
            assert!(cache.get("0UIN\u{1f}1", now).is_none(), "{backend}: not-found TTL 10 s passed");
            assert!(cache.get("0UIN\u{1f}2", now).is_some(), "{backend}");
            cache.sweep();
            assert_eq!(cache.entries().len(), 1, "{backend}: only the fresh entry is listed");
        }
    }
}
