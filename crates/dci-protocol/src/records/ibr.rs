use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::identifier::{Identifier, identifier_list};
use crate::codes::code_enum;
use crate::time::{DciDate, opt_date};
use crate::tolerant::{one_or_many, opt_object, opt_text};

/// An IBR beneficiary record: the enrolment of a member (or group) in one or
/// more programmes, with the benefits received.
///
/// The newest spec puts programme, status and benefits at the top level
/// (`programme_identifier[]`, `enrollment_status`, `benefits[]`); official
/// samples nest an `enrolment_*` object (British spelling) under
/// `programme_identifier` or `member`, or list `programme[]` and `benefit[]`.
/// All are read; [`IbrBeneficiary::enrolments`] gives one normalised view.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IbrBeneficiary {
    /// The assistance unit (`1` individual, `2` household, ...).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub assistance_unit: Option<String>,
    /// The enrolled member.
    #[serde(default, deserialize_with = "opt_object", skip_serializing_if = "Option::is_none")]
    pub member: Option<IbrMember>,
    /// The enrolled group, as written.
    #[serde(default, deserialize_with = "opt_object", skip_serializing_if = "Option::is_none")]
    pub group: Option<Value>,
    /// Identifiers given at the top level (sample form).
    #[serde(default, deserialize_with = "identifier_list", skip_serializing_if = "Vec::is_empty")]
    pub identifier: Vec<Identifier>,
    /// The programmes (or programme-enrolment objects).
    #[serde(default, alias = "programme", deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub programme_identifier: Vec<Programme>,
    /// Enrolment date.
    #[serde(default, alias = "enrolment_date", deserialize_with = "opt_date", skip_serializing_if = "Option::is_none")]
    pub enrollment_date: Option<DciDate>,
    /// Enrolment status.
    #[serde(
        default,
        alias = "enrolment_status",
        deserialize_with = "opt_status",
        skip_serializing_if = "Option::is_none"
    )]
    pub enrollment_status: Option<EnrolmentStatus>,
    /// When the enrolment's status last changed (`status_change_date`).
    #[serde(default, deserialize_with = "opt_date", skip_serializing_if = "Option::is_none")]
    pub status_change_date: Option<DciDate>,
    /// When it was suspended (`suspension_date`).
    #[serde(default, deserialize_with = "opt_date", skip_serializing_if = "Option::is_none")]
    pub suspension_date: Option<DciDate>,
    /// When the person graduated out of the programme (`graduation_date`).
    #[serde(default, deserialize_with = "opt_date", skip_serializing_if = "Option::is_none")]
    pub graduation_date: Option<DciDate>,
    /// Benefits received.
    #[serde(default, alias = "benefit", deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub benefits: Vec<Benefit>,
}

/// The member of a beneficiary record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IbrMember {
    /// The member's identifiers.
    #[serde(default, deserialize_with = "identifier_list", skip_serializing_if = "Vec::is_empty")]
    pub member_identifier: Vec<Identifier>,
    /// Demographic information, as written.
    #[serde(default, deserialize_with = "opt_object", skip_serializing_if = "Option::is_none")]
    pub demographic_info: Option<Value>,
    /// A programme enrolment nested in the member (sample form).
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub programme_identifier: Vec<Programme>,
}

/// A programme, or (sample form) a programme enrolment carrying its own status and benefits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Programme {
    /// Programme name.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub programme_name: Option<String>,
    /// Programme id (`programme_code` in the DO.IBR.01 example).
    #[serde(default, alias = "programme_code", deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub programme_identifier: Option<String>,
    /// The institution running the programme.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub implementing_institution: Option<String>,
    /// Nested programme (sample form: `{programme: {...}, enrolment_status, ...}`).
    #[serde(default, alias = "program", deserialize_with = "opt_object", skip_serializing_if = "Option::is_none")]
    pub programme: Option<Box<Programme>>,
    /// Enrolment date of this programme.
    #[serde(default, alias = "enrolment_date", deserialize_with = "opt_date", skip_serializing_if = "Option::is_none")]
    pub enrollment_date: Option<DciDate>,
    /// Enrolment status in this programme.
    #[serde(
        default,
        alias = "enrolment_status",
        deserialize_with = "opt_status",
        skip_serializing_if = "Option::is_none"
    )]
    pub enrollment_status: Option<EnrolmentStatus>,
    /// When the enrolment's status last changed (`status_change_date`).
    #[serde(default, deserialize_with = "opt_date", skip_serializing_if = "Option::is_none")]
    pub status_change_date: Option<DciDate>,
    /// When it was suspended (`suspension_date`).
    #[serde(default, deserialize_with = "opt_date", skip_serializing_if = "Option::is_none")]
    pub suspension_date: Option<DciDate>,
    /// When the person graduated out of the programme (`graduation_date`).
    #[serde(default, deserialize_with = "opt_date", skip_serializing_if = "Option::is_none")]
    pub graduation_date: Option<DciDate>,
    /// Benefits of this programme.
    #[serde(default, alias = "benefit", deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub benefits: Vec<Benefit>,
}

/// A benefit received.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Benefit {
    /// Kind of benefit.
    #[serde(default, deserialize_with = "opt_benefit_type", skip_serializing_if = "Option::is_none")]
    pub benefit_type: Option<BenefitType>,
    /// When it was received.
    #[serde(default, deserialize_with = "opt_date", skip_serializing_if = "Option::is_none")]
    pub benefit_date: Option<DciDate>,
    /// Amount, as written (`USD 50`).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub benefit_value: Option<String>,
}

code_enum! {
    /// Status of an enrolment: the IBR code list CD.IBR.02 `enrolment_status`
    /// (standards.spdci.org, Integrated Beneficiary Registry v1.0.0, code
    /// directory), `1`–`7` or their labels. Anything else is `Other`, which no
    /// metric reads as enrolled or not.
    EnrolmentStatus {
        /// Active (`1`).
        Active = "1" | "active" | "enrolled",
        /// The beneficiary died (`2`).
        Deceased = "2" | "deceased",
        /// Graduated out of the programme (`3`).
        Graduated = "3" | "graduated",
        /// Suspended (`4`).
        Suspended = "4" | "suspended",
        /// Inactive (`5`).
        Inactive = "5" | "inactive",
        /// Reinstated after a suspension (`6`).
        Reinstated = "6" | "reinstated",
        /// Awaiting the renewal of an enrolment that stands (`7`).
        AwaitingRenewal = "7" | "awaiting renewal" | "awaiting_renewal" | "awaiting-renewal",
    }
}

impl EnrolmentStatus {
    /// Every status of the code list, in code order.
    pub const ALL: [EnrolmentStatus; 7] = [
        EnrolmentStatus::Active,
        EnrolmentStatus::Deceased,
        EnrolmentStatus::Graduated,
        EnrolmentStatus::Suspended,
        EnrolmentStatus::Inactive,
        EnrolmentStatus::Reinstated,
        EnrolmentStatus::AwaitingRenewal,
    ];

    /// Whether a person with this status is enrolled: active, reinstated and
    /// awaiting renewal are; deceased, graduated, suspended and inactive are
    /// not; `None` for a status outside the code list.
    pub fn counts_as_enrolled(&self) -> Option<bool> {
        match self {
            EnrolmentStatus::Active | EnrolmentStatus::Reinstated | EnrolmentStatus::AwaitingRenewal => Some(true),
            EnrolmentStatus::Deceased
            | EnrolmentStatus::Graduated
            | EnrolmentStatus::Suspended
            | EnrolmentStatus::Inactive => Some(false),
            EnrolmentStatus::Other(_) => None,
        }
    }

    /// The label of a status of the code list.
    pub fn label(&self) -> &str {
        match self {
            EnrolmentStatus::Active => "Active",
            EnrolmentStatus::Deceased => "Deceased",
            EnrolmentStatus::Graduated => "Graduated",
            EnrolmentStatus::Suspended => "Suspended",
            EnrolmentStatus::Inactive => "Inactive",
            EnrolmentStatus::Reinstated => "Reinstated",
            EnrolmentStatus::AwaitingRenewal => "Awaiting Renewal",
            EnrolmentStatus::Other(text) => text,
        }
    }
}

code_enum! {
    /// Kind of benefit (`1`–`6`, or the text labels).
    BenefitType {
        /// Cash (`1`).
        Cash = "1" | "cash",
        /// In kind (`2`).
        InKind = "2" | "in-kind" | "in_kind" | "inkind",
        /// Voucher (`3`).
        Voucher = "3" | "voucher",
        /// Service (`4`).
        Service = "4" | "service",
        /// Subsidy (`5`).
        Subsidy = "5" | "subsidy",
        /// Insurance (`6`).
        Insurance = "6" | "insurance",
    }
}

fn opt_status<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<EnrolmentStatus>, D::Error> {
    Ok(opt_text(deserializer)?.map(|text| EnrolmentStatus::parse(&text)))
}

fn opt_benefit_type<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<BenefitType>, D::Error> {
    Ok(opt_text(deserializer)?.map(|text| BenefitType::parse(&text)))
}

/// One normalised enrolment: a person in a programme, with a status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    /// Programme id.
    pub programme_id: Option<String>,
    /// Programme name.
    pub programme_name: Option<String>,
    /// Implementing institution.
    pub implementing_institution: Option<String>,
    /// Status, as the record states it; `None` when it states none (a
    /// required field of the spec: no metric guesses it).
    pub status: Option<EnrolmentStatus>,
    /// Enrolment date (missing or unreadable: `None`).
    pub enrolment_date: Option<chrono::NaiveDate>,
    /// When the enrolment took its present status, as written: the
    /// `status_change_date`, else the `suspension_date` of a suspended one or
    /// the `graduation_date` of a graduated one.
    pub status_date: Option<DciDate>,
    /// Kinds of benefit received.
    pub benefit_types: Vec<BenefitType>,
    /// The latest `benefit_date` (DCI has no `last_benefit_date` field).
    pub latest_benefit_date: Option<chrono::NaiveDate>,
}

impl Enrolment {
    /// Whether the enrolment counts as enrolled ([`EnrolmentStatus::counts_as_enrolled`]);
    /// false also when its status is missing or outside the code list.
    pub fn is_active(&self) -> bool {
        self.enrolled() == Some(true)
    }

    /// Whether the enrolment counts as enrolled; `None` when its status is
    /// missing or outside the code list.
    pub fn enrolled(&self) -> Option<bool> {
        self.status.as_ref().and_then(EnrolmentStatus::counts_as_enrolled)
    }

    /// How the enrolment stood on `date`, read from its dates; `answered_on`
    /// is the day the registry stated its present status. An enrolment whose
    /// status counts as enrolled counts from its enrolment date; one whose
    /// status does not counted from its enrolment date until its status
    /// date, and not from then on.
    pub fn standing_on(&self, date: chrono::NaiveDate, answered_on: chrono::NaiveDate) -> Standing {
        if self.enrolment_date.is_some_and(|start| date < start) {
            return Standing::NotYet;
        }
        let Some(enrolled) = self.enrolled() else { return Standing::AsStated };
        let undated = |field: &str, value: Option<&DciDate>| {
            if date >= answered_on {
                Standing::AsStated
            } else {
                Standing::Undated { field: field.to_owned(), value: value.map(DciDate::to_string).unwrap_or_default() }
            }
        };
        if enrolled {
            return match self.enrolment_date {
                Some(_) => Standing::AsStated,
                None => undated("enrollment_date", None),
            };
        }
        match self.status_date.as_ref().map(|written| (written.date(), written)) {
            Some((Some(ended), _)) if date >= ended => Standing::AsStated,
            Some((Some(_), _)) if self.enrolment_date.is_some() => Standing::Enrolled,
            Some((Some(_), _)) => undated("enrollment_date", None),
            Some((None, written)) => {
                undated("status date (status_change_date, suspension_date, graduation_date)", Some(written))
            }
            None => undated("status_change_date", None),
        }
    }

    /// The programme it is in: its id, else its name; `None` when it names neither.
    pub fn programme(&self) -> Option<&str> {
        self.programme_id.as_deref().or(self.programme_name.as_deref())
    }
}

/// How an enrolment stood on a date ([`Enrolment::standing_on`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// It had not started.
    NotYet,
    /// As its present status says.
    AsStated,
    /// Enrolled, before the date its present (not enrolled) status took effect.
    Enrolled,
    /// Not known: the date that would tell is missing (`value` empty) or unreadable.
    Undated {
        /// The date field, as written on the wire.
        field: String,
        /// Its value, as written.
        value: String,
    },
}

impl IbrBeneficiary {
    /// Every identifier the record gives for the person (top level, member, demographic info).
    pub fn identifiers(&self) -> Vec<Identifier> {
        let mut identifiers = self.identifier.clone();
        if let Some(member) = &self.member {
            identifiers.extend(member.member_identifier.iter().cloned());
            let nested = member.demographic_info.as_ref().and_then(|info| info.pointer("/person/identifier"));
            if let Some(Ok(more)) = nested.map(|list| identifier_list(list.clone())) {
                identifiers.extend(more);
            }
        }
        identifiers.dedup();
        identifiers
    }

    /// The enrolments this record states, whichever shape it is written in.
    pub fn enrolments(&self) -> Vec<Enrolment> {
        let nested = self.member.iter().flat_map(|member| member.programme_identifier.iter());
        let programmes: Vec<&Programme> = self.programme_identifier.iter().chain(nested).collect();
        if programmes.is_empty() {
            // A beneficiary record names no programme: one enrolment, in a programme it does not name.
            return vec![self.enrolment_of(&Programme::default())];
        }
        programmes.into_iter().map(|programme| self.enrolment_of(programme)).collect()
    }

    /// The date `programme`'s enrolment took `status`, from the programme (or
    /// its nested form) first, then the record.
    fn status_date_of(&self, programme: &Programme, status: &Option<EnrolmentStatus>) -> Option<DciDate> {
        let inner = programme.programme.as_deref();
        let pick = |field: fn(&Programme) -> &Option<DciDate>, own: &Option<DciDate>| {
            field(programme).clone().or_else(|| inner.and_then(|p| field(p).clone())).or_else(|| own.clone())
        };
        let changed = pick(|p| &p.status_change_date, &self.status_change_date);
        changed.or_else(|| match status {
            Some(EnrolmentStatus::Suspended) => pick(|p| &p.suspension_date, &self.suspension_date),
            Some(EnrolmentStatus::Graduated) => pick(|p| &p.graduation_date, &self.graduation_date),
            _ => None,
        })
    }

    fn enrolment_of(&self, programme: &Programme) -> Enrolment {
        let inner = programme.programme.as_deref();
        let status = programme
            .enrollment_status
            .clone()
            .or_else(|| inner.and_then(|p| p.enrollment_status.clone()))
            .or_else(|| self.enrollment_status.clone());
        let pick = |field: fn(&Programme) -> &Option<String>| {
            field(programme).clone().or_else(|| inner.and_then(|p| field(p).clone()))
        };
        let benefits: Vec<&Benefit> = if programme.benefits.is_empty() {
            self.benefits.iter().collect()
        } else {
            programme.benefits.iter().collect()
        };
        let mut benefit_types: Vec<BenefitType> = Vec::new();
        for benefit_type in benefits.iter().filter_map(|benefit| benefit.benefit_type.clone()) {
            if !benefit_types.contains(&benefit_type) {
                benefit_types.push(benefit_type);
            }
        }
        Enrolment {
            programme_id: pick(|p| &p.programme_identifier),
            programme_name: pick(|p| &p.programme_name),
            implementing_institution: pick(|p| &p.implementing_institution),
            status: status.clone(),
            enrolment_date: programme
                .enrollment_date
                .as_ref()
                .or(self.enrollment_date.as_ref())
                .and_then(DciDate::date),
            status_date: self.status_date_of(programme, &status),
            benefit_types,
            latest_benefit_date: benefits
                .iter()
                .filter_map(|benefit| benefit.benefit_date.as_ref().and_then(DciDate::date))
                .max(),
        }
    }
}

impl super::Identified for IbrBeneficiary {
    fn identifiers(&self) -> Vec<Identifier> {
        IbrBeneficiary::identifiers(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn newest_form_is_normalised() {
        let record: IbrBeneficiary = serde_json::from_value(json!({
            "member": {"member_identifier": [{"identifier_type": "UIN", "identifier_value": "1"}]},
            "programme_identifier": [{"programme_name": "Child Grant", "programme_identifier": "CG"}],
            "enrollment_date": "2024-01-01",
            "enrollment_status": "1",
            "benefits": [{"benefit_type": "1", "benefit_date": "2024-02-01"}, {"benefit_type": "1", "benefit_date": "2024-03-01"}]
        }))
        .expect("record");
        let enrolments = record.enrolments();
        assert_eq!(enrolments.len(), 1);
        assert!(enrolments[0].is_active());
        assert_eq!(enrolments[0].programme_id.as_deref(), Some("CG"));
        assert_eq!(enrolments[0].benefit_types, vec![BenefitType::Cash]);
        assert_eq!(enrolments[0].latest_benefit_date, chrono::NaiveDate::from_ymd_opt(2024, 3, 1));
        assert_eq!(record.identifiers(), vec![Identifier::new("UIN", "1")]);
    }

    #[test]
    fn sample_forms_with_british_spelling_are_normalised() {
        let nested: IbrBeneficiary = serde_json::from_value(json!({
            "programme_identifier": {"programme": {"programme_identifier": "DCI001", "programme_name": "Test"},
                "enrolment_date": "2024-04-12T00:00", "enrolment_status": "Active",
                "benefits": {"benefit_type": "Cash", "benefit_date": "02.05.2024"}}
        }))
        .expect("record");
        let enrolment = &nested.enrolments()[0];
        assert_eq!(enrolment.programme_id.as_deref(), Some("DCI001"));
        assert!(enrolment.is_active());
        assert_eq!(enrolment.latest_benefit_date, chrono::NaiveDate::from_ymd_opt(2024, 5, 2));

        let listed: IbrBeneficiary = serde_json::from_value(json!({
            "programme": [{"programme_name": "", "enrolment_status": "3"}, {"enrolment_status": "4"}],
            "benefit": [{"benefit_type": "2"}]
        }))
        .expect("record");
        let statuses: Vec<_> = listed.enrolments().into_iter().map(|e| e.status).collect();
        assert_eq!(statuses, vec![Some(EnrolmentStatus::Graduated), Some(EnrolmentStatus::Suspended)]);
    }

    #[test]
    fn statuses_map_through_the_code_list_and_nothing_is_guessed() {
        for (written, enrolled) in
            [("1", Some(true)), ("Active", Some(true)), ("6", Some(true)), ("Awaiting Renewal", Some(true))]
                .into_iter()
                .chain([("2", Some(false)), ("graduated", Some(false)), ("4", Some(false)), ("Inactive", Some(false))])
                .chain([("approved", None), ("paused", None), ("0", None), ("8", None)])
        {
            assert_eq!(EnrolmentStatus::parse(written).counts_as_enrolled(), enrolled, "{written}");
        }
        let unstated: IbrBeneficiary = serde_json::from_value(
            json!({"programme_identifier": [{"programme_name": "CG"}], "enrollment_status": ""}),
        )
        .expect("record");
        assert_eq!(unstated.enrolments()[0].status, None, "an empty status is not a status");
        assert_eq!(unstated.enrolments()[0].enrolled(), None);
        let bare: IbrBeneficiary = serde_json::from_value(json!({"member": {}})).expect("record");
        assert_eq!(bare.enrolments().len(), 1, "a record naming no programme is one enrolment, status unknown");
        assert_eq!(bare.enrolments()[0].enrolled(), None);
    }
}
