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
    BreakerConfig, Catalog, Failure, FixedResolver, Lookup, MetricStore, MetricType, MetricValue, RegistryResolver,
    StoreConfig, UnknownCause,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::data::beneficiary::Beneficiary;
use crate::engine::batch::{Engine, EvaluationOptions};
use crate::report::results::{Decision, Explanation, ItemResult, MetricTrace, Outcome};
use crate::rules::compile::Compiler;

/// A rule test file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTestFile {
    /// Title of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The rule, inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Or a rules file (relative to the test file) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_file: Option<String>,
    /// ... and the rule's name in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
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
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    /// Its name.
    pub name: String,
    /// The beneficiary, as in an evaluation request.
    pub beneficiary: Value,
    /// The expected outcome.
    pub expect: Outcome,
    /// The expected missing values (names, or `{name, cause}`), in any order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<Vec<MissingSpec>>,
    /// The expected value of each top-level clause (`true`, `false`, `unknown`, `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clauses: Option<Vec<Value>>,
    /// Text the error message must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    Rule(#[from] crate::rules::compile::RuleError),
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
                        Lookup::Found { values }
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

/// Whether a clause's value is the one expected. A clause the decision did
/// not need (`not_needed`) is also `unknown`, which test files written before
/// the finer value state.
fn clause_matches(expected: &str, actual: &str) -> bool {
    expected == actual || (expected == "unknown" && actual == crate::engine::reason::NOT_NEEDED)
}

fn clause_word(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Registry failures a test file can state (`{error: cause}`) as they happened.
const REPLAYABLE_FAILURES: [UnknownCause; 4] =
    [UnknownCause::Timeout, UnknownCause::RegistryError, UnknownCause::Rejected, UnknownCause::RegistryUnavailable];

/// A test file that replays decisions: `rule` at `as_of` for each
/// beneficiary (its data as given) with its explanation, each expected to
/// come out as it did, and the registry values the explanations saw written
/// into the file under the identifier each registry was asked with, so that
/// the test needs no registry. A failure the file cannot state (a response
/// too large) is written as `registry_error`, and the missing value it caused
/// is then expected by name only. A test file looks persons up by the default
/// identifier priority: decisions made with another `id_type_priority` may
/// not replay.
pub fn replay_file(name: Option<String>, rule: &str, as_of: NaiveDate, cases: &[(Value, Explanation)]) -> RuleTestFile {
    let mut registries: BTreeMap<String, BTreeMap<String, RegistryAnswer>> = BTreeMap::new();
    let mut test_cases = Vec::with_capacity(cases.len());
    for (index, (beneficiary, explanation)) in cases.iter().enumerate() {
        for trace in &explanation.metrics {
            let Some(answer) = recorded_answer(trace) else { continue };
            let mut parts = trace.metric.splitn(3, '.');
            let (Some("dci"), Some(registry), Some(field)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            // Written under each identifier the registry answered under (the merged facts:
            // merging them again changes nothing), so that another person sharing one of
            // this person's other identifiers is not given these facts; and "not found"
            // under each other identifier asked, as the registry said.
            let Some(key) = &trace.identifier else { continue };
            let answers = registries.entry(registry.to_owned()).or_default();
            let found_under = if trace.found_under.is_empty() { std::slice::from_ref(key) } else { &trace.found_under };
            for other in trace.asked.iter().filter(|asked| !found_under.contains(asked)) {
                answers.entry(other.clone()).or_insert_with(|| RegistryAnswer::Keyword("not_found".to_owned()));
            }
            for key in found_under {
                let entry = answers.entry(key.clone()).or_insert_with(|| answer.clone());
                if let (RegistryAnswer::Facts(facts), Some(value)) = (entry, &trace.value) {
                    facts.insert(field.to_owned(), value.clone());
                }
            }
        }
        let decision = &explanation.decision;
        let missing = (decision.outcome == Outcome::Undetermined).then(|| {
            decision
                .missing
                .iter()
                .map(|m| match m.cause {
                    UnknownCause::ResponseTooLarge => MissingSpec::Name(m.name.clone()),
                    cause => MissingSpec::Full { name: m.name.clone(), cause },
                })
                .collect()
        });
        test_cases.push(TestCase {
            name: format!("{} ({}) is {}", explanation.id, index + 1, decision.outcome.as_str()),
            beneficiary: beneficiary.clone(),
            expect: decision.outcome,
            missing,
            clauses: None,
            error_contains: decision.error.clone(),
        });
    }
    RuleTestFile {
        name,
        rule: Some(rule.to_owned()),
        rule_file: None,
        rule_name: None,
        as_of,
        registries,
        cases: test_cases,
    }
}

/// What the registry said about the traced person, as a test file states it:
/// facts (the traced value added by the caller), not found, or a failure;
/// `None` when the registry was not asked or could not be.
fn recorded_answer(trace: &MetricTrace) -> Option<RegistryAnswer> {
    match (trace.found, trace.cause) {
        (Some(true), _) => Some(RegistryAnswer::Facts(BTreeMap::new())),
        (Some(false), _) => Some(RegistryAnswer::Keyword("not_found".to_owned())),
        (None, Some(cause)) if REPLAYABLE_FAILURES.contains(&cause) => Some(RegistryAnswer::Failure { error: cause }),
        (None, Some(UnknownCause::ResponseTooLarge)) => {
            Some(RegistryAnswer::Failure { error: UnknownCause::RegistryError })
        }
        (None, _) => None,
    }
}

/// Runs a test file whose rule text is `rule_source`.
pub async fn run_file(
    file: &RuleTestFile,
    rule_source: &str,
    catalog: Arc<Catalog>,
) -> Result<FileReport, TestFileError> {
    // Every case is asked as the file says, however many failures came before:
    // a circuit breaker that never opens.
    let never_opens = BreakerConfig { failure_threshold: u32::MAX, ..BreakerConfig::default() };
    let config = StoreConfig { breaker: never_opens, ..StoreConfig::default() };
    let store = Arc::new(
        MetricStore::new(catalog.clone(), resolvers(&catalog, file)?, &config)
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
            differences.extend(differences_from(case, decision));
        }
        cases.push(CaseReport { name: case.name.clone(), passed: differences.is_empty(), differences, decision });
    }
    Ok(FileReport { name: file.name.clone().unwrap_or_else(|| rule_source.to_owned()), cases })
}

/// How `decision` differs from what `case` expects: its outcome, missing
/// values, clause values and error text, one line each.
fn differences_from(case: &TestCase, decision: &Decision) -> Vec<String> {
    let mut differences = Vec::new();
    if decision.outcome != case.expect {
        differences.push(format!("outcome: expected {}, got {}", case.expect.as_str(), decision.outcome.as_str()));
    }
    if let Some(expected) = &case.missing {
        let actual: Vec<MissingSpec> =
            decision.missing.iter().map(|m| MissingSpec::Full { name: m.name.clone(), cause: m.cause }).collect();
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
        let same = actual.len() == expected.len() && actual.iter().zip(&expected).all(|(a, e)| clause_matches(e, a));
        if !same {
            differences.push(format!("clauses: expected [{}], got [{}]", expected.join(", "), actual.join(", ")));
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

    differences
}

fn describe_missing(spec: &MissingSpec) -> String {
    match spec {
        MissingSpec::Name(name) => name.clone(),
        MissingSpec::Full { name, cause } => format!("{name} ({cause})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clause_not_needed_is_also_unknown_but_not_false() {
        assert!(clause_matches("not_needed", "not_needed"));
        assert!(clause_matches("unknown", "not_needed"), "files written before `not_needed`");
        assert!(!clause_matches("not_needed", "unknown"), "an unknown the decision needed is not `not_needed`");
        assert!(!clause_matches("false", "not_needed"));
    }

    /// Registry data covering every answer a replay must write: facts, not
    /// found, a failure, a member's facts, no identifier.
    const SOURCE: &str = r#"
as_of: 2026-01-01
registries:
  dr:
    "UIN:1": { has_disability: true, disability_level: 3 }
    "UIN:2": not_found
    "UIN:3": { has_disability: true, disability_level: 2 }
    "UIN:4": { has_disability: true, disability_level: 4 }
    "UIN:5": { has_disability: false, disability_level: 1 }
    "NATIONAL_ID:9": { has_disability: false, disability_level: 1 }
    "UIN:6": { has_disability: true, disability_level: 3 }
    "UIN:7": { has_disability: true, disability_level: 4 }
    "UIN:8": { has_disability: true, disability_level: 4 }
    "NATIONAL_ID:12": { has_disability: true, disability_level: 3 }
    "UIN:13": { has_disability: true, disability_level: 2 }
    "NATIONAL_ID:14": { has_disability: true, disability_level: 4 }
  ibr:
    "UIN:1": { is_enrolled: false, program_count: 0, programmes: [] }
    "UIN:4": { error: timeout }
    "UIN:7": { error: timeout }
    "UIN:8": { error: timeout }
    "NATIONAL_ID:12": { is_enrolled: false, program_count: 0, programmes: [] }
cases: []
"#;

    const RULE: &str = "members.exists(m, m.dci.dr.has_disability == true) or \
                        (dci.dr.disability_level >= 3 and dci.ibr.is_enrolled == false)";

    fn beneficiaries() -> Vec<Value> {
        let uin = |value: &str| serde_json::json!([{"type": "UIN", "value": value}]);
        vec![
            // Three failures in a row first: the replay must not open a circuit breaker.
            serde_json::json!({"id": "C", "identifiers": uin("4"), "members": []}),
            serde_json::json!({"id": "C2", "identifiers": uin("7"), "members": []}),
            serde_json::json!({"id": "C3", "identifiers": uin("8"), "members": []}),
            serde_json::json!({"id": "A", "identifiers": uin("1"), "members": []}),
            serde_json::json!({"id": "B", "identifiers": uin("2"), "members": [{"identifiers": uin("3")}]}),
            serde_json::json!({"id": "D", "identifiers": uin("5"),
                "members": [{"identifiers": [{"identifier_type": "NATIONAL_ID", "identifier_value": 9}]}]}),
            serde_json::json!({"id": "E", "members": []}),
            // F is asked by its UIN; G shares F's other identifier and is in no registry.
            serde_json::json!({"id": "F", "members": [],
                "identifiers": [{"type": "UIN", "value": "6"}, {"type": "NATIONAL_ID", "value": "77"}]}),
            serde_json::json!({"id": "G", "members": [], "identifiers": [{"type": "NATIONAL_ID", "value": "77"}]}),
            // H is in no registry under its UIN, found under its national ID.
            serde_json::json!({"id": "H", "members": [],
                "identifiers": [{"type": "UIN", "value": "11"}, {"type": "NATIONAL_ID", "value": "12"}]}),
            // I is known under both identifiers: level 2 under one, 4 under the other.
            serde_json::json!({"id": "I", "members": [],
                "identifiers": [{"type": "UIN", "value": "13"}, {"type": "NATIONAL_ID", "value": "14"}]}),
        ]
    }

    #[tokio::test]
    async fn a_replay_file_expects_every_decision_as_made_and_passes_without_registries() {
        let source: RuleTestFile = serde_norway::from_str(SOURCE).expect("source data");
        let catalog = Arc::new(Catalog::default());
        let never_opens = BreakerConfig { failure_threshold: u32::MAX, ..BreakerConfig::default() };
        let config = StoreConfig { breaker: never_opens, ..StoreConfig::default() };
        let store = MetricStore::new(catalog.clone(), resolvers(&catalog, &source).expect("resolvers"), &config)
            .expect("store");
        let engine = Engine::new(Compiler::new(catalog.clone()), Arc::new(store));
        let rule = engine.compiler().compile("rule", RULE).expect("rule");
        let mut cases = Vec::new();
        for beneficiary in beneficiaries() {
            let explanation = engine
                .explain(&rule, Beneficiary::from_json(beneficiary.clone()).expect("a beneficiary"), source.as_of)
                .await;
            cases.push((beneficiary, explanation));
        }
        let outcomes: Vec<Outcome> = cases.iter().map(|(_, e)| e.decision.outcome).collect();
        use Outcome::*;
        assert_eq!(
            outcomes,
            [
                Undetermined,
                Undetermined,
                Undetermined,
                Eligible,
                Eligible,
                Ineligible,
                Undetermined,
                Eligible,
                Ineligible,
                Eligible,
                Eligible
            ]
        );

        let replay = replay_file(Some("replayed".into()), RULE, source.as_of, &cases);
        let yaml = serde_norway::to_string(&replay).expect("YAML");
        for answer in ["UIN:2: not_found", "error: timeout", "NATIONAL_ID:9:", "has_disability: true"] {
            assert!(yaml.contains(answer), "{answer} missing from\n{yaml}");
        }
        assert!(!yaml.contains("UIN:5:\n      error"), "only what was seen is written");
        let read: RuleTestFile = serde_norway::from_str(&yaml).expect("the written file reads back");
        let report = run_file(&read, RULE, catalog.clone()).await.expect("runs");
        assert_eq!(report.failed(), 0, "{:#?}", report.cases);
        assert_eq!(report.cases.len(), 11);
        let merged = "disability_level: 4\n";
        for answer in [format!("UIN:13:\n      {merged}"), format!("NATIONAL_ID:14:\n      {merged}")] {
            assert!(yaml.contains(&answer), "I's merged facts under each identifier it was found under\n{yaml}");
        }
        for answer in ["UIN:11: not_found", "NATIONAL_ID:12:"] {
            assert!(yaml.contains(answer), "H: {answer} missing from\n{yaml}");
        }
        assert!(yaml.contains("NATIONAL_ID:77: not_found"), "F's facts stay under the UIN it was asked by\n{yaml}");
        assert_eq!(
            read.cases[0].missing,
            Some(vec![MissingSpec::Full { name: "dci.ibr.is_enrolled".into(), cause: UnknownCause::Timeout }])
        );

        // The replay says what the decisions saw: with a value changed, its case fails.
        let changed = yaml.replace("disability_level: 4", "disability_level: 2");
        let read: RuleTestFile = serde_norway::from_str(&changed).expect("reads");
        let report = run_file(&read, RULE, catalog).await.expect("runs");
        assert_eq!(report.failed(), 4, "C, C2 and C3 are no longer undetermined but ineligible, I no longer eligible");
    }
}
