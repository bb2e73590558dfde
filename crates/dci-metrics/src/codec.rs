//! The one binary encoding of a cached lookup, shared by snapshot files and
//! the shared tier: compact, typed by the catalog (a value carries its kind,
//! not its metric's name), and read defensively (a damaged record is an
//! error, never a panic or a wrong value).

use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};

use crate::cause::UnknownCause;
use crate::entry::Cached;
use crate::value::{MetricValue, Timeline};

/// Why bytes could not be read as a record.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct CodecError(pub(crate) String);

fn damaged(message: impl Into<String>) -> CodecError {
    CodecError(message.into())
}

/// The longest string a record may hold.
const MAX_TEXT: usize = 1 << 20;

/// Appends `bytes`, preceded by their length.
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn put_value(out: &mut Vec<u8>, value: &MetricValue) {
    match value {
        MetricValue::Bool(b) => out.extend_from_slice(&[0, u8::from(*b)]),
        MetricValue::Int(n) => {
            out.push(1);
            out.extend_from_slice(&n.to_le_bytes());
        }
        MetricValue::Double(x) => {
            out.push(2);
            out.extend_from_slice(&x.to_le_bytes());
        }
        MetricValue::String(s) => {
            out.push(3);
            put_bytes(out, s.as_bytes());
        }
        MetricValue::Timestamp(t) => {
            out.push(4);
            out.extend_from_slice(&t.timestamp().to_le_bytes());
            out.extend_from_slice(&t.timestamp_subsec_nanos().to_le_bytes());
            out.extend_from_slice(&t.offset().local_minus_utc().to_le_bytes());
        }
        MetricValue::Null => out.push(5),
        MetricValue::StringList(items) => {
            out.push(6);
            out.extend_from_slice(&(items.len() as u32).to_le_bytes());
            for item in items.iter() {
                put_bytes(out, item.as_bytes());
            }
        }
        MetricValue::NotRecorded => out.push(7),
        MetricValue::Unusable(unusable) => {
            out.push(8);
            let cause = UnknownCause::ALL.iter().position(|c| *c == unusable.cause).unwrap_or_default();
            out.push(u8::try_from(cause).unwrap_or_default());
            put_bytes(out, unusable.detail.as_bytes());
        }
        MetricValue::Dated(timeline) => {
            out.push(9);
            put_value(out, timeline.first());
            out.extend_from_slice(&(timeline.changes().len() as u32).to_le_bytes());
            for (from, value) in timeline.changes() {
                out.extend_from_slice(&from.num_days_from_ce().to_le_bytes());
                put_value(out, value);
            }
        }
    }
}

/// Appends the record of `cached`: when it was fetched, and its facts or "not found".
pub(crate) fn put_cached(out: &mut Vec<u8>, cached: &Cached) {
    out.extend_from_slice(&cached.fetched_at.to_le_bytes());
    match &cached.facts {
        None => out.push(0),
        Some(facts) => {
            out.push(1);
            out.extend_from_slice(&(facts.len() as u32).to_le_bytes());
            for value in facts.iter() {
                put_value(out, value);
            }
        }
    }
}

/// Reads records from bytes held in memory.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// How many bytes are left to read.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    pub(crate) fn bytes(&mut self, count: usize) -> Result<&'a [u8], CodecError> {
        if self.rest.len() < count {
            return Err(damaged("it ends in the middle of an entry"));
        }
        let (taken, rest) = self.rest.split_at(count);
        self.rest = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut buf = [0u8; N];
        buf.copy_from_slice(self.bytes(N)?);
        Ok(buf)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Bytes written by [`put_bytes`].
    pub(crate) fn sized(&mut self) -> Result<&'a [u8], CodecError> {
        let length = self.u32()? as usize;
        if length > MAX_TEXT {
            return Err(damaged("a string longer than 1 MiB"));
        }
        self.bytes(length)
    }

    pub(crate) fn text(&mut self) -> Result<&'a str, CodecError> {
        std::str::from_utf8(self.sized()?).map_err(|_| damaged("text is not UTF-8"))
    }

    fn value(&mut self) -> Result<MetricValue, CodecError> {
        match self.u8()? {
            9 => {
                let first = self.plain_value()?;
                let count = self.u32()? as usize;
                // Each change takes at least its 4-byte date and a 1-byte value.
                if count > self.rest.len() / 5 {
                    return Err(damaged(
                        "a timeline longer than the bytes left: it ends in the middle of an entry, or was altered",
                    ));
                }
                let mut changes: Vec<(NaiveDate, MetricValue)> = Vec::with_capacity(count);
                for _ in 0..count {
                    let days = i32::from_le_bytes(self.array()?);
                    let from = NaiveDate::from_num_days_from_ce_opt(days).ok_or_else(|| damaged("bad date"))?;
                    if changes.last().is_some_and(|(last, _)| *last >= from) {
                        return Err(damaged("a timeline whose dates do not ascend"));
                    }
                    changes.push((from, self.plain_value()?));
                }
                Timeline::new(first, changes).map(MetricValue::Dated).ok_or_else(|| damaged("a timeline that nests"))
            }
            tag => self.plain_value_tagged(tag),
        }
    }

    /// A value that is not a timeline (a timeline's own values).
    fn plain_value(&mut self) -> Result<MetricValue, CodecError> {
        let tag = self.u8()?;
        self.plain_value_tagged(tag)
    }

    fn plain_value_tagged(&mut self, tag: u8) -> Result<MetricValue, CodecError> {
        Ok(match tag {
            0 => MetricValue::Bool(self.u8()? != 0),
            1 => MetricValue::Int(i64::from_le_bytes(self.array()?)),
            2 => MetricValue::Double(f64::from_le_bytes(self.array()?)),
            3 => MetricValue::String(Arc::from(self.text()?)),
            4 => {
                let seconds = i64::from_le_bytes(self.array()?);
                let nanos = self.u32()?;
                let offset = i32::from_le_bytes(self.array()?);
                let offset = FixedOffset::east_opt(offset).ok_or_else(|| damaged("bad UTC offset"))?;
                let instant = DateTime::from_timestamp(seconds, nanos).ok_or_else(|| damaged("bad timestamp"))?;
                MetricValue::Timestamp(instant.with_timezone(&offset))
            }
            5 => MetricValue::Null,
            6 => {
                let count = self.u32()? as usize;
                // Each item takes at least its 4-byte length: a count the bytes cannot hold is damage.
                if count > self.rest.len() / 4 {
                    return Err(damaged(
                        "a list longer than the bytes left: it ends in the middle of an entry, or was altered",
                    ));
                }
                MetricValue::StringList((0..count).map(|_| self.text().map(Arc::from)).collect::<Result<_, _>>()?)
            }
            7 => MetricValue::NotRecorded,
            8 => {
                let cause = *UnknownCause::ALL.get(usize::from(self.u8()?)).ok_or_else(|| damaged("unknown cause"))?;
                MetricValue::unusable(cause, self.text()?)
            }
            other => return Err(damaged(format!("unknown value tag {other}"))),
        })
    }

    /// A record written by [`put_cached`], whose facts must number `fields`
    /// (the metrics of its registry in this catalog).
    pub(crate) fn cached(&mut self, fields: usize) -> Result<Cached, CodecError> {
        let fetched_at = self.u64()?;
        let facts = match self.u8()? {
            0 => None,
            1 => {
                let count = self.u32()? as usize;
                if count != fields {
                    return Err(damaged(format!("{count} values where the registry has {fields} metrics")));
                }
                let values = (0..count).map(|_| self.value()).collect::<Result<Vec<_>, _>>()?;
                Some(Arc::from(values))
            }
            other => return Err(damaged(format!("unknown record kind {other}"))),
        };
        Ok(Cached { facts, fetched_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_as_written_and_damage_is_an_error() {
        let stamp = DateTime::parse_from_rfc3339("1950-03-02T00:00:00+02:00").expect("date");
        let facts: Vec<MetricValue> = vec![
            MetricValue::Bool(true),
            MetricValue::Int(-3),
            MetricValue::Double(0.5),
            MetricValue::String(Arc::from("é")),
            MetricValue::Timestamp(stamp),
            MetricValue::Null,
            MetricValue::strings(["A", "B"]),
            MetricValue::NotRecorded,
            MetricValue::unusable(UnknownCause::AmbiguousRecord, "two death dates"),
            MetricValue::Dated(
                Timeline::new(
                    MetricValue::Bool(true),
                    vec![
                        (
                            NaiveDate::from_ymd_opt(2025, 6, 1).expect("date"),
                            MetricValue::unusable(UnknownCause::Undated, "x"),
                        ),
                        (NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"), MetricValue::Bool(false)),
                    ],
                )
                .expect("a timeline"),
            ),
        ];
        let cached = Cached { facts: Some(Arc::from(facts.clone())), fetched_at: 42 };
        let mut bytes = Vec::new();
        put_cached(&mut bytes, &cached);
        let read = Reader::new(&bytes).cached(facts.len()).expect("reads");
        assert_eq!((read.fetched_at, read.facts.as_deref()), (42, Some(&facts[..])));
        assert!(Reader::new(&bytes).cached(3).is_err(), "another registry's shape");
        for cut in 0..bytes.len() {
            assert!(Reader::new(&bytes[..cut]).cached(facts.len()).is_err(), "cut at {cut}");
        }
        let mut huge_list = Vec::new();
        put_cached(
            &mut huge_list,
            &Cached { facts: Some(Arc::from(vec![MetricValue::strings(["x"])])), fetched_at: 1 },
        );
        // The list's count, raised past what the record holds.
        let at = 8 + 1 + 4 + 1;
        huge_list[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Reader::new(&huge_list).cached(1).is_err());
    }
}
