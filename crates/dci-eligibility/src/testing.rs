//! Rule test files: a rule, an as-of date, registry data given in the file,
//! and cases of beneficiary → expected outcome (and optionally the expected
//! missing values, clause values or error). Hermetic: no registry is called.
//!
//! ```yaml
//! name: Seed rule 1
//! rule: dci.dr.has_disability == true and dci.dr.disability_level >= 3 and dci.ibr.is_enrolled == false
//! as_of: 2026-01-01
//! registries:
//!   dr:
//!     "UIN:1001": { has_disability: true, disability_level: 3, disability_types: [MOBILITY] }
//!     "UIN:1002": not_found
//!   ibr:
//!     "*": { error: timeout }          # every other lookup fails
//! cases:
//!   - name: severe and not enrolled
//!     beneficiary: { id: A, identifiers: [{ type: UIN, value: "1001" }] }
//!     expect: undetermined
//!     missing: [dci.ibr.is_enrolled]
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use dci_metrics::{
    Catalog, Failure, FixedResolver, Lookup, MetricStore, MetricType, MetricValue, RegistryResolver, StoreConfig,
    UnknownCause,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::batch::{Engine, EvaluationOptions};
use crate::beneficiary::Beneficiary;
use crate::compile::Compiler;
use crate::report::ItemResult;
use crate::report::{Decision, Outcome};

/// A rule test file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTestFile {
    /// Title of the file.
    #[serde(default)]
    pub name: Option<String>,
    /// The rule, inline.
    #[serde(default)]
    pub rule: Option<String>,
    /// Or a rules file (relative to the test file) ...
    #[serde(default)]
    pub rule_file: Option<String>,
    /// ... and the rule's name in it.
    #[serde(default)]
    pub rule_name: Option<String>,
    /// The evaluation date.
    pub as_of: NaiveDate,
    /// Registry data: registry → identifier (`TYPE:value`, or a bare value
    /// for any type, or `*` for every other lookup) → facts, `not_found`, or `{error: cause}`.
    #[serde(default)]
    pub registries: BTreeMap<String, BTreeMap<String, RegistryAnswer>>,
    /// The cases.
    pub cases: Vec<TestCase>,
}

/// What a registry answers for one identifier in a test file.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum RegistryAnswer {
    /// `not_found`
    Keyword(String),
    /// `{error: timeout}` (or `registry_error`, `rejected`, `registry_unavailable`)
    Failure {
        /// The cause.
        error: UnknownCause,
    },
    /// `{metric: value, ...}` (metrics left out are "not recorded")
    Facts(BTreeMap<String, Value>),
}

/// One case.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// Its name.
    pub name: String,
    /// The beneficiary, as in an evaluation request.
    pub beneficiary: Value,
    /// The expected outcome.
    pub expect: Outcome,
    /// The expected missing values (names, or `{name, cause}`), in any order.
    #[serde(default)]
    pub missing: Option<Vec<MissingSpec>>,
    /// The expected value of each top-level clause (`true`, `false`, `unknown`, `error`).
    #[serde(default)]
    pub clauses: Option<Vec<Value>>,
    /// Text the error message must contain.
    #[serde(default)]
    pub error_contains: Option<String>,
}

/// An expected missing value.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum MissingSpec {
    /// Just the name.
    Name(String),
    /// The name and the cause.
    Full {
        /// The name.
        name: String,
        /// The cause.
        cause: UnknownCause,
    },
}

/// The result of one case.
#[derive(Clone, Debug, Serialize)]
pub struct CaseReport {
    /// The case.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Each difference, `what: expected X, got Y`.
    pub differences: Vec<String>,
    /// The decision made.
    pub decision: Option<Decision>,
}

/// The result of a file.
#[derive(Clone, Debug, Serialize)]
pub struct FileReport {
    /// The file's title (or the rule).
    pub name: String,
    /// Case reports, in order.
    pub cases: Vec<CaseReport>,
}

impl FileReport {
    /// Cases that failed.
    pub fn failed(&self) -> usize {
        self.cases.iter().filter(|c| !c.passed).count()
    }
}

/// Why a test file cannot run.
#[derive(Debug, thiserror::Error)]
pub enum TestFileError {
    /// The rule does not compile.
    #[error(transparent)]
    Rule(#[from] crate::compile::RuleError),
    /// Registry data in the file is wrong.
    #[error("registries.{registry}.{key}: {problem}")]
    Data {
        /// Registry.
        registry: String,
        /// Identifier key.
        key: String,
        /// What is wrong.
        problem: String,
    },
    /// No rule given.
    #[error("give `rule`, or `rule_file` with `rule_name`")]
    NoRule,
}

fn to_metric(
    registry: &str,
    key: &str,
    field: &str,
    cel_type: MetricType,
    value: &Value,
) -> Result<MetricValue, TestFileError> {
    let bad = |expected: &str| TestFileError::Data {
        registry: registry.to_owned(),
        key: key.to_owned(),
        problem: format!("{field} must be {expected}, found {value}"),
    };
    Ok(match (cel_type, value) {
        (_, Value::Null) => MetricValue::Null,
        (MetricType::Bool, Value::Bool(b)) => MetricValue::Bool(*b),
        (MetricType::Int, Value::Number(n)) => MetricValue::Int(n.as_i64().ok_or_else(|| bad("an integer"))?),
        (MetricType::Double, Value::Number(n)) => MetricValue::Double(n.as_f64().ok_or_else(|| bad("a number"))?),
        (MetricType::String, Value::String(s)) => MetricValue::String(Arc::from(s.as_str())),
        (MetricType::Timestamp | MetricType::TimestampOrNull, Value::String(s)) => {
            let date = dci_protocol::DciDate::parse(s);
            MetricValue::Timestamp(date.instant().ok_or_else(|| bad("a date (YYYY-MM-DD or RFC 3339)"))?)
        }
        (MetricType::StringList, Value::Array(items)) => MetricValue::strings(
            items
                .iter()
                .map(|i| i.as_str().map(str::to_owned).ok_or_else(|| bad("a list of strings")))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        (MetricType::Bool, _) => return Err(bad("true or false")),
        (MetricType::Int | MetricType::Double, _) => return Err(bad("a number")),
        (MetricType::String, _) => return Err(bad("text")),
        (MetricType::Timestamp | MetricType::TimestampOrNull, _) => return Err(bad("a date")),
        (MetricType::StringList, _) => return Err(bad("a list of strings")),
    })
}

fn resolvers(catalog: &Catalog, file: &RuleTestFile) -> Result<Vec<Arc<dyn RegistryResolver>>, TestFileError> {
    let mut out: Vec<Arc<dyn RegistryResolver>> = Vec::new();
    for spec in catalog.registries() {
        let mut resolver = FixedResolver::new(spec.clone());
        if let Some(answers) = file.registries.get(spec.id) {
            for (key, answer) in answers {
                let data_error =
                    |problem: String| TestFileError::Data { registry: spec.id.to_owned(), key: key.clone(), problem };
                let lookup = match answer {
                    RegistryAnswer::Keyword(word) if word == "not_found" => Lookup::NotFound,
                    RegistryAnswer::Keyword(word) => {
                        return Err(data_error(format!(
                            "unknown answer {word:?} (use not_found, {{error: cause}} or facts)"
                        )));
                    }
                    RegistryAnswer::Failure { error } => Lookup::Failed(Failure {
                        cause: *error,
                        message: Arc::from(format!("{} fails ({error}) in this test", spec.id)),
                    }),
                    RegistryAnswer::Facts(facts) => {
                        for field in facts.keys() {
                            if !spec.metrics.iter().any(|m| m.field == field) {
                                return Err(data_error(format!("{} has no metric {field:?}", spec.id)));
                            }
                        }
                        let values = spec
                            .metrics
                            .iter()
                            .map(|metric| match facts.get(metric.field) {
                                Some(value) => to_metric(spec.id, key, metric.field, metric.cel_type, value),
                                None => Ok(MetricValue::NotRecorded),
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        Lookup::Found(values)
                    }
                };
                resolver = if key == "*" {
                    match lookup {
                        Lookup::Failed(failure) => resolver.failing(failure.cause),
                        _ => return Err(data_error("`*` can only be an error".into())),
                    }
                } else {
                    let (kind, value) = key.split_once(':').unwrap_or(("*", key.as_str()));
                    resolver.answer(kind, value, lookup)
                };
            }
        }
        out.push(Arc::new(resolver));
    }
    for registry in file.registries.keys() {
        if catalog.registry_index(registry).is_none() {
            return Err(TestFileError::Data {
                registry: registry.clone(),
                key: String::new(),
                problem: "no such registry".into(),
            });
        }
    }
    Ok(out)
}

fn clause_word(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Runs a test file whose rule text is `rule_source`.
pub async fn run_file(
    file: &RuleTestFile,
    rule_source: &str,
    catalog: Arc<Catalog>,
) -> Result<FileReport, TestFileError> {
    let store = Arc::new(
        MetricStore::new(catalog.clone(), resolvers(&catalog, file)?, &StoreConfig::default())
            .expect("a store without keys or a shared tier is always built"),
    );
    let engine = Engine::new(Compiler::new(catalog), store);
    let rule = engine.compiler().compile(file.rule_name.as_deref().unwrap_or("rule"), rule_source)?;
    let mut cases = Vec::new();
    for case in &file.cases {
        let options = EvaluationOptions { explain: case.clauses.is_some(), ..EvaluationOptions::new(file.as_of) };
        let input = Beneficiary::from_json(case.beneficiary.clone());
        let result = engine.evaluate_batch(std::slice::from_ref(&rule), vec![input], &options).await;
        engine.store().clear();
        let mut differences = Vec::new();
        let decision = match result.items.into_iter().next() {
            Some(ItemResult::Decided { mut decisions, .. }) => Some(decisions.remove(0)),
            Some(ItemResult::Invalid { error }) => {
                differences.push(format!("beneficiary: {error}"));
                None
            }
            None => None,
        };
        if let Some(decision) = &decision {
            if decision.outcome != case.expect {
                differences.push(format!(
                    "outcome: expected {}, got {}",
                    case.expect.as_str(),
                    decision.outcome.as_str()
                ));
            }
            if let Some(expected) = &case.missing {
                let actual: Vec<MissingSpec> = decision
                    .missing
                    .iter()
                    .map(|m| MissingSpec::Full { name: m.name.clone(), cause: m.cause })
                    .collect();
                let matches = |spec: &MissingSpec| {
                    decision.missing.iter().any(|m| match spec {
                        MissingSpec::Name(name) => &m.name == name,
                        MissingSpec::Full { name, cause } => &m.name == name && m.cause == *cause,
                    })
                };
                if expected.len() != actual.len() || !expected.iter().all(matches) {
                    differences.push(format!(
                        "missing: expected [{}], got [{}]",
                        expected.iter().map(describe_missing).collect::<Vec<_>>().join(", "),
                        actual.iter().map(describe_missing).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            if let Some(expected) = &case.clauses {
                let actual: Vec<String> = decision.clauses.iter().flatten().map(|c| clause_word(&c.value)).collect();
                let expected: Vec<String> = expected.iter().map(clause_word).collect();
                if actual != expected {
                    differences.push(format!(
                        "clauses: expected [{}], got [{}]",
                        expected.join(", "),
                        actual.join(", ")
                    ));
                }
            }
            if let Some(text) = &case.error_contains
                && !decision.error.as_deref().unwrap_or_default().contains(text.as_str())
            {
                differences.push(format!(
                    "error: expected one containing {text:?}, got {:?}",
                    decision.error.as_deref().unwrap_or("none")
                ));
            }
        }
        cases.push(CaseReport { name: case.name.clone(), passed: differences.is_empty(), differences, decision });
    }
    Ok(FileReport { name: file.name.clone().unwrap_or_else(|| rule_source.to_owned()), cases })
}

fn describe_missing(spec: &MissingSpec) -> String {
    match spec {
        MissingSpec::Name(name) => name.clone(),
        MissingSpec::Full { name, cause } => format!("{name} ({cause})"),
    }
}
