//! Rule diagnostics: a code, a message, the place (line:column and byte span)
//! and a caret snippet; rendered plainly or through `miette`.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The rule cannot be used.
    Error,
    /// The rule works, but may not mean what the author thinks.
    Warning,
}

/// One problem found in a rule, with its place in the author's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleDiagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable code: `syntax`, `unknown_metric`, `unknown_registry`,
    /// `disabled_metric`, `unknown_function`, `arity`, `misplaced_dci`,
    /// `too_long`, `too_deep`, `cost_too_high`, `invalid_pattern`, `invalid_name`, `type_mismatch`
    /// (`syntax` also for slips: `AND`, `True`, curly quotes, `=>`, a bracket never closed); warnings
    /// `not_precedence`, `unknown_field`,
    /// `cost_depends_on_data`.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when we can tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte range in the rule's text.
    #[cfg_attr(feature = "openapi", schema(schema_with = byte_range_schema))]
    pub span: Range<usize>,
    /// The line of the rule with a caret under the problem.
    pub snippet: String,
    #[serde(skip)]
    source: Arc<str>,
}

impl RuleDiagnostic {
    pub(crate) fn new(
        severity: Severity,
        code: &'static str,
        message: impl Into<String>,
        source: &Arc<str>,
        span: Range<usize>,
    ) -> Self {
        let start = floor_boundary(source, span.start.min(source.len()));
        let end = floor_boundary(source, span.end.clamp(start, source.len()));
        let (line, column) = line_column(source, start);
        let snippet = caret_snippet(source, start..end, line, column);
        RuleDiagnostic {
            severity,
            code,
            message: message.into(),
            help: None,
            line,
            column,
            span: start..end,
            snippet,
            source: source.clone(),
        }
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `error[code] at 1:10: message`, the snippet, and the help.
    pub fn render(&self) -> String {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out =
            format!("{kind}[{}] at {}:{}: {}\n{}", self.code, self.line, self.column, self.message, self.snippet);
        if let Some(help) = &self.help {
            out.push_str(&format!("\n  help: {help}"));
        }
        out
    }
}

impl fmt::Display for RuleDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for RuleDiagnostic {}

impl miette::Diagnostic for RuleDiagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = miette::SourceSpan::from((self.span.start, self.span.len().max(1)));
        Some(Box::new(std::iter::once(miette::LabeledSpan::new_with_span(Some(self.code.to_owned()), span))))
    }
}

/// The most characters of caller input (a field's value, a pattern, a key)
/// a message shows; the rest is cut and marked `...`.
pub const PREVIEW_CHARS: usize = 40;

/// `text` as a message shows it: at most [`PREVIEW_CHARS`] characters,
/// the cut marked `...`. Only the characters shown are read.
pub fn preview(text: &str) -> String {
    let mut shown = text.char_indices();
    match shown.nth(PREVIEW_CHARS) {
        None => text.to_owned(),
        Some(_) => {
            let cut = text.char_indices().nth(PREVIEW_CHARS - 3).map_or(text.len(), |(at, _)| at);
            format!("{}...", &text[..cut])
        }
    }
}

/// `value`'s `Debug` text as a message shows it ([`preview`]): the
/// formatting stops once the preview is full, so a large value is not
/// written out whole.
pub(crate) fn preview_debug(value: &dyn std::fmt::Debug) -> String {
    struct Capped(String);
    impl std::fmt::Write for Capped {
        fn write_str(&mut self, text: &str) -> std::fmt::Result {
            self.0.push_str(text);
            if self.0.len() > 4 * PREVIEW_CHARS { Err(std::fmt::Error) } else { Ok(()) }
        }
    }
    let mut capped = Capped(String::new());
    let _ = std::fmt::write(&mut capped, format_args!("{value:?}"));
    preview(&capped.0)
}

fn floor_boundary(source: &str, mut index: usize) -> usize {
    while index > 0 && !source.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// 1-based line and character column of a byte offset.
pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..floor_boundary(source, offset.min(source.len()))];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}

/// The byte offset of a 1-based line and character column (clamped to the text).
pub(crate) fn offset_of(source: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line.max(1) {
        match source[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return source.len(),
        }
    }
    let line_text = &source[start..source[start..].find('\n').map_or(source.len(), |i| start + i)];
    start + line_text.char_indices().nth(column.saturating_sub(1)).map_or(line_text.len(), |(i, _)| i)
}

/// The most characters of a rule's line a snippet shows on each side of
/// the problem: a long line (a rule may be 10,000 bytes on one line) is
/// shown around it, the cuts marked `…`.
const SNIPPET_CONTEXT: usize = 60;

/// The most carets under a problem.
const SNIPPET_CARETS: usize = 80;

fn caret_snippet(source: &str, span: Range<usize>, line: usize, column: usize) -> String {
    let line_start = source[..span.start].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = source[span.start..].find('\n').map_or(source.len(), |i| span.start + i);
    let width = source[span.start..span.end.min(line_end)].chars().count().clamp(1, SNIPPET_CARETS);
    // The window of the line shown: from `SNIPPET_CONTEXT` characters before the problem to as
    // many after its carets.
    let before: Vec<(usize, char)> = source[line_start..span.start].char_indices().collect();
    let skipped = before.len().saturating_sub(SNIPPET_CONTEXT);
    let shown_start = before.get(skipped).map_or(span.start, |(at, _)| line_start + at);
    let shown_end = source[span.start..line_end]
        .char_indices()
        .nth(width + SNIPPET_CONTEXT)
        .map_or(line_end, |(at, _)| span.start + at);
    let (left, right) = (if skipped > 0 { "…" } else { "" }, if shown_end < line_end { "…" } else { "" });
    let text = &source[shown_start..shown_end];
    let offset = column - 1 - skipped + left.chars().count();
    let gutter = line.to_string();
    format!(
        "{gutter} | {left}{text}{right}\n{} | {}{}",
        " ".repeat(gutter.len()),
        " ".repeat(offset),
        "^".repeat(width)
    )
}

/// A byte range of a rule's text, `{start, end}` (end excluded), as serde writes a `Range`.
#[cfg(feature = "openapi")]
pub(crate) fn byte_range_schema() -> utoipa::openapi::schema::ObjectBuilder {
    use utoipa::PartialSchema;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("Byte range in the rule's text: `start`, and `end` one past the last byte"))
        .property("start", usize::schema())
        .required("start")
        .property("end", usize::schema())
        .required("end")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_cut_long_input_and_keep_short_input() {
        assert_eq!(preview("short"), "short");
        let long = "é".repeat(1_000_000);
        let shown = preview(&long);
        assert_eq!(shown.chars().count(), PREVIEW_CHARS);
        assert!(shown.ends_with("..."));
        assert_eq!(preview(&"x".repeat(PREVIEW_CHARS)), "x".repeat(PREVIEW_CHARS));
        let debug = preview_debug(&vec!["abc".to_owned(); 100_000]);
        assert!(debug.chars().count() <= PREVIEW_CHARS && debug.ends_with("..."), "{debug}");
    }

    #[test]
    fn a_long_line_is_shown_around_the_problem() {
        let rule = format!("{} == dci.crvs.is_alve{}", "x".repeat(5_000), " && true".repeat(1_000));
        let source: Arc<str> = Arc::from(rule.as_str());
        let start = source.find("dci").expect("found");
        let diagnostic =
            RuleDiagnostic::new(Severity::Error, "unknown_metric", "no metric", &source, start..start + 16);
        let lines: Vec<&str> = diagnostic.snippet.lines().collect();
        assert!(lines[0].len() < 300, "{}", lines[0]);
        assert!(lines[0].starts_with("1 | …") && lines[0].ends_with('…'), "{}", lines[0]);
        // The carets stand under the name.
        let caret = lines[1].chars().position(|c| c == '^').expect("caret");
        let under: String = lines[0].chars().skip(caret).take(3).collect();
        assert_eq!(under, "dci", "{}", diagnostic.snippet);
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let source: Arc<str> = Arc::from("r.name == 'é'\n  and dci.crvs.is_alve");
        let start = source.find("dci").expect("found");
        let diagnostic =
            RuleDiagnostic::new(Severity::Error, "unknown_metric", "no metric", &source, start..source.len());
        assert_eq!((diagnostic.line, diagnostic.column), (2, 7));
        assert_eq!(diagnostic.snippet, "2 |   and dci.crvs.is_alve\n  |       ^^^^^^^^^^^^^^^^");
        assert_eq!(offset_of(&source, 2, 7), start);
        assert_eq!(line_column("é == x", offset_of("é == x", 1, 3)), (1, 3));
    }
}
