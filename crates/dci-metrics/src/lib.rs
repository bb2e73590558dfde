#![doc = include_str!("../README.md")]
//! Registry metrics for eligibility rules: the values behind `dci.crvs.*`,
//! `dci.ibr.*` and `dci.dr.*`.
//!
//! * [`Catalog`]: the metrics, their CEL types, registries, TTLs and
//!   not-found semantics; a deployment can override TTLs and disable metrics.
//! * [`RegistryResolver`]: looks persons up in one registry; implemented for
//!   the CRVS, IBR and DR clients by one [`ClientResolver`] ([`CrvsResolver`], [`IbrResolver`], [`DrResolver`]).
//! * [`MetricStore`]: the *facts* of a person in a registry (one lookup serves
//!   every metric of that registry), with two data operations:
//!   [`MetricStore::known`] (what the cache holds, synchronous) and
//!   [`MetricStore::fetch`] (dedupe, cache hits, batched lookups of the
//!   misses, identical lookups in flight merged, a circuit breaker per
//!   registry, failures never cached).
//! * [`Resolution::read`]: the evaluator's synchronous, allocation-free read of
//!   one metric from what is known: a value, or unknown with its cause.

mod breaker;
mod cache;
mod catalog;
mod cause;
mod codec;
mod entry;
mod fixed;
mod merge;
mod resolution;
mod resolver;
mod seal;
mod shared;
mod snapshot;
mod store;
mod value;

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use catalog::Merge;
pub use catalog::{
    Catalog, CatalogConfig, CatalogError, MAX_REGISTRIES, MetricId, MetricInfo, MetricSpec, RegistryIndex, RegistrySet,
    RegistrySpec, WhenNotFound, Wording, crvs_spec, dr_spec, edit_distance, ibr_spec,
};
pub use cause::UnknownCause;
pub use fixed::FixedResolver;
pub use merge::{merge_facts, merge_resolutions};
pub use resolution::{Facts, Failure, MetricRead, Resolution, Source};
pub use resolver::{
    ClientResolver, CrvsResolver, DrResolver, IbrResolver, Lookup, RegistryClient, RegistryResolver, cause_of,
    resolver_for,
};
pub use seal::KeyError;
pub use shared::{
    LookupCount, REST_AFTER_FAILURE, RedisConfig, SharedError, SharedHealth, SharedStats, SharedStatus, TierFault,
    WARN_EVERY,
};
pub use snapshot::{SnapshotError, SnapshotReport};
pub use store::{
    DEFAULT_ID_TYPE_PRIORITY, FAILING_FOR, FetchCounts, Fetched, MetricStore, Readiness, RegistryStats, StoreConfig,
    StoreStats,
};
pub use value::{MetricType, MetricValue, Unusable};
