//! The parser's messages, said plainly: what a rule author sees is ours
//! (`unexpected `+``, `the rule ends too early`), never the parser's grammar
//! names or internal types.

/// A syntax error, as the author should read it: a message and, when we can
/// tell, how to fix it. `too_deep` when the parser ran out of nesting.
pub(crate) struct Plain {
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
}

/// `'x'` → `x`, with the parser's name of the end of the text said plainly.
fn token(quoted: &str) -> String {
    let text = quoted.trim().trim_start_matches('\'').trim_end_matches('\'');
    match text {
        "<EOF>" => "the end of the rule".to_owned(),
        text => format!("`{}`", text.trim()),
    }
}

/// What the parser expected, from its `{'x', 'y', IDENT}` list: the closing
/// brackets and separators by name, anything else as "a value".
fn expected(list: &str) -> Option<String> {
    let items: Vec<&str> =
        list.trim().trim_start_matches('{').trim_end_matches('}').split(", ").map(str::trim).collect();
    let closers: Vec<String> = items
        .iter()
        .filter(|item| matches!(**item, "')'" | "']'" | "'}'" | "','" | "':'"))
        .map(|item| format!("`{}`", item.trim_matches('\'')))
        .collect();
    let value = items.iter().any(|item| matches!(*item, "IDENTIFIER" | "NUM_INT" | "STRING"));
    match (closers.is_empty(), value) {
        (true, true) => Some("expected a value here".to_owned()),
        (false, true) => Some(format!("expected a value or {}", closers.join(" or "))),
        (false, false) => Some(format!("expected {}", closers.join(" or "))),
        (true, false) if items.contains(&"<EOF>") => Some("expected the end of the rule".to_owned()),
        (true, false) => None,
    }
}

/// The parser's `message`, said plainly.
pub(crate) fn plain(message: &str) -> Plain {
    let message = message.trim().trim_start_matches("Syntax error: ");
    let syntax = |message: String, help: Option<String>| Plain { code: "syntax", message, help };
    if message.contains("Recursion limit") {
        return Plain {
            code: "too_deep",
            message: "the rule nests too deep to be read (brackets, calls and `?:` count)".to_owned(),
            help: Some("write it with fewer nested brackets or conditionals".to_owned()),
        };
    }
    if message.contains("ExprContext") && message.contains("_?_:_") {
        return syntax(
            "a `?` without its `:` branch".to_owned(),
            Some("write `condition ? value_if_true : value_if_false`".to_owned()),
        );
    }
    for (prefix, unexpected) in [("mismatched input ", true), ("extraneous input ", true)] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (found, wanted) = rest.split_once(" expecting ").unwrap_or((rest, ""));
            let found = token(found);
            let text = if found == "the end of the rule" {
                "the rule ends too early".to_owned()
            } else if unexpected {
                format!("unexpected {found}")
            } else {
                format!("cannot read {found} here")
            };
            let help = if wanted.trim() == "<EOF>" {
                Some("expected the end of the rule".to_owned())
            } else {
                expected(wanted)
            };
            return syntax(text, help);
        }
    }
    if let Some(rest) = message.strip_prefix("missing ") {
        let (wanted, at) = rest.split_once(" at ").unwrap_or((rest, ""));
        return syntax(format!("missing {} before {}", token(wanted), token(at)), None);
    }
    if let Some(rest) = message.strip_prefix("no viable alternative at input ") {
        return syntax(format!("cannot read {} here", token(rest)), None);
    }
    if let Some(rest) = message.strip_prefix("token recognition error at: ") {
        let rest = rest.trim();
        let text = rest.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')).unwrap_or(rest);
        let help = match text.trim() {
            "=" => Some("compare with `==`".to_owned()),
            "&" => Some("write `&&` or `and`".to_owned()),
            "|" => Some("write `||` or `or`".to_owned()),
            t if t.starts_with('\'') || t.starts_with('"') => Some("close the string with its quote".to_owned()),
            _ => None,
        };
        return syntax(format!("`{}` is not allowed here", text.trim()), help);
    }
    let internal = ["Context", "Error(", "ParseError", "expr_id", "source_info", "{", "'<EOF>'"];
    if internal.iter().any(|marker| message.contains(marker)) {
        return syntax("the rule cannot be read here".to_owned(), None);
    }
    syntax(message.to_owned(), None)
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn parser_messages_are_said_plainly() {
        let cases = [
            ("Incomplete `ExprContext` for `_?_:_` expression!", "a `?` without its `:` branch"),
            ("extraneous input '+' expecting {'[', '{', '(', '.', '-', '!', 'true', IDENTIFIER}", "unexpected `+`"),
            ("mismatched input '<EOF>' expecting {']', ','}", "the rule ends too early"),
            ("token recognition error at: '= '", "`=` is not allowed here"),
            ("missing ']' at '<EOF>'", "missing `]` before the end of the rule"),
            ("extraneous input '2' expecting <EOF>", "unexpected `2`"),
        ];
        for (parser, ours) in cases {
            assert_eq!(plain(parser).message, ours, "{parser}");
        }
        let deep =
            plain("OtherError(ParseError { source: None, pos: (96, -1), msg: \"Recursion limit of 96 exceeded\" })");
        assert_eq!(deep.code, "too_deep");
        assert_eq!(plain("mismatched input '<EOF>' expecting {']', ','}").help.as_deref(), Some("expected `]` or `,`"));
    }
}
