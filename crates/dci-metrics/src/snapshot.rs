//! Saving the fact cache to a file and restoring it, so that a later run
//! (`elig eval --cache-file`) starts warm. Entries keep their original fetch
//! time: what has expired since is dropped on load, and the rest expires when
//! it would have.
//!
//! The format is a small binary one (a magic line, the registry ids, then one
//! record per entry); values are typed by the catalog, so a file written by a
//! deployment with other registries or metrics is refused rather than misread.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};

use crate::catalog::Catalog;
use crate::store::{CacheKey, Cached, MetricStore, registry_of_key, unix_now};
use crate::value::MetricValue;

const MAGIC: &[u8] = b"ELIG-FACTS 1\n";

/// What a snapshot operation did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotReport {
    /// Entries written or restored.
    pub entries: u64,
    /// Entries skipped on load because they had expired.
    pub expired: u64,
}

/// Why a snapshot could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be read or written.
    #[error("fact cache file: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not a fact cache, or is damaged.
    #[error("fact cache file: {0}")]
    Format(String),
}

fn format(message: impl Into<String>) -> SnapshotError {
    SnapshotError::Format(message.into())
}

fn write_bytes(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(&(bytes.len() as u32).to_le_bytes())?;
    out.write_all(bytes)
}

fn write_value(out: &mut impl Write, value: &MetricValue) -> std::io::Result<()> {
    match value {
        MetricValue::Bool(b) => out.write_all(&[0, u8::from(*b)]),
        MetricValue::Int(n) => {
            out.write_all(&[1])?;
            out.write_all(&n.to_le_bytes())
        }
        MetricValue::Double(x) => {
            out.write_all(&[2])?;
            out.write_all(&x.to_le_bytes())
        }
        MetricValue::String(s) => {
            out.write_all(&[3])?;
            write_bytes(out, s.as_bytes())
        }
        MetricValue::Timestamp(t) => {
            out.write_all(&[4])?;
            out.write_all(&t.timestamp().to_le_bytes())?;
            out.write_all(&t.timestamp_subsec_nanos().to_le_bytes())?;
            out.write_all(&t.offset().local_minus_utc().to_le_bytes())
        }
        MetricValue::Null => out.write_all(&[5]),
        MetricValue::StringList(items) => {
            out.write_all(&[6])?;
            out.write_all(&(items.len() as u32).to_le_bytes())?;
            items.iter().try_for_each(|item| write_bytes(out, item.as_bytes()))
        }
        MetricValue::NotRecorded => out.write_all(&[7]),
    }
}

/// Reads a snapshot held in memory (one read of the whole file: no per-field I/O).
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, count: usize) -> Result<&'a [u8], SnapshotError> {
        if self.rest.len() < count {
            return Err(format("the file ends in the middle of an entry"));
        }
        let (taken, rest) = self.rest.split_at(count);
        self.rest = rest;
        Ok(taken)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let mut buf = [0u8; N];
        buf.copy_from_slice(self.bytes(N)?);
        Ok(buf)
    }
    fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn text(&mut self) -> Result<&'a str, SnapshotError> {
        let length = self.u32()? as usize;
        if length > 1 << 20 {
            return Err(format("a string longer than 1 MiB"));
        }
        std::str::from_utf8(self.bytes(length)?).map_err(|_| format("text is not UTF-8"))
    }
    fn value(&mut self) -> Result<MetricValue, SnapshotError> {
        Ok(match self.u8()? {
            0 => MetricValue::Bool(self.u8()? != 0),
            1 => MetricValue::Int(i64::from_le_bytes(self.array()?)),
            2 => MetricValue::Double(f64::from_le_bytes(self.array()?)),
            3 => MetricValue::String(Arc::from(self.text()?)),
            4 => {
                let seconds = i64::from_le_bytes(self.array()?);
                let nanos = self.u32()?;
                let offset = i32::from_le_bytes(self.array()?);
                let offset = FixedOffset::east_opt(offset).ok_or_else(|| format("bad UTC offset"))?;
                let instant = DateTime::from_timestamp(seconds, nanos).ok_or_else(|| format("bad timestamp"))?;
                MetricValue::Timestamp(instant.with_timezone(&offset))
            }
            5 => MetricValue::Null,
            6 => {
                let count = self.u32()? as usize;
                MetricValue::StringList((0..count).map(|_| self.text().map(Arc::from)).collect::<Result<_, _>>()?)
            }
            7 => MetricValue::NotRecorded,
            other => return Err(format(format!("unknown value tag {other}"))),
        })
    }
}

fn registry_line(catalog: &Catalog) -> String {
    catalog
        .registries()
        .iter()
        .map(|r| format!("{}:{}", r.id, r.metrics.iter().map(|m| m.field).collect::<Vec<_>>().join(",")))
        .collect::<Vec<_>>()
        .join(" ")
}

impl MetricStore {
    /// Writes every cached fact to `path` (replacing it).
    pub fn save_snapshot(&self, path: &Path) -> Result<SnapshotReport, SnapshotError> {
        let temporary = path.with_extension("tmp");
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&temporary)?);
        out.write_all(MAGIC)?;
        write_bytes(&mut out, registry_line(self.catalog()).as_bytes())?;
        let mut report = SnapshotReport::default();
        for (key, cached) in self.cache.entries() {
            write_bytes(&mut out, key.as_bytes())?;
            out.write_all(&cached.fetched_at.to_le_bytes())?;
            match &cached.facts {
                None => out.write_all(&[0])?,
                Some(facts) => {
                    out.write_all(&[1])?;
                    out.write_all(&(facts.len() as u32).to_le_bytes())?;
                    for value in facts.iter() {
                        write_value(&mut out, value)?;
                    }
                }
            }
            report.entries += 1;
        }
        out.flush()?;
        drop(out);
        std::fs::rename(&temporary, path)?;
        Ok(report)
    }

    /// Loads into the cache the facts of a file written by
    /// [`MetricStore::save_snapshot`] that have not expired since; each keeps
    /// its original fetch time. It reads and parses the whole file at once:
    /// from async code, call it through `spawn_blocking`.
    pub fn load_snapshot(&self, path: &Path) -> Result<SnapshotReport, SnapshotError> {
        let file = std::fs::read(path)?;
        let mut reader = Reader { rest: &file };
        if reader.bytes(MAGIC.len()).ok() != Some(MAGIC) {
            return Err(format(format!("{} is not an elig fact cache", path.display())));
        }
        if reader.text()? != registry_line(self.catalog()) {
            return Err(format("written for other registries or metrics; delete it to start afresh"));
        }
        let now = unix_now();
        let mut report = SnapshotReport::default();
        let mut values: Vec<MetricValue> = Vec::new();
        while !reader.rest.is_empty() {
            let key = reader.text()?;
            let fetched_at = reader.u64()?;
            let found = reader.u8()? != 0;
            values.clear();
            if found {
                let count = reader.u32()? as usize;
                for _ in 0..count {
                    values.push(reader.value()?);
                }
            }
            let Some(registry) = self.catalog().registry_indices().nth(registry_of_key(key)) else {
                return Err(format("an entry of a registry this catalog does not have"));
            };
            if !self.cache.ttls().fresh(registry, found, fetched_at, now) {
                report.expired += 1;
                continue;
            }
            let facts = found.then(|| Arc::from(values.as_slice()));
            self.cache.insert(CacheKey::from(key), Cached { facts, fetched_at });
            report.entries += 1;
        }
        Ok(report)
    }
}
