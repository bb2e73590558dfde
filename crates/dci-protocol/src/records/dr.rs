use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::identifier::{Identifier, identifier_list};
use crate::codes::code_enum;
use crate::tolerant::{one_or_many, opt_object, opt_text};

/// A disability-registry record, in either of the two shapes met in the wild:
///
/// * the **Washington Group short set** on a member: `disability_info[]` of
///   `{disability_limitation_type, functional_severity}` (severity `1` no
///   difficulty, `2` some, `3` a lot, `4` cannot do at all);
/// * the **`PWD_Person`** of the DR spec: `personal_details`, `disability_status`
///   (`0` approved, `1` pending, `2` expired, or text), `disability_status_level`
///   (`1` high support, `2` severe, `3` moderate, `4` mild), and
///   `disability_details[]` of `{impairment_type, impairment_level}`.
///
/// [`DisabilityRecord::facts`] maps both onto [`DisabilityFacts`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DisabilityRecord {
    /// The person's identifiers (member shape).
    #[serde(
        default,
        alias = "identifier",
        deserialize_with = "identifier_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub member_identifier: Vec<Identifier>,
    /// Personal details (PWD shape), as written.
    #[serde(default, deserialize_with = "opt_object", skip_serializing_if = "Option::is_none")]
    pub personal_details: Option<Value>,
    /// Washington Group functional limitations.
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub disability_info: Vec<FunctionalLimitation>,
    /// PWD registration status.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub disability_status: Option<String>,
    /// PWD support level (`1` high support ... `4` mild).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub disability_status_level: Option<String>,
    /// PWD overall level as free text (`Severe`), seen in samples.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub disability_level: Option<String>,
    /// PWD impairments.
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub disability_details: Vec<PwdDetail>,
    /// PWD support needs, as written.
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub disability_support: Vec<Value>,
}

/// One Washington Group limitation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionalLimitation {
    /// The domain.
    #[serde(deserialize_with = "limitation_type")]
    pub disability_limitation_type: LimitationType,
    /// `1` no difficulty, `2` some, `3` a lot, `4` cannot do at all.
    #[serde(deserialize_with = "severity")]
    pub functional_severity: u8,
}

/// One PWD impairment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PwdDetail {
    /// `1`–`6` or free text ("Physical and movement related functions").
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub impairment_type: Option<String>,
    /// `1` mild ... `4` extreme, or free text ("Severe impairment or difficulty").
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub impairment_level: Option<String>,
    /// Cause, as written.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub impairment_cause: Option<String>,
    /// Age at onset, as written.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub age_on_set: Option<String>,
}

code_enum! {
    /// A functional domain, normalised to the names rules use.
    LimitationType {
        /// Seeing.
        Vision = "VISION" | "VIS_SS" | "seeing" | "visual",
        /// Hearing.
        Hearing = "HEARING" | "HEAR_SS",
        /// Walking, climbing steps.
        Mobility = "MOBILITY" | "MOB_SS" | "walking" | "physical",
        /// Remembering, concentrating.
        Cognition = "COGNITION" | "COG_SS" | "remembering" | "cognitive",
        /// Washing, dressing.
        SelfCare = "SELF_CARE" | "SC_SS" | "self-care" | "selfcare" | "self care",
        /// Understanding, being understood.
        Communication = "COMMUNICATION" | "COM_SS" | "communicating",
    }
}

impl LimitationType {
    /// Reads a domain from a code, a name, a PWD number (`1`–`6`, in the order
    /// vision, hearing, mobility, cognition, self-care, communication) or free
    /// text, by keywords ("Physical and movement related functions" is mobility).
    pub fn from_text(text: &str) -> Self {
        let exact = Self::parse(text);
        if exact.is_known() {
            return exact;
        }
        let lower = text.trim().to_ascii_lowercase();
        let by_number = match lower.as_str() {
            "1" => Some(Self::Vision),
            "2" => Some(Self::Hearing),
            "3" => Some(Self::Mobility),
            "4" => Some(Self::Cognition),
            "5" => Some(Self::SelfCare),
            "6" => Some(Self::Communication),
            _ => None,
        };
        if let Some(kind) = by_number {
            return kind;
        }
        const KEYWORDS: &[(&str, LimitationType)] = &[
            ("self", LimitationType::SelfCare),
            ("vision", LimitationType::Vision),
            ("visual", LimitationType::Vision),
            ("sight", LimitationType::Vision),
            ("seeing", LimitationType::Vision),
            ("blind", LimitationType::Vision),
            ("hear", LimitationType::Hearing),
            ("deaf", LimitationType::Hearing),
            ("mobil", LimitationType::Mobility),
            ("movement", LimitationType::Mobility),
            ("physical", LimitationType::Mobility),
            ("walk", LimitationType::Mobility),
            ("cognit", LimitationType::Cognition),
            ("intellect", LimitationType::Cognition),
            ("mental", LimitationType::Cognition),
            ("memory", LimitationType::Cognition),
            ("learning", LimitationType::Cognition),
            ("communicat", LimitationType::Communication),
            ("speech", LimitationType::Communication),
            ("language", LimitationType::Communication),
        ];
        KEYWORDS.iter().find(|(keyword, _)| lower.contains(keyword)).map(|(_, kind)| kind.clone()).unwrap_or(exact)
    }
}

fn limitation_type<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<LimitationType, D::Error> {
    Ok(LimitationType::from_text(&crate::tolerant::text(deserializer)?))
}

fn severity<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    let text = crate::tolerant::text(deserializer)?;
    severity_of_text(&text).ok_or_else(|| serde::de::Error::custom(format!("functional_severity {text:?} is not 1-4")))
}

/// A Washington Group severity (`1`–`4`) from a number or its label.
fn severity_of_text(text: &str) -> Option<u8> {
    let lower = text.trim().to_ascii_lowercase();
    match lower.parse::<u8>() {
        Ok(n @ 1..=4) => Some(n),
        Ok(_) => None,
        Err(_) if lower.contains("cannot") => Some(4),
        Err(_) if lower.contains("a lot") => Some(3),
        Err(_) if lower.contains("some") => Some(2),
        Err(_) if lower.contains("no difficulty") || lower == "none" => Some(1),
        Err(_) => None,
    }
}

/// A PWD impairment level mapped onto the Washington Group scale:
/// `1` mild → 2 (some difficulty), `2` moderate → 2, `3` severe → 3 (a lot),
/// `4` extreme → 4 (cannot do at all). Free text is read by its keyword
/// (mild, moderate, severe, extreme / complete / profound).
fn pwd_level_severity(text: &str) -> Option<u8> {
    let lower = text.trim().to_ascii_lowercase();
    match lower.as_str() {
        "1" | "2" => return Some(2),
        "3" => return Some(3),
        "4" => return Some(4),
        _ => {}
    }
    if ["extreme", "complete", "profound", "total"].iter().any(|k| lower.contains(k)) {
        Some(4)
    } else if lower.contains("severe") {
        Some(3)
    } else if lower.contains("moderate") || lower.contains("mild") {
        Some(2)
    } else if lower.starts_with("no ") || lower == "none" {
        Some(1)
    } else {
        None
    }
}

/// A PWD support level (`disability_status_level`) on the same scale:
/// `1` high support → 4, `2` severe → 3, `3` moderate → 2, `4` mild → 2.
fn pwd_support_severity(text: &str) -> Option<u8> {
    match text.trim() {
        "1" => Some(4),
        "2" => Some(3),
        "3" | "4" => Some(2),
        other if other.to_ascii_lowercase().contains("high") => Some(4),
        other => pwd_level_severity(other),
    }
}

/// Whether a PWD `disability_status` says the registration stands.
/// `0`, `approved`, `registered`, `active` and `certified` do; `1` pending,
/// `2` expired, `rejected` and anything else do not.
fn pwd_approved(status: &str) -> bool {
    matches!(status.trim().to_ascii_lowercase().as_str(), "0" | "approved" | "registered" | "active" | "certified")
}

/// The normalised disability facts of one person.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisabilityFacts {
    /// Any limitation of severity ≥ 2, or an approved PWD registration.
    pub has_disability: bool,
    /// Highest severity on the Washington Group scale 1–4; 0 when no limitation is recorded.
    pub level: u8,
    /// Domains with severity ≥ 2, in the order vision, hearing, mobility,
    /// cognition, self-care, communication (unknown domains last).
    pub types: Vec<LimitationType>,
}

impl DisabilityRecord {
    /// Maps this record onto the normalised view.
    ///
    /// PWD impairments count only while the registration stands (see the
    /// status mapping above): an expired or pending registration states no
    /// established limitation. Washington Group answers always count.
    pub fn facts(&self) -> DisabilityFacts {
        let mut limitations: Vec<(LimitationType, u8)> = self
            .disability_info
            .iter()
            .map(|l| (l.disability_limitation_type.clone(), l.functional_severity))
            .collect();
        let approved = self.disability_status.as_deref().is_some_and(pwd_approved);
        let pwd_counts = approved || (self.disability_status.is_none() && !self.disability_details.is_empty());
        if pwd_counts {
            for detail in &self.disability_details {
                let kind = detail
                    .impairment_type
                    .as_deref()
                    .map(LimitationType::from_text)
                    .unwrap_or_else(|| LimitationType::Other("UNSPECIFIED".into()));
                let severity = detail
                    .impairment_level
                    .as_deref()
                    .and_then(pwd_level_severity)
                    .or_else(|| self.disability_level.as_deref().and_then(pwd_level_severity))
                    .unwrap_or(2);
                limitations.push((kind, severity));
            }
        }
        let mut level = limitations.iter().map(|(_, severity)| *severity).max().unwrap_or(0);
        if approved && level == 0 {
            level = self
                .disability_status_level
                .as_deref()
                .and_then(pwd_support_severity)
                .or_else(|| self.disability_level.as_deref().and_then(pwd_level_severity))
                .unwrap_or(0);
        }
        let mut types: Vec<LimitationType> = Vec::new();
        for (kind, severity) in &limitations {
            if *severity >= 2 && !types.contains(kind) {
                types.push(kind.clone());
            }
        }
        types.sort_by_key(domain_order);
        DisabilityFacts {
            has_disability: approved || limitations.iter().any(|(_, severity)| *severity >= 2),
            level,
            types,
        }
    }

    /// Every identifier the record gives (member identifiers, PWD personal details).
    pub fn identifiers(&self) -> Vec<Identifier> {
        let mut identifiers = self.member_identifier.clone();
        if let Some(details) = &self.personal_details {
            for key in ["member_identifier", "identifier"] {
                if let Some(Ok(more)) = details.get(key).map(|value| identifier_list(value.clone())) {
                    identifiers.extend(more);
                }
            }
        }
        identifiers
    }
}

fn domain_order(kind: &LimitationType) -> u8 {
    match kind {
        LimitationType::Vision => 0,
        LimitationType::Hearing => 1,
        LimitationType::Mobility => 2,
        LimitationType::Cognition => 3,
        LimitationType::SelfCare => 4,
        LimitationType::Communication => 5,
        LimitationType::Other(_) => 6,
    }
}

impl super::Identified for DisabilityRecord {
    fn identifiers(&self) -> Vec<Identifier> {
        DisabilityRecord::identifiers(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts(record: Value) -> DisabilityFacts {
        serde_json::from_value::<DisabilityRecord>(record).expect("record").facts()
    }

    #[test]
    fn washington_group_answers_are_normalised() {
        let wg = facts(json!({"disability_info": [
            {"disability_limitation_type": "VIS_SS", "functional_severity": "3"},
            {"disability_limitation_type": "Hearing", "functional_severity": 1},
            {"disability_limitation_type": "MOBILITY", "functional_severity": 2}
        ]}));
        assert!(wg.has_disability);
        assert_eq!(wg.level, 3);
        assert_eq!(wg.types, vec![LimitationType::Vision, LimitationType::Mobility]);

        let none =
            facts(json!({"disability_info": [{"disability_limitation_type": "COG_SS", "functional_severity": 1}]}));
        assert!(!none.has_disability);
        assert_eq!(none.level, 1);
        assert!(none.types.is_empty());
    }

    #[test]
    fn pwd_records_are_mapped_onto_the_same_scale() {
        let sample = facts(json!({
            "personal_details": {"identifier": "123456"},
            "disability_status": "Approved", "disability_level": "Severe",
            "disability_details": [{"impairment_type": "Physical and movement related functions", "impairment_level": "Severe impairment or difficulty"}]
        }));
        assert_eq!(sample, DisabilityFacts { has_disability: true, level: 3, types: vec![LimitationType::Mobility] });

        let coded = facts(
            json!({"disability_status": "0", "disability_details": [{"impairment_type": "2", "impairment_level": "4"}]}),
        );
        assert_eq!(coded, DisabilityFacts { has_disability: true, level: 4, types: vec![LimitationType::Hearing] });

        let expired = facts(
            json!({"disability_status": "2", "disability_details": [{"impairment_type": "1", "impairment_level": "3"}]}),
        );
        assert_eq!(expired, DisabilityFacts::default());

        let approved_without_details = facts(json!({"disability_status": "approved", "disability_status_level": "1"}));
        assert_eq!(approved_without_details, DisabilityFacts { has_disability: true, level: 4, types: vec![] });
    }
}
