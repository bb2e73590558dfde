//! Request bodies.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// Named rules (`{name: expression}`), in the order given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleSet(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for RuleSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Rules;
        impl<'de> Visitor<'de> for Rules {
            type Value = RuleSet;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of rule names to CEL expressions (strings)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RuleSet, A::Error> {
                let mut rules: Vec<(String, String)> = Vec::new();
                while let Some((name, expression)) = map.next_entry::<String, String>()? {
                    if rules.iter().any(|(seen, _)| *seen == name) {
                        return Err(serde::de::Error::custom(format!("rule {name:?} is given twice")));
                    }
                    rules.push((name, expression));
                }
                Ok(RuleSet(rules))
            }
        }
        deserializer.deserialize_map(Rules)
    }
}

/// The rules and options of an evaluation: the JSON request without its beneficiaries, and
/// the first line of an NDJSON request. Its schema (`accepted.rs`) says what is accepted.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateOptions {
    /// Named rules: `{"elderly": "age_years(r.birthdate) >= 60"}`. Give `rules` or `rule`.
    #[serde(default)]
    pub rules: Option<RuleSet>,
    /// One rule, named `rule` in the results.
    #[serde(default)]
    pub rule: Option<String>,
    /// The evaluation date, `YYYY-MM-DD`; default today (UTC).
    #[serde(default)]
    pub as_of: Option<String>,
    /// Add the value of each top-level clause to every decision.
    #[serde(default)]
    pub explain: Option<bool>,
}

/// The schema of `POST /v1/evaluate` with `Content-Type: application/json`: the fields of
/// [`EvaluateOptions`] and `beneficiaries`. The body is read as `EvaluateBody`, which keeps
/// the beneficiaries as JSON text for `dci_eligibility::Beneficiary` to read.
#[derive(Clone, Copy, Debug)]
pub struct EvaluateRequest;

/// The JSON evaluate request as read: beneficiaries are kept as raw JSON text, counted, then
/// read in parallel. Same fields as [`EvaluateRequest`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EvaluateBody<'a> {
    #[serde(default)]
    pub rules: Option<RuleSet>,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub as_of: Option<String>,
    #[serde(default)]
    pub explain: Option<bool>,
    #[serde(borrow)]
    pub beneficiaries: &'a RawValue,
}

impl EvaluateBody<'_> {
    /// The options part.
    pub fn options(&self) -> EvaluateOptions {
        EvaluateOptions {
            rules: self.rules.clone(),
            rule: self.rule.clone(),
            as_of: self.as_of.clone(),
            explain: self.explain,
        }
    }
}

/// A JSON array's length, counted without keeping its items.
pub(crate) struct Count(pub usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Counter;
        impl<'de> Visitor<'de> for Counter {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of beneficiaries")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut count = 0;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    count += 1;
                }
                Ok(Count(count))
            }
        }
        deserializer.deserialize_seq(Counter)
    }
}

/// The schema of `POST /v1/explain` (`accepted.rs`), which says what is accepted; the body is
/// read as `ExplainBody`.
#[derive(Clone, Copy, Debug)]
pub struct ExplainRequest;

/// `POST /v1/explain` as read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExplainBody<'a> {
    /// The rule.
    pub rule: String,
    /// The evaluation date, `YYYY-MM-DD`; default today (UTC).
    #[serde(default)]
    pub as_of: Option<String>,
    /// The beneficiary, kept as JSON text for `dci_eligibility::Beneficiary` to read.
    #[serde(borrow)]
    pub beneficiary: &'a RawValue,
}

/// The schema of `POST /v1/diff` (`accepted.rs`), which says what is accepted; the body is
/// read as `DiffBody`.
#[derive(Clone, Copy, Debug)]
pub struct DiffRequest;

/// `POST /v1/diff` as read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiffBody<'a> {
    /// The rule as it is (e.g. in force today).
    pub old: String,
    /// The rule as it would be.
    pub new: String,
    /// The evaluation date, `YYYY-MM-DD`; default today (UTC).
    #[serde(default)]
    pub as_of: Option<String>,
    /// The beneficiaries, kept as JSON text until counted.
    #[serde(borrow)]
    pub beneficiaries: &'a RawValue,
}

/// The schema of `POST /v1/rules/export-test` (`accepted.rs`), which says what is accepted; the body is
/// read as `ExportTestBody`.
#[derive(Clone, Copy, Debug)]
pub struct ExportTestRequest;

/// `POST /v1/rules/export-test` as read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportTestBody<'a> {
    /// The rule.
    pub rule: String,
    /// The evaluation date, `YYYY-MM-DD`; default today (UTC).
    #[serde(default)]
    pub as_of: Option<String>,
    /// The test file's title.
    #[serde(default)]
    pub name: Option<String>,
    /// The beneficiaries to make cases of, kept as JSON text until counted.
    #[serde(borrow)]
    pub beneficiaries: &'a RawValue,
}

/// `POST /v1/rules/validate`. Its schema (`accepted.rs`) says what is accepted.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// Named rules. Give `rules` or `rule`.
    #[serde(default)]
    pub rules: Option<RuleSet>,
    /// One rule, named `rule` in the report.
    #[serde(default)]
    pub rule: Option<String>,
}

/// The schema of a beneficiary in a request: a registrant with identifiers, household members
/// and fields of its own. `dci_eligibility::Beneficiary` reads it.
#[derive(Clone, Copy, Debug)]
pub struct Beneficiary;

/// The schema of a household member in a request.
#[derive(Clone, Copy, Debug)]
pub struct Member;

/// The schema of an identifier in a request.
#[derive(Clone, Copy, Debug)]
pub struct Identifier;
