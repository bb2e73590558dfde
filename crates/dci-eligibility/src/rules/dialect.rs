//! OpenSPP spellings on the token level: the keywords `and`, `or` and `not`
//! become `&&`, `||` and `!`, padded to the same length so that every
//! position in the normalised text is the position in the author's text.
//!
//! Keywords are recognised only as whole identifier tokens outside string
//! literals and comments, never after `.` (so `r.and` stays a field), and only
//! where an operator can stand (`and`/`or` between two operands, `not` before one).

use std::ops::Range;

/// A lexical token of CEL source, as far as the dialect needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Ident,
    Number,
    String,
    /// Backtick-quoted identifier.
    Escaped,
    /// Punctuation or operator.
    Symbol,
}

/// A token with its byte range in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub span: Range<usize>,
}

const SYMBOLS: [&str; 24] = [
    "&&", "||", "==", "!=", "<=", ">=", "?.", "!", "<", ">", "+", "-", "*", "/", "%", "?", ":", ".", ",", "(", ")",
    "[", "]", "{",
];

/// The byte ranges of `text` between its top-level (outside brackets)
/// occurrences of the operator `operator` (`&&` or `||`), each trimmed of
/// white space. `text` is normalised (`and`/`or` already written as
/// operators, at the same positions).
pub(crate) fn top_level_parts(text: &str, operator: &str) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut depth = 0usize;
    for token in tokenize(text) {
        if token.kind != TokenKind::Symbol {
            continue;
        }
        match &text[token.span.clone()] {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth = depth.saturating_sub(1),
            symbol if depth == 0 && symbol == operator => {
                parts.push(start..token.span.start);
                start = token.span.end;
            }
            _ => {}
        }
    }
    parts.push(start..text.len());
    parts
        .into_iter()
        .map(|part| {
            let slice = &text[part.clone()];
            let leading = slice.len() - slice.trim_start().len();
            let trailing = slice.len() - slice.trim_end().len();
            part.start + leading..part.end - trailing
        })
        .collect()
}

/// Splits CEL source into tokens, skipping whitespace and `//` comments.
/// Never fails: text it cannot classify becomes one-character symbols, for the
/// CEL parser to report.
pub(crate) fn tokenize(source: &str) -> Vec<Token> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        if let Some(end) = string_literal_end(bytes, i) {
            tokens.push(Token { kind: TokenKind::String, span: start..end });
            i = end;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            tokens.push(Token { kind: TokenKind::Ident, span: start..i });
        } else if c.is_ascii_digit() || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            i = number_end(bytes, i);
            tokens.push(Token { kind: TokenKind::Number, span: start..i });
        } else if c == b'`' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'`' {
                i += 1;
            }
            i = (i + 1).min(bytes.len());
            tokens.push(Token { kind: TokenKind::Escaped, span: start..i });
        } else {
            let rest = &source[i..];
            let width = SYMBOLS
                .iter()
                .chain(["}"].iter())
                .find(|s| rest.starts_with(**s))
                .map(|s| s.len())
                .unwrap_or_else(|| rest.chars().next().map(char::len_utf8).unwrap_or(1));
            i += width;
            tokens.push(Token { kind: TokenKind::Symbol, span: start..i });
        }
    }
    tokens
}

/// The end of a string or bytes literal starting at `i` (with optional
/// `r`/`b` prefixes, single or triple quotes), or `None` if none starts there.
fn string_literal_end(bytes: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    let mut raw = false;
    for _ in 0..2 {
        match bytes.get(j) {
            Some(b'r' | b'R') if !raw => {
                raw = true;
                j += 1;
            }
            Some(b'b' | b'B') => j += 1,
            _ => break,
        }
    }
    let quote = *bytes.get(j)?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    // A prefix must be directly followed by the quote; `rb"x"` yes, `rx"` no (an identifier).
    if j > i && !bytes[i..j].iter().all(|b| matches!(b, b'r' | b'R' | b'b' | b'B')) {
        return None;
    }
    let triple = bytes.get(j + 1) == Some(&quote) && bytes.get(j + 2) == Some(&quote);
    let mut k = if triple { j + 3 } else { j + 1 };
    while k < bytes.len() {
        let c = bytes[k];
        if c == b'\\' && !raw {
            k += 2;
            continue;
        }
        if c == quote && (!triple || (bytes.get(k + 1) == Some(&quote) && bytes.get(k + 2) == Some(&quote))) {
            return Some(if triple { k + 3 } else { k + 1 });
        }
        if c == b'\n' && !triple {
            return Some(k);
        }
        k += 1;
    }
    Some(bytes.len())
}

fn number_end(bytes: &[u8], mut i: usize) -> usize {
    if bytes[i] == b'0' && matches!(bytes.get(i + 1), Some(b'x' | b'X')) {
        i += 2;
        while i < bytes.len() && bytes[i].is_ascii_hexdigit() {
            i += 1;
        }
    } else {
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(bytes.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if bytes.get(j).is_some_and(u8::is_ascii_digit) {
                i = j;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
        }
    }
    if matches!(bytes.get(i), Some(b'u' | b'U')) {
        i += 1;
    }
    i
}

/// A warning about the reading of OpenSPP spellings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DialectWarning {
    pub span: Range<usize>,
    pub message: String,
    pub help: String,
}

/// The author's text with OpenSPP keywords replaced, same length.
pub(crate) struct Normalised {
    pub text: String,
    pub warnings: Vec<DialectWarning>,
}

fn text<'a>(source: &'a str, token: &Token) -> &'a str {
    &source[token.span.clone()]
}

/// Whether a token ends an operand (so a binary operator may follow).
fn ends_operand(source: &str, token: &Token) -> bool {
    match token.kind {
        TokenKind::Ident => !is_keyword_operator(text(source, token)),
        TokenKind::Number | TokenKind::String | TokenKind::Escaped => true,
        TokenKind::Symbol => matches!(text(source, token), ")" | "]" | "}"),
    }
}

/// Whether a token can start an operand.
fn starts_operand(source: &str, token: &Token) -> bool {
    match token.kind {
        TokenKind::Ident => !matches!(text(source, token), "and" | "or" | "in"),
        TokenKind::Number | TokenKind::String | TokenKind::Escaped => true,
        TokenKind::Symbol => matches!(text(source, token), "(" | "[" | "{" | "!" | "-" | "."),
    }
}

fn is_keyword_operator(word: &str) -> bool {
    matches!(word, "and" | "or" | "not")
}

/// Which tokens are the keywords `and` / `or` / `not` used as operators.
fn keyword_positions(source: &str, tokens: &[Token]) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        if token.kind != TokenKind::Ident {
            continue;
        }
        let word = text(source, token);
        let previous = index.checked_sub(1).map(|p| &tokens[p]);
        let next = tokens.get(index + 1);
        if previous.is_some_and(|p| matches!(text(source, p), "." | "?.")) {
            continue; // a field: r.and
        }
        let after_operand = previous.is_some_and(|p| ends_operand(source, p));
        let before_operand = next.is_some_and(|n| starts_operand(source, n));
        let replacement = match word {
            "and" if after_operand && before_operand => "&& ",
            "or" if after_operand && before_operand => "||",
            "not" if !after_operand && before_operand => "!  ",
            _ => continue,
        };
        found.push((index, replacement));
    }
    found
}

/// Replaces the OpenSPP keywords and collects warnings.
pub(crate) fn normalise(source: &str) -> Normalised {
    let tokens = tokenize(source);
    let keywords = keyword_positions(source, &tokens);
    let mut text_out = source.to_owned();
    let mut warnings = Vec::new();
    for &(index, replacement) in &keywords {
        let span = tokens[index].span.clone();
        text_out.replace_range(span.clone(), replacement);
        if replacement.starts_with('!')
            && let Some(warning) = not_precedence_warning(source, &tokens, index, &keywords)
        {
            warnings.push(warning);
        }
    }
    Normalised { text: text_out, warnings }
}

/// `not a and b` is `(not a) and b` in CEL, `not (a and b)` in OpenSPP: warn,
/// showing the reading used.
fn not_precedence_warning(
    source: &str,
    tokens: &[Token],
    not_index: usize,
    keywords: &[(usize, &str)],
) -> Option<DialectWarning> {
    let operand_end = operand_end(source, tokens, not_index + 1)?;
    let next = tokens.get(operand_end)?;
    let next_text = text(source, next);
    let is_keyword = keywords.iter().any(|(i, r)| *i == operand_end && !r.starts_with('!'));
    let binary = is_keyword
        || matches!(next_text, "&&" | "||" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "+" | "-" | "*" | "/" | "%" | "?")
        || (next.kind == TokenKind::Ident && next_text == "in");
    if !binary {
        return None;
    }
    let not_token = &tokens[not_index];
    let operand = &source[tokens[not_index + 1].span.start..tokens[operand_end - 1].span.end];
    let rest_end = tokens.last().map(|t| t.span.end).unwrap_or(source.len());
    let rest = source[next.span.start..rest_end].trim();
    let reading = format!("(not {operand}) {rest}");
    Some(DialectWarning {
        span: not_token.span.start..tokens[operand_end - 1].span.end,
        message: format!("`not` applies to `{operand}` only: this reads as `{reading}`"),
        help: format!(
            "standard CEL binds `not` tighter than `{next_text}`; OpenSPP reads `not ({operand} {rest})`. Add parentheses to say which you mean"
        ),
    })
}

/// The index one past the end of the unary operand starting at `start`
/// (prefix operators, a primary, then `.field`, `.call(..)`, `[..]`, `(..)`).
fn operand_end(source: &str, tokens: &[Token], start: usize) -> Option<usize> {
    let mut i = start;
    while let Some(token) = tokens.get(i) {
        let t = text(source, token);
        if t == "!" || t == "-" || (token.kind == TokenKind::Ident && t == "not") {
            i += 1;
        } else {
            break;
        }
    }
    let first = tokens.get(i)?;
    i = match text(source, first) {
        "(" | "[" | "{" => matching_close(source, tokens, i)? + 1,
        _ if matches!(first.kind, TokenKind::Ident | TokenKind::Number | TokenKind::String | TokenKind::Escaped) => {
            i + 1
        }
        "." => i + 2,
        _ => return None,
    };
    loop {
        match tokens.get(i).map(|t| text(source, t)) {
            Some("." | "?.") => i += 2,
            Some("(" | "[") => i = matching_close(source, tokens, i)? + 1,
            _ => return Some(i),
        }
    }
}

fn matching_close(source: &str, tokens: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (offset, token) in tokens[open..].iter().enumerate() {
        match text(source, token) {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(open + offset);
                }
            }
            _ => {}
        }
    }
    None
}

/// The deepest nesting of brackets, for the depth limit checked before parsing.
pub(crate) fn nesting_depth(source: &str) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    for token in tokenize(source) {
        match text(source, &token) {
            "(" | "[" | "{" => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ")" | "]" | "}" => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(source: &str) -> String {
        normalise(source).text
    }

    #[test]
    fn keywords_become_operators_of_the_same_length() {
        assert_eq!(norm("a and b or not c"), "a &&  b || !   c");
        assert_eq!(norm("not(x)"), "!  (x)");
        let source = "dci.dr.has_disability == true and dci.ibr.is_enrolled == false";
        assert_eq!(norm(source).len(), source.len());
    }

    #[test]
    fn keywords_inside_strings_comments_and_fields_are_left_alone() {
        assert_eq!(norm("r.name == 'cats and dogs' and r.and"), "r.name == 'cats and dogs' &&  r.and");
        assert_eq!(norm("r.x == \"not\" // and or not\n"), "r.x == \"not\" // and or not\n");
        assert_eq!(norm("r'and' + \"\"\"or\"\"\""), "r'and' + \"\"\"or\"\"\"");
        assert_eq!(norm("r.or == 1"), "r.or == 1");
    }

    #[test]
    fn an_unparenthesised_binary_after_not_is_warned_about() {
        let result = normalise("not a and b");
        assert_eq!(result.warnings.len(), 1);
        assert!(result.warnings[0].message.contains("(not a) and b"), "{}", result.warnings[0].message);
        assert_eq!(result.warnings[0].span, 0..5);
        assert!(normalise("not (a and b)").warnings.is_empty());
        assert!(normalise("not a").warnings.is_empty());
        assert!(normalise("b and not a").warnings.is_empty());
        let call = normalise("not has(r.x) == true");
        assert!(call.warnings[0].message.contains("(not has(r.x)) == true"), "{}", call.warnings[0].message);
    }

    #[test]
    fn tokens_cover_literals() {
        let source = "0x1F + 1.5e3 + 2u + .5 + b'\\x00' + `a-b`";
        let kinds: Vec<TokenKind> = tokenize(source).into_iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            vec![
                TokenKind::Number,
                TokenKind::Symbol,
                TokenKind::Number,
                TokenKind::Symbol,
                TokenKind::Number,
                TokenKind::Symbol,
                TokenKind::Number,
                TokenKind::Symbol,
                TokenKind::String,
                TokenKind::Symbol,
                TokenKind::Escaped
            ]
        );
        assert_eq!(nesting_depth("((a[1]) + {b: (c)})"), 3);
    }
}
