//! What is known about one person in one registry, and the evaluator's
//! synchronous read of a metric from it.

use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use crate::catalog::{Catalog, MetricId, WhenNotFound};
use crate::cause::UnknownCause;
use crate::value::MetricValue;

/// A failed lookup: the cause, and what the registry or client said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The cause.
    pub cause: UnknownCause,
    /// Details for explanations (never a secret).
    pub message: Arc<str>,
}

/// The values one registry gives for one person, in the order of its catalog entry.
pub type Facts = Arc<[MetricValue]>;

/// Where a resolution came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The fact cache.
    Cache,
    /// The registry, in this evaluation.
    Registry,
}

/// What is known about one person in one registry.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolution {
    /// The registry has not been asked.
    NotFetched,
    /// The person has no identifier the registry accepts.
    NoIdentifier,
    /// The registry has a record.
    Found(Facts, Source),
    /// The registry has no record.
    NotFound(Source),
    /// The lookup failed.
    Failed(Failure),
}

/// The value of one metric for one person, as the evaluator reads it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MetricRead<'a> {
    /// Known.
    Value(&'a MetricValue),
    /// Unknown, and why.
    Unknown(UnknownCause),
}

impl Resolution {
    /// Reads metric `id` (which must belong to this resolution's registry)
    /// as it stood on `as_of`. Allocation-free.
    #[inline]
    pub fn read<'a>(&'a self, catalog: &'a Catalog, id: MetricId, as_of: NaiveDate) -> MetricRead<'a> {
        match self {
            Resolution::Found(facts, _) => match facts.get(id.field).map(|value| value.at(as_of)) {
                Some(MetricValue::NotRecorded) | None => MetricRead::Unknown(UnknownCause::NotRecorded),
                Some(MetricValue::Unusable(unusable)) => MetricRead::Unknown(unusable.cause),
                Some(value) => MetricRead::Value(value),
            },
            Resolution::NotFound(_) => match &catalog.spec(id).when_not_found {
                WhenNotFound::Value(value) => MetricRead::Value(value),
                WhenNotFound::Unknown => MetricRead::Unknown(UnknownCause::NotFound),
            },
            Resolution::NotFetched => MetricRead::Unknown(UnknownCause::NotFetched),
            Resolution::NoIdentifier => MetricRead::Unknown(UnknownCause::NoIdentifier),
            Resolution::Failed(failure) => MetricRead::Unknown(failure.cause),
        }
    }

    /// Whether fetching could still change this resolution.
    pub fn is_fetchable(&self) -> bool {
        matches!(self, Resolution::NotFetched)
    }

    /// Where the known facts came from, if known.
    pub fn source(&self) -> Option<Source> {
        match self {
            Resolution::Found(_, source) | Resolution::NotFound(source) => Some(*source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_is_listed_once_and_named_as_serde_names_it() {
        for (position, cause) in UnknownCause::ALL.iter().enumerate() {
            // A new variant makes this match fail to compile until it is listed.
            let listed = match cause {
                UnknownCause::NotFetched
                | UnknownCause::RegistryError
                | UnknownCause::Timeout
                | UnknownCause::Rejected
                | UnknownCause::NoIdentifier
                | UnknownCause::NotFound
                | UnknownCause::RegistryUnavailable
                | UnknownCause::NotRecorded
                | UnknownCause::MissingField
                | UnknownCause::NullValue
                | UnknownCause::ResponseTooLarge
                | UnknownCause::IncompleteAnswer
                | UnknownCause::UnrecognisedValue
                | UnknownCause::AmbiguousRecord
                | UnknownCause::Undated => UnknownCause::ALL.iter().position(|c| c == cause),
            };
            assert_eq!(listed, Some(position), "{cause} listed once");
            assert_eq!(serde_json::to_value(cause).expect("serializes"), serde_json::json!(cause.as_str()));
        }
    }

    #[test]
    fn not_found_reads_follow_the_catalog() {
        let catalog = Catalog::default();
        let alive = catalog.metric("dci.crvs.is_alive").expect("metric");
        let registered = catalog.metric("dci.crvs.is_registered").expect("metric");
        let absent = Resolution::NotFound(Source::Registry);
        assert_eq!(absent.read(&catalog, alive, chrono::NaiveDate::MAX), MetricRead::Unknown(UnknownCause::NotFound));
        assert_eq!(
            absent.read(&catalog, registered, chrono::NaiveDate::MAX),
            MetricRead::Value(&MetricValue::Bool(false))
        );
        let found = Resolution::Found(
            Arc::from(vec![
                MetricValue::Bool(true),
                MetricValue::Bool(true),
                MetricValue::NotRecorded,
                MetricValue::Null,
            ]),
            Source::Cache,
        );
        assert_eq!(found.read(&catalog, alive, chrono::NaiveDate::MAX), MetricRead::Value(&MetricValue::Bool(true)));
        let birth = catalog.metric("dci.crvs.birth_date").expect("metric");
        assert_eq!(found.read(&catalog, birth, chrono::NaiveDate::MAX), MetricRead::Unknown(UnknownCause::NotRecorded));
        assert_eq!(
            Resolution::NoIdentifier.read(&catalog, alive, chrono::NaiveDate::MAX),
            MetricRead::Unknown(UnknownCause::NoIdentifier)
        );
    }
}
