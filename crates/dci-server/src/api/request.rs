//! Request bodies.

use std::collections::HashMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

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
/// the first line of an NDJSON request.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateOptions {
    /// Named rules: `{"elderly": "age_years(r.birthdate) >= 60"}`. Give `rules` or `rule`.
    #[serde(default)]
    #[schema(value_type = Option<HashMap<String, String>>)]
    pub rules: Option<RuleSet>,
    /// One rule, named `rule` in the results.
    #[serde(default)]
    pub rule: Option<String>,
    /// The evaluation date, `YYYY-MM-DD`; default today (UTC).
    #[serde(default)]
    #[schema(example = "2026-01-01")]
    pub as_of: Option<String>,
    /// Add the value of each top-level clause to every decision.
    #[serde(default)]
    pub explain: Option<bool>,
}

/// `POST /v1/evaluate` with `Content-Type: application/json`.
#[derive(Clone, Debug, ToSchema)]
#[allow(dead_code)] // documents the body read by `EvaluateBody`
pub struct EvaluateRequest {
    /// Named rules. Give `rules` or `rule`.
    #[schema(value_type = Option<HashMap<String, String>>)]
    pub rules: Option<HashMap<String, String>>,
    /// One rule, named `rule` in the results.
    pub rule: Option<String>,
    /// The evaluation date, `YYYY-MM-DD`; default today (UTC).
    #[schema(example = "2026-01-01")]
    pub as_of: Option<String>,
    /// Add the value of each top-level clause to every decision.
    pub explain: Option<bool>,
    /// The beneficiaries, at most `max_beneficiaries`.
    pub beneficiaries: Vec<Beneficiary>,
}

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

/// `POST /v1/rules/validate`.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// Named rules. Give `rules` or `rule`.
    #[serde(default)]
    #[schema(value_type = Option<HashMap<String, String>>)]
    pub rules: Option<RuleSet>,
    /// One rule, named `rule` in the report.
    #[serde(default)]
    pub rule: Option<String>,
}

/// A beneficiary (registrant) with household members. Fields other than `id`, `identifiers` and
/// `members` are the registrant's own (`birthdate`, `poverty_score`, ...), read by rules as `r.<field>`.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "HH-0001", "identifiers": [{"type": "UIN", "value": "800010000"}],
    "birthdate": "1950-03-02", "poverty_score": 0.82, "members": []}))]
pub struct Beneficiary {
    /// The caller's id; results carry it.
    pub id: String,
    /// Identifiers, used to look the person up in registries (first type in a registry's priority wins).
    #[serde(default)]
    pub identifiers: Vec<Identifier>,
    /// Household members: beneficiaries without members (an absent `id` becomes `<id>/members[k]`).
    #[serde(default)]
    pub members: Vec<Member>,
    /// Any other field.
    #[serde(flatten)]
    #[schema(additional_properties)]
    pub fields: HashMap<String, serde_json::Value>,
}

/// A household member.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Member {
    /// The member's id (optional).
    pub id: Option<String>,
    /// Identifiers.
    #[serde(default)]
    pub identifiers: Vec<Identifier>,
    /// Any other field, read by rules as `m.<field>`.
    #[serde(flatten)]
    #[schema(additional_properties)]
    pub fields: HashMap<String, serde_json::Value>,
}

/// An identifier (also accepted as `{identifier_type, identifier_value}`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Identifier {
    /// `UIN`, `DRN`, `NATIONAL_ID`, `NID`, `BRN`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The value.
    pub value: String,
}
