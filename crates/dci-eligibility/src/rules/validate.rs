//! A rule's validation report: diagnostics, and what the rule needs
//! (metrics, registries, fields). Shared by `elig check` and the HTTP API.

use serde::Serialize;

use crate::rules::compile::{Compiler, Demand, Level};
use crate::rules::cost::Estimate;
use crate::rules::diagnostic::{RuleDiagnostic, Severity};

/// A metric a rule reads, with its catalog entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NeededMetric {
    /// `dci.crvs.is_alive`.
    pub name: String,
    /// Whose.
    pub level: Level,
    /// CEL type.
    #[serde(rename = "type")]
    pub cel_type: dci_metrics::MetricType,
    /// Registry.
    pub registry: String,
    /// TTL, seconds.
    pub ttl_secs: u64,
}

/// The validation of one rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Validation {
    /// The rule's name.
    pub name: String,
    /// No errors.
    pub valid: bool,
    /// Errors, then warnings.
    pub diagnostics: Vec<RuleDiagnostic>,
    /// Metrics read (valid rules only).
    pub metrics: Vec<NeededMetric>,
    /// Registries needed (valid rules only).
    pub registries: Demand,
    /// Registrant fields read (valid rules only).
    pub fields: Vec<String>,
    /// The worst-case cost of one evaluation, as estimated (valid rules only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Estimate>,
}

impl Validation {
    /// Compiles and reports.
    pub fn of(compiler: &Compiler, name: &str, source: &str) -> Validation {
        match compiler.compile(name, source) {
            Err(error) => {
                let mut diagnostics = error.diagnostics;
                diagnostics.sort_by_key(|d| d.severity == Severity::Warning);
                Validation {
                    name: name.to_owned(),
                    valid: false,
                    diagnostics,
                    metrics: Vec::new(),
                    registries: Demand::default(),
                    fields: Vec::new(),
                    cost: None,
                }
            }
            Ok(rule) => {
                let catalog = compiler.catalog();
                let metrics = rule
                    .metrics()
                    .iter()
                    .map(|used| {
                        let spec = catalog.spec(used.id);
                        let info = catalog.describe().into_iter().find(|m| m.name == used.name);
                        NeededMetric {
                            name: used.name.clone(),
                            level: used.level,
                            cel_type: spec.cel_type,
                            registry: catalog.registry(used.id.registry).id.to_owned(),
                            ttl_secs: info.map_or(spec.ttl.as_secs(), |i| i.ttl_secs),
                        }
                    })
                    .collect();
                Validation {
                    name: name.to_owned(),
                    valid: true,
                    diagnostics: rule.warnings().to_vec(),
                    metrics,
                    registries: rule.demand().clone(),
                    fields: rule.fields().to_vec(),
                    cost: Some(rule.estimate()),
                }
            }
        }
    }
}
