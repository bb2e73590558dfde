//! Metric values and types.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate};
use dci_protocol::records::Reading;
use serde::{Deserialize, Serialize};

use crate::cause::UnknownCause;

/// The CEL type of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MetricType {
    /// `bool`
    Bool,
    /// `int`
    Int,
    /// `double`
    Double,
    /// `string`
    String,
    /// `google.protobuf.Timestamp`
    Timestamp,
    /// a timestamp, or `null`
    TimestampOrNull,
    /// `list(string)`
    StringList,
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MetricType::Bool => "bool",
            MetricType::Int => "int",
            MetricType::Double => "double",
            MetricType::String => "string",
            MetricType::Timestamp => "timestamp",
            MetricType::TimestampOrNull => "timestamp or null",
            MetricType::StringList => "list(string)",
        })
    }
}

/// A metric's value.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricValue {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Double(f64),
    /// Text.
    String(Arc<str>),
    /// An instant.
    Timestamp(DateTime<FixedOffset>),
    /// `null` (e.g. the death date of a living person).
    Null,
    /// A list of strings.
    StringList(Arc<[Arc<str>]>),
    /// The registry's record has no usable value for this metric.
    NotRecorded,
    /// The registry answered, but its answer gives no value this metric can
    /// use: a code outside its list, records that contradict each other.
    /// Never cached: a later answer may be usable.
    Unusable(Arc<Unusable>),
    /// A value that changed on dates the registry's records state (a death,
    /// a registration, an enrolment's start or end): read at the as-of date
    /// with [`MetricValue::at`].
    Dated(Timeline),
}

/// A metric's values over time, in one block: each value from its date on
/// (that day included), the first from [`NaiveDate::MIN`]. Dates ascend, and
/// no value is itself [`MetricValue::Dated`].
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline(Arc<[(NaiveDate, MetricValue)]>);

impl Timeline {
    /// A timeline of `first`, then each of `changes` from its date on; `None`
    /// when the dates do not ascend or a value is itself dated.
    pub fn new(first: MetricValue, changes: Vec<(NaiveDate, MetricValue)>) -> Option<Self> {
        if matches!(first, MetricValue::Dated(_)) {
            return None;
        }
        let mut entries = Vec::with_capacity(changes.len() + 1);
        entries.push((NaiveDate::MIN, first));
        for (from, value) in changes {
            let ascends = entries.last().is_some_and(|(last, _)| *last < from);
            if !ascends || matches!(value, MetricValue::Dated(_)) {
                return None;
            }
            entries.push((from, value));
        }
        Some(Timeline(entries.into()))
    }

    /// The value on `date`. The latest value is looked at first: most
    /// evaluations are after every change.
    #[inline]
    pub fn at(&self, date: NaiveDate) -> &MetricValue {
        match self.0.last() {
            Some((from, value)) if *from <= date => value,
            _ => match self.0.partition_point(|(from, _)| *from <= date) {
                0 => &self.0[0].1,
                after => &self.0[after - 1].1,
            },
        }
    }

    /// The value before the first change.
    pub fn first(&self) -> &MetricValue {
        &self.0[0].1
    }

    /// Each change: from this date on, this value.
    pub fn changes(&self) -> &[(NaiveDate, MetricValue)] {
        &self.0[1..]
    }
}

/// Why a registry's answer gives no value for a metric, and what it said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unusable {
    /// [`UnknownCause::UnrecognisedValue`] or [`UnknownCause::AmbiguousRecord`].
    pub cause: UnknownCause,
    /// The field and the values, e.g. `enrollment_status "approved" is not in its code list`.
    pub detail: Arc<str>,
}

impl MetricValue {
    /// The value on `date`: itself, unless it changed over time ([`MetricValue::Dated`]).
    #[inline]
    pub fn at(&self, date: NaiveDate) -> &MetricValue {
        match self {
            MetricValue::Dated(timeline) => timeline.at(date),
            value => value,
        }
    }

    /// The value `value_on` gives on each of `dates` (and the day before the
    /// earliest): the dates on which it changes are the only ones it needs,
    /// so between two of them it holds. One plain value when it never changes.
    pub fn over(dates: impl IntoIterator<Item = NaiveDate>, value_on: impl Fn(NaiveDate) -> MetricValue) -> Self {
        let mut dates: Vec<NaiveDate> = dates.into_iter().collect();
        dates.sort_unstable();
        dates.dedup();
        let Some(earliest) = dates.first() else { return value_on(NaiveDate::MAX) };
        let first = value_on(earliest.pred_opt().unwrap_or(NaiveDate::MIN));
        let mut changes: Vec<(NaiveDate, MetricValue)> = Vec::new();
        for date in dates {
            let value = value_on(date);
            if *changes.last().map_or(&first, |(_, last)| last) != value {
                changes.push((date, value));
            }
        }
        if changes.is_empty() {
            return first;
        }
        Timeline::new(first.clone(), changes).map_or(first, MetricValue::Dated)
    }

    /// What makes the value unusable at some date other than a missing date
    /// (an unrecognised code, a contradiction): such an answer is not cached.
    pub fn doubts(&self) -> Vec<&Unusable> {
        fn doubt(value: &MetricValue) -> Option<&Unusable> {
            match value {
                MetricValue::Unusable(unusable) if unusable.cause != UnknownCause::Undated => Some(unusable),
                _ => None,
            }
        }
        match self {
            MetricValue::Dated(timeline) => timeline.0.iter().map(|(_, value)| value).filter_map(doubt).collect(),
            value => doubt(value).into_iter().collect(),
        }
    }

    /// A value the registry's answer does not give usably.
    pub fn unusable(cause: UnknownCause, detail: impl Into<Arc<str>>) -> Self {
        MetricValue::Unusable(Arc::new(Unusable { cause, detail: detail.into() }))
    }

    /// The value a reading of a person's records gives: stated, not recorded,
    /// or unusable (unrecognised, contradictory), with what it said.
    pub fn of_reading<T: fmt::Display>(reading: Reading<T>, value: impl FnOnce(T) -> MetricValue) -> Self {
        match reading {
            Reading::Value(stated) => value(stated),
            Reading::Absent => MetricValue::NotRecorded,
            doubtful @ Reading::Unrecognised { .. } => {
                MetricValue::unusable(UnknownCause::UnrecognisedValue, doubtful.to_string())
            }
            doubtful @ Reading::Undated { .. } => MetricValue::unusable(UnknownCause::Undated, doubtful.to_string()),
            doubtful @ Reading::Contradictory { .. } => {
                MetricValue::unusable(UnknownCause::AmbiguousRecord, doubtful.to_string())
            }
        }
    }

    /// Whether the value is usable as it is (not [`MetricValue::Unusable`]).
    pub fn is_usable(&self) -> bool {
        !matches!(self, MetricValue::Unusable(_))
    }

    /// A list of strings.
    pub fn strings<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Self {
        MetricValue::StringList(items.into_iter().map(|s| Arc::from(s.as_ref())).collect())
    }

    /// The value as JSON (timestamps as RFC 3339), for explanations and APIs.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            MetricValue::Bool(b) => Value::Bool(*b),
            MetricValue::Int(n) => Value::from(*n),
            MetricValue::Double(x) => serde_json::Number::from_f64(*x).map(Value::Number).unwrap_or(Value::Null),
            MetricValue::String(s) => Value::String(s.to_string()),
            MetricValue::Timestamp(t) => Value::String(t.to_rfc3339()),
            MetricValue::Null | MetricValue::NotRecorded | MetricValue::Unusable(_) => Value::Null,
            MetricValue::StringList(items) => {
                Value::Array(items.iter().map(|s| Value::String(s.to_string())).collect())
            }
            MetricValue::Dated(timeline) => serde_json::json!({
                "first": timeline.first().to_json(),
                "changes": timeline.changes().iter().map(|(from, value)| serde_json::json!({
                    "from": from.to_string(), "value": value.to_json()
                })).collect::<Vec<_>>(),
            }),
        }
    }
}

impl fmt::Display for MetricValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricValue::NotRecorded => f.write_str("(not recorded)"),
            MetricValue::Unusable(unusable) => write!(f, "(unusable: {})", unusable.detail),
            MetricValue::Dated(timeline) => {
                write!(f, "{}", timeline.first())?;
                for (from, value) in timeline.changes() {
                    write!(f, ", from {from}: {value}")?;
                }
                Ok(())
            }
            other => write!(f, "{}", other.to_json()),
        }
    }
}
