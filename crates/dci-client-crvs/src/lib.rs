#![doc = include_str!("../README.md")]
//! The CRVS (civil registration and vital statistics) client: persons by
//! identifier, one or many (batched), births and deaths in a date range, and
//! the mapping of a CRVS person to a registrant record for importers.
//!
//! Semantics of "alive" (see the project's RULES-AND-METRICS): a person is
//! alive when a CRVS record exists and has no `death_date`. A person *absent*
//! from the CRVS is neither: absence proves nothing, and [`VitalFacts`] is
//! only built from a record that was found.

use chrono::{DateTime, FixedOffset, NaiveDate};
use dci_client::{ClientError, DciClient};
use dci_protocol::records::{CrvsPerson, Identifier};
use dci_protocol::{PredicateItem, Query, SearchCriteria, attribute};
use serde::Serialize;
use serde_json::{Value, json};

/// Page size used when following the pages of a date-range search.
pub const EVENT_PAGE_SIZE: u32 = 500;

/// A client of a CRVS registry.
#[derive(Clone, Debug)]
pub struct CrvsClient {
    client: DciClient,
}

/// What the CRVS record of a person says about their life events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VitalFacts {
    /// No death recorded.
    pub alive: bool,
    /// Date of birth, when readable.
    pub birth_date: Option<DateTime<FixedOffset>>,
    /// Date of death; `None` while alive (and when recorded but unreadable:
    /// see `alive`, which is false whenever any death date is recorded).
    pub death_date: Option<DateTime<FixedOffset>>,
}

impl VitalFacts {
    /// The facts of a person found in the CRVS.
    pub fn of(person: &CrvsPerson) -> Self {
        VitalFacts {
            alive: person.is_alive(),
            birth_date: person.birth_date.as_ref().and_then(|d| d.instant()),
            death_date: person.death_date.as_ref().and_then(|d| d.instant()),
        }
    }
}

impl CrvsClient {
    /// Wraps a client whose data source points at a CRVS.
    pub fn new(client: DciClient) -> Self {
        CrvsClient { client }
    }

    /// The underlying client.
    pub fn client(&self) -> &DciClient {
        &self.client
    }

    /// The person with `identifier`, or `None` when the CRVS has no record.
    /// Several records for one identifier make the answer unusable (they may
    /// disagree).
    pub async fn person(&self, identifier: &Identifier) -> Result<Option<CrvsPerson>, ClientError> {
        self.persons(std::slice::from_ref(identifier)).await.pop().unwrap_or(Ok(None))
    }

    /// The persons with these identifiers, in batched messages; one result per
    /// identifier, in order. A record of anyone else, or several records for
    /// one identifier, fail the item (see [`DciClient::search_people`]).
    pub async fn persons(&self, identifiers: &[Identifier]) -> Vec<Result<Option<CrvsPerson>, ClientError>> {
        self.client
            .search_people::<CrvsPerson>(identifiers)
            .await
            .into_iter()
            .zip(identifiers)
            .map(|(result, identifier)| {
                let found = result?;
                if found.records.len() > 1 {
                    // Two records of one person may disagree (alive in one, dead in the other).
                    return Err(ClientError::ItemUnusable {
                        registry: self.client.source().registry,
                        request: "search".into(),
                        reference_id: format!("{} {}", identifier.identifier_type, identifier.identifier_value),
                        message: format!("{} records for one identifier", found.records.len()),
                    });
                }
                Ok(found.records.into_iter().next())
            })
            .collect()
    }

    /// Persons born between `from` and `to` (inclusive), optionally at a place, all pages.
    pub async fn births_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        place: Option<&str>,
    ) -> Result<Vec<CrvsPerson>, ClientError> {
        self.events_between("birth_date", "birth_place.name", from, to, place).await
    }

    /// Persons who died between `from` and `to` (inclusive), optionally at a place, all pages.
    pub async fn deaths_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        place: Option<&str>,
    ) -> Result<Vec<CrvsPerson>, ClientError> {
        self.events_between("death_date", "death_place.name", from, to, place).await
    }

    async fn events_between(
        &self,
        date_attribute: &str,
        place_attribute: &str,
        from: NaiveDate,
        to: NaiveDate,
        place: Option<&str>,
    ) -> Result<Vec<CrvsPerson>, ClientError> {
        let mut items = vec![
            PredicateItem::and(
                attribute(date_attribute).ge(from.to_string()),
                attribute(date_attribute).le(to.to_string()),
            )
            .with_seq(1),
        ];
        if let Some(place) = place {
            items.push(PredicateItem::single(attribute(place_attribute).eq(place)).with_seq(2));
        }
        let registry = self.client.source().registry;
        let criteria = SearchCriteria::new(Query::Predicate(items))
            .for_registry(registry.reg_type(), registry.record_type())
            .sorted_by(date_attribute, dci_protocol::SortOrder::Asc);
        self.client.search_all_pages(criteria, EVENT_PAGE_SIZE).await
    }
}

/// A CRVS person as a registrant record for importers (OpenSPP's registrant
/// fields): names, sex, birth date, identifiers, parents, and death date.
pub fn registrant_of(person: &CrvsPerson) -> Value {
    let name = person.name.clone().unwrap_or_default();
    let full_name = [&name.given_name, &name.second_name, &name.surname]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    let identifiers: Vec<Value> =
        person.identifier.iter().map(|id| json!({"type": id.identifier_type, "value": id.identifier_value})).collect();
    let parents: Vec<Value> = [&person.parent1_identifier, &person.parent2_identifier]
        .into_iter()
        .flatten()
        .map(|id| json!({"type": id.identifier_type, "value": id.identifier_value}))
        .collect();
    json!({
        "name": full_name,
        "given_name": name.given_name,
        "family_name": name.surname,
        "addl_name": name.second_name,
        "sex": person.sex.as_ref().map(|s| s.as_str().to_owned()),
        "birthdate": person.birth_date.as_ref().and_then(|d| d.date()).map(|d| d.to_string()),
        "deathdate": person.death_date.as_ref().map(|d| d.date().map(|d| d.to_string()).unwrap_or_else(|| d.to_string())),
        "is_alive": person.is_alive(),
        "identifiers": identifiers,
        "parents": parents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_maps_to_a_registrant() {
        let person: CrvsPerson = serde_json::from_value(json!({
            "identifier": [{"identifier_type": "UIN", "identifier_value": "1"}],
            "name": {"given_name": "Amina", "surname": "Diallo"},
            "sex": "female", "birth_date": "1950-03-02", "death_date": "2025-11-30T08:00:00Z",
            "parent1_identifier": {"identifier_type": "UIN", "identifier_value": "9"}
        }))
        .expect("person");
        let registrant = registrant_of(&person);
        assert_eq!(registrant["name"], "Amina Diallo");
        assert_eq!(registrant["birthdate"], "1950-03-02");
        assert_eq!(registrant["deathdate"], "2025-11-30");
        assert_eq!(registrant["is_alive"], false);
        assert_eq!(registrant["parents"][0]["value"], "9");
        let facts = VitalFacts::of(&person);
        assert!(!facts.alive);
        assert_eq!(facts.birth_date.map(|d| d.date_naive().to_string()).as_deref(), Some("1950-03-02"));
    }
}
