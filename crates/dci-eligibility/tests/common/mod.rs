//! An in-memory registry resolver for unit-level engine tests (the
//! end-to-end tests use the registry simulator over HTTP).
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use dci_eligibility::{Beneficiary, Compiler, Engine};
use dci_metrics::{
    Catalog, Failure, Lookup, MetricStore, MetricValue, RegistryResolver, RegistrySpec, StoreConfig, UnknownCause,
};
use dci_protocol::records::Identifier;

pub struct MemoryRegistry {
    spec: RegistrySpec,
    priority: Vec<String>,
    records: HashMap<String, Vec<MetricValue>>,
    pub down: bool,
    pub asked: AtomicUsize,
    pub asked_ids: std::sync::Mutex<Vec<String>>,
}

impl MemoryRegistry {
    pub fn new(spec: RegistrySpec) -> Self {
        MemoryRegistry {
            spec,
            priority: vec!["UIN".into()],
            records: HashMap::new(),
            down: false,
            asked: AtomicUsize::new(0),
            asked_ids: Default::default(),
        }
    }
    pub fn with(mut self, uin: &str, values: Vec<MetricValue>) -> Self {
        self.records.insert(uin.to_owned(), values);
        self
    }
    pub fn failing(mut self) -> Self {
        self.down = true;
        self
    }
}

#[async_trait]
impl RegistryResolver for MemoryRegistry {
    fn spec(&self) -> &RegistrySpec {
        &self.spec
    }
    fn id_type_priority(&self) -> &[String] {
        &self.priority
    }
    fn identity(&self) -> String {
        format!("memory registry {}", self.spec.id)
    }
    fn chunk_size(&self) -> usize {
        1000
    }
    fn round_trips(&self, count: usize) -> u64 {
        count.div_ceil(100) as u64
    }
    async fn lookup(&self, identifiers: &[Identifier]) -> Vec<Lookup> {
        self.asked.fetch_add(identifiers.len(), Ordering::SeqCst);
        self.asked_ids.lock().expect("lock").extend(identifiers.iter().map(|i| i.identifier_value.to_string()));
        identifiers
            .iter()
            .map(|id| {
                if self.down {
                    return Lookup::Failed(Failure {
                        cause: UnknownCause::Timeout,
                        message: Arc::from("registry down"),
                    });
                }
                match self.records.get(id.identifier_value.as_str()) {
                    Some(values) => Lookup::Found { values: values.clone() },
                    None => Lookup::NotFound,
                }
            })
            .collect()
    }
}

pub fn engine(resolvers: Vec<Arc<dyn RegistryResolver>>) -> Engine {
    let catalog = Arc::new(Catalog::default());
    let store = Arc::new(MetricStore::new(catalog.clone(), resolvers, &StoreConfig::default()).expect("store"));
    Engine::new(Compiler::new(catalog), store)
}

pub fn person(json: serde_json::Value) -> Beneficiary {
    Beneficiary::from_json(json).expect("valid beneficiary")
}

pub fn as_of() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date")
}

/// A line of `/proc/self/status`, in bytes.
fn status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// How far the peak resident memory rose while `work` ran; `None` where the
/// peak cannot be reset (not Linux).
pub fn peak_growth(work: impl FnOnce()) -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    let before = status_bytes("VmRSS:")?;
    work();
    Some(status_bytes("VmHWM:")?.saturating_sub(before))
}
