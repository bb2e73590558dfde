#![doc = include_str!("../README.md")]
//! The IBR (integrated beneficiary registry) client: the enrolments of many
//! persons in one batched search, normalised, and the `enrolled` yes/no check.
//!
//! Enrolment counts and programme lists come from the batched search, not
//! from `/registry/sync/enrolled`, which answers yes/no for one person per message.

use chrono::NaiveDate;
use dci_client::{ClientError, DciClient};
use dci_protocol::DciDate;
use dci_protocol::records::{Enrolment, EnrolmentStatus, IbrBeneficiary, Identifier, Reading, Standing};
use serde::Serialize;

/// A client of an IBR.
#[derive(Clone, Debug)]
pub struct IbrClient {
    client: DciClient,
}

/// The enrolments of one person, as the IBR records them (every status).
///
/// Several records of one person are a union, deduplicated by programme (its
/// id, else its name; enrolments naming no programme are each their own). A
/// programme whose records disagree on being enrolled (one active, one
/// graduated) is contradictory, and a status outside the code list
/// ([`dci_protocol::records::EnrolmentStatus`]) or missing is unrecognised: either makes the facts
/// that depend on it unknown, never "not enrolled".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Enrolments(pub Vec<Enrolment>);

/// What one programme's enrolments say: enrolled or not.
struct ProgrammeState<'a> {
    key: Option<&'a str>,
    name: Option<&'a str>,
    enrolled: Reading<bool>,
}

impl Enrolments {
    /// The enrolments stated by a person's beneficiary records.
    pub fn of(records: &[IbrBeneficiary]) -> Self {
        Enrolments(records.iter().flat_map(IbrBeneficiary::enrolments).collect())
    }

    /// The state of each programme, enrolments of one programme merged.
    fn programmes(&self) -> Vec<ProgrammeState<'_>> {
        let mut states: Vec<(Option<&str>, Vec<&Enrolment>)> = Vec::new();
        for enrolment in &self.0 {
            match enrolment.programme() {
                Some(key) => match states.iter_mut().find(|(k, _)| *k == Some(key)) {
                    Some((_, group)) => group.push(enrolment),
                    None => states.push((Some(key), vec![enrolment])),
                },
                None => states.push((None, vec![enrolment])),
            }
        }
        states
            .into_iter()
            .map(|(key, group)| {
                let readings = group.iter().map(|enrolment| match (&enrolment.status, enrolment.enrolled()) {
                    (_, Some(enrolled)) => Reading::Value(enrolled),
                    (Some(status), None) => Reading::unrecognised(STATUS_FIELD, status.as_str()),
                    (None, None) => Reading::missing(STATUS_FIELD),
                });
                let name = group.iter().find_map(|e| e.programme_name.as_deref().or(e.programme_id.as_deref())).or(key);
                ProgrammeState { key, name, enrolled: Reading::agreed(STATUS_FIELD, readings) }
            })
            .collect()
    }

    /// Enrolled in at least one programme: true as soon as one programme is
    /// enrolled, whatever the others say; false only when every programme is
    /// known not to be.
    pub fn is_enrolled(&self) -> Reading<bool> {
        let programmes = self.programmes();
        if programmes.iter().any(|p| p.enrolled == Reading::Value(true)) {
            return Reading::Value(true);
        }
        match programmes.iter().find_map(|p| p.enrolled.doubt()) {
            Some(doubt) => doubt,
            None => Reading::Value(false),
        }
    }

    /// The names of the programmes the person is enrolled in (the id when a
    /// name is missing), each once; unknown when any programme's state is.
    pub fn active_programmes(&self) -> Reading<Vec<String>> {
        let programmes = self.programmes();
        if let Some(doubt) = programmes.iter().find_map(|p| p.enrolled.doubt()) {
            return doubt;
        }
        let mut names: Vec<String> = Vec::new();
        let mut unnamed = 0;
        for programme in programmes.iter().filter(|p| p.enrolled == Reading::Value(true)) {
            match programme.name {
                Some(name) if !names.iter().any(|n| n == name) => names.push(name.to_owned()),
                Some(_) => {}
                None => unnamed += 1,
            }
        }
        names.extend((0..unnamed).map(|_| "(unnamed programme)".to_owned()));
        Reading::Value(names)
    }

    /// The programmes the person is enrolled in, each by its identity: its
    /// `programme_identifier`, else its name (enrolments naming no programme
    /// left out), each once; unknown when any programme's state is.
    pub fn active_programme_ids(&self) -> Reading<Vec<String>> {
        let programmes = self.programmes();
        if let Some(doubt) = programmes.iter().find_map(|p| p.enrolled.doubt()) {
            return doubt;
        }
        let active = programmes.iter().filter(|p| p.enrolled == Reading::Value(true));
        Reading::Value(active.filter_map(|p| p.key).map(str::to_owned).collect())
    }

    /// The number of programmes the person is enrolled in; unknown when any
    /// programme's state is.
    pub fn active_count(&self) -> Reading<usize> {
        // Programmes, not names: two programmes may share a name.
        let programmes = self.programmes();
        if let Some(doubt) = programmes.iter().find_map(|p| p.enrolled.doubt()) {
            return doubt;
        }
        Reading::Value(programmes.iter().filter(|p| p.enrolled == Reading::Value(true)).count())
    }

    /// The enrolments counted as enrolled.
    pub fn active(&self) -> impl Iterator<Item = &Enrolment> {
        self.0.iter().filter(|e| e.is_active())
    }

    /// The enrolments as they stood on `date` ([`Enrolment::standing_on`]):
    /// those not started left out, those that ended later counted as enrolled;
    /// and, when an enrolment's standing then is not dated, why.
    pub fn on(&self, date: NaiveDate, answered_on: NaiveDate) -> (Enrolments, Option<Reading<bool>>) {
        let mut undated = None;
        let mut standing = Vec::with_capacity(self.0.len());
        for enrolment in &self.0 {
            match enrolment.standing_on(date, answered_on) {
                Standing::NotYet => {}
                Standing::AsStated => standing.push(enrolment.clone()),
                Standing::Enrolled => {
                    standing.push(Enrolment { status: Some(EnrolmentStatus::Active), ..enrolment.clone() })
                }
                Standing::Undated { field, value } => {
                    undated.get_or_insert_with(|| Reading::undated(&field, &value));
                }
            }
        }
        (Enrolments(standing), undated)
    }

    /// [`Enrolments::is_enrolled`] on `date`: an enrolment standing then
    /// settles it whatever the undated ones say.
    pub fn is_enrolled_on(&self, date: NaiveDate, answered_on: NaiveDate) -> Reading<bool> {
        let (standing, undated) = self.on(date, answered_on);
        match standing.is_enrolled() {
            Reading::Value(true) => Reading::Value(true),
            reading if reading.is_doubtful() => reading,
            reading => undated.unwrap_or(reading),
        }
    }

    /// [`Enrolments::active_count`] on `date`.
    pub fn active_count_on(&self, date: NaiveDate, answered_on: NaiveDate) -> Reading<usize> {
        self.read_on(date, answered_on, Enrolments::active_count)
    }

    /// [`Enrolments::active_programmes`] on `date`.
    pub fn active_programmes_on(&self, date: NaiveDate, answered_on: NaiveDate) -> Reading<Vec<String>> {
        self.read_on(date, answered_on, Enrolments::active_programmes)
    }

    /// [`Enrolments::active_programme_ids`] on `date`.
    pub fn active_programme_ids_on(&self, date: NaiveDate, answered_on: NaiveDate) -> Reading<Vec<String>> {
        self.read_on(date, answered_on, Enrolments::active_programme_ids)
    }

    /// What `read` says of the enrolments standing on `date`: unknown when one of
    /// them is doubtful, undated when one's standing then is not dated.
    fn read_on<T: Default>(
        &self,
        date: NaiveDate,
        answered_on: NaiveDate,
        read: impl Fn(&Enrolments) -> Reading<T>,
    ) -> Reading<T> {
        let (standing, undated) = self.on(date, answered_on);
        match (read(&standing), undated) {
            (reading, _) if reading.is_doubtful() => reading,
            (_, Some(undated)) => undated.map(|_| T::default()),
            (reading, None) => reading,
        }
    }

    /// The dates on which what the enrolments say may change: their starts,
    /// the dates their statuses took effect, and `answered_on`.
    pub fn dates(&self, answered_on: NaiveDate) -> Vec<NaiveDate> {
        let mut dates = vec![answered_on];
        for enrolment in &self.0 {
            dates.extend(enrolment.enrolment_date);
            dates.extend(enrolment.status_date.as_ref().and_then(DciDate::date));
        }
        dates
    }
}

/// The field the status is read from, as the spec's newest form names it.
const STATUS_FIELD: &str = "enrollment_status";

impl IbrClient {
    /// Wraps a client whose data source points at an IBR.
    pub fn new(client: DciClient) -> Self {
        IbrClient { client }
    }

    /// The underlying client.
    pub fn client(&self) -> &DciClient {
        &self.client
    }

    /// The enrolments of each person, in batched messages; `None` when the IBR
    /// has no record of the person. One result per identifier, in order.
    pub async fn enrolments_of_many(&self, identifiers: &[Identifier]) -> Vec<Result<Option<Enrolments>, ClientError>> {
        self.client
            .search_people::<IbrBeneficiary>(identifiers)
            .await
            .into_iter()
            .map(|result| result.map(|found| (!found.records.is_empty()).then(|| Enrolments::of(&found.records))))
            .collect()
    }

    /// Whether the person is enrolled (in `programme_id`, if given), via `/registry/sync/enrolled`.
    pub async fn enrolled(&self, person_id: &str, programme_id: Option<&str>) -> Result<bool, ClientError> {
        self.client.enrolled(person_id, programme_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enrolment(id: &str, name: &str, status: &str) -> IbrBeneficiary {
        serde_json::from_value(serde_json::json!({
            "enrollment_status": status,
            "programme_identifier": [{"programme_identifier": id, "programme_name": name}],
        }))
        .expect("record")
    }

    #[test]
    fn programmes_are_counted_by_identity_not_by_name() {
        let two = Enrolments::of(&[enrolment("PRG-1", "Cash Transfer", "1"), enrolment("PRG-2", "Cash Transfer", "1")]);
        assert_eq!(two.active_count(), Reading::Value(2));
        assert_eq!(two.active_programmes(), Reading::Value(vec!["Cash Transfer".to_owned()]));
        let same =
            Enrolments::of(&[enrolment("PRG-1", "Cash Transfer", "1"), enrolment("PRG-1", "Cash Transfer", "6")]);
        assert_eq!(same.active_count(), Reading::Value(1), "one programme, two enrolments");
        assert_eq!(two.active_programme_ids(), Reading::Value(vec!["PRG-1".to_owned(), "PRG-2".to_owned()]));
        assert_eq!(same.active_programme_ids(), Reading::Value(vec!["PRG-1".to_owned()]));
        let contradicting =
            Enrolments::of(&[enrolment("PRG-1", "Cash Transfer", "1"), enrolment("PRG-1", "Cash Transfer", "3")]);
        assert!(contradicting.active_count().is_doubtful());
    }
}
