//! Prometheus metrics (`GET /metrics`): requests and latency per route and
//! status, decisions per outcome, and, read from the metric store at each
//! scrape, registry use, cache statistics and evaluation slots.

use std::sync::Arc;

use dci_eligibility::BatchStats;
use dci_metrics::{BreakerState, MetricStore, SharedStats, StoreStats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};

use crate::pool::Lane;
use crate::slots::{self, Slots};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabels {
    key: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~33 s
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The server's Prometheus registry and the metrics it updates.
#[derive(Clone)]
pub(crate) struct Telemetry {
    inner: Arc<Metrics>,
}

struct Metrics {
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    latency: Family<HttpLabels, Histogram, fn() -> Histogram>,
    decisions: Family<OutcomeLabels, Counter>,
    beneficiaries: Counter,
    overloaded: Counter,
    lookups_refused: Family<KeyLabels, Counter>,
}

impl Telemetry {
    pub(crate) fn new(store: Arc<MetricStore>, slots: Arc<Slots>) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<HttpLabels, Counter>::default();
        let latency = Family::<HttpLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let decisions = Family::<OutcomeLabels, Counter>::default();
        let beneficiaries = Counter::default();
        let overloaded = Counter::default();
        registry.register(
            "elig_http_requests",
            "HTTP requests, by method, route (matched path) and status",
            requests.clone(),
        );
        registry.register_with_unit(
            "elig_http_request_duration",
            "Time to the response head, by method, route and status (a streamed body takes longer)",
            Unit::Seconds,
            latency.clone(),
        );
        registry.register("elig_decisions", "Decisions made, by outcome (all rules)", decisions.clone());
        registry.register("elig_beneficiaries", "Beneficiaries received for evaluation", beneficiaries.clone());
        registry.register(
            "elig_overloaded",
            "Evaluations refused because every slot and queue place was taken",
            overloaded.clone(),
        );
        let lookups_refused = Family::<KeyLabels, Counter>::default();
        registry.register(
            "elig_lookups_refused",
            "Requests refused (429) because the API key, by name, reached its distinct identifiers per hour",
            lookups_refused.clone(),
        );
        registry.register_collector(Box::new(StoreCollector { store, slots }));
        let metrics = Metrics { registry, requests, latency, decisions, beneficiaries, overloaded, lookups_refused };
        Telemetry { inner: Arc::new(metrics) }
    }

    /// Counts the decisions of a batch or stream.
    pub(crate) fn record(&self, stats: &BatchStats) {
        self.inner.beneficiaries.inc_by(stats.items as u64);
        let mut totals = [0u64; 4];
        for rule in &stats.rules {
            totals[0] += rule.eligible;
            totals[1] += rule.ineligible;
            totals[2] += rule.undetermined;
            totals[3] += rule.error;
        }
        for (outcome, count) in ["eligible", "ineligible", "undetermined", "error"].into_iter().zip(totals) {
            if count > 0 {
                self.inner.decisions.get_or_create(&OutcomeLabels { outcome }).inc_by(count);
            }
        }
    }

    /// Counts a request answered with `status` after `seconds` (to its response head).
    pub(crate) fn request(&self, method: String, route: String, status: u16, seconds: f64) {
        let labels = HttpLabels { method, route, status };
        self.inner.requests.get_or_create(&labels).inc();
        self.inner.latency.get_or_create(&labels).observe(seconds);
    }

    /// Counts a refused evaluation.
    pub(crate) fn overloaded(&self) {
        self.inner.overloaded.inc();
    }

    /// Counts a request of the key named `key` refused for its lookup bound.
    pub(crate) fn lookups_refused(&self, key: &str) {
        self.inner.lookups_refused.get_or_create(&KeyLabels { key: key.to_owned() }).inc();
    }

    /// The metrics in the OpenMetrics text format.
    pub(crate) fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.inner.registry)?;
        Ok(out)
    }
}

/// Reads the metric store's counters and the evaluation slots at each scrape.
struct StoreCollector {
    store: Arc<MetricStore>,
    slots: Arc<Slots>,
}

impl std::fmt::Debug for StoreCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCollector").finish_non_exhaustive()
    }
}

fn counter_family<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Vec<(&'a str, &'a str)>, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in samples {
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge<N: prometheus_client::encoding::EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: N,
) -> Result<(), std::fmt::Error> {
    let gauge = ConstGauge::new(value);
    gauge.encode(encoder.encode_descriptor(name, help, None, ConstGauge::<N>::TYPE)?)
}

impl Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.store.stats();
        encode_registries(&mut encoder, &stats)?;
        encode_cache(&mut encoder, &stats)?;
        if let Some(shared) = &stats.shared {
            encode_shared(&mut encoder, shared)?;
        }
        self.encode_lanes(&mut encoder)
    }
}

impl StoreCollector {
    /// Evaluations running and waiting, per lane.
    fn encode_lanes(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let lanes = [Lane::Interactive, Lane::Bulk];
        let per_lane = |value: fn(&Slots, Lane) -> f64| lanes.map(|lane| (slots::name(lane), value(&self.slots, lane)));
        type PerLane = [(&'static str, f64); 2];
        let families: [(&str, &str, PerLane); 3] = [
            ("elig_evaluations_running", "Evaluations running now, per lane", per_lane(|s, l| s.running(l) as f64)),
            (
                "elig_evaluations_waiting",
                "Evaluations waiting for a slot now, per lane",
                per_lane(|s, l| s.waiting(l) as f64),
            ),
            (
                "elig_evaluation_oldest_age_seconds",
                "How long the oldest running evaluation of each lane has run (0 when none runs)",
                per_lane(|s, l| s.oldest_age(l).map_or(0.0, |age| age.as_secs_f64())),
            ),
        ];
        for (name, help, samples) in families {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (lane, value) in samples {
                ConstGauge::new(value).encode(family.encode_family(&[("lane", lane)])?)?;
            }
        }
        Ok(())
    }
}

/// Per registry: messages, persons, other identifiers, failures, breakers.
fn encode_registries(encoder: &mut DescriptorEncoder, stats: &StoreStats) -> Result<(), std::fmt::Error> {
    let configured: Vec<_> = stats.registries.iter().filter(|r| r.configured).collect();
    counter_family(
        encoder,
        "elig_registry_round_trips",
        "Messages sent to each registry",
        configured.iter().map(|r| (vec![("registry", r.registry.as_str())], r.round_trips)),
    )?;
    counter_family(
        encoder,
        "elig_registry_items",
        "Persons looked up in each registry (identifiers sent)",
        configured.iter().map(|r| (vec![("registry", r.registry.as_str())], r.items_fetched)),
    )?;
    counter_family(
        encoder,
        "elig_registry_other_identifier_lookups",
        "Lookups by a person's identifiers after the first the registry accepts",
        configured.iter().map(|r| (vec![("registry", r.registry.as_str())], r.other_identifier_lookups)),
    )?;
    counter_family(
        encoder,
        "elig_registry_failures",
        "Failed lookups, by registry and cause",
        configured.iter().flat_map(|r| {
            r.failures.iter().map(|(cause, n)| (vec![("registry", r.registry.as_str()), ("cause", cause.as_str())], *n))
        }),
    )?;
    {
        let mut family = encoder.encode_descriptor(
            "elig_registry_breaker_open",
            "1 when the registry's circuit breaker is open (lookups refused)",
            None,
            MetricType::Gauge,
        )?;
        for r in &configured {
            let open = i64::from(r.breaker == Some(BreakerState::Open));
            ConstGauge::new(open).encode(family.encode_family(&[("registry", r.registry.as_str())])?)?;
        }
    }
    Ok(())
}

/// The fact cache: entries, hits, misses, hit ratio.
fn encode_cache(encoder: &mut DescriptorEncoder, stats: &StoreStats) -> Result<(), std::fmt::Error> {
    gauge(
        encoder,
        "elig_cache_entries",
        "Registry facts cached (one per person and registry)",
        stats.cache_entries as i64,
    )?;
    counter_family(encoder, "elig_cache_hits", "Lookups answered by the cache", [(vec![], stats.cache_hits)])?;
    counter_family(encoder, "elig_cache_misses", "Lookups the cache could not answer", [(vec![], stats.cache_misses)])?;
    let asked = stats.cache_hits + stats.cache_misses;
    let ratio = if asked == 0 { 0.0 } else { stats.cache_hits as f64 / asked as f64 };
    gauge(encoder, "elig_cache_hit_ratio", "Share of lookups answered by the cache, since start", ratio)?;
    Ok(())
}

/// The shared tier (Redis): hits, misses, unreadable values, writes, errors, calls and their time.
fn encode_shared(encoder: &mut DescriptorEncoder, shared: &SharedStats) -> Result<(), std::fmt::Error> {
    let counters = [
        ("elig_shared_cache_hits", "Facts the shared tier (Redis) answered", shared.hits),
        ("elig_shared_cache_misses", "Facts asked of the shared tier and not there", shared.misses),
        (
            "elig_shared_cache_unreadable",
            "Values under our keys that could not be read (another format, damaged, another key)",
            shared.unreadable,
        ),
        ("elig_shared_cache_writes", "Facts written to the shared tier", shared.writes),
        ("elig_shared_cache_calls", "Calls to the shared tier (pipelined reads and writes)", shared.calls),
    ];
    for (name, help, value) in counters {
        counter_family(encoder, name, help, [(vec![], value)])?;
    }
    counter_family(
        encoder,
        "elig_shared_cache_errors",
        "Shared tier failures by kind: calls that failed (auth, refused, dns, timeout, out_of_memory, read_only, \
         other) and values that could not be read (unreadable)",
        shared.errors_by_kind.iter().map(|(kind, count)| (vec![("kind", kind.as_str())], *count)),
    )?;
    gauge(
        encoder,
        "elig_shared_cache_up",
        "1 while the shared tier answers, 0 while it fails or rests after a failure",
        i64::from(shared.up),
    )?;
    let seconds = shared.call_micros as f64 / 1e6;
    let mut family = encoder.encode_descriptor(
        "elig_shared_cache_call_seconds",
        "Time spent in calls to the shared tier (divide by elig_shared_cache_calls for the mean)",
        None,
        MetricType::Counter,
    )?;
    ConstCounter::new(seconds).encode(family.encode_family::<[(&str, &str); 0]>(&[])?)?;
    Ok(())
}
