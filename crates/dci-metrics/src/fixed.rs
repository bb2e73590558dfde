//! A resolver over facts held in memory: for rule test files, examples and
//! tests that must not depend on a live registry.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use dci_protocol::records::Identifier;

use crate::catalog::RegistrySpec;
use crate::cause::UnknownCause;
use crate::resolution::Failure;
use crate::resolver::{Lookup, RegistryResolver};
use crate::store::DEFAULT_ID_TYPE_PRIORITY;
use crate::value::MetricValue;

/// A registry whose answers are given in advance, by identifier.
#[derive(Debug)]
pub struct FixedResolver {
    spec: RegistrySpec,
    priority: Vec<String>,
    answers: HashMap<(String, String), Lookup>,
    /// Answer for identifiers not listed (default: not found).
    otherwise: Lookup,
    asked: AtomicU64,
}

impl FixedResolver {
    /// A registry with no records.
    pub fn new(spec: RegistrySpec) -> Self {
        FixedResolver {
            spec,
            priority: DEFAULT_ID_TYPE_PRIORITY.iter().map(|s| (*s).to_owned()).collect(),
            answers: HashMap::new(),
            otherwise: Lookup::NotFound,
            asked: AtomicU64::new(0),
        }
    }

    /// Adds an answer for one identifier. A type of `*` matches any type.
    pub fn answer(mut self, identifier_type: &str, value: &str, lookup: Lookup) -> Self {
        self.answers.insert((identifier_type.to_ascii_uppercase(), value.to_owned()), lookup);
        self
    }

    /// Adds a found record with these metric values (in the registry's catalog order).
    pub fn found(self, identifier_type: &str, value: &str, values: Vec<MetricValue>) -> Self {
        self.answer(identifier_type, value, Lookup::Found { values })
    }

    /// Every unlisted lookup fails with `cause` (a registry that is down).
    pub fn failing(mut self, cause: UnknownCause) -> Self {
        self.otherwise =
            Lookup::Failed(Failure { cause, message: Arc::from(format!("{} is failing ({cause})", self.spec.id)) });
        self
    }

    /// Identifier types accepted, most preferred first.
    pub fn with_priority(mut self, priority: Vec<String>) -> Self {
        self.priority = priority;
        self
    }

    /// Identifiers looked up so far.
    pub fn asked(&self) -> u64 {
        self.asked.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl RegistryResolver for FixedResolver {
    fn spec(&self) -> &RegistrySpec {
        &self.spec
    }
    fn id_type_priority(&self) -> &[String] {
        &self.priority
    }
    fn identity(&self) -> String {
        format!("fixed answers for {}", self.spec.id)
    }
    fn chunk_size(&self) -> usize {
        1_000
    }
    fn round_trips(&self, count: usize) -> u64 {
        count.div_ceil(100) as u64
    }
    async fn lookup(&self, identifiers: &[Identifier]) -> Vec<Lookup> {
        self.asked.fetch_add(identifiers.len() as u64, Ordering::Relaxed);
        identifiers
            .iter()
            .map(|id| {
                let exact = (id.identifier_type.to_ascii_uppercase().to_string(), id.identifier_value.to_string());
                let any = ("*".to_owned(), id.identifier_value.to_string());
                self.answers
                    .get(&exact)
                    .or_else(|| self.answers.get(&any))
                    .cloned()
                    .unwrap_or_else(|| self.otherwise.clone())
            })
            .collect()
    }
}
