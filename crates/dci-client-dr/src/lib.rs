#![doc = include_str!("../README.md")]
//! The disability-registry client: the disability facts of many persons in
//! one batched search, from either record shape (Washington Group
//! `disability_info` or `PWD_Person`), and the `disabled` yes/no check.
//!
//! The mapping of PWD levels onto the Washington Group scale is documented on
//! [`dci_protocol::records::DisabilityRecord`]; when a person has several
//! records, [`merge`] combines them.

use dci_client::{ClientError, DciClient};
use dci_protocol::records::{DisabilityFacts, DisabilityRecord, Identifier};

/// A client of a disability registry.
#[derive(Clone, Debug)]
pub struct DrClient {
    client: DciClient,
}

/// Combines the facts of several records of one person (see [`DisabilityFacts::merged`]).
pub fn merge(records: &[DisabilityRecord]) -> DisabilityFacts {
    DisabilityFacts::merged(&records.iter().map(DisabilityRecord::facts).collect::<Vec<_>>())
}

impl DrClient {
    /// Wraps a client whose data source points at a disability registry.
    pub fn new(client: DciClient) -> Self {
        DrClient { client }
    }

    /// The underlying client.
    pub fn client(&self) -> &DciClient {
        &self.client
    }

    /// The disability facts of each person, in batched messages; `None` when
    /// the registry has no record of the person. One result per identifier, in order.
    pub async fn disability_of_many(
        &self,
        identifiers: &[Identifier],
    ) -> Vec<Result<Option<DisabilityFacts>, ClientError>> {
        self.client
            .search_people::<DisabilityRecord>(identifiers)
            .await
            .into_iter()
            .map(|result| result.map(|found| (!found.records.is_empty()).then(|| merge(&found.records))))
            .collect()
    }

    /// Whether the person is registered as disabled, via `/registry/sync/disabled`.
    pub async fn disabled(&self, person_id: &str) -> Result<bool, ClientError> {
        self.client.disabled(person_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dci_protocol::records::{LimitationType, Reading};
    use serde_json::json;

    #[test]
    fn records_of_one_person_merge() {
        let wg: DisabilityRecord = serde_json::from_value(json!({"disability_info": [
            {"disability_limitation_type": "HEAR_SS", "functional_severity": "2"}]}))
        .expect("record");
        let pwd: DisabilityRecord = serde_json::from_value(json!({"disability_status": "0",
            "disability_details": [{"impairment_type": "1", "impairment_level": "3"}]}))
        .expect("record");
        let merged = merge(&[wg, pwd]);
        assert_eq!(merged.has_disability, Reading::Value(true));
        assert_eq!(merged.level, Reading::Value(3));
        assert_eq!(merged.types, Reading::Value(vec![LimitationType::Vision, LimitationType::Hearing]));
        assert_eq!(merge(&[]), DisabilityFacts::default());
    }
}
