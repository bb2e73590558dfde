#![doc = include_str!("../README.md")]
//! The IBR (integrated beneficiary registry) client: the enrolments of many
//! persons in one batched search, normalised, and the `enrolled` yes/no check.
//!
//! Enrolment counts and programme lists come from the batched search, not
//! from `/registry/sync/enrolled`, which answers yes/no for one person per message.

use dci_client::{ClientError, DciClient};
use dci_protocol::records::{Enrolment, EnrolmentStatus, IbrBeneficiary, Identifier};
use serde::Serialize;

/// A client of an IBR.
#[derive(Clone, Debug)]
pub struct IbrClient {
    client: DciClient,
}

/// The enrolments of one person, as the IBR records them (every status).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Enrolments(pub Vec<Enrolment>);

impl Enrolments {
    /// The enrolments stated by a person's beneficiary records.
    pub fn of(records: &[IbrBeneficiary]) -> Self {
        Enrolments(records.iter().flat_map(IbrBeneficiary::enrolments).collect())
    }

    /// Active enrolments only.
    pub fn active(&self) -> impl Iterator<Item = &Enrolment> {
        self.0.iter().filter(|e| e.status == EnrolmentStatus::Active)
    }

    /// At least one active enrolment.
    pub fn is_enrolled(&self) -> bool {
        self.active().next().is_some()
    }

    /// Number of active enrolments.
    pub fn active_count(&self) -> usize {
        self.active().count()
    }

    /// Names of the programmes with an active enrolment (the id when a name is missing), deduplicated.
    pub fn active_programmes(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for name in self.active().filter_map(|e| e.programme_name.clone().or_else(|| e.programme_id.clone())) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

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
