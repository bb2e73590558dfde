//! The fact cache behind [`MetricStore`](crate::MetricStore), with two
//! backends to choose from (`[cache] backend` in `elig.toml`):
//!
//! * [`CacheBackend::Moka`] (the default): `moka::future::Cache`, TinyLFU
//!   admission, a timer per entry for its registry's TTL. About 265 bytes of
//!   bookkeeping per entry and ≈ 0.5–1 µs per read (every read is recorded for
//!   the eviction policy), reads only from async code.
//! * [`CacheBackend::QuickCache`]: `quick_cache::sync::Cache`, CLOCK-Pro
//!   eviction, sharded read-write locks. TTLs are checked when an entry is
//!   read (an expired entry is removed then and counts as a miss). About 50
//!   bytes of bookkeeping per entry and ≈ 0.1 µs per read, from any thread, so
//!   a warm batch reads its facts in parallel on the evaluation pool.
//!
//! Both hold the same entries and answer the same way; `BENCHMARKS.md` ("Cache
//! memory") has the measurements.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::store::{CacheKey, Cached, registry_of_key, unix_now};

/// Which cache holds the facts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheBackend {
    /// `moka::future::Cache` (TinyLFU admission, a timer per entry).
    #[default]
    Moka,
    /// `quick_cache::sync::Cache` (CLOCK-Pro, TTL checked on read): smaller
    /// entries, faster reads, readable from the evaluation threads.
    QuickCache,
}

impl CacheBackend {
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

    /// `moka`, or `quick_cache` (also spelled `quick-cache`).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "moka" => Ok(CacheBackend::Moka),
            "quick_cache" | "quick-cache" => Ok(CacheBackend::QuickCache),
            other => Err(format!("unknown cache backend `{other}`: moka or quick_cache")),
        }
    }
}

/// The TTL of found and not-found entries, per registry index.
#[derive(Clone, Debug)]
pub(crate) struct Ttls {
    pub(crate) found: Vec<Duration>,
    pub(crate) not_found: Vec<Duration>,
}

impl Ttls {
    /// The TTL of an entry of `registry`, found or not.
    fn ttl(&self, registry: usize, found: bool) -> Duration {
        let ttls = if found { &self.found } else { &self.not_found };
        ttls.get(registry).copied().unwrap_or_default()
    }

    /// The TTL of `cached` under `key`.
    pub(crate) fn of(&self, key: &str, cached: &Cached) -> Duration {
        self.ttl(registry_of_key(key), cached.facts.is_some())
    }

    /// Whether an entry of `registry` (found or not) fetched at `fetched_at`
    /// is still fresh at `now` (Unix seconds).
    pub(crate) fn fresh(&self, registry: usize, found: bool, fetched_at: u64, now: u64) -> bool {
        now.saturating_sub(fetched_at) < self.ttl(registry, found).as_secs()
    }

    /// Whether `cached` (under `key`) is still fresh at `now` (Unix seconds).
    pub(crate) fn is_fresh(&self, key: &str, cached: &Cached, now: u64) -> bool {
        self.fresh(registry_of_key(key), cached.facts.is_some(), cached.fetched_at, now)
    }
}

impl moka::Expiry<CacheKey, Cached> for Ttls {
    fn expire_after_create(&self, key: &CacheKey, value: &Cached, _created_at: Instant) -> Option<Duration> {
        let age = Duration::from_secs(unix_now().saturating_sub(value.fetched_at));
        Some(self.of(key, value).saturating_sub(age))
    }
}

/// Counts capacity evictions of the quick_cache backend.
#[derive(Clone)]
pub(crate) struct EvictionCounter(Arc<AtomicU64>);

impl quick_cache::Lifecycle<CacheKey, Cached> for EvictionCounter {
    type RequestState = ();

    fn begin_request(&self) -> Self::RequestState {}

    fn on_evict(&self, _state: &mut Self::RequestState, _key: CacheKey, _value: Cached) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

type Hasher = foldhash::fast::RandomState;

/// This backend is read by awaiting only.
#[derive(Debug)]
pub(crate) struct NotSynchronous;

type QuickCache = quick_cache::sync::Cache<CacheKey, Cached, quick_cache::UnitWeighter, Hasher, EvictionCounter>;

/// One backend or the other.
enum Backend {
    Moka(moka::future::Cache<CacheKey, Cached, Hasher>),
    QuickCache(QuickCache),
}

/// The cache, and the TTLs its entries live by.
pub(crate) struct FactCache {
    backend: Backend,
    ttls: Ttls,
}

impl FactCache {
    /// A cache of at most `max_entries` entries; capacity evictions are
    /// counted in `evictions`.
    pub(crate) fn new(backend: CacheBackend, max_entries: u64, ttls: Ttls, evictions: Arc<AtomicU64>) -> Self {
        let backend = match backend {
            CacheBackend::Moka => Backend::Moka(
                moka::future::Cache::builder()
                    .max_capacity(max_entries)
                    .expire_after(ttls.clone())
                    .eviction_listener(move |_key, _value, cause| {
                        if cause == moka::notification::RemovalCause::Size {
                            evictions.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                    .build_with_hasher(Hasher::default()),
            ),
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
        };
        FactCache { backend, ttls }
    }

    /// The TTLs entries live by (also those of a restored snapshot).
    pub(crate) fn ttls(&self) -> &Ttls {
        &self.ttls
    }

    /// Whether [`FactCache::get_now`] can answer (reads without awaiting).
    pub(crate) fn reads_synchronously(&self) -> bool {
        matches!(self.backend, Backend::QuickCache(_))
    }

    /// The fresh entry under `key` at `now`, from any thread:
    /// `Err(NotSynchronous)` when this backend cannot be read without awaiting (moka).
    pub(crate) fn get_now(&self, key: &str, now: u64) -> Result<Option<Cached>, NotSynchronous> {
        match &self.backend {
            Backend::Moka(_) => Err(NotSynchronous),
            Backend::QuickCache(cache) => {
                let Some(cached) = cache.get(key) else { return Ok(None) };
                if self.ttls.is_fresh(key, &cached, now) {
                    return Ok(Some(cached));
                }
                // Expired: dropped now, unless a fresh one replaced it meanwhile.
                cache.remove_if(key, |current| !self.ttls.is_fresh(key, current, now));
                Ok(None)
            }
        }
    }

    /// The fresh entry under `key` at `now` (moka keeps its own clock).
    pub(crate) async fn get(&self, key: &str, now: u64) -> Option<Cached> {
        match &self.backend {
            Backend::Moka(cache) => cache.get(key).await,
            Backend::QuickCache(_) => self.get_now(key, now).ok().flatten(),
        }
    }

    /// Stores `cached` under `key`.
    pub(crate) async fn insert(&self, key: CacheKey, cached: Cached) {
        match &self.backend {
            Backend::Moka(cache) => cache.insert(key, cached).await,
            Backend::QuickCache(cache) => cache.insert(key, cached),
        }
    }

    /// Whether an entry (fresh or not yet removed) is held under `key`.
    pub(crate) fn contains(&self, key: &str) -> bool {
        match &self.backend {
            Backend::Moka(cache) => cache.contains_key(key),
            Backend::QuickCache(cache) => cache.contains_key(key),
        }
    }

    /// How many entries are held (moka: as of its last maintenance).
    pub(crate) fn entry_count(&self) -> u64 {
        match &self.backend {
            Backend::Moka(cache) => cache.entry_count(),
            Backend::QuickCache(cache) => cache.len() as u64,
        }
    }

    /// Whether nothing is held.
    pub(crate) fn is_empty(&self) -> bool {
        match &self.backend {
            Backend::Moka(cache) => cache.entry_count() == 0 && cache.iter().next().is_none(),
            Backend::QuickCache(cache) => cache.is_empty(),
        }
    }

    /// Every fresh entry.
    pub(crate) fn entries(&self) -> Vec<(CacheKey, Cached)> {
        match &self.backend {
            Backend::Moka(cache) => cache.iter().map(|(key, cached)| (CacheKey::clone(&key), cached)).collect(),
            Backend::QuickCache(cache) => {
                let now = unix_now();
                cache.iter().filter(|(key, cached)| self.ttls.is_fresh(key, cached, now)).collect()
            }
        }
    }

    /// Drops every entry.
    pub(crate) fn clear(&self) {
        match &self.backend {
            Backend::Moka(cache) => cache.invalidate_all(),
            Backend::QuickCache(cache) => cache.clear(),
        }
    }

    /// Runs pending maintenance (moka's expiry and eviction bookkeeping; for
    /// quick_cache, removes expired entries).
    pub(crate) async fn sync(&self) {
        match &self.backend {
            Backend::Moka(cache) => cache.run_pending_tasks().await,
            Backend::QuickCache(cache) => {
                let now = unix_now();
                cache.retain(|key, cached| self.ttls.is_fresh(key, cached, now));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;

    #[test]
    fn the_backend_is_chosen_by_name_and_defaults_to_moka() {
        let chosen: StoreConfig = serde_json::from_str(r#"{"backend": "quick_cache"}"#).expect("reads");
        assert_eq!(chosen.backend, CacheBackend::QuickCache);
        let default: StoreConfig = serde_json::from_str("{}").expect("reads");
        assert_eq!(default.backend, CacheBackend::Moka);
        let wrong = serde_json::from_str::<StoreConfig>(r#"{"backend": "redis"}"#).expect_err("unknown backend");
        assert!(wrong.to_string().contains("moka") && wrong.to_string().contains("quick_cache"), "{wrong}");
        assert_eq!("quick-cache".parse(), Ok(CacheBackend::QuickCache));
        assert_eq!("moka".parse(), Ok(CacheBackend::Moka));
        for backend in [CacheBackend::Moka, CacheBackend::QuickCache] {
            assert_eq!(backend.to_string().parse(), Ok(backend), "the name it is shown by is the name it is read by");
        }
        assert_eq!(
            "redis".parse::<CacheBackend>(),
            Err("unknown cache backend `redis`: moka or quick_cache".to_owned())
        );
    }

    #[tokio::test]
    async fn expired_entries_are_misses_and_are_removed() {
        let ttls = Ttls { found: vec![Duration::from_secs(60)], not_found: vec![Duration::from_secs(10)] };
        let cache = FactCache::new(CacheBackend::QuickCache, 100, ttls, Arc::new(AtomicU64::new(0)));
        let now = unix_now();
        cache.insert(CacheKey::from("0UIN\u{1f}1"), Cached { facts: None, fetched_at: now - 11 }).await;
        cache.insert(CacheKey::from("0UIN\u{1f}2"), Cached { facts: None, fetched_at: now - 9 }).await;
        assert!(cache.get_now("0UIN\u{1f}1", now).expect("synchronous").is_none(), "not-found TTL 10 s passed");
        assert!(!cache.contains("0UIN\u{1f}1"), "and removed");
        assert!(cache.get_now("0UIN\u{1f}2", now).expect("synchronous").is_some());
        assert!(matches!(
            FactCache::new(CacheBackend::Moka, 10, Ttls { found: vec![], not_found: vec![] }, Arc::default())
                .get_now("0UIN\u{1f}2", now),
            Err(NotSynchronous)
        ));
    }
}
