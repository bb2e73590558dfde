//! Why a value is unknown: the one list of causes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UnknownCause {
    /// Not fetched (yet): the registry was not asked.
    NotFetched,
    /// The registry answered with an error (HTTP, protocol, authentication, signature).
    RegistryError,
    /// The registry did not answer in time.
    Timeout,
    /// The registry rejected the lookup.
    Rejected,
    /// The person has no identifier this registry accepts.
    NoIdentifier,
    /// The registry does not know the person, and for this metric that proves nothing.
    NotFound,
    /// The registry is considered down (circuit breaker open): not asked.
    RegistryUnavailable,
    /// The registry's record has no usable value for this metric.
    NotRecorded,
    /// A field absent from the beneficiary's own data.
    MissingField,
    /// A value given as `null` where a value is needed (e.g. `age_years(null)`).
    NullValue,
    /// The registry's answer was larger than the data source's `max_response_bytes`.
    ResponseTooLarge,
    /// The registry said it holds more records of the person than it gave,
    /// and they could not all be fetched (`max_pages`, a page that never came).
    IncompleteAnswer,
    /// The registry's value is outside the field's code list, unreadable, or
    /// a required one is empty.
    UnrecognisedValue,
    /// The registry's answer says two things: a key given twice, or records of
    /// the person that contradict each other.
    AmbiguousRecord,
    /// The registry's records say what holds on the day they were read, but
    /// not whether it held on the as-of date: a date they leave out or that
    /// cannot be read (a registration without its date, a status without
    /// the date it changed).
    Undated,
}

impl UnknownCause {
    /// Every cause, in declaration order: the one list of them.
    pub const ALL: [UnknownCause; 15] = [
        UnknownCause::NotFetched,
        UnknownCause::RegistryError,
        UnknownCause::Timeout,
        UnknownCause::Rejected,
        UnknownCause::NoIdentifier,
        UnknownCause::NotFound,
        UnknownCause::RegistryUnavailable,
        UnknownCause::NotRecorded,
        UnknownCause::MissingField,
        UnknownCause::NullValue,
        UnknownCause::ResponseTooLarge,
        UnknownCause::IncompleteAnswer,
        UnknownCause::UnrecognisedValue,
        UnknownCause::AmbiguousRecord,
        UnknownCause::Undated,
    ];

    /// The cause in plain words, for a person reading an explanation; "the
    /// registry" stands for the registry asked.
    pub fn label(self) -> &'static str {
        match self {
            UnknownCause::NotFetched => "not needed for this decision",
            UnknownCause::RegistryError => "the registry answered with an error",
            UnknownCause::Timeout => "the registry did not answer in time",
            UnknownCause::Rejected => "the registry refused the lookup",
            UnknownCause::NoIdentifier => "no identifier of a type the registry accepts",
            UnknownCause::NotFound => "the registry has no record of this person",
            UnknownCause::RegistryUnavailable => "the registry is unavailable and was not asked",
            UnknownCause::NotRecorded => "the registry's record does not give it",
            UnknownCause::MissingField => "absent from the beneficiary's data",
            UnknownCause::NullValue => "empty (null) where a value is needed",
            UnknownCause::ResponseTooLarge => "the registry's answer was too large to read",
            UnknownCause::IncompleteAnswer => "the registry did not give all of this person's records",
            UnknownCause::UnrecognisedValue => "the registry gave a value that cannot be read",
            UnknownCause::AmbiguousRecord => "the registry's records of this person contradict each other",
            UnknownCause::Undated => "the registry's records do not say whether it held on the as-of date",
        }
    }

    /// The snake_case name used in results.
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownCause::NotFetched => "not_fetched",
            UnknownCause::RegistryError => "registry_error",
            UnknownCause::Timeout => "timeout",
            UnknownCause::Rejected => "rejected",
            UnknownCause::NoIdentifier => "no_identifier",
            UnknownCause::NotFound => "not_found",
            UnknownCause::RegistryUnavailable => "registry_unavailable",
            UnknownCause::NotRecorded => "not_recorded",
            UnknownCause::MissingField => "missing_field",
            UnknownCause::NullValue => "null_value",
            UnknownCause::ResponseTooLarge => "response_too_large",
            UnknownCause::IncompleteAnswer => "incomplete_answer",
            UnknownCause::UnrecognisedValue => "unrecognised_value",
            UnknownCause::AmbiguousRecord => "ambiguous_record",
            UnknownCause::Undated => "undated",
        }
    }
}

impl fmt::Display for UnknownCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
