use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Reading;
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

/// One Washington Group limitation, as written: both fields are read
/// through their code lists when the facts are derived, so that a value
/// outside them leaves only the facts it bears on unknown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionalLimitation {
    /// The domain (`functional_limitation_type` in the DO.SR.06 example).
    #[serde(
        default,
        alias = "functional_limitation_type",
        deserialize_with = "opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub disability_limitation_type: Option<String>,
    /// `1` no difficulty, `2` some, `3` a lot, `4` cannot do at all.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub functional_severity: Option<String>,
}

/// One PWD impairment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PwdDetail {
    /// `1`–`6` or a label ("Physical and movement related functions").
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub impairment_type: Option<String>,
    /// `1` mild ... `4` extreme, or a label ("Severe impairment or difficulty").
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
    /// A functional domain, normalised to the names rules use. The table of
    /// codes and labels read is [`LIMITATION_TYPES`] (Washington Group short
    /// set, the `VIS_SS` codes of the DCI guide, OpenSPP's names), and for a
    /// PWD `impairment_type` also [`IMPAIRMENT_TYPE_CODES`].
    LimitationType {
        /// Seeing.
        Vision = "VISION" | "VIS_SS" | "seeing" | "visual" | "sight",
        /// Hearing.
        Hearing = "HEARING" | "HEAR_SS",
        /// Walking, climbing steps.
        Mobility = "MOBILITY" | "MOB_SS" | "walking" | "physical" | "Physical and movement related functions",
        /// Remembering, concentrating.
        Cognition = "COGNITION" | "COG_SS" | "remembering" | "cognitive" | "remembering or concentrating",
        /// Washing, dressing.
        SelfCare = "SELF_CARE" | "SC_SS" | "self-care" | "selfcare" | "self care",
        /// Understanding, being understood.
        Communication = "COMMUNICATION" | "COM_SS" | "communicating" | "speech",
        /// Psychosocial (the PWD impairment type `6` Mental).
        Mental = "MENTAL" | "psychosocial",
    }
}

/// Every domain, in the order [`DisabilityFacts::types`] lists them.
pub const LIMITATION_TYPES: [LimitationType; 7] = [
    LimitationType::Vision,
    LimitationType::Hearing,
    LimitationType::Mobility,
    LimitationType::Cognition,
    LimitationType::SelfCare,
    LimitationType::Communication,
    LimitationType::Mental,
];

/// The PWD `impairment_type` codes (spdci/schemas
/// `extensions/dr/v1/code/ImpairementType.jsonld`): `1` Vision, `2` Hearing,
/// `3` Mobility, `4` Cognitive, `5` Speech, `6` Mental.
pub const IMPAIRMENT_TYPE_CODES: [(&str, LimitationType); 6] = [
    ("1", LimitationType::Vision),
    ("2", LimitationType::Hearing),
    ("3", LimitationType::Mobility),
    ("4", LimitationType::Cognition),
    ("5", LimitationType::Communication),
    ("6", LimitationType::Mental),
];

/// Washington Group severity (`functional_severity`; CD.COM.11 and spdci/schemas
/// `common/v1/FunctionalSeverityEnum.jsonld`): code or label → severity 1–4.
pub const SEVERITY_CODES: [(&str, u8); 11] = [
    ("1", 1),
    ("no difficulty", 1),
    ("2", 2),
    ("some difficulty", 2),
    ("3", 3),
    ("a lot of difficulty", 3),
    ("a lot difficulty", 3),
    ("4", 4),
    ("cannot do at all", 4),
    ("cannot do it at all", 4),
    ("cannot do", 4),
];

/// PWD `impairment_level` (spdci/schemas `extensions/dr/v1/code/ImpairmentLevel.jsonld`:
/// `1` Mild, `2` Moderate, `3` Severe, `4` Extreme) and the labels of the DR
/// spec's example, on the Washington Group scale: mild and moderate → 2 (some
/// difficulty), severe → 3 (a lot), extreme or complete → 4 (cannot do). Also
/// read for the free-text `disability_level` ("Severe").
pub const IMPAIRMENT_LEVEL_CODES: [(&str, u8); 16] = [
    ("1", 2),
    ("mild", 2),
    ("mild impairment or difficulty", 2),
    ("2", 2),
    ("moderate", 2),
    ("moderate impairment or difficulty", 2),
    ("3", 3),
    ("severe", 3),
    ("severe impairment or difficulty", 3),
    ("4", 4),
    ("extreme", 4),
    ("extreme impairment or difficulty", 4),
    ("complete", 4),
    ("complete impairment or difficulty", 4),
    ("no impairment", 1),
    ("no impairment or difficulty", 1),
];

/// PWD `disability_status_level` (spdci/schemas `extensions/dr/v1/code/DisabilityLevelEnum.jsonld`,
/// CD.DR.15): `1` high support needs → 4, `2` severe → 3, `3` moderate → 2, `4` mild → 2.
pub const SUPPORT_LEVEL_CODES: [(&str, u8); 9] = [
    ("1", 4),
    ("high support needs", 4),
    ("high support", 4),
    ("2", 3),
    ("severe", 3),
    ("3", 2),
    ("moderate", 2),
    ("4", 2),
    ("mild", 2),
];

/// Whether a PWD registration stands, by its `disability_status`
/// (spdci/schemas `extensions/dr/v1/code/DisabilityStatusEnum.jsonld`: `0`
/// Approved, `1` Pending, `2` Expired; labels seen in the spec's examples and
/// OpenSPP). The code directory CD.DR.14 numbers them `1`–`3` instead; a
/// registry speaking it needs a dialect that says so.
pub const DISABILITY_STATUS_CODES: [(&str, bool); 13] = [
    ("0", true),
    ("approved", true),
    ("registered", true),
    ("active", true),
    ("certified", true),
    ("1", false),
    ("pending", false),
    ("pending approval", false),
    ("2", false),
    ("expired", false),
    ("rejected", false),
    ("revoked", false),
    ("cancelled", false),
];

/// The value of `text` in a code table, matched ignoring ASCII case and
/// surrounding or repeated spaces.
fn look_up<T: Clone>(table: &[(&str, T)], text: &str) -> Option<T> {
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    table.iter().find(|(code, _)| code.eq_ignore_ascii_case(&text)).map(|(_, value)| value.clone())
}

/// A field read through a table: absent, the value, or unrecognised.
fn read<T: Clone>(field: &str, text: Option<&str>, table: &[(&str, T)]) -> Reading<T> {
    match text {
        None => Reading::Absent,
        Some(text) => look_up(table, text).map_or_else(|| Reading::unrecognised(field, text), Reading::Value),
    }
}

impl LimitationType {
    /// A domain from its code or label; `None` outside the table.
    pub fn of_label(text: &str) -> Option<Self> {
        let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        Some(Self::parse(&text)).filter(LimitationType::is_known)
    }

    /// A PWD `impairment_type`: a code of [`IMPAIRMENT_TYPE_CODES`], else a label.
    pub fn of_impairment_type(text: &str) -> Option<Self> {
        look_up(&IMPAIRMENT_TYPE_CODES, text).or_else(|| Self::of_label(text))
    }
}

/// The normalised disability facts of one person, each as their records state it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DisabilityFacts {
    /// A limitation of severity ≥ 2, or a PWD registration that stands.
    pub has_disability: Reading<bool>,
    /// Highest severity on the Washington Group scale 1–4; 0 when no
    /// limitation is recorded (absent: a standing registration without a level).
    pub level: Reading<u8>,
    /// Domains with severity ≥ 2, in the order of [`LIMITATION_TYPES`].
    pub types: Reading<Vec<LimitationType>>,
}

impl Default for DisabilityFacts {
    fn default() -> Self {
        DisabilityFacts {
            has_disability: Reading::Value(false),
            level: Reading::Value(0),
            types: Reading::Value(Vec::new()),
        }
    }
}

/// One limitation a record states: its domain and severity, each as read.
struct Limitation {
    kind: Reading<LimitationType>,
    severity: Reading<u8>,
}

/// The kinds of limitation at level 2 or more, in domain order; doubtful
/// when one such limitation's kind or level is, or when `doubtful_status` (a
/// PWD registration whose standing is not known) is given.
fn limitation_types(
    limitations: &[Limitation],
    doubtful_status: Option<&Reading<bool>>,
) -> Reading<Vec<LimitationType>> {
    let mut types: Vec<LimitationType> = Vec::new();
    let mut types_doubt: Option<Reading<Vec<LimitationType>>> = None;
    for limitation in limitations {
        match limitation.severity.value() {
            Some(severity) if *severity >= 2 => match &limitation.kind {
                Reading::Value(kind) if !types.contains(kind) => types.push(kind.clone()),
                Reading::Value(_) => {}
                doubtful => types_doubt = types_doubt.or_else(|| doubtful.doubt()),
            },
            Some(_) => {}
            None => types_doubt = types_doubt.or_else(|| limitation.severity.doubt()),
        }
    }
    if let Some(status) = doubtful_status {
        types_doubt = types_doubt.or_else(|| status.doubt());
    }
    types.sort_by_key(domain_order);
    types_doubt.unwrap_or(Reading::Value(types))
}

impl DisabilityRecord {
    /// Maps this record onto the normalised view, every code through its table.
    ///
    /// PWD impairments count only while the registration stands (see
    /// [`DISABILITY_STATUS_CODES`]): an expired or pending registration states
    /// no established limitation. Washington Group answers always count.
    pub fn facts(&self) -> DisabilityFacts {
        let mut limitations = self.washington_group();
        // Impairments and levels count while the registration stands, so a PWD record
        // must say whether it does: without a status (or with a blank one, or one
        // outside the table) it is unknown.
        let pwd_record = !self.disability_details.is_empty()
            || self.disability_status_level.is_some()
            || self.disability_level.is_some();
        let status = match read("disability_status", self.disability_status.as_deref(), &DISABILITY_STATUS_CODES) {
            Reading::Absent if pwd_record => Reading::missing("disability_status"),
            other => other,
        };
        let overall = read("disability_level", self.disability_level.as_deref(), &IMPAIRMENT_LEVEL_CODES);
        let approved = status == Reading::Value(true);
        let pwd_counts = approved;
        let pwd_doubtful = status.is_doubtful();
        let support = if approved {
            read("disability_status_level", self.disability_status_level.as_deref(), &SUPPORT_LEVEL_CODES)
        } else {
            Reading::Absent
        };
        if pwd_counts {
            limitations.extend(self.impairments(&overall));
        }
        let disabled = limitations.iter().any(|l| l.severity.value().is_some_and(|s| *s >= 2));
        let severity_doubt = limitations.iter().find_map(|l| l.severity.doubt::<bool>());
        let has_disability = if approved || disabled {
            Reading::Value(true)
        } else if let Some(doubt) = status.doubt().filter(|_| pwd_doubtful).or(severity_doubt) {
            doubt
        } else {
            Reading::Value(false)
        };
        // The highest level stated wins: limitations, and a standing registration's support level.
        let known =
            limitations.iter().filter_map(|l| l.severity.value().copied()).chain(support.value().copied()).max();
        let level_doubt = limitations
            .iter()
            .find_map(|l| l.severity.doubt::<u8>())
            .or_else(|| status.doubt().filter(|_| pwd_doubtful))
            .or_else(|| support.doubt());
        let level = match (known, level_doubt) {
            (Some(4), _) => Reading::Value(4),
            (_, Some(doubt)) => doubt,
            (Some(level), None) => Reading::Value(level),
            (None, None) if approved => overall,
            (None, None) => Reading::Value(0),
        };
        let types = limitation_types(&limitations, pwd_doubtful.then_some(&status));
        DisabilityFacts { has_disability, level, types }
    }

    /// The Washington Group answers, each a limitation (they always count).
    fn washington_group(&self) -> Vec<Limitation> {
        self.disability_info
            .iter()
            .map(|l| Limitation {
                kind: match l.disability_limitation_type.as_deref() {
                    None => Reading::missing("disability_limitation_type"),
                    Some(text) => LimitationType::of_label(text)
                        .map_or_else(|| Reading::unrecognised("disability_limitation_type", text), Reading::Value),
                },
                severity: match read("functional_severity", l.functional_severity.as_deref(), &SEVERITY_CODES) {
                    Reading::Absent => Reading::missing("functional_severity"),
                    other => other,
                },
            })
            .collect()
    }

    /// The PWD impairments, each a limitation; one without its own level takes the record's `overall`.
    fn impairments(&self, overall: &Reading<u8>) -> Vec<Limitation> {
        self.disability_details
            .iter()
            .map(|detail| {
                let kind = match detail.impairment_type.as_deref() {
                    None => Reading::missing("impairment_type"),
                    Some(text) => LimitationType::of_impairment_type(text)
                        .map_or_else(|| Reading::unrecognised("impairment_type", text), Reading::Value),
                };
                let severity =
                    match read("impairment_level", detail.impairment_level.as_deref(), &IMPAIRMENT_LEVEL_CODES) {
                        Reading::Absent => match overall {
                            Reading::Absent => Reading::missing("impairment_level"),
                            other => other.clone(),
                        },
                        other => other,
                    };
                Limitation { kind, severity }
            })
            .collect()
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

impl DisabilityFacts {
    /// The facts of several records of one person: disabled if any record
    /// says so, the highest level, the union of the domains; a doubt about a
    /// fact (a code outside its table) makes it unknown unless another record
    /// settles it (a disability stated, the highest level 4).
    pub fn merged(all: &[DisabilityFacts]) -> DisabilityFacts {
        let Some(first) = all.first() else { return DisabilityFacts::default() };
        if all.len() == 1 {
            return first.clone();
        }
        let has_disability = if all.iter().any(|f| f.has_disability == Reading::Value(true)) {
            Reading::Value(true)
        } else {
            all.iter().find_map(|f| f.has_disability.doubt()).unwrap_or(Reading::Value(false))
        };
        let known = all.iter().filter_map(|f| f.level.value().copied()).max();
        let level = match (known, all.iter().find(|f| !matches!(f.level, Reading::Value(_)))) {
            (Some(4), _) => Reading::Value(4),
            (_, Some(other)) => other.level.clone(),
            (Some(level), None) => Reading::Value(level),
            (None, None) => Reading::Value(0),
        };
        let types = match all.iter().find_map(|f| f.types.doubt()) {
            Some(doubt) => doubt,
            None => {
                let mut union: Vec<LimitationType> = Vec::new();
                for kind in all.iter().filter_map(|f| f.types.value()).flatten() {
                    if !union.contains(kind) {
                        union.push(kind.clone());
                    }
                }
                union.sort_by_key(domain_order);
                Reading::Value(union)
            }
        };
        DisabilityFacts { has_disability, level, types }
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
        LimitationType::Mental => 6,
        LimitationType::Other(_) => 7,
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

    fn known(has: bool, level: u8, types: Vec<LimitationType>) -> DisabilityFacts {
        DisabilityFacts {
            has_disability: Reading::Value(has),
            level: Reading::Value(level),
            types: Reading::Value(types),
        }
    }

    #[test]
    fn washington_group_answers_are_normalised() {
        let wg = facts(json!({"disability_info": [
            {"disability_limitation_type": "VIS_SS", "functional_severity": "3"},
            {"disability_limitation_type": "Hearing", "functional_severity": 1},
            {"functional_limitation_type": "MOBILITY", "functional_severity": "Some difficulty"}
        ]}));
        assert_eq!(wg, known(true, 3, vec![LimitationType::Vision, LimitationType::Mobility]));
        let none =
            facts(json!({"disability_info": [{"disability_limitation_type": "COG_SS", "functional_severity": 1}]}));
        assert_eq!(none, known(false, 1, vec![]));
    }

    #[test]
    fn pwd_records_are_mapped_onto_the_same_scale() {
        let sample = facts(json!({
            "personal_details": {"identifier": "123456"},
            "disability_status": "Approved", "disability_level": "Severe",
            "disability_details": [{"impairment_type": "Physical and movement related functions", "impairment_level": "Severe impairment or difficulty"}]
        }));
        assert_eq!(sample, known(true, 3, vec![LimitationType::Mobility]));
        let coded = facts(
            json!({"disability_status": "0", "disability_details": [{"impairment_type": "2", "impairment_level": "4"}]}),
        );
        assert_eq!(coded, known(true, 4, vec![LimitationType::Hearing]));
        let speech = facts(json!({"disability_status": "0", "disability_details": [
            {"impairment_type": "5", "impairment_level": "3"}, {"impairment_type": "6", "impairment_level": "2"}]}));
        assert_eq!(speech, known(true, 3, vec![LimitationType::Communication, LimitationType::Mental]));
        let expired = facts(
            json!({"disability_status": "2", "disability_details": [{"impairment_type": "1", "impairment_level": "3"}]}),
        );
        assert_eq!(expired, DisabilityFacts::default());
        let approved_without_details = facts(json!({"disability_status": "approved", "disability_status_level": "1"}));
        assert_eq!(approved_without_details, known(true, 4, vec![]));
        let approved_without_level = facts(json!({"disability_status": "approved"}));
        assert_eq!(approved_without_level.has_disability, Reading::Value(true));
        assert_eq!(approved_without_level.level, Reading::Absent, "not recorded, not 0");
    }

    #[test]
    fn a_code_outside_its_table_leaves_unknown_only_what_it_bears_on() {
        let severity = facts(json!({"disability_info": [
            {"disability_limitation_type": "VIS_SS", "functional_severity": "9"}]}));
        assert_eq!(severity.has_disability, Reading::unrecognised("functional_severity", "9"));
        assert!(severity.level.is_doubtful() && severity.types.is_doubtful());
        // Another limitation settles has_disability, not the level.
        let settled = facts(json!({"disability_info": [
            {"disability_limitation_type": "VIS_SS", "functional_severity": "9"},
            {"disability_limitation_type": "HEAR_SS", "functional_severity": "2"}]}));
        assert_eq!(settled.has_disability, Reading::Value(true));
        assert!(settled.level.is_doubtful());
        // An unknown domain at severity 1 bears on nothing.
        let mild =
            facts(json!({"disability_info": [{"disability_limitation_type": "d999", "functional_severity": "1"}]}));
        assert_eq!(mild, known(false, 1, vec![]));
        let kind =
            facts(json!({"disability_info": [{"disability_limitation_type": "d999", "functional_severity": "3"}]}));
        assert_eq!((kind.has_disability, kind.level), (Reading::Value(true), Reading::Value(3)));
        assert_eq!(kind.types, Reading::unrecognised("disability_limitation_type", "d999"));
        let status = facts(
            json!({"disability_status": "in review", "disability_details": [{"impairment_type": "1", "impairment_level": "3"}]}),
        );
        assert_eq!(status.has_disability, Reading::unrecognised("disability_status", "in review"));
        // A PWD record's status outside the table leaves its facts unknown, details or not.
        let levels_only = facts(json!({"disability_status": "in review", "disability_status_level": "1"}));
        assert_eq!(levels_only.has_disability, Reading::unrecognised("disability_status", "in review"));
        assert_eq!(levels_only.level, Reading::unrecognised("disability_status", "in review"));
        let unstated = facts(json!({"disability_status_level": "1"}));
        assert_eq!(unstated.has_disability, Reading::missing("disability_status"));
        // The highest level wins: a standing registration's support level over a milder impairment.
        let support = facts(json!({"disability_status": "0", "disability_status_level": "1",
            "disability_details": [{"impairment_type": "1", "impairment_level": "1"}]}));
        assert_eq!((support.has_disability, support.level), (Reading::Value(true), Reading::Value(4)));
        // Impairments without a status (or a blank one) may be of an expired registration.
        for unstated in [json!({}), json!({"disability_status": ""}), json!({"disability_status": null})] {
            let mut record = json!({"disability_details": [{"impairment_type": "1", "impairment_level": "3"}]});
            record.as_object_mut().expect("object").extend(unstated.as_object().expect("object").clone());
            assert_eq!(facts(record).has_disability, Reading::missing("disability_status"), "{unstated}");
        }
        let level = facts(
            json!({"disability_status": "0", "disability_details": [{"impairment_type": "1", "impairment_level": "5"}]}),
        );
        assert_eq!(level.has_disability, Reading::Value(true), "the registration stands");
        assert_eq!(level.level, Reading::unrecognised("impairment_level", "5"));
    }

    #[test]
    fn records_of_one_person_merge() {
        let wg = facts(json!({"disability_info": [
            {"disability_limitation_type": "HEAR_SS", "functional_severity": "2"}]}));
        let pwd = facts(json!({"disability_status": "0",
            "disability_details": [{"impairment_type": "1", "impairment_level": "3"}]}));
        assert_eq!(
            DisabilityFacts::merged(&[wg.clone(), pwd]),
            known(true, 3, vec![LimitationType::Vision, LimitationType::Hearing])
        );
        let doubtful =
            facts(json!({"disability_info": [{"disability_limitation_type": "VIS_SS", "functional_severity": "x"}]}));
        let merged = DisabilityFacts::merged(&[wg, doubtful]);
        assert_eq!(merged.has_disability, Reading::Value(true));
        assert!(merged.level.is_doubtful() && merged.types.is_doubtful());
        assert_eq!(DisabilityFacts::merged(&[]), DisabilityFacts::default());
    }
}
