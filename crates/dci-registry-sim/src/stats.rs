//! Request counters: lock-free atomics on the hot path, a serde snapshot for readers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::RegistryKind;

/// Counters of the whole simulator, as served at `GET /sim/stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimStats {
    /// The CRVS registry.
    pub crvs: RegistryStats,
    /// The IBR registry.
    pub ibr: RegistryStats,
    /// The DR registry.
    pub dr: RegistryStats,
}

impl SimStats {
    /// The counters of one registry.
    pub fn registry(&self, kind: RegistryKind) -> &RegistryStats {
        match kind {
            RegistryKind::Crvs => &self.crvs,
            RegistryKind::Ibr => &self.ibr,
            RegistryKind::Dr => &self.dr,
        }
    }
}

/// Counters of one registry.
///
/// `messages` counts every request to a data endpoint (search, enrolled,
/// disabled), whatever its outcome; `items` counts the search items (or yes/no
/// questions) of the messages that were read (after authentication and injected
/// faults), and `item_outcomes` how they were answered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryStats {
    /// Requests to data endpoints.
    pub messages: u64,
    /// Items in data messages read.
    pub items: u64,
    /// Requests to the token endpoint.
    pub token_requests: u64,
    /// Per endpoint.
    pub endpoints: EndpointStats,
    /// Responses per HTTP status (every endpoint of the registry).
    pub http_status: BTreeMap<u16, u64>,
    /// How items were answered (by the engine, before a misbehaviour rewrote them).
    pub item_outcomes: ItemOutcomes,
    /// Data messages that got an injected fault (error status, hang, malformed
    /// body, `redirect_search`); not those answered with rejected items, a bad
    /// signature or an item misbehaviour.
    pub faults_injected: u64,
}

/// Counters per endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointStats {
    /// `POST .../oauth2/client/token`.
    pub token: Counter,
    /// `GET .../.well-known/jwks.json`.
    pub jwks: Counter,
    /// `POST .../registry/sync/search`.
    pub search: Counter,
    /// `POST .../registry/sync/enrolled`.
    pub enrolled: Counter,
    /// `POST .../registry/sync/disabled`.
    pub disabled: Counter,
}

/// Requests and the items they carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// Requests.
    pub messages: u64,
    /// Items read.
    pub items: u64,
}

/// Items answered, by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemOutcomes {
    /// Answered `succ`.
    pub succ: u64,
    /// Answered `rjct`.
    pub rjct: u64,
}

/// An endpoint, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token = 0,
    Jwks = 1,
    Search = 2,
    Enrolled = 3,
    Disabled = 4,
}

impl Endpoint {
    pub(crate) fn is_data(self) -> bool {
        matches!(self, Endpoint::Search | Endpoint::Enrolled | Endpoint::Disabled)
    }
}

const STATUSES: usize = 1000;

/// The live counters of one registry.
pub(crate) struct Counters {
    messages: [AtomicU64; 5],
    items: [AtomicU64; 5],
    status: Box<[AtomicU64]>,
    succ: AtomicU64,
    rjct: AtomicU64,
    faults: AtomicU64,
}

impl Counters {
    pub(crate) fn new() -> Self {
        Counters {
            messages: Default::default(),
            items: Default::default(),
            status: (0..STATUSES).map(|_| AtomicU64::new(0)).collect(),
            succ: AtomicU64::new(0),
            rjct: AtomicU64::new(0),
            faults: AtomicU64::new(0),
        }
    }

    pub(crate) fn message(&self, endpoint: Endpoint) {
        self.messages[endpoint as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn items(&self, endpoint: Endpoint, items: u64) {
        self.items[endpoint as usize].fetch_add(items, Ordering::Relaxed);
    }

    pub(crate) fn outcomes(&self, succ: u64, rjct: u64) {
        self.succ.fetch_add(succ, Ordering::Relaxed);
        self.rjct.fetch_add(rjct, Ordering::Relaxed);
    }

    pub(crate) fn fault(&self) {
        self.faults.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn status(&self, status: u16) {
        if let Some(slot) = self.status.get(usize::from(status)) {
            slot.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn reset(&self) {
        let all = self.messages.iter().chain(&self.items).chain(self.status.iter());
        for counter in all.chain([&self.succ, &self.rjct, &self.faults]) {
            counter.store(0, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> RegistryStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let counter =
            |e: Endpoint| Counter { messages: get(&self.messages[e as usize]), items: get(&self.items[e as usize]) };
        let endpoints = EndpointStats {
            token: counter(Endpoint::Token),
            jwks: counter(Endpoint::Jwks),
            search: counter(Endpoint::Search),
            enrolled: counter(Endpoint::Enrolled),
            disabled: counter(Endpoint::Disabled),
        };
        let data = [endpoints.search, endpoints.enrolled, endpoints.disabled];
        RegistryStats {
            messages: data.iter().map(|c| c.messages).sum(),
            items: data.iter().map(|c| c.items).sum(),
            token_requests: endpoints.token.messages,
            http_status: self
                .status
                .iter()
                .enumerate()
                .filter_map(|(status, n)| {
                    let n = get(n);
                    (n > 0).then_some((status as u16, n))
                })
                .collect(),
            item_outcomes: ItemOutcomes { succ: get(&self.succ), rjct: get(&self.rjct) },
            faults_injected: get(&self.faults),
            endpoints,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_sums_data_endpoints_and_reset_zeroes() {
        let counters = Counters::new();
        counters.message(Endpoint::Search);
        counters.items(Endpoint::Search, 100);
        counters.message(Endpoint::Enrolled);
        counters.items(Endpoint::Enrolled, 1);
        counters.message(Endpoint::Token);
        counters.status(200);
        counters.status(200);
        counters.status(401);
        let stats = counters.snapshot();
        assert_eq!((stats.messages, stats.items, stats.token_requests), (2, 101, 1));
        assert_eq!(stats.http_status.get(&200), Some(&2));
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["http_status"]["401"], 1);
        let back: RegistryStats = serde_json::from_value(json).unwrap();
        assert_eq!(back, stats);
        counters.reset();
        assert_eq!(counters.snapshot(), RegistryStats::default());
    }
}
