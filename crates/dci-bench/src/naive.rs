//! The design `elig` replaces: for each beneficiary, for each registry the
//! rule mentions, one request — a fresh client (new connection), a fresh token,
//! a one-item search — one after another, as a per-record loop in a web
//! framework would do it.

use std::time::Instant;

use dci_client::{DataSource, DciClient, Found};
use dci_eligibility::{Beneficiary, Level, Rule};
use dci_protocol::{Query, SearchCriteria};
use serde::Serialize;
use serde_json::Value;

use crate::BenchError;

/// What a naive run cost.
#[derive(Clone, Debug, Default, Serialize)]
pub struct NaiveRun {
    /// Beneficiaries handled.
    pub beneficiaries: usize,
    /// Registry requests (searches) sent.
    pub requests: u64,
    /// Token requests sent.
    pub token_requests: u64,
    /// Wall time, seconds.
    pub seconds: f64,
}

impl NaiveRun {
    /// Seconds per beneficiary.
    pub fn per_beneficiary(&self) -> f64 {
        self.seconds / self.beneficiaries.max(1) as f64
    }
}

/// Looks up, one request at a time, every registry fact `rule` could read for each beneficiary.
pub async fn run(rule: &Rule, sources: &[DataSource], beneficiaries: &[Beneficiary]) -> Result<NaiveRun, BenchError> {
    let started = Instant::now();
    let mut run = NaiveRun { beneficiaries: beneficiaries.len(), ..Default::default() };
    // One request per person per registry (not per metric).
    let mut wanted: Vec<(String, Level)> = Vec::new();
    for used in rule.metrics() {
        let registry = used.name.split('.').nth(1).unwrap_or_default().to_owned();
        if !wanted.contains(&(registry.clone(), used.level)) {
            wanted.push((registry, used.level));
        }
    }
    for beneficiary in beneficiaries {
        for (registry, level) in &wanted {
            let Some(source) = sources.iter().find(|s| s.registry.as_str() == registry) else { continue };
            let persons: Vec<&Beneficiary> = match level {
                Level::Registrant => vec![beneficiary],
                Level::Member => beneficiary.members().iter().collect(),
            };
            for person in persons {
                let Some(identifier) = source.pick_identifier(&person.identifiers) else { continue };
                // A fresh client: a new connection and a new token, every time.
                let client = DciClient::new(source.clone())?;
                let criteria = SearchCriteria::new(Query::id(
                    identifier.identifier_type.as_str(),
                    identifier.identifier_value.as_str(),
                ));
                let _found: Found<Value> = client.search(criteria).await?;
                run.requests += 1;
                run.token_requests += client.stats().token_requests;
            }
        }
    }
    run.seconds = started.elapsed().as_secs_f64();
    Ok(run)
}
