//! Reading beneficiary lists (NDJSON or a JSON array) and writing decisions
//! (NDJSON, CSV or JSON), for the command line and the HTTP API.

use std::io::{Read, Write};
use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::data::beneficiary::{Beneficiary, BeneficiaryError, MemberReading};
use crate::report::results::{Decision, ItemResult};
use crate::rules::compile::Rule;

/// One non-blank line of NDJSON input: its number (from 1) and text, or
/// why it cannot be read (it becomes that line's error; the others are read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// The line's text, trimmed.
    Text(usize, String),
    /// The line is not text (not UTF-8) or too long, and why.
    Unreadable(usize, String),
}

/// Non-blank NDJSON lines read as one block of text: a beneficiary read from
/// it shares the block rather than holding a copy of its line, so a chunk of
/// input is one allocation, not one per line.
#[derive(Debug)]
pub struct LineBlock {
    text: Arc<str>,
    lines: Vec<BlockLine>,
}

#[derive(Debug)]
enum BlockLine {
    /// A line's number (from 1) and where its text, trimmed, is in the block.
    Text(usize, Range<usize>),
    /// A line's number and why it cannot be read.
    Unreadable(usize, String),
}

/// The text a [`LineBlock`] takes before it ends at the next line's end (a
/// beneficiary's places in its text are 32-bit).
pub const MAX_BLOCK_BYTES: usize = 64 << 20;

/// The longest line read, in bytes; a longer one is that line's error (and is
/// not held: it is skipped as it is read).
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// How much is asked of the reader at a time.
const READ_BYTES: usize = 512 << 10;

/// Reads NDJSON in [`LineBlock`]s: the input is read in large pieces straight
/// into the block's text, which is then split at line ends (no copy per line).
#[derive(Debug)]
pub struct BlockReader<R> {
    reader: R,
    /// Input read past the last block's end, from `start`: the beginning of its next line.
    carry: Vec<u8>,
    start: usize,
    /// Whether the reader has given all it has.
    ended: bool,
    /// The lines before `carry[start..]`.
    lines_before: usize,
    /// The size of the last block, reserved at once for the next one.
    last_block: usize,
}

impl<R: Read> BlockReader<R> {
    /// Reads `reader` from its first line.
    pub fn new(reader: R) -> Self {
        BlockReader { reader, carry: Vec::new(), start: 0, ended: false, lines_before: 0, last_block: 0 }
    }

    /// The number of the last line given in a block (0 before the first).
    pub fn lines_read(&self) -> usize {
        self.lines_before
    }

    /// The next lines: at most `max` (blank ones count; they are not kept),
    /// fewer at the end of the input or past [`MAX_BLOCK_BYTES`]; none only
    /// at the end. A line that is not UTF-8 or longer than [`MAX_LINE_BYTES`]
    /// is that line's error: only an I/O error stops the reading.
    pub fn next_block(&mut self, max: usize) -> std::io::Result<LineBlock> {
        loop {
            let block = self.next_lines(max.max(1))?;
            // Lines that were all blank are no end of the input.
            if !block.is_empty() || (self.ended && self.start == self.carry.len()) {
                return Ok(block);
            }
        }
    }

    fn next_lines(&mut self, max: usize) -> std::io::Result<LineBlock> {
        let mut bytes = std::mem::take(&mut self.carry);
        let mut start = std::mem::take(&mut self.start);
        let (mut ends, mut last_end, mut scanned, mut too_long) = (0, start, start, Vec::new());
        let cut = loop {
            // Where each complete line ends, until the block has its lines.
            for at in memchr::memchr_iter(b'\n', &bytes[scanned..]) {
                (ends, last_end) = (ends + 1, scanned + at + 1);
                if ends == max {
                    break;
                }
            }
            if ends == max {
                break last_end;
            }
            scanned = bytes.len();
            if bytes.len() - start >= MAX_BLOCK_BYTES && last_end > start {
                break last_end;
            }
            if bytes.len() - last_end > MAX_LINE_BYTES {
                // Skipped, an empty line keeping its place: its number is its error.
                too_long.push(self.lines_before + ends + 1);
                bytes.truncate(last_end);
                bytes.push(b'\n');
                (ends, last_end, scanned) = (ends + 1, bytes.len(), bytes.len());
                self.skip_line()?;
                bytes.append(&mut self.carry);
                if ends == max {
                    break last_end;
                }
                continue;
            }
            if self.ended {
                break bytes.len();
            }
            // What was given before is dropped before reading more (what is left of it is short).
            if start > 0 {
                bytes.drain(..start);
                (last_end, scanned, start) = (last_end - start, scanned - start, 0);
            }
            // Room for a block like the last one: the block is not copied again as it grows.
            let room = (self.last_block.min(MAX_BLOCK_BYTES) + READ_BYTES).max(bytes.len() + READ_BYTES);
            bytes.reserve(room - bytes.len());
            if (&mut self.reader).take(READ_BYTES as u64).read_to_end(&mut bytes)? == 0 {
                self.ended = true;
                break bytes.len();
            }
        };
        self.last_block = cut - start;
        // The shorter of the block and the rest is copied, so small blocks cost no more than large ones.
        let block = if cut - start < bytes.len() - cut {
            let block = bytes[start..cut].to_vec();
            (self.carry, self.start) = (bytes, cut);
            block
        } else {
            self.carry = bytes.split_off(cut);
            bytes.drain(..start);
            bytes
        };
        Ok(self.split(block, &too_long))
    }

    /// Reads past the end of the current line; what follows it is left in `carry`.
    fn skip_line(&mut self) -> std::io::Result<()> {
        let mut piece = Vec::with_capacity(READ_BYTES);
        loop {
            piece.clear();
            if (&mut self.reader).take(READ_BYTES as u64).read_to_end(&mut piece)? == 0 {
                self.ended = true;
                return Ok(());
            }
            if let Some(end) = memchr::memchr(b'\n', &piece) {
                self.carry = piece.split_off(end + 1);
                return Ok(());
            }
        }
    }

    /// `bytes` (whole lines) as a block; the lines numbered in `too_long` are
    /// held as empty lines and given their error.
    fn split(&mut self, bytes: Vec<u8>, too_long: &[usize]) -> LineBlock {
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => return self.split_checking_each(error.into_bytes(), too_long),
        };
        let mut lines = Vec::new();
        let mut start = 0;
        while start < text.len() {
            let end = memchr::memchr(b'\n', &text.as_bytes()[start..]).map_or(text.len(), |at| start + at);
            self.lines_before += 1;
            let line = &text[start..end];
            let trimmed = line.trim();
            if too_long.contains(&self.lines_before) || line.len() > MAX_LINE_BYTES {
                lines.push(BlockLine::Unreadable(self.lines_before, line_too_long()));
            } else if !trimmed.is_empty() {
                let at = start + (trimmed.as_ptr() as usize - line.as_ptr() as usize);
                lines.push(BlockLine::Text(self.lines_before, at..at + trimmed.len()));
            }
            start = end + 1;
        }
        LineBlock { text: Arc::from(text), lines }
    }

    /// [`BlockReader::split`] of bytes that are not all UTF-8: each line
    /// checked, the block's text made of those that are.
    fn split_checking_each(&mut self, bytes: Vec<u8>, too_long: &[usize]) -> LineBlock {
        let (mut text, mut lines) = (String::with_capacity(bytes.len()), Vec::new());
        let content = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        for line in content.split(|&b| b == b'\n') {
            self.lines_before += 1;
            if too_long.contains(&self.lines_before) || line.len() > MAX_LINE_BYTES {
                lines.push(BlockLine::Unreadable(self.lines_before, line_too_long()));
                continue;
            }
            match std::str::from_utf8(line).map(str::trim) {
                Ok("") => {}
                Ok(line) => {
                    lines.push(BlockLine::Text(self.lines_before, text.len()..text.len() + line.len()));
                    text.push_str(line);
                }
                Err(error) => lines.push(BlockLine::Unreadable(
                    self.lines_before,
                    format!("the line is not UTF-8 text (invalid byte at column {})", error.valid_up_to() + 1),
                )),
            }
        }
        LineBlock { text: Arc::from(text), lines }
    }
}

fn line_too_long() -> String {
    format!("the line is longer than {MAX_LINE_BYTES} bytes")
}

impl LineBlock {
    /// How many lines the block holds.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the block holds no line.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The bytes of text the block holds.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// The beneficiaries of the block's lines, in order, read in parallel on
    /// the current rayon pool; errors carry their line numbers.
    pub fn parse(&self, reading: MemberReading) -> Vec<Result<Beneficiary, BeneficiaryError>> {
        self.lines
            .par_iter()
            .map(|line| match line {
                BlockLine::Text(number, range) => Beneficiary::from_shared_text(&self.text, range.clone(), reading)
                    .map_err(|error| error.at_line(*number)),
                BlockLine::Unreadable(number, problem) => Err(unreadable_line(*number, problem)),
            })
            .collect()
    }
}

fn unreadable_line(number: usize, problem: &str) -> BeneficiaryError {
    BeneficiaryError { line: Some(number), path: "beneficiary".into(), problem: problem.to_owned() }
}

impl Line {
    /// The line's number (from 1).
    pub fn number(&self) -> usize {
        match self {
            Line::Text(number, _) | Line::Unreadable(number, _) => *number,
        }
    }
}

/// Parses an NDJSON line; errors carry its line number.
pub fn parse_line(line: &Line) -> Result<Beneficiary, BeneficiaryError> {
    parse_line_reading(line, MemberReading::Eager)
}

/// [`parse_line`], with the household's members read as `reading` says.
pub fn parse_line_reading(line: &Line, reading: MemberReading) -> Result<Beneficiary, BeneficiaryError> {
    match line {
        Line::Text(number, text) => {
            Beneficiary::from_json_str_reading(text, reading).map_err(|error| error.at_line(*number))
        }
        Line::Unreadable(number, problem) => Err(unreadable_line(*number, problem)),
    }
}

/// Reads a whole JSON document: an array of beneficiaries (or one object).
pub fn parse_document(text: &str) -> Result<Vec<Result<Beneficiary, BeneficiaryError>>, BeneficiaryError> {
    let invalid = |e: serde_json::Error| BeneficiaryError {
        line: Some(e.line()),
        path: format!("column {}", e.column()),
        problem: format!("invalid JSON: {e}"),
    };
    if !is_json_array(text.as_bytes()) {
        let _: &serde_json::value::RawValue = serde_json::from_str(text).map_err(invalid)?;
        return Ok(vec![Beneficiary::from_json_str(text)]);
    }
    let items: Vec<&serde_json::value::RawValue> = serde_json::from_str(text).map_err(invalid)?;
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            Beneficiary::from_json_str(item.get()).map_err(|mut error| {
                error.path = format!("[{index}].{}", error.path);
                error
            })
        })
        .collect())
}

/// Whether text looks like a JSON array (first non-blank character `[`).
pub fn is_json_array(head: &[u8]) -> bool {
    head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

/// Output formats for decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON object per line.
    Ndjson,
    /// A header, then one row per beneficiary: outcome and reason per rule.
    Csv,
    /// One JSON array.
    Json,
}

// The written form of an `ItemResult` (which serializes otherwise, as a
// list of decisions). It borrows the result and the rules so that writing
// copies nothing; its doc comments are the HTTP API's schema descriptions.

/// One result as JSON and NDJSON output write it: the decisions by rule
/// name, or why the item could not be read.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ResultItem))]
#[serde(untagged)]
pub enum ResultJson<'a> {
    /// The beneficiary was read.
    Decided(DecidedJson<'a>),
    /// The item could not be read; the other items are unaffected.
    Invalid(InvalidJson<'a>),
}

/// The decisions for one beneficiary.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = EvaluatedItem))]
pub struct DecidedJson<'a> {
    /// The beneficiary's id.
    pub id: &'a str,
    /// One decision per rule, by rule name (in rule order).
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, Decision>))]
    pub outcomes: Outcomes<'a>,
}

/// The decisions of one beneficiary, written as an object from rule name to
/// decision, in rule order.
#[derive(Clone, Debug)]
pub struct Outcomes<'a> {
    rules: &'a [Rule],
    decisions: &'a [Decision],
}

impl Serialize for Outcomes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.decisions.len()))?;
        for (rule, decision) in self.rules.iter().zip(self.decisions) {
            map.serialize_entry(rule.name(), decision)?;
        }
        map.end()
    }
}

/// An item that could not be read.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = InvalidItem))]
pub struct InvalidJson<'a> {
    /// What is wrong.
    pub error: ItemError<'a>,
    /// The input line (line-oriented input: NDJSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// What is wrong with one item.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemError<'a> {
    /// Always `invalid_beneficiary`.
    pub code: ItemErrorCode,
    /// What, naming the field (and the line, for line-oriented input).
    pub message: String,
    /// Where in the item: `members[2].identifiers[0].value`.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub path: std::borrow::Cow<'a, str>,
}

/// The code of an item that could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ItemErrorCode {
    /// The item is not a beneficiary: not an object, no `id`, a field of the wrong type, ...
    InvalidBeneficiary,
}

impl<'a> InvalidJson<'a> {
    /// How `error` is written, with its `path`.
    pub fn of(error: &BeneficiaryError, path: std::borrow::Cow<'a, str>) -> Self {
        InvalidJson {
            error: ItemError { code: ItemErrorCode::InvalidBeneficiary, message: error.to_string(), path },
            line: error.line,
        }
    }
}

/// One result of `rules`, as it is written.
pub fn result_json<'a>(rules: &'a [Rule], item: &'a ItemResult) -> ResultJson<'a> {
    match item {
        ItemResult::Decided { id, decisions } => {
            ResultJson::Decided(DecidedJson { id, outcomes: Outcomes { rules, decisions } })
        }
        ItemResult::Invalid { error } => {
            ResultJson::Invalid(InvalidJson::of(error, std::borrow::Cow::Borrowed(&error.path)))
        }
    }
}

fn reason(decision: &Decision) -> String {
    if let Some(error) = &decision.error {
        return error.clone();
    }
    decision.missing.iter().map(|m| format!("{} ({})", m.name, m.cause)).collect::<Vec<_>>().join("; ")
}

/// A CSV field: quoted when it holds a separator, a quote or a line break;
/// and, as the OWASP guidance on CSV injection says, a field starting with
/// `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so that a
/// spreadsheet shows it as text instead of running it as a formula.
pub fn csv_field(text: &str) -> String {
    let neutral = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if neutral.contains([',', '"', '\n', '\r']) { format!("\"{}\"", neutral.replace('"', "\"\"")) } else { neutral }
}

/// Writes results in a format; call [`Writer::finish`] at the end.
pub struct Writer<W: Write> {
    out: W,
    format: Format,
    rules: Vec<Rule>,
    written: usize,
}

impl<W: Write> Writer<W> {
    /// A writer; writes the CSV header or the opening bracket now.
    pub fn new(mut out: W, format: Format, rules: &[Rule]) -> std::io::Result<Self> {
        match format {
            Format::Csv => {
                let mut header = vec!["id".to_owned()];
                for rule in rules {
                    header.push(csv_field(rule.name()));
                    header.push(csv_field(&format!("{}_reason", rule.name())));
                }
                writeln!(out, "{}", header.join(","))?;
            }
            Format::Json => write!(out, "[")?,
            Format::Ndjson => {}
        }
        Ok(Writer { out, format, rules: rules.to_vec(), written: 0 })
    }

    /// Formats results into bytes (callers may do this on worker threads and write the bytes later).
    pub fn render(format: Format, rules: &[Rule], items: &[ItemResult], first_index: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(items.len() * 96);
        for (offset, item) in items.iter().enumerate() {
            match format {
                Format::Ndjson | Format::Json => {
                    if format == Format::Json && first_index + offset > 0 {
                        out.push(b',');
                    }
                    if format == Format::Json {
                        out.push(b'\n');
                    }
                    let _ = serde_json::to_writer(&mut out, &result_json(rules, item));
                    if format == Format::Ndjson {
                        out.push(b'\n');
                    }
                }
                Format::Csv => {
                    let row = match item {
                        ItemResult::Decided { id, decisions } => {
                            let mut row = vec![csv_field(id)];
                            for decision in decisions {
                                row.push(decision.outcome.as_str().to_owned());
                                row.push(csv_field(&reason(decision)));
                            }
                            row
                        }
                        ItemResult::Invalid { error } => {
                            let mut row = vec![String::new()];
                            for _ in rules {
                                row.push("invalid".to_owned());
                                row.push(csv_field(&error.to_string()));
                            }
                            row
                        }
                    };
                    out.extend_from_slice(row.join(",").as_bytes());
                    out.push(b'\n');
                }
            }
        }
        out
    }

    /// Writes results.
    pub fn write(&mut self, items: &[ItemResult]) -> std::io::Result<()> {
        let bytes = Self::render(self.format, &self.rules, items, self.written);
        self.write_rendered(&bytes, items.len())
    }

    /// Writes bytes from [`Writer::render`] for `count` results.
    pub fn write_rendered(&mut self, bytes: &[u8], count: usize) -> std::io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += count;
        Ok(())
    }

    /// Results written so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Closes the JSON array and flushes.
    pub fn finish(mut self) -> std::io::Result<W> {
        if self.format == Format::Json {
            writeln!(self.out, "\n]")?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::report::results::Outcome;
    use crate::rules::compile::Compiler;

    #[test]
    fn results_are_written_with_decisions_by_rule_name_in_rule_order() {
        let compiler = Compiler::new(Arc::new(dci_metrics::Catalog::default()));
        let rules: Vec<Rule> =
            ["zeta", "alpha"].iter().map(|name| compiler.compile(name, "true").expect("compiles")).collect();
        let decision =
            |outcome| Decision { outcome, missing: Vec::new(), error: None, code: None, clauses: None, reason: None };
        let items = [
            ItemResult::Decided {
                id: "HH-1".into(),
                decisions: vec![decision(Outcome::Eligible), decision(Outcome::Ineligible)],
            },
            ItemResult::Invalid {
                error: BeneficiaryError { line: Some(3), path: "id".into(), problem: "is missing".into() },
            },
        ];
        let text = String::from_utf8(Writer::<Vec<u8>>::render(Format::Ndjson, &rules, &items, 0)).expect("UTF-8");
        assert_eq!(
            text,
            "{\"id\":\"HH-1\",\"outcomes\":{\"zeta\":{\"outcome\":\"eligible\"},\"alpha\":{\"outcome\":\"ineligible\"}}}\n\
             {\"error\":{\"code\":\"invalid_beneficiary\",\"message\":\"line 3: id: is missing\",\"path\":\"id\"},\"line\":3}\n"
        );
    }

    #[test]
    fn formulas_are_written_as_text() {
        assert_eq!(csv_field("=HYPERLINK(\"http://x\",\"y\")"), "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
        for text in ["+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_field(text).trim_start_matches('"').starts_with('\''), "{text:?}");
        }
        assert_eq!(csv_field("HH-0001"), "HH-0001");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
    }
}
