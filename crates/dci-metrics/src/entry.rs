//! What the fact caches hold: entries keyed by registry and identifier, with
//! the time they were fetched.

use crate::resolution::{Facts, Resolution, Source};

/// A cache key: the registry index as one character, then `TYPE \u{1f} value`
/// (type uppercased). One string, so that lookups borrow a `&str` instead of
/// allocating a key; held inline up to 24 bytes (a typical key takes 15), so
/// that comparing keys reads no other memory and a key costs no allocation.
pub(crate) type CacheKey = compact_str::CompactString;

/// The registry position a key was written for (see [`write_key`]).
pub(crate) fn registry_of_key(key: &str) -> usize {
    key.bytes().next().map_or(0, |c| usize::from(c.saturating_sub(b'0')))
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
    pub(crate) fn resolution(self) -> Resolution {
        match self.facts {
            Some(facts) => Resolution::Found(facts, Source::Cache),
            None => Resolution::NotFound(Source::Cache),
        }
    }
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}
