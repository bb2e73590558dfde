//! The audit of lookups: one record per request that reads registry facts
//! (who asked, by which route, with which rule, as of when, how much each
//! registry was asked, and a keyed hash of each identifier asked about).
//!
//! An identifier is recorded as `HMAC-SHA256(secret, "TYPE:value")` (the
//! type in capitals): the log alone discloses no one, and an auditor holding
//! the secret can check whether a given person was looked up
//! (`elig audit find --identifier TYPE:VALUE`). Records go to an NDJSON file,
//! rotated by size, or to standard output as NDJSON lines (whatever the log
//! filter: the server's logs go to standard error); a record
//! that cannot be written withholds the answer (503 `audit_unavailable`), so
//! no lookup goes unrecorded.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::http::StatusCode;
use dci_client::{Secret, SecretSource};
use dci_eligibility::{Beneficiary, Rule};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::access::Caller;
use crate::error::{ApiError, ErrorCode};

/// `[server.audit]`: where audit records go and the secret identifiers are hashed under.
///
/// ```toml
/// [server.audit]
/// file = "/var/log/elig/audit.ndjson"   # absent: standard output, as log lines
/// max_file_bytes = 104857600            # rotate past this size (audit.ndjson.1, .2, ...)
/// keep_files = 10
/// secret = { env = "ELIG_AUDIT_SECRET" }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The NDJSON file; absent: standard output (one JSON line per record).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// The size past which the file is rotated, in bytes (default 100 MiB).
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
    /// Rotated files kept beside the current one (default 10).
    #[serde(default = "default_keep_files")]
    pub keep_files: u32,
    /// The key of the identifiers' HMAC.
    pub secret: SecretSource,
}

fn default_max_file_bytes() -> u64 {
    100 * 1024 * 1024
}

fn default_keep_files() -> u32 {
    10
}

/// One audit record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When (UTC, RFC 3339).
    pub time: String,
    /// The API key's name.
    pub key: String,
    /// The route: `POST /v1/explain`.
    pub route: String,
    /// The request's `X-Request-Id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The SHA-256 of each rule's text, in the request's order.
    pub rules_sha256: Vec<String>,
    /// The as-of date.
    pub as_of: String,
    /// Beneficiaries decided.
    pub beneficiaries: usize,
    /// Per registry the rules read: how many persons they ask it about.
    pub registries: BTreeMap<String, RegistryCounts>,
    /// The keyed hash of each identifier asked about (absent without a secret).
    pub identifiers: Vec<String>,
}

/// How much one registry is asked, for one request. The record is written before any lookup
/// (so that none goes unrecorded): this is what the rules may read, and what a decision did not
/// need is not looked up, and a fact in a cache is not fetched again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryCounts {
    /// Persons the rules ask it about (registrants, members).
    pub persons: u64,
}

/// Where records go.
enum Sink {
    /// Standard output, one JSON line each.
    Stdout,
    /// An NDJSON file, rotated by size.
    File(Mutex<RotatingFile>),
}

struct RotatingFile {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    keep: u32,
}

impl RotatingFile {
    fn open(path: &Path, max_bytes: u64, keep: u32) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(RotatingFile { path: path.to_owned(), file, size, max_bytes, keep })
    }

    fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        // Another process (a second replica on the same volume, logrotate) may have moved the
        // file: records written to the moved one could be deleted with it. Write to the path's.
        if self.moved() {
            *self = RotatingFile::open(&self.path, self.max_bytes, self.keep)?;
        }
        if self.size > 0 && self.size + line.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(line)?;
        self.file.flush()?;
        self.size += line.len() as u64;
        Ok(())
    }

    /// Whether the open file is no longer the one at the path (moved or deleted by another process).
    #[cfg(unix)]
    fn moved(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (self.file.metadata(), std::fs::metadata(&self.path)) {
            (Ok(open), Ok(named)) => (open.dev(), open.ino()) != (named.dev(), named.ino()),
            _ => true,
        }
    }

    #[cfg(not(unix))]
    fn moved(&self) -> bool {
        !self.path.exists()
    }

    /// `file` becomes `file.1`, `file.1` becomes `file.2`, …; the oldest past `keep` is removed.
    fn rotate(&mut self) -> std::io::Result<()> {
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            let _ = std::fs::remove_file(numbered(self.keep));
            for n in (1..self.keep).rev() {
                let from = numbered(n);
                if from.exists() {
                    std::fs::rename(&from, numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, numbered(1))?;
        }
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// The audit log of a server.
pub struct AuditLog {
    sink: Sink,
    secret: Option<Secret>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sink = match &self.sink {
            Sink::Stdout => "standard output".to_owned(),
            Sink::File(file) => match file.lock() {
                Ok(file) => file.path.display().to_string(),
                Err(_) => "file".to_owned(),
            },
        };
        f.debug_struct("AuditLog").field("sink", &sink).field("hashed", &self.secret.is_some()).finish()
    }
}

impl AuditLog {
    /// The log `config` describes; without one, records go to standard output without identifiers.
    pub fn open(config: Option<&AuditConfig>) -> Result<Self, String> {
        let Some(config) = config else { return Ok(AuditLog { sink: Sink::Stdout, secret: None }) };
        let secret = config.secret.resolve("server.audit.secret")?;
        if secret.expose().len() < 16 {
            return Err("server.audit.secret: use at least 16 characters (32 random bytes, base64, is best)".into());
        }
        let sink = match &config.file {
            Some(path) => Sink::File(Mutex::new(
                RotatingFile::open(path, config.max_file_bytes.max(1), config.keep_files)
                    .map_err(|error| format!("server.audit.file {}: {error}", path.display()))?,
            )),
            None => Sink::Stdout,
        };
        Ok(AuditLog { sink, secret: Some(secret) })
    }

    /// Where records go, for the startup log.
    pub fn describe(&self) -> String {
        let hashed = if self.secret.is_some() {
            "identifiers hashed under server.audit.secret"
        } else {
            "no [server.audit] secret: records carry no identifier hashes"
        };
        match &self.sink {
            Sink::Stdout => format!("audit records to standard output ({hashed})"),
            Sink::File(file) => match file.lock() {
                Ok(file) => format!("audit records to {} ({hashed})", file.path.display()),
                Err(_) => format!("audit records to a file ({hashed})"),
            },
        }
    }

    /// The record of a request by `caller` on `route` about to decide
    /// `beneficiaries` by `rules` (reading registries) asking about `asked`
    /// ([`asked_identifiers`]), its identifiers not yet hashed; `None` when the
    /// rules read no registry. Cheap: the hashing and
    /// the writing are [`AuditLog::write_pending`]'s, for the pool.
    pub(crate) fn pending<'a, I>(&self, request: Audited<'_, 'a, I>, asked: &[(&str, &str)]) -> Option<Pending>
    where
        I: Iterator<Item = &'a Beneficiary>,
    {
        if !reads_registries(request.rules) {
            return None;
        }
        // Each registry once per person, however many of the rules read it.
        let demanded = |of: fn(&Rule) -> &Vec<String>| {
            request.rules.iter().flat_map(|rule| of(rule).iter().cloned()).collect::<std::collections::BTreeSet<_>>()
        };
        let (of_registrant, of_members) = (demanded(|r| &r.demand().registrant), demanded(|r| &r.demand().members));
        let mut registries: BTreeMap<String, RegistryCounts> = BTreeMap::new();
        let mut beneficiaries = 0;
        for beneficiary in request.beneficiaries {
            beneficiaries += 1;
            let asked =
                of_registrant.iter().map(|r| (r, 1)).chain(of_members.iter().map(|r| (r, beneficiary.member_count())));
            for (registry, persons) in asked {
                registries.entry(registry.clone()).or_default().persons += persons as u64;
            }
        }
        let asked = match self.secret {
            Some(_) => asked.iter().map(|(kind, value)| ((*kind).to_owned(), (*value).to_owned())).collect(),
            None => Vec::new(),
        };
        let record = AuditRecord {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            key: request.caller.name.clone(),
            route: request.route.to_owned(),
            request_id: request.request_id.map(str::to_owned),
            rules_sha256: request.rules.iter().map(|rule| hex(&Sha256::digest(rule.source().as_bytes()))).collect(),
            as_of: request.as_of.to_string(),
            beneficiaries,
            registries,
            identifiers: Vec::new(),
        };
        Some(Pending { record, asked })
    }

    /// Hashes the identifiers of `pending` (each once) and writes its record;
    /// 503 `audit_unavailable` when it cannot be written. Blocking: run it on the pool.
    pub(crate) fn write_pending(&self, pending: Pending) -> Result<(), ApiError> {
        let Pending { mut record, asked } = pending;
        if let Some(secret) = &self.secret {
            let hashes: std::collections::BTreeSet<String> =
                asked.iter().map(|(kind, value)| identifier_hash(secret, kind, value)).collect();
            record.identifiers = hashes.into_iter().collect();
        }
        self.write(&record).map_err(|error| {
            tracing::error!(target: "elig::audit", %error, "an audit record could not be written: the answer is withheld");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::AuditUnavailable,
                "the audit record of this request could not be written, so its answer is withheld; retry later",
            )
            .retry_after(5)
        })
    }

    fn write(&self, record: &AuditRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        match &self.sink {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(&line)?;
                out.flush()
            }
            Sink::File(file) => {
                file.lock().map_err(|_| std::io::Error::other("the audit file's lock is poisoned"))?.write_line(&line)
            }
        }
    }
}

/// An audit record not written yet: the identifiers asked about, to hash.
pub(crate) struct Pending {
    record: AuditRecord,
    asked: Vec<(String, String)>,
}

/// Whether any of `rules` reads a registry.
pub(crate) fn reads_registries(rules: &[Rule]) -> bool {
    rules.iter().any(|rule| !rule.demand().registrant.is_empty() || !rule.demand().members.is_empty())
}

/// What an audit record is made of.
pub(crate) struct Audited<'r, 'a, I> {
    pub(crate) caller: &'r Caller,
    pub(crate) route: &'r str,
    pub(crate) request_id: Option<&'r str>,
    pub(crate) rules: &'a [Rule],
    pub(crate) as_of: chrono::NaiveDate,
    /// The beneficiaries about to be decided.
    pub(crate) beneficiaries: I,
}

/// The identifiers `rules` ask the registries about, `(TYPE, value)`: the
/// registrants' when a rule reads the registrant's facts, the members' when
/// one reads the members'.
pub(crate) fn asked_identifiers<'a>(
    rules: &'a [Rule],
    beneficiaries: impl IntoIterator<Item = &'a Beneficiary> + 'a,
) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    let registrant = rules.iter().any(|rule| !rule.demand().registrant.is_empty());
    let members = rules.iter().any(|rule| !rule.demand().members.is_empty());
    beneficiaries.into_iter().flat_map(move |beneficiary| {
        let own = registrant.then_some(beneficiary).into_iter();
        // Members are built only where a rule reads them.
        let theirs = if members { beneficiary.members() } else { &[] }.iter();
        own.chain(theirs).flat_map(|person| {
            person.identifiers.iter().map(|id| (id.identifier_type.as_str(), id.identifier_value.as_str()))
        })
    })
}

/// The keyed hash of an identifier: hex of `HMAC-SHA256(secret, "TYPE:value")`.
pub fn identifier_hash(secret: &Secret, kind: &str, value: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        unreachable!("HMAC takes a key of any length")
    };
    mac.update(kind.to_ascii_uppercase().as_bytes());
    mac.update(b":");
    mac.update(value.as_bytes());
    hex(&mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The files of an audit log, oldest first: `file.N`, …, `file.1`, `file`.
pub fn audit_files(file: &Path) -> Vec<PathBuf> {
    let mut rotated: Vec<(u32, PathBuf)> = Vec::new();
    if let (Some(dir), Some(name)) = (file.parent(), file.file_name().and_then(|n| n.to_str())) {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let entry_name = entry.file_name();
                let Some(rest) =
                    entry_name.to_str().and_then(|n| n.strip_prefix(name)).and_then(|r| r.strip_prefix('.'))
                else {
                    continue;
                };
                if let Ok(n) = rest.parse::<u32>() {
                    rotated.push((n, entry.path()));
                }
            }
        }
    }
    rotated.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    let mut files: Vec<PathBuf> = rotated.into_iter().map(|(_, path)| path).collect();
    if file.exists() {
        files.push(file.to_owned());
    }
    files
}

/// The records of the log at `file` (and its rotated files) that name the
/// identifier `kind:value` under `secret`, oldest first.
pub fn find(file: &Path, secret: &Secret, kind: &str, value: &str) -> std::io::Result<Vec<AuditRecord>> {
    let wanted = identifier_hash(secret, kind, value);
    let files = audit_files(file);
    if files.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no audit log at {} (nor rotated files beside it)", file.display()),
        ));
    }
    let mut found = Vec::new();
    for path in files {
        // A file rotated away since the listing is read under its new name, or was the oldest.
        let opened = match File::open(&path) {
            Ok(opened) => opened,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        for line in BufReader::new(opened).lines() {
            let line = line?;
            if !line.contains(&wanted) {
                continue;
            }
            if let Ok(record) = serde_json::from_str::<AuditRecord>(&line)
                && record.identifiers.contains(&wanted)
            {
                found.push(record);
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_past_its_size_is_rotated_and_the_oldest_past_keep_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.ndjson");
        let mut file = RotatingFile::open(&path, 100, 2).expect("opens");
        for n in 0..8 {
            file.write_line(format!("{{\"n\": {n}, \"pad\": \"{}\"}}\n", "x".repeat(40)).as_bytes()).expect("writes");
        }
        let names: Vec<String> = audit_files(&path)
            .iter()
            .map(|p| p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned())
            .collect();
        assert_eq!(names, ["audit.ndjson.2", "audit.ndjson.1", "audit.ndjson"], "oldest first, two kept");
        let last = std::fs::read_to_string(&path).expect("reads");
        assert!(last.contains("\"n\": 7") && last.len() <= 100, "{last}");
        let oldest = std::fs::read_to_string(dir.path().join("audit.ndjson.2")).expect("reads");
        assert!(oldest.contains("\"n\": 5"), "one line a file: the two before the last kept: {oldest}");
    }

    /// A second writer rotating the same file (another replica on the volume, logrotate) does not
    /// make this one write into a file rotated away and later deleted.
    #[test]
    fn a_file_moved_by_another_writer_is_reopened_at_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.ndjson");
        let mut mine = RotatingFile::open(&path, 1 << 20, 1).expect("opens");
        mine.write_line(b"{\"n\": 1}\n").expect("writes");
        std::fs::rename(&path, dir.path().join("audit.ndjson.1")).expect("rotated by another");
        mine.write_line(b"{\"n\": 2}\n").expect("writes");
        assert_eq!(std::fs::read_to_string(&path).expect("reads"), "{\"n\": 2}\n");
    }

    #[test]
    fn identifiers_are_hashed_by_type_in_any_case_and_value() {
        let secret = Secret::new("an audit secret of some length");
        let other = Secret::new("another secret of some length");
        assert_eq!(identifier_hash(&secret, "uin", "1"), identifier_hash(&secret, "UIN", "1"));
        assert_ne!(identifier_hash(&secret, "UIN", "1"), identifier_hash(&secret, "UIN", "2"));
        assert_ne!(identifier_hash(&secret, "UIN", "1"), identifier_hash(&secret, "BRN", "1"));
        assert_ne!(identifier_hash(&secret, "UIN", "1"), identifier_hash(&other, "UIN", "1"));
        assert_eq!(identifier_hash(&secret, "UIN", "1").len(), 64);
    }
}
