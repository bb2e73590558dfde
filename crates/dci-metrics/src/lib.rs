#![doc = include_str!("../README.md")]
//! Registry metrics for eligibility rules: the values behind `dci.crvs.*`,
//! `dci.ibr.*` and `dci.dr.*`.
//!
//! * [`Catalog`]: the metrics, their CEL types, registries, TTLs and
//!   not-found semantics; a deployment can override TTLs and disable metrics.
//! * [`RegistryResolver`]: looks persons up in one registry; implemented for
//!   the CRVS, IBR and DR clients ([`CrvsResolver`], [`IbrResolver`], [`DrResolver`]).
//! * [`MetricStore`]: a TTL cache of the *facts* of a person in a registry
//!   (one lookup serves every metric of that registry), and
//!   [`MetricStore::prefetch`], which resolves many persons at once: dedupe,
//!   cache hits, batched fetch of the misses, identical lookups in flight
//!   merged, a circuit breaker per registry, failures never cached.
//! * [`Resolution::read`]: the evaluator's synchronous, allocation-free read of
//!   one metric from what was prefetched: a value, or unknown with its cause.

mod breaker;
mod cache;
mod catalog;
mod fixed;
mod resolution;
mod resolver;
mod snapshot;
mod store;
mod value;

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use cache::CacheBackend;
pub use catalog::{
    Catalog, CatalogConfig, CatalogError, MetricId, MetricInfo, MetricSpec, RegistryIndex, RegistrySpec, WhenNotFound,
    crvs_spec, dr_spec, edit_distance, ibr_spec,
};
pub use fixed::FixedResolver;
pub use resolution::{Facts, Failure, MetricRead, Resolution, Source, UnknownCause};
pub use resolver::{CrvsResolver, DrResolver, IbrResolver, Lookup, RegistryResolver, cause_of, resolver_for};
pub use snapshot::{SnapshotError, SnapshotReport};
pub use store::{
    DEFAULT_ID_TYPE_PRIORITY, MetricStore, Prefetch, PrefetchReport, Readiness, RegistryStats, StoreConfig, StoreStats,
};
pub use value::{MetricType, MetricValue};
