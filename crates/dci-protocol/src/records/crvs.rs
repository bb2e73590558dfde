use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::identifier::{Identifier, identifier_list};
use crate::codes::code_enum;
use crate::time::{DciDate, date_list, opt_date};
use crate::tolerant::{one_or_many, opt_object, opt_text};

/// A CRVS person record (`spdci-extensions-dci:Person`).
///
/// A person is alive, for this project, when a record exists and it carries
/// no `death_date` (see [`CrvsPerson::is_alive`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CrvsPerson {
    /// The person's identifiers.
    #[serde(default, deserialize_with = "identifier_list", skip_serializing_if = "Vec::is_empty")]
    pub identifier: Vec<Identifier>,
    /// The person's name.
    #[serde(default, deserialize_with = "opt_object", skip_serializing_if = "Option::is_none")]
    pub name: Option<PersonName>,
    /// Sex.
    #[serde(default, deserialize_with = "opt_sex", skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    /// Date (or date-time) of birth.
    #[serde(default, deserialize_with = "opt_date", skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<DciDate>,
    /// Date of death; absent while alive.
    #[serde(default, deserialize_with = "opt_date", skip_serializing_if = "Option::is_none")]
    pub death_date: Option<DciDate>,
    /// Place of birth.
    #[serde(default, deserialize_with = "opt_object", skip_serializing_if = "Option::is_none")]
    pub birth_place: Option<Place>,
    /// Place of death.
    #[serde(default, deserialize_with = "opt_object", skip_serializing_if = "Option::is_none")]
    pub death_place: Option<Place>,
    /// Addresses, as the registry writes them.
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub address: Vec<Value>,
    /// Phone numbers.
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub phone_number: Vec<String>,
    /// E-mail addresses.
    #[serde(default, deserialize_with = "one_or_many", skip_serializing_if = "Vec::is_empty")]
    pub email: Vec<String>,
    /// Marital status (`S M W A D L U`).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub marital_status: Option<String>,
    /// Dates of marriage.
    #[serde(default, deserialize_with = "date_list", skip_serializing_if = "Vec::is_empty")]
    pub marriage_date: Vec<DciDate>,
    /// Dates of divorce.
    #[serde(default, deserialize_with = "date_list", skip_serializing_if = "Vec::is_empty")]
    pub divorce_date: Vec<DciDate>,
    /// First parent.
    #[serde(default, deserialize_with = "first_identifier", skip_serializing_if = "Option::is_none")]
    pub parent1_identifier: Option<Identifier>,
    /// Second parent.
    #[serde(default, deserialize_with = "first_identifier", skip_serializing_if = "Option::is_none")]
    pub parent2_identifier: Option<Identifier>,
    /// When the person was registered.
    #[serde(default, deserialize_with = "opt_date", skip_serializing_if = "Option::is_none")]
    pub registration_date: Option<DciDate>,
    /// When the record last changed.
    #[serde(default, deserialize_with = "opt_date", skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<DciDate>,
}

impl CrvsPerson {
    /// Alive: the record has no death date. (A person *absent* from the CRVS is
    /// not known to be alive or dead; that is for the caller to say.)
    pub fn is_alive(&self) -> bool {
        self.death_date.is_none()
    }

    /// The identifier of type `identifier_type`, if the person has one.
    pub fn identifier_of(&self, identifier_type: &str) -> Option<&str> {
        self.identifier
            .iter()
            .find(|id| id.identifier_type.eq_ignore_ascii_case(identifier_type))
            .map(|id| id.identifier_value.as_str())
    }
}

impl super::Identified for CrvsPerson {
    fn identifiers(&self) -> Vec<Identifier> {
        self.identifier.clone()
    }
}

fn first_identifier<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Identifier>, D::Error> {
    Ok(identifier_list(deserializer)?.into_iter().next())
}

fn opt_sex<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Sex>, D::Error> {
    Ok(opt_text(deserializer)?.map(|text| Sex::parse(&text)))
}

code_enum! {
    /// Sex as the CRVS records it.
    Sex {
        /// Male.
        Male = "male" | "m",
        /// Female.
        Female = "female" | "f",
        /// Other.
        OtherSex = "other" | "o",
        /// Unknown.
        Unknown = "unknown" | "u",
    }
}

/// A person's name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName {
    /// Family name.
    #[serde(default, alias = "last_name", deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    /// Given name.
    #[serde(default, alias = "first_name", deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Second name.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub second_name: Option<String>,
    /// Name before marriage.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub maiden_name: Option<String>,
    /// Prefix (`Dr.`).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Suffix (`PhD`).
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
}

/// A place (of birth, of death).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// The place's name.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Address line.
    #[serde(default, deserialize_with = "opt_text", skip_serializing_if = "Option::is_none")]
    pub address_line: Option<String>,
    /// Coordinates, as written.
    #[serde(default, deserialize_with = "opt_object", skip_serializing_if = "Option::is_none")]
    pub geo: Option<Value>,
}
