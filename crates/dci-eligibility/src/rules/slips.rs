//! Slips a programme officer makes when writing a rule, each told with its fix
//! before the parser's more puzzling words: `AND` for `and`, `True` for `true`,
//! curly quotes, `=>`, `≥`, a lone `=`, a bracket never closed. A slip that
//! would parse (`True` reads as a beneficiary field) is refused all the same:
//! it never means what its author meant.

use std::ops::Range;

use crate::rules::diagnostic::line_column;
use crate::rules::dialect::{Token, TokenKind, tokenize};

/// One slip: where, what, and the fix.
pub(crate) struct Slip {
    pub(crate) span: Range<usize>,
    pub(crate) message: String,
    pub(crate) help: String,
}

/// Operators written another way, and how rules write them.
const OPERATORS: [(&str, &str); 7] =
    [("=>", ">="), ("=<", "<="), ("≥", ">="), ("≤", "<="), ("≠", "!="), ("<>", "!="), ("=", "==")];

/// Opening curly quotes and their closing partners.
const CURLY: [(char, char); 4] = [('“', '”'), ('‘', '’'), ('„', '“'), ('«', '»')];

/// Every slip in `source`, in order.
pub(crate) fn slips(source: &str) -> Vec<Slip> {
    let tokens = tokenize(source);
    let mut found = Vec::new();
    let mut skip_to = 0;
    for (index, token) in tokens.iter().enumerate() {
        if token.span.start < skip_to {
            continue;
        }
        let slip = match token.kind {
            TokenKind::Ident => word(source, &tokens, index),
            TokenKind::Symbol => curly(source, token).or_else(|| operator(source, &tokens, index)),
            _ => None,
        };
        if let Some(slip) = slip {
            skip_to = slip.span.end;
            found.push(slip);
        }
    }
    found.extend(unclosed(source, &tokens));
    found
}

/// `AND`/`Or`/`NOT` and `True`/`FALSE`/`Null`/`None` outside field names and calls.
fn word(source: &str, tokens: &[Token], index: usize) -> Option<Slip> {
    let token = &tokens[index];
    let text = &source[token.span.clone()];
    let after_dot = index > 0 && &source[tokens[index - 1].span.clone()] == ".";
    let called = tokens.get(index + 1).is_some_and(|next| &source[next.span.clone()] == "(");
    if after_dot || called {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let (meant, what) = match lower.as_str() {
        _ if lower == text => return None,
        "and" | "or" | "not" => (lower.clone(), "an operator"),
        "true" | "false" | "null" => (lower.clone(), "a value"),
        _ => return None,
    };
    let read_as = if what == "a value" { ": it reads as a beneficiary field of that name" } else { "" };
    Some(Slip {
        span: token.span.clone(),
        message: format!("`{text}` is not {what} in rules{read_as}"),
        help: format!("write `{meant}`, in lowercase"),
    })
}

/// A text in curly quotes: the fix is the same text in straight quotes.
fn curly(source: &str, token: &Token) -> Option<Slip> {
    let open = source[token.span.clone()].chars().next()?;
    let (_, close) = CURLY.iter().find(|(o, _)| *o == open)?;
    let rest = &source[token.span.end..];
    let inner_end = rest.find([*close, '”', '’', '"', '\n']).unwrap_or(rest.len());
    let inner = &rest[..inner_end];
    let end = token.span.end + inner_end + rest[inner_end..].chars().next().map_or(0, char::len_utf8);
    Some(Slip {
        span: token.span.start..end.min(source.len()),
        message: format!("`{}` is in curly quotes, which rules do not read as text", &source[token.span.start..end]),
        help: format!("write it in straight quotes: \"{inner}\""),
    })
}

/// `=>`, `=<`, `≥`, `≤`, `≠`, `<>` and a lone `=`.
fn operator(source: &str, tokens: &[Token], index: usize) -> Option<Slip> {
    let token = &tokens[index];
    let text = &source[token.span.clone()];
    let next = tokens.get(index + 1).filter(|next| next.span.start == token.span.end);
    let pair = next.map(|next| format!("{text}{}", source[next.span.clone()].chars().next().unwrap_or(' ')));
    let (written, meant, span) = match pair.as_deref() {
        Some(pair @ ("=>" | "=<" | "<>")) => {
            let (_, meant) = OPERATORS.iter().find(|(w, _)| w == &pair)?;
            (pair.to_owned(), *meant, token.span.start..token.span.end + 1)
        }
        _ => {
            let (_, meant) = OPERATORS.iter().find(|(w, _)| *w == text && (*w != "<>"))?;
            (text.to_owned(), *meant, token.span.clone())
        }
    };
    let message = match written.as_str() {
        "=" => "a single `=` does not compare".to_owned(),
        _ => format!("`{written}` is not an operator in rules"),
    };
    Some(Slip { span, message, help: format!("write `{meant}`") })
}

/// Brackets opened and never closed, each shown where it was opened.
fn unclosed(source: &str, tokens: &[Token]) -> Vec<Slip> {
    let mut open: Vec<&Token> = Vec::new();
    for token in tokens.iter().filter(|t| t.kind == TokenKind::Symbol) {
        match &source[token.span.clone()] {
            "(" | "[" | "{" => open.push(token),
            closer @ (")" | "]" | "}") => {
                let opener = match closer {
                    ")" => "(",
                    "]" => "[",
                    _ => "{",
                };
                if open.last().is_some_and(|last| &source[last.span.clone()] == opener) {
                    open.pop();
                } else {
                    // A closer that does not match: the parser says where; nothing is guessed.
                    return Vec::new();
                }
            }
            _ => {}
        }
    }
    open.into_iter()
        .map(|token| {
            let bracket = &source[token.span.clone()];
            let (line, column) = line_column(source, token.span.start);
            let closer = match bracket {
                "(" => ")",
                "[" => "]",
                _ => "}",
            };
            Slip {
                span: token.span.clone(),
                message: format!("`{bracket}` opened at {line}:{column} is never closed"),
                help: format!("add `{closer}` where the part it groups ends"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixes(source: &str) -> Vec<(String, String)> {
        slips(source).into_iter().map(|s| (source[s.span].to_owned(), s.help)).collect()
    }

    #[test]
    fn each_slip_is_found_with_its_fix() {
        assert_eq!(fixes("a AND b"), [("AND".to_owned(), "write `and`, in lowercase".to_owned())]);
        assert_eq!(fixes("dci.crvs.is_alive == True"), [("True".to_owned(), "write `true`, in lowercase".to_owned())]);
        assert_eq!(fixes("r.x == “yes”"), [("“yes”".to_owned(), "write it in straight quotes: \"yes\"".to_owned())]);
        assert_eq!(fixes("age => 60"), [("=>".to_owned(), "write `>=`".to_owned())]);
        assert_eq!(fixes("age ≥ 60"), [("≥".to_owned(), "write `>=`".to_owned())]);
        assert_eq!(fixes("age = 60"), [("=".to_owned(), "write `==`".to_owned())]);
        assert_eq!(fixes("f(a, (b)"), [("(".to_owned(), "add `)` where the part it groups ends".to_owned())]);
    }

    #[test]
    fn what_is_written_right_is_left_alone() {
        for source in [
            "a and b or not c",
            "r.AND == r.True",
            "'AND' == \"True\"",
            "age >= 60 && age <= 70 && x != 1",
            "f((a), [b])",
            "r.x == '“yes”'",
            "True(1)",
        ] {
            assert!(slips(source).is_empty(), "{source}");
        }
    }
}
