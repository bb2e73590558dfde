//! Saving the fact cache to a file and restoring it, so that a later run
//! (`elig eval --cache-file`) starts warm. Entries keep their original fetch
//! time: what has expired since is dropped on load, and the rest expires when
//! it would have.
//!
//! The format is a small binary one: a magic line, whether the rest is
//! sealed, then the registry ids, who answered for each (its identity: base
//! URL, client and sender id), and one record per entry (see `codec.rs`);
//! values are typed by the catalog, so a file written by a deployment with
//! other registries or metrics is refused rather than misread, and the facts
//! of a registry that another endpoint (or none) now answers for are not
//! loaded. The file is written readable by its owner only, and sealed with
//! `[cache] encryption_key` when one is configured.

use std::io::Write;
use std::path::Path;

use crate::catalog::Catalog;
use crate::codec::{CodecError, Reader, put_bytes, put_cached};
use crate::entry::{CacheKey, Cached, registry_of_key, unix_now};
use crate::store::MetricStore;

const MAGIC: &[u8] = b"ELIG-FACTS 5\n";
/// Formats of files that do not say who answered, whose facts are not dated, or whose IBR facts
/// do not identify programmes: never loaded.
const OLDER_MAGICS: [&[u8]; 4] = [b"ELIG-FACTS 1\n", b"ELIG-FACTS 2\n", b"ELIG-FACTS 3\n", b"ELIG-FACTS 4\n"];
const PLAIN: u8 = 0;
const SEALED: u8 = 1;

/// What a snapshot operation did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SnapshotReport {
    /// Entries written or restored.
    pub entries: u64,
    /// Entries skipped on load because they had expired.
    pub expired: u64,
    /// Entries skipped on load because another endpoint, or none, now
    /// answers for their registry.
    pub ignored: u64,
    /// Why entries were ignored, one line per registry.
    pub notes: Vec<String>,
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

impl From<CodecError> for SnapshotError {
    fn from(error: CodecError) -> Self {
        SnapshotError::Format(error.0)
    }
}

/// Creates `path` for writing, readable and writable by its owner only.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn registry_line(catalog: &Catalog) -> String {
    catalog
        .registries()
        .iter()
        .map(|r| format!("{}:{}", r.id, r.metrics.iter().map(|m| m.field).collect::<Vec<_>>().join(",")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Entries handed at a time to the thread that stores a loaded file's facts.
const LOAD_BATCH: usize = 16_384;
/// Entries decoded before the cache makes room for the whole file: fewer than
/// [`LOAD_BATCH`], so that none is stored yet.
const RESERVE_AFTER: u64 = 4_096;
const _: () = assert!(RESERVE_AFTER < LOAD_BATCH as u64);

impl MetricStore {
    /// Writes every cached fact to `path` (replacing it), readable by its
    /// owner only, and sealed when an encryption key is configured.
    pub fn save_snapshot(&self, path: &Path) -> Result<SnapshotReport, SnapshotError> {
        let mut body = Vec::with_capacity(1 << 20);
        put_bytes(&mut body, registry_line(self.catalog()).as_bytes());
        for registry in self.catalog().registry_indices() {
            put_bytes(&mut body, self.identity(registry).unwrap_or_default().as_bytes());
        }
        let mut report = SnapshotReport::default();
        for (key, cached) in self.cache.entries() {
            put_bytes(&mut body, key.as_bytes());
            put_cached(&mut body, &cached);
            report.entries += 1;
        }
        let mut file = Vec::with_capacity(body.len() + 64);
        file.extend_from_slice(MAGIC);
        match &self.sealer {
            None => {
                file.push(PLAIN);
                file.extend_from_slice(&body);
            }
            Some(sealer) => {
                file.push(SEALED);
                sealer.seal(&body, MAGIC, &mut file);
            }
        }
        let temporary = path.with_extension("tmp");
        let mut out = create_private(&temporary)?;
        out.write_all(&file)?;
        out.sync_all()?;
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
        let body = self.snapshot_body(path, &file)?;
        let mut reader = Reader::new(&body);
        if reader.text()? != registry_line(self.catalog()) {
            return Err(format("written for other registries or metrics; delete it to start afresh"));
        }
        let mut report = SnapshotReport::default();
        let usable = self.usable_registries(&mut reader, &mut report)?;
        // Decoded here and stored by a second thread, in order: the file's order is kept (a later
        // entry of a key wins, and eviction past the capacity is as one after another), and the
        // batches in between are few.
        std::thread::scope(|scope| {
            let (sender, batches) = std::sync::mpsc::sync_channel::<Vec<(CacheKey, Cached)>>(2);
            scope.spawn(move || batches.into_iter().flatten().for_each(|(key, cached)| self.cache.insert(key, cached)));
            let mut batch = Vec::with_capacity(LOAD_BATCH);
            let decoded = self.decode_entries(&mut reader, &usable, &mut report, |key, cached| {
                batch.push((key, cached));
                if batch.len() == LOAD_BATCH {
                    // The storing thread ends only with this one: the batch is always received.
                    let _ = sender.send(std::mem::replace(&mut batch, Vec::with_capacity(LOAD_BATCH)));
                }
            });
            let _ = sender.send(batch);
            decoded
        })?;
        Ok(report)
    }

    /// The entries after the header, each fresh one of a usable registry given to `store`.
    fn decode_entries(
        &self,
        reader: &mut Reader<'_>,
        usable: &[bool],
        report: &mut SnapshotReport,
        mut store: impl FnMut(CacheKey, Cached),
    ) -> Result<(), SnapshotError> {
        let now = unix_now();
        let total_bytes = reader.remaining();
        while !reader.is_empty() {
            let key = reader.text()?;
            let Some(registry) = self.catalog().registry_indices().nth(registry_of_key(key)) else {
                return Err(format("an entry of a registry this catalog does not have"));
            };
            let cached = reader.cached(self.catalog().registry(registry).metrics.len())?;
            if !usable.get(registry.get()).copied().unwrap_or(false) {
                report.ignored += 1;
                continue;
            }
            if !self.cache.ttls().fresh(registry, cached.facts.is_some(), cached.fetched_at, now) {
                report.expired += 1;
                continue;
            }
            store(CacheKey::from(key), cached);
            report.entries += 1;
            if report.entries == RESERVE_AFTER {
                // The file does not say how many entries it holds: the first ones tell how
                // many bytes an entry takes, which the rest of the file divides into.
                let consumed = (total_bytes - reader.remaining()).max(1) as u64;
                let expected = RESERVE_AFTER.saturating_mul(total_bytes as u64) / consumed;
                self.cache.reserve(expected.saturating_add(expected / 16));
            }
        }
        Ok(())
    }

    /// The body of a snapshot file: after its header, opened with the
    /// encryption key where it was sealed; refused when it is not ours, is
    /// older, or is held otherwise than this store holds its facts (a file in
    /// clear where a key is set could have been changed by anyone).
    fn snapshot_body<'f>(&self, path: &Path, file: &'f [u8]) -> Result<std::borrow::Cow<'f, [u8]>, SnapshotError> {
        let Some((header, rest)) = file.split_at_checked(MAGIC.len()) else {
            return Err(format(format!("{} is not an elig fact cache", path.display())));
        };
        if OLDER_MAGICS.contains(&header) {
            return Err(format(
                "written by an older elig, whose facts are not all there (programme identities, dates, which endpoint answered); delete it to start afresh",
            ));
        }
        if header != MAGIC {
            return Err(format(format!("{} is not an elig fact cache", path.display())));
        }
        match (rest.split_first(), &self.sealer) {
            (Some((&PLAIN, body)), None) => Ok(std::borrow::Cow::Borrowed(body)),
            (Some((&PLAIN, _)), Some(_)) => Err(format(
                "written in clear, while [cache] encryption_key is set: anyone who could write the file could have \
                 changed its facts; delete it (the next run fetches them again and writes it sealed)",
            )),
            (Some((&SEALED, sealed)), Some(sealer)) => sealer
                .open(sealed, MAGIC)
                .map(std::borrow::Cow::Owned)
                .ok_or_else(|| format("sealed with another encryption key, or altered; delete it to start afresh")),
            (Some((&SEALED, _)), None) => {
                Err(format("sealed: configure the [cache] encryption_key it was written with"))
            }
            _ => Err(format("unknown kind of fact cache")),
        }
    }

    /// Who answered for each registry when the file was written, read from
    /// it, and whether that is who answers now: facts of another endpoint
    /// are not used (each such registry noted in `report`).
    fn usable_registries(
        &self,
        reader: &mut Reader<'_>,
        report: &mut SnapshotReport,
    ) -> Result<Vec<bool>, SnapshotError> {
        let mut usable: Vec<bool> = Vec::new();
        for registry in self.catalog().registry_indices() {
            let written = reader.text()?;
            let id = self.catalog().registry(registry).id;
            let usable_now = match self.identity(registry) {
                Some(now) if now == written => true,
                _ if written.is_empty() => true,
                Some(now) => {
                    report.notes.push(format!(
                        "{id}: the file holds facts from {written}; this run asks {now}: they are not used"
                    ));
                    false
                }
                None => {
                    report.notes.push(format!(
                        "{id}: the file holds facts from {written}; no data source is configured for it now: they \
                         are not used"
                    ));
                    false
                }
            };
            usable.push(usable_now);
        }
        Ok(usable)
    }
}
