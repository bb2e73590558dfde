//! Reading the files `elig` is given: configuration, rules files, rule test files, beneficiary lists.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use dci_eligibility::EngineConfig;
use dci_eligibility::io::{BlockReader, is_json_array, parse_document};
use dci_eligibility::rule_tests::RuleTestFile;
use dci_eligibility::stream::Input;

/// A beneficiary list being read in a thread of its own, in chunks.
pub struct ChunkedInput {
    /// The chunks, in order: NDJSON lines (parsed later, on the pool) or items of a JSON array.
    pub chunks: tokio::sync::mpsc::Receiver<Input>,
    /// The reading thread; its error, if the file could not be read.
    pub reading: std::thread::JoinHandle<Result<()>>,
    /// The file's size, when known (not for stdin).
    pub total_bytes: Option<u64>,
    /// Bytes read so far, for a progress bar.
    pub read_bytes: Arc<AtomicU64>,
}

/// Reads the beneficiaries in `path` (`-`: stdin), NDJSON (streamed) or a JSON array, in a thread
/// of its own that sends chunks of `chunk_size`; it stops when the receiver is dropped.
pub fn read_in_chunks(path: &Path, chunk_size: usize) -> Result<ChunkedInput> {
    let (reader, total_bytes): (Box<dyn Read + Send>, Option<u64>) = if path.as_os_str() == "-" {
        (Box::new(std::io::stdin()), None)
    } else {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(file), size)
    };
    let read_bytes = Arc::new(AtomicU64::new(0));
    // Small: most of what the block reader asks for (reads past 64 KiB) then goes past this
    // buffer, straight into its blocks, instead of being copied through it.
    let mut reader = BufReader::with_capacity(64 << 10, Counting { inner: reader, read: read_bytes.clone() });
    let (sender, chunks) = tokio::sync::mpsc::channel::<Input>(2);
    let source_name = path.display().to_string();
    let reading = std::thread::spawn(move || -> Result<()> {
        let head = reader.fill_buf()?.to_vec();
        if is_json_array(&head) {
            let mut text = String::new();
            reader.read_to_string(&mut text)?;
            let items = parse_document(&text).map_err(|e| anyhow::anyhow!("{source_name}: {e}"))?;
            let mut items = items.into_iter().peekable();
            while items.peek().is_some() {
                let chunk: Vec<_> = items.by_ref().take(chunk_size).collect();
                if sender.blocking_send(Input::Items(chunk)).is_err() {
                    break;
                }
            }
        } else {
            let mut blocks = BlockReader::new(reader);
            loop {
                let lines = blocks
                    .next_block(chunk_size)
                    .with_context(|| format!("{source_name}: after line {}", blocks.lines_read()))?;
                if lines.is_empty() || sender.blocking_send(Input::Lines(lines)).is_err() {
                    break;
                }
            }
        }
        Ok(())
    });
    Ok(ChunkedInput { chunks, reading, total_bytes, read_bytes })
}

/// Counts the bytes read, for the progress bar.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads `elig.toml`.
pub fn config(path: &Path) -> Result<EngineConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))
}

/// The largest rules file read, in bytes: a hundred rules of 10,000 bytes, the longest a rule
/// may be by default, checked in about a second.
pub const MAX_RULES_FILE_BYTES: u64 = 1 << 20;

/// Reads a text file of at most `limit` bytes, naming the limit when it is larger.
fn read_bounded(path: &Path, limit: u64, what: &str) -> Result<String> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut text = String::new();
    file.take(limit + 1).read_to_string(&mut text).with_context(|| format!("cannot read {}", path.display()))?;
    if text.len() as u64 > limit {
        bail!("{}: a {what} is at most {limit} bytes; this one is larger (split it into several)", path.display());
    }
    Ok(text)
}

/// Reads a rules file: TOML or YAML (by extension), either a `[rules]` table
/// or top-level `name = "expression"` pairs. Order is kept. At most
/// [`MAX_RULES_FILE_BYTES`].
pub fn rules(path: &Path) -> Result<Vec<(String, String)>> {
    let text = read_bounded(path, MAX_RULES_FILE_BYTES, "rules file")?;
    let pairs: Vec<(String, Option<String>)> = if is_yaml(path) {
        let value: serde_norway::Value =
            serde_norway::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let table = value.get("rules").cloned().unwrap_or(value);
        let Some(mapping) = table.as_mapping() else { bail!("{}: expected `name: expression` pairs", path.display()) };
        mapping
            .iter()
            .map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), v.as_str().map(str::to_owned)))
            .collect()
    } else {
        let mut table: toml::Table =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        if let Some(toml::Value::Table(inner)) = table.remove("rules") {
            table = inner;
        }
        table.into_iter().map(|(k, v)| (k, v.as_str().map(str::to_owned))).collect()
    };
    let mut rules = Vec::new();
    for (name, expression) in pairs {
        match expression {
            Some(expression) => rules.push((name, expression)),
            None => bail!("{}: rule {name:?} must be a string (a CEL expression)", path.display()),
        }
    }
    if rules.is_empty() {
        bail!("{}: no rules", path.display());
    }
    Ok(rules)
}

fn is_yaml(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// Reads a rule test file (YAML or TOML).
pub fn rule_test(path: &Path) -> Result<RuleTestFile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if is_yaml(path) {
        serde_norway::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    } else {
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        serde_json::from_value(toml_to_json(toml::Value::Table(table)))
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

/// TOML as JSON, TOML dates and times becoming their text (`2026-01-01`).
fn toml_to_json(value: toml::Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        toml::Value::String(s) => Json::String(s),
        toml::Value::Integer(n) => Json::from(n),
        toml::Value::Float(x) => serde_json::Number::from_f64(x).map(Json::Number).unwrap_or(Json::Null),
        toml::Value::Boolean(b) => Json::Bool(b),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
        toml::Value::Array(items) => Json::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Json::Object(table.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect()),
    }
}

/// Rule test files under `paths` (files as given; directories searched for `.yaml`, `.yml`, `.toml`).
pub fn rule_test_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            for entry in entries {
                if entry.is_dir() {
                    found.extend(rule_test_paths(&[entry])?);
                } else if matches!(entry.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "toml")) {
                    found.push(entry);
                }
            }
        } else if path.exists() {
            found.push(path.clone());
        } else {
            bail!("{}: no such file or directory", path.display());
        }
    }
    Ok(found)
}
