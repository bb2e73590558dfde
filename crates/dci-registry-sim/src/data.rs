//! Loaded, indexed records of one registry.
//!
//! Records are kept as their JSON text in one contiguous buffer (no per-record
//! allocation); every identifier of every record is indexed in a hash map from
//! `(TYPE, value)` to the records carrying it, so an `idtype-value` lookup is
//! one hash probe whatever the number of records.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use dci_protocol::records::{CrvsPerson, DisabilityRecord, IbrBeneficiary, Identifier};
use serde_json::Value;

use crate::{LoadError, RegistryKind};

/// The records of one registry, indexed by identifier.
pub struct RegistryData {
    kind: RegistryKind,
    /// The records' JSON texts: the NDJSON file as read.
    text: String,
    /// Start and end offsets in `text` of each record.
    spans: Vec<(usize, usize)>,
    /// `TYPE\u{1f}value` → the records carrying that identifier.
    index: HashMap<Box<str>, Hits>,
    /// The identifier types met (upper case), for lookups by value alone.
    id_types: Vec<String>,
}

/// Record positions sharing one identifier; almost always one.
enum Hits {
    One(u32),
    Many(Box<[u32]>),
}

impl Hits {
    fn as_slice(&self) -> &[u32] {
        match self {
            Hits::One(one) => std::slice::from_ref(one),
            Hits::Many(many) => many,
        }
    }
}

const SEPARATOR: char = '\u{1f}';

fn index_key(id_type: &str, value: &str) -> String {
    let id_type = id_type.trim();
    let value = value.trim();
    let mut key = String::with_capacity(id_type.len() + value.len() + 1);
    key.extend(id_type.chars().map(|c| c.to_ascii_uppercase()));
    key.push(SEPARATOR);
    key.push_str(value);
    key
}

/// The records a loading worker read from its chunk: their spans, and the
/// index keys of their identifiers with the record's position in the chunk.
#[derive(Default)]
struct Parsed {
    spans: Vec<(usize, usize)>,
    keys: Vec<(u32, Box<str>)>,
}

/// Reads the records of `text[from..to]`, whose first line is line `first_line`.
fn parse_chunk(
    kind: RegistryKind,
    text: &str,
    (from, to): (usize, usize),
    first_line: usize,
    file: &str,
) -> Result<Parsed, LoadError> {
    let mut parsed = Parsed::default();
    let mut offset = from;
    for (number, line) in text[from..to].split('\n').enumerate() {
        let line_start = offset;
        offset += line.len() + 1;
        let record = line.trim();
        if record.is_empty() {
            continue;
        }
        let bad = |message: String| LoadError::BadRecord {
            file: file.to_owned(),
            line: first_line + number,
            registry: kind,
            message,
        };
        if !record.starts_with('{') {
            return Err(bad("a record must be a JSON object".into()));
        }
        let identifiers = identifiers_of(kind, record).map_err(|e| bad(e.to_string()))?;
        let position = u32::try_from(parsed.spans.len()).map_err(|_| bad("too many records".into()))?;
        for identifier in identifiers {
            if !identifier.identifier_value.trim().is_empty() {
                let key = index_key(&identifier.identifier_type, &identifier.identifier_value);
                parsed.keys.push((position, key.into_boxed_str()));
            }
        }
        let start = line_start + (line.len() - line.trim_start().len());
        parsed.spans.push((start, start + record.len()));
    }
    Ok(parsed)
}

impl RegistryData {
    /// No records.
    pub fn empty(kind: RegistryKind) -> Self {
        RegistryData { kind, text: String::new(), spans: Vec::new(), index: HashMap::new(), id_types: Vec::new() }
    }

    /// Reads an NDJSON file, one record per line (blank lines skipped). Every
    /// record must read as a record of `kind`; the first that does not is
    /// reported with its file and line. Records are read by as many threads as
    /// there are cores.
    pub fn from_ndjson_file(kind: RegistryKind, path: &Path) -> Result<Self, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io { path: path.to_owned(), source })?;
        Self::from_text(kind, text, &path.display().to_string())
    }

    /// Takes records given in memory (tests inject records this way).
    pub fn from_records(kind: RegistryKind, records: Vec<Value>) -> Result<Self, LoadError> {
        let mut text = String::new();
        for (position, record) in records.iter().enumerate() {
            let line = serde_json::to_string(record).map_err(|e| LoadError::BadRecord {
                file: "<records>".into(),
                line: position + 1,
                registry: kind,
                message: e.to_string(),
            })?;
            text.push_str(&line);
            text.push('\n');
        }
        Self::from_text(kind, text, "<records>")
    }

    /// Reads `kind`'s file (`crvs.ndjson`, ...) in `dir`.
    pub fn from_dir(kind: RegistryKind, dir: &Path) -> Result<Self, LoadError> {
        Self::from_ndjson_file(kind, &dir.join(kind.file_name()))
    }

    fn from_text(kind: RegistryKind, text: String, file: &str) -> Result<Self, LoadError> {
        // Split at line ends into one chunk per worker; count the lines before each chunk.
        let workers = if text.len() < (1 << 20) {
            1
        } else {
            std::thread::available_parallelism().map(usize::from).unwrap_or(1).clamp(1, 8)
        };
        let mut chunks: Vec<((usize, usize), usize)> = Vec::with_capacity(workers);
        let (mut from, mut line) = (0, 1);
        for worker in 1..=workers {
            let target = if worker == workers { text.len() } else { text.len() * worker / workers };
            let to = if target >= text.len() {
                text.len()
            } else {
                text[target..].find('\n').map_or(text.len(), |n| target + n)
            };
            if to > from || worker == workers {
                chunks.push(((from, to.max(from)), line));
                line += text.as_bytes()[from..to.max(from)].iter().filter(|b| **b == b'\n').count() + 1;
                from = (to + 1).min(text.len()).max(from);
            }
        }
        let parsed: Vec<Result<Parsed, LoadError>> = if chunks.len() == 1 {
            chunks.iter().map(|(range, first)| parse_chunk(kind, &text, *range, *first, file)).collect()
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = chunks
                    .iter()
                    .map(|(range, first)| scope.spawn(|| parse_chunk(kind, &text, *range, *first, file)))
                    .collect();
                handles
                    .into_iter()
                    .map(|handle| {
                        handle.join().unwrap_or_else(|_| {
                            Err(LoadError::BadRecord {
                                file: file.to_owned(),
                                line: 0,
                                registry: kind,
                                message: "a loading thread failed".into(),
                            })
                        })
                    })
                    .collect()
            })
        };
        let parsed = parsed.into_iter().collect::<Result<Vec<_>, _>>()?;
        let records: usize = parsed.iter().map(|p| p.spans.len()).sum();
        if records >= u32::MAX as usize {
            return Err(LoadError::TooMany { file: file.to_owned() });
        }
        let keys: usize = parsed.iter().map(|p| p.keys.len()).sum();
        let mut data = RegistryData {
            kind,
            text,
            spans: Vec::with_capacity(records),
            index: HashMap::with_capacity(keys),
            id_types: Vec::new(),
        };
        for chunk in parsed {
            let base = data.spans.len() as u32;
            data.spans.extend_from_slice(&chunk.spans);
            for (position, key) in chunk.keys {
                data.insert(key, base + position);
            }
        }
        data.finish();
        Ok(data)
    }

    fn insert(&mut self, key: Box<str>, position: u32) {
        let id_type = &key[..key.find(SEPARATOR).unwrap_or(0)];
        if !self.id_types.iter().any(|t| t == id_type) {
            self.id_types.push(id_type.to_owned());
        }
        match self.index.get_mut(&key) {
            None => {
                self.index.insert(key, Hits::One(position));
            }
            Some(hits) => {
                let known = hits.as_slice();
                if known.last() != Some(&position) {
                    let mut more = known.to_vec();
                    more.push(position);
                    *hits = Hits::Many(more.into_boxed_slice());
                }
            }
        }
    }

    fn finish(&mut self) {
        self.text.shrink_to_fit();
        self.spans.shrink_to_fit();
        self.index.shrink_to_fit();
    }

    /// The registry these records belong to.
    pub fn kind(&self) -> RegistryKind {
        self.kind
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The JSON text of record `position` (in load order).
    pub fn record_text(&self, position: usize) -> Option<&str> {
        let (start, end) = *self.spans.get(position)?;
        self.text.get(start..end)
    }

    /// Record `position` as JSON.
    pub fn record(&self, position: usize) -> Option<Value> {
        self.record_text(position).and_then(|text| serde_json::from_str(text).ok())
    }

    /// Every record's text, in load order.
    pub fn texts(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).filter_map(|position| self.record_text(position))
    }

    /// Positions of the records carrying identifier `(id_type, value)`; the type
    /// matches ignoring ASCII case, surrounding spaces are ignored. One hash probe.
    pub fn lookup(&self, id_type: &str, value: &str) -> &[u32] {
        self.index.get(index_key(id_type, value).as_str()).map(Hits::as_slice).unwrap_or_default()
    }

    /// Positions of the records carrying `value` under any identifier type (for
    /// the enrolled / disabled checks, whose queries carry no type), in load order.
    pub fn lookup_any_type(&self, value: &str) -> Vec<u32> {
        let mut found: Vec<u32> = Vec::new();
        for id_type in &self.id_types {
            found.extend_from_slice(self.lookup(id_type, value));
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Bytes held by the record texts, the offsets and the index (estimate).
    pub fn approximate_bytes(&self) -> usize {
        let keys: usize = self.index.keys().map(|k| k.len()).sum();
        let many: usize = self
            .index
            .values()
            .map(|h| match h {
                Hits::One(_) => 0,
                Hits::Many(m) => m.len() * 4,
            })
            .sum();
        self.text.capacity()
            + self.spans.capacity() * std::mem::size_of::<(usize, usize)>()
            + self.index.capacity() * (std::mem::size_of::<(Box<str>, Hits)>() + 1)
            + keys
            + many
    }
}

/// Reads a record as its registry's record type and returns its identifiers.
pub(crate) fn identifiers_of(kind: RegistryKind, record: &str) -> Result<Vec<Identifier>, serde_json::Error> {
    Ok(match kind {
        RegistryKind::Crvs => serde_json::from_str::<CrvsPerson>(record)?.identifier,
        RegistryKind::Ibr => serde_json::from_str::<IbrBeneficiary>(record)?.identifiers(),
        RegistryKind::Dr => serde_json::from_str::<DisabilityRecord>(record)?.identifiers(),
    })
}

/// [`identifiers_of`] a record already read as JSON.
pub(crate) fn identifiers_in(kind: RegistryKind, record: &Value) -> Result<Vec<Identifier>, serde_json::Error> {
    use serde::Deserialize;
    Ok(match kind {
        RegistryKind::Crvs => CrvsPerson::deserialize(record)?.identifier,
        RegistryKind::Ibr => IbrBeneficiary::deserialize(record)?.identifiers(),
        RegistryKind::Dr => DisabilityRecord::deserialize(record)?.identifiers(),
    })
}

impl fmt::Debug for RegistryData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryData")
            .field("kind", &self.kind)
            .field("records", &self.len())
            .field("identifiers", &self.index.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn person(uin: &str, brn: Option<&str>) -> Value {
        let mut identifier = vec![json!({"identifier_type": "UIN", "identifier_value": uin})];
        if let Some(brn) = brn {
            identifier.push(json!({"identifier_type": "brn", "identifier_value": brn}));
        }
        json!({"identifier": identifier, "birth_date": "2000-01-01"})
    }

    #[test]
    fn every_identifier_is_indexed_and_types_ignore_case() {
        let data =
            RegistryData::from_records(RegistryKind::Crvs, vec![person("1", Some("B-1")), person("2", None)]).unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data.lookup("UIN", "2"), &[1]);
        assert_eq!(data.lookup("uin", " 1 "), &[0]);
        assert_eq!(data.lookup("BRN", "B-1"), &[0]);
        assert!(data.lookup("UIN", "3").is_empty());
        assert!(data.lookup("BRN", "1").is_empty(), "types are not interchangeable");
        assert_eq!(data.lookup_any_type("B-1"), vec![0]);
        assert_eq!(data.record(1).unwrap()["identifier"][0]["identifier_value"], "2");
    }

    #[test]
    fn several_records_may_share_an_identifier() {
        let enrolment = |programme: &str| {
            json!({"member": {"member_identifier": [{"identifier_type": "UIN", "identifier_value": "7"}]},
                   "programme_identifier": [{"programme_identifier": programme}], "enrollment_status": "1"})
        };
        let data = RegistryData::from_records(RegistryKind::Ibr, vec![enrolment("A"), enrolment("B")]).unwrap();
        assert_eq!(data.lookup("UIN", "7"), &[0, 1]);
    }

    #[test]
    fn large_files_are_read_in_parallel_chunks_keeping_order_and_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crvs.ndjson");
        let line = |i: usize| serde_json::to_string(&person(&i.to_string(), None)).unwrap();
        let mut text = String::new();
        for i in 0..30_000 {
            text.push_str(&line(i));
            text.push_str(if i % 1000 == 7 { "\n\n  \n" } else { "\n" });
        }
        assert!(text.len() > 2 << 20, "large enough for several workers");
        std::fs::write(&path, &text).unwrap();
        let data = RegistryData::from_ndjson_file(RegistryKind::Crvs, &path).unwrap();
        assert_eq!(data.len(), 30_000);
        for i in [0, 1, 7, 8, 14_999, 15_000, 29_999] {
            assert_eq!(data.lookup("UIN", &i.to_string()), &[i as u32], "record {i}");
            assert_eq!(data.record(i).unwrap()["identifier"][0]["identifier_value"], i.to_string());
        }
        // a bad record late in the file: the line number counts the blank lines too
        let bad_at = 29_500;
        let lines_before: usize = (0..bad_at).map(|i| if i % 1000 == 7 { 3 } else { 1 }).sum();
        let broken = text.replacen(&format!("{}\n", line(bad_at)), "{\"birth_date\": {\"a\": 1}}\n", 1);
        std::fs::write(&path, broken).unwrap();
        let error = RegistryData::from_ndjson_file(RegistryKind::Crvs, &path).unwrap_err().to_string();
        assert!(error.contains(&format!("crvs.ndjson:{}:", lines_before + 1)), "{error}");
    }

    #[test]
    fn a_bad_line_is_reported_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dr.ndjson");
        std::fs::write(
            &path,
            "{\"member_identifier\": [{\"identifier_type\": \"UIN\", \"identifier_value\": \"1\"}]}\n\n{\"disability_info\": [{\"disability_limitation_type\": \"VIS_SS\", \"functional_severity\": [9]}]}\n",
        )
        .unwrap();
        let error = RegistryData::from_ndjson_file(RegistryKind::Dr, &path).unwrap_err().to_string();
        assert!(error.contains("dr.ndjson:3:"), "{error}");
        assert!(error.contains("expected text, found an array"), "{error}");

        std::fs::write(&path, "[1, 2]\n").unwrap();
        let error = RegistryData::from_ndjson_file(RegistryKind::Dr, &path).unwrap_err().to_string();
        assert!(error.contains(":1:") && error.contains("object"), "{error}");
        let missing = RegistryData::from_ndjson_file(RegistryKind::Dr, &dir.path().join("nope.ndjson"));
        assert!(matches!(missing, Err(LoadError::Io { .. })));
    }
}
