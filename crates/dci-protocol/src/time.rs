//! Timestamps and dates as the DCI specs write them, read tolerantly.
//!
//! Headers and items carry RFC 3339 timestamps *with an offset*; many samples
//! omit the offset or give a bare date. [`DciTimestamp`] reads all of these
//! (a missing offset is read as UTC) and always writes RFC 3339 with an offset.
//! Record fields such as `birth_date` are [`DciDate`]s, which also keep text
//! that is not a date at all, so that "has a death date" survives a registry
//! writing one in a format nobody expected.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// An instant with its UTC offset, written as RFC 3339 (`2026-01-10T10:00:00+00:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DciTimestamp(pub DateTime<FixedOffset>);

/// The reason a timestamp could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a timestamp: {0:?} (expected RFC 3339, e.g. 2026-01-10T10:00:00+00:00)")]
pub struct TimestampError(pub String);

impl DciTimestamp {
    /// The current instant, in UTC. Only for building messages: evaluation never reads the clock.
    pub fn now() -> Self {
        DciTimestamp(Utc::now().fixed_offset())
    }

    /// Reads RFC 3339; also accepts a date-time without offset (read as UTC),
    /// a space instead of `T`, and a bare date (midnight UTC).
    pub fn parse_lenient(text: &str) -> Result<Self, TimestampError> {
        parse_instant(text).map(DciTimestamp).ok_or_else(|| TimestampError(text.to_owned()))
    }

    /// Reads strict RFC 3339 with an offset, as the newest spec requires of senders.
    pub fn parse_strict(text: &str) -> Result<Self, TimestampError> {
        DateTime::parse_from_rfc3339(text.trim()).map(DciTimestamp).map_err(|_| TimestampError(text.to_owned()))
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.0.timestamp()
    }
}

impl From<DateTime<Utc>> for DciTimestamp {
    fn from(instant: DateTime<Utc>) -> Self {
        DciTimestamp(instant.fixed_offset())
    }
}

impl fmt::Display for DciTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, false))
    }
}

impl FromStr for DciTimestamp {
    type Err = TimestampError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse_lenient(text)
    }
}

impl Serialize for DciTimestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DciTimestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse_lenient(&text).map_err(de::Error::custom)
    }
}

/// Reads an optional timestamp: `""`, `null` and absence are `None`.
pub(crate) fn opt_timestamp<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DciTimestamp>, D::Error> {
    match crate::tolerant::opt_text(deserializer)? {
        None => Ok(None),
        Some(text) => DciTimestamp::parse_lenient(&text).map(Some).map_err(de::Error::custom),
    }
}

fn parse_instant(text: &str) -> Option<DateTime<FixedOffset>> {
    let text = text.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Some(instant);
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(instant) = DateTime::parse_from_str(text, format) {
            return Some(instant);
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(naive.and_utc().fixed_offset());
        }
    }
    parse_date(text).map(|date| date.and_time(NaiveTime::MIN).and_utc().fixed_offset())
}

fn parse_date(text: &str) -> Option<NaiveDate> {
    ["%Y-%m-%d", "%d.%m.%Y", "%Y/%m/%d", "%Y%m%d"]
        .iter()
        .find_map(|format| NaiveDate::parse_from_str(text, format).ok())
}

/// A date (or date-time) field of a registry record, such as `birth_date`.
///
/// Reads ISO 8601 dates and date-times (with or without offset) and the
/// `dd.mm.yyyy` form of some samples. Text that is none of these is kept as
/// [`DciDate::Unreadable`]: the field is present, its value unknown.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DciDate {
    /// A calendar date with no time of day.
    Date(NaiveDate),
    /// An instant.
    Instant(DateTime<FixedOffset>),
    /// Present but not a date this crate can read.
    Unreadable(String),
}

impl DciDate {
    /// Reads a date; never fails (see [`DciDate::Unreadable`]).
    pub fn parse(text: &str) -> Self {
        let trimmed = text.trim();
        if let Some(date) = parse_date(trimmed) {
            return DciDate::Date(date);
        }
        match parse_instant(trimmed) {
            Some(instant) => DciDate::Instant(instant),
            None => DciDate::Unreadable(trimmed.to_owned()),
        }
    }

    /// The calendar date, if readable (the local date of an instant).
    pub fn date(&self) -> Option<NaiveDate> {
        match self {
            DciDate::Date(date) => Some(*date),
            DciDate::Instant(instant) => Some(instant.date_naive()),
            DciDate::Unreadable(_) => None,
        }
    }

    /// The value as an instant, a bare date being midnight UTC.
    pub fn instant(&self) -> Option<DateTime<FixedOffset>> {
        match self {
            DciDate::Date(date) => Some(date.and_time(NaiveTime::MIN).and_utc().fixed_offset()),
            DciDate::Instant(instant) => Some(*instant),
            DciDate::Unreadable(_) => None,
        }
    }
}

impl From<NaiveDate> for DciDate {
    fn from(date: NaiveDate) -> Self {
        DciDate::Date(date)
    }
}

impl fmt::Display for DciDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DciDate::Date(date) => write!(f, "{}", date.format("%Y-%m-%d")),
            DciDate::Instant(instant) => f.write_str(&instant.to_rfc3339_opts(SecondsFormat::AutoSi, false)),
            DciDate::Unreadable(text) => f.write_str(text),
        }
    }
}

impl Serialize for DciDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DciDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = crate::tolerant::text(deserializer)?;
        Ok(DciDate::parse(&text))
    }
}

/// Reads an optional record date: `""`, `null` and absence are `None`.
pub(crate) fn opt_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DciDate>, D::Error> {
    Ok(crate::tolerant::opt_text(deserializer)?.map(|text| DciDate::parse(&text)))
}

/// Reads a list of record dates, dropping blanks.
pub(crate) fn date_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<DciDate>, D::Error> {
    let texts: Vec<serde_json::Value> = crate::tolerant::one_or_many(deserializer)?;
    Ok(texts
        .into_iter()
        .filter_map(|value| match value {
            serde_json::Value::String(s) if !s.trim().is_empty() => Some(DciDate::parse(&s)),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_written_with_an_offset() {
        let ts = DciTimestamp::parse_lenient("2023-07-19T12:15:04.555Z").expect("timestamp");
        assert_eq!(ts.to_string(), "2023-07-19T12:15:04.555+00:00");
        let naive = DciTimestamp::parse_lenient("2024-04-12T00:00").expect("timestamp");
        assert_eq!(naive.to_string(), "2024-04-12T00:00:00+00:00");
        let offset = DciTimestamp::parse_lenient("2022-12-04T17:20:07-04:00").expect("timestamp");
        assert_eq!(offset.to_string(), "2022-12-04T17:20:07-04:00");
        assert!(DciTimestamp::parse_strict("2024-04-12T00:00").is_err());
        assert!(DciTimestamp::parse_lenient("yesterday").is_err());
    }

    #[test]
    fn record_dates_keep_what_they_cannot_read() {
        assert_eq!(DciDate::parse("1990-05-15").date(), NaiveDate::from_ymd_opt(1990, 5, 15));
        assert_eq!(DciDate::parse("02.05.2024").date(), NaiveDate::from_ymd_opt(2024, 5, 2));
        assert_eq!(DciDate::parse("1980-03-23T10:20:15").date(), NaiveDate::from_ymd_opt(1980, 3, 23));
        assert_eq!(DciDate::parse("spring 1950"), DciDate::Unreadable("spring 1950".into()));
    }
}
