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
use dci_protocol::DciDate;
use dci_protocol::records::{CrvsPerson, Identifier, Reading};
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

/// What the CRVS records of a person say about their life events.
///
/// Births and deaths may be separate event records of one person (as in
/// OpenCRVS): a registered death is authoritative over a record without
/// one, and records that give two different death dates, or two different
/// birth dates, contradict each other, which leaves that date unknown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VitalFacts {
    /// Whether the person is alive: false when a record states a death with a
    /// date, true when no record states one; unrecognised when the only deaths
    /// stated have dates that cannot be read (`"0000-00-00"`, `"N/A"`, `false`:
    /// placeholders as often as deaths).
    pub alive: Reading<bool>,
    /// Date of birth.
    pub birth_date: Reading<DateTime<FixedOffset>>,
    /// Date of death; absent while alive. Unrecognised when a record states a
    /// death with a date that cannot be read (the person is not alive).
    pub death_date: Reading<DateTime<FixedOffset>>,
    /// When the person was first registered: the earliest readable
    /// `registration_date` of their records; undated when none gives one.
    pub registered: Reading<NaiveDate>,
    /// The days of the deaths stated with a readable date, ascending, each once.
    pub death_days: Vec<NaiveDate>,
}

impl VitalFacts {
    /// The facts of a person found in the CRVS, from all their records.
    pub fn of(records: &[CrvsPerson]) -> Self {
        let date = |field: &str, date: Option<&DciDate>| match date {
            None => Reading::Absent,
            Some(date) => {
                date.instant().map_or_else(|| Reading::unrecognised(field, &date.to_string()), Reading::Value)
            }
        };
        let deaths: Vec<Reading<DateTime<FixedOffset>>> =
            records.iter().filter_map(|p| p.death_date.as_ref()).map(|d| date("death_date", Some(d))).collect();
        let alive = if deaths.is_empty() {
            Reading::Value(true)
        } else if deaths.iter().any(|death| matches!(death, Reading::Value(_))) {
            Reading::Value(false)
        } else {
            deaths.iter().find_map(|death| death.doubt::<bool>()).unwrap_or(Reading::Value(false))
        };
        let written: Vec<&DciDate> = records.iter().filter_map(|p| p.registration_date.as_ref()).collect();
        let registered = match written.iter().filter_map(|date| date.date()).min() {
            Some(first) => Reading::Value(first),
            None => Reading::undated("registration_date", &written.first().map(|d| d.to_string()).unwrap_or_default()),
        };
        let mut death_days: Vec<NaiveDate> =
            deaths.iter().filter_map(|death| death.value().map(DateTime::date_naive)).collect();
        death_days.sort_unstable();
        death_days.dedup();
        VitalFacts {
            alive,
            registered,
            death_days,
            birth_date: Reading::agreed(
                "birth_date",
                records.iter().map(|p| date("birth_date", p.birth_date.as_ref())),
            ),
            death_date: Reading::agreed(
                "death_date",
                records.iter().map(|p| date("death_date", p.death_date.as_ref())),
            ),
        }
    }
}

impl VitalFacts {
    /// Whether the person was alive on `date` (`answered_on`: the day the
    /// registry answered): not before their birth, not from their death on.
    /// Before `answered_on`, a person whose birth date is not known may not
    /// have been born: undated.
    pub fn alive_on(&self, date: NaiveDate, answered_on: NaiveDate) -> Reading<bool> {
        match (self.death_days.first(), self.death_days.last()) {
            // Dead by every record's date.
            (_, Some(last)) if date >= *last => return Reading::Value(false),
            // Dead by one record's date and not yet by another's: the records disagree on when.
            (Some(first), _) if date >= *first => return self.death_date.map_ref_doubt(),
            _ => {}
        }
        if self.alive.is_doubtful() {
            return self.alive.clone(); // a death whose date cannot be read
        }
        match &self.birth_date {
            Reading::Value(birth) => Reading::Value(date >= birth.date_naive()),
            _ if date >= answered_on => Reading::Value(true),
            Reading::Absent => Reading::undated("birth_date", ""),
            birth => birth.map_ref_doubt(),
        }
    }

    /// The death date as it stood on `date`: none (absent) before the death.
    pub fn death_date_on(&self, date: NaiveDate) -> Reading<DateTime<FixedOffset>> {
        match self.death_days.first() {
            Some(first) if date < *first => Reading::Absent,
            _ => self.death_date.clone(),
        }
    }

    /// Whether the person was registered on `date`: from their registration
    /// date on; without one, known only from `answered_on`.
    pub fn registered_on(&self, date: NaiveDate, answered_on: NaiveDate) -> Reading<bool> {
        match &self.registered {
            Reading::Value(registered) => Reading::Value(date >= *registered),
            _ if date >= answered_on => Reading::Value(true),
            doubt => doubt.map_ref_doubt(),
        }
    }

    /// The dates on which what the records say may change: birth, death,
    /// registration, and `answered_on`.
    pub fn dates(&self, answered_on: NaiveDate) -> Vec<NaiveDate> {
        let mut dates = vec![answered_on];
        dates.extend(self.birth_date.value().map(DateTime::date_naive));
        dates.extend(self.death_days.iter().copied());
        dates.extend(self.registered.value().copied());
        dates
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

    /// The records of the person with `identifier` (one, or several event
    /// records), or `None` when the CRVS has none.
    pub async fn person(&self, identifier: &Identifier) -> Result<Option<Vec<CrvsPerson>>, ClientError> {
        self.persons(std::slice::from_ref(identifier)).await.pop().unwrap_or(Ok(None))
    }

    /// The records of the persons with these identifiers, in batched
    /// messages; one result per identifier, in order, `None` where the CRVS
    /// has no record. A record of anyone else fails the item (see
    /// [`DciClient::search_people`]); [`VitalFacts::of`] reads several.
    pub async fn persons(&self, identifiers: &[Identifier]) -> Vec<Result<Option<Vec<CrvsPerson>>, ClientError>> {
        self.client
            .search_people::<CrvsPerson>(identifiers)
            .await
            .into_iter()
            .map(|result| result.map(|found| (!found.records.is_empty()).then_some(found.records)))
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
        let source = self.client.source();
        let criteria = SearchCriteria::new(Query::Predicate(items))
            .for_registry(source.search_reg_type(), source.registry.record_type())
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
        // Unknown (null) when the only death stated has a date that cannot be read.
        "is_alive": VitalFacts::of(std::slice::from_ref(person)).alive.value().copied(),
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
        let placeholder: CrvsPerson =
            serde_json::from_value(json!({"birth_date": "1950-03-02", "death_date": "0000-00-00"})).expect("record");
        assert_eq!(registrant_of(&placeholder)["is_alive"], Value::Null);
        assert_eq!(registrant["parents"][0]["value"], "9");
        let facts = VitalFacts::of(std::slice::from_ref(&person));
        assert_eq!(facts.alive, Reading::Value(false));
        assert_eq!(facts.birth_date.map(|d| d.date_naive().to_string()), Reading::Value("1950-03-02".to_owned()));
    }

    #[test]
    fn a_death_is_authoritative_and_two_dates_contradict() {
        let record = |value: Value| serde_json::from_value::<CrvsPerson>(value).expect("record");
        let birth = record(json!({"birth_date": "1950-03-02"}));
        let death = record(json!({"birth_date": "1950-03-02", "death_date": "2025-11-30"}));
        let facts = VitalFacts::of(&[birth.clone(), death.clone()]);
        assert_eq!(facts.alive, Reading::Value(false), "the death record settles it");
        assert!(matches!(facts.death_date, Reading::Value(_)));
        let other_death = record(json!({"death_date": "2024-01-01"}));
        let facts = VitalFacts::of(&[death.clone(), other_death]);
        assert_eq!(facts.alive, Reading::Value(false), "two dates, both deaths");
        assert!(matches!(facts.death_date, Reading::Contradictory { .. }), "{:?}", facts.death_date);
        assert!(matches!(facts.birth_date, Reading::Value(_)), "a record without a birth date does not contradict");
        let other_birth = record(json!({"birth_date": "1951-03-02"}));
        assert!(matches!(VitalFacts::of(&[birth, other_birth]).birth_date, Reading::Contradictory { .. }));
        // An unreadable date may be a placeholder ("0000-00-00", "N/A") as well as a death.
        for placeholder in ["31/31/2020", "0000-00-00", "N/A"] {
            let unreadable = record(json!({"death_date": placeholder}));
            let facts = VitalFacts::of(std::slice::from_ref(&unreadable));
            assert_eq!(facts.alive, Reading::unrecognised("death_date", placeholder));
            assert_eq!(facts.death_date, Reading::unrecognised("death_date", placeholder));
            let facts = VitalFacts::of(&[unreadable, death.clone()]);
            assert_eq!(facts.alive, Reading::Value(false), "a readable death settles it");
        }
    }
}
