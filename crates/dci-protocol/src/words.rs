//! What a registry said, in its own words, from any error body met in the
//! wild: the spec's `{errors: [...]}`, OpenCRVS's `{error: {code, message}}`,
//! OAuth2's `{error, error_description}`, FastAPI's `{detail}`, an
//! acknowledgement's `{message: {ack_status, error}}`, RFC 7807 problems, and
//! plain text or HTML.

use serde_json::Value;

use crate::codes::AckStatus;

/// The longest account of a registry's words kept, in characters.
pub const MAX_WORDS_CHARS: usize = 200;

/// The registry's words in an error body, on one line of at most
/// [`MAX_WORDS_CHARS`] characters; `None` when the body says nothing.
///
/// ```
/// use dci_protocol::registry_words;
///
/// let oauth = br#"{"error": "invalid_client", "error_description": "unknown client"}"#;
/// assert_eq!(registry_words(oauth).as_deref(), Some("invalid_client: unknown client"));
/// assert_eq!(registry_words(b"Service\r\nUnavailable").as_deref(), Some("Service Unavailable"));
/// ```
pub fn registry_words(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    let words = match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::String(text)) => text,
        Ok(value) => words_of(&value).unwrap_or_else(|| value.to_string()),
        Err(_) if looks_like_html(trimmed) => html_words(trimmed),
        Err(_) => trimmed.to_owned(),
    };
    let line = one_line(&words);
    (!line.is_empty()).then_some(line)
}

/// The words of a JSON error body, when it has a shape we know.
pub fn words_of(value: &Value) -> Option<String> {
    let object = value.as_object()?;
    if let Some(errors) = object.get("errors").and_then(Value::as_array) {
        let said: Vec<String> = errors.iter().take(3).filter_map(error_words).collect();
        if !said.is_empty() {
            return Some(said.join("; "));
        }
    }
    if let Some(error) = object.get("error") {
        let description = text_of(object.get("error_description"));
        match (error, description) {
            (Value::String(code), Some(description)) => return Some(code_and_message(code, &description)),
            (Value::String(code), None) if !code.trim().is_empty() => return Some(code.clone()),
            (Value::Object(_), _) => {
                if let Some(words) = error_words(error) {
                    return Some(words);
                }
            }
            _ => {}
        }
    }
    if let Some(description) = text_of(object.get("error_description")) {
        return Some(description);
    }
    if let Some(detail) = object.get("detail") {
        let detail = detail_words(detail);
        let title = text_of(object.get("title"));
        match (title, detail) {
            (Some(title), Some(detail)) => return Some(code_and_message(&title, &detail)),
            (None, Some(detail)) => return Some(detail),
            _ => {}
        }
    }
    if let Some(message) = object.get("message") {
        if let Some((status, words)) = acknowledgement(message) {
            return Some(match words {
                Some(words) => format!("ack_status {status}: {words}"),
                None => format!("ack_status {status}"),
            });
        }
        if message.is_object()
            && let Some(words) = words_of(message)
        {
            return Some(words);
        }
    }
    error_words(value).or_else(|| text_of(object.get("title")))
}

/// An acknowledgement where an answer was expected: `{ack_status, error}` as
/// `message`, or as the `message` of an envelope's `message`. Its status and
/// the words of its error.
pub fn acknowledgement(message: &Value) -> Option<(AckStatus, Option<String>)> {
    let object = message.as_object()?;
    match object.get("ack_status") {
        Some(status) => {
            let status = AckStatus::parse(&text_of(Some(status)).unwrap_or_default());
            let words = object.get("error").and_then(|error| error_words(error).or_else(|| text_of(Some(error))));
            Some((status, words))
        }
        None => object.get("message").and_then(acknowledgement),
    }
}

/// `code: message` of one `{code, message}` error (also `msg`, `description`).
fn error_words(error: &Value) -> Option<String> {
    let object = error.as_object()?;
    let code = text_of(object.get("code"));
    let message = text_of(object.get("message"))
        .or_else(|| text_of(object.get("msg")))
        .or_else(|| text_of(object.get("description")));
    match (code, message) {
        (Some(code), Some(message)) => Some(code_and_message(&code, &message)),
        (None, Some(message)) => Some(message),
        (Some(code), None) => Some(code),
        (None, None) => None,
    }
}

/// FastAPI's `detail`: a string, or a list of `{loc, msg}` validation errors.
fn detail_words(detail: &Value) -> Option<String> {
    match detail {
        Value::Array(items) => {
            let said: Vec<String> = items
                .iter()
                .take(3)
                .filter_map(|item| {
                    let message = text_of(item.get("msg")).or_else(|| text_of(Some(item)))?;
                    let place: Vec<String> = item
                        .get("loc")
                        .and_then(Value::as_array)
                        .map(|loc| loc.iter().filter_map(|part| text_of(Some(part))).collect())
                        .unwrap_or_default();
                    Some(if place.is_empty() { message } else { format!("{message} (at {})", place.join(".")) })
                })
                .collect();
            (!said.is_empty()).then(|| said.join("; "))
        }
        Value::Object(_) => error_words(detail),
        other => text_of(Some(other)),
    }
}

/// `code: message`, without saying the code twice when the message already does.
fn code_and_message(code: &str, message: &str) -> String {
    let (code, message) = (code.trim(), message.trim());
    if code.is_empty() || message.contains(code) {
        message.to_owned()
    } else if message.is_empty() {
        code.to_owned()
    } else {
        format!("{code}: {message}")
    }
}

fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn looks_like_html(text: &str) -> bool {
    let start: String = text.chars().take(64).collect::<String>().to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html") || start.starts_with("<head")
}

/// The title of an HTML page, else its text without tags.
fn html_words(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    if let (Some(start), Some(end)) = (lower.find("<title>"), lower.find("</title>"))
        && start + 7 <= end
    {
        return html[start + 7..end].to_owned();
    }
    let mut text = String::with_capacity(html.len().min(4096));
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
        if text.len() > 4 * MAX_WORDS_CHARS {
            break;
        }
    }
    text
}

/// One line: control characters become spaces, runs of spaces one, at most
/// [`MAX_WORDS_CHARS`] characters (an ellipsis marks the cut).
pub fn one_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len().min(MAX_WORDS_CHARS * 4));
    let mut count = 0;
    let mut space = false;
    for c in text.trim().chars() {
        let c = if c.is_control() || c.is_whitespace() { ' ' } else { c };
        if c == ' ' {
            space = true;
            continue;
        }
        if space && !line.is_empty() {
            line.push(' ');
            count += 1;
            space = false;
        }
        if count + 1 >= MAX_WORDS_CHARS {
            line.push('…');
            return line;
        }
        line.push(c);
        count += 1;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(body: &str) -> Option<String> {
        registry_words(body.as_bytes())
    }

    #[test]
    fn every_known_shape_gives_the_registry_s_words_once() {
        let cases = [
            (r#"{"errors": [{"code": "err.request.bad", "message": "no header"}]}"#, "err.request.bad: no header"),
            (
                r#"{"error": {"code": "err.signature.invalid", "message": "err.signature.invalid: bad key"}}"#,
                "err.signature.invalid: bad key",
            ),
            (r#"{"error": "invalid_client", "error_description": "who are you"}"#, "invalid_client: who are you"),
            (r#"{"error": "invalid_client"}"#, "invalid_client"),
            (r#"{"detail": "Not authenticated"}"#, "Not authenticated"),
            (
                r#"{"detail": [{"loc": ["body", "header", "sender_id"], "msg": "field required", "type": "missing"}]}"#,
                "field required (at body.header.sender_id)",
            ),
            (
                r#"{"message": {"ack_status": "ERR", "error": {"code": "err.request.bad", "message": "bad query"}}}"#,
                "ack_status ERR: err.request.bad: bad query",
            ),
            (r#"{"message": {"ack_status": "NACK"}}"#, "ack_status NACK"),
            (r#"{"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "scope"}"#, "Forbidden: scope"),
            (r#"{"code": "E42", "message": "quota"}"#, "E42: quota"),
            ("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "502 Bad Gateway"),
            ("\"just a string\"", "just a string"),
            ("upstream\r\n  timed out\tagain", "upstream timed out again"),
        ];
        for (body, expected) in cases {
            assert_eq!(said(body).as_deref(), Some(expected), "{body}");
        }
        assert_eq!(said("  "), None);
        assert_eq!(said(r#"{"unexpected": true}"#).as_deref(), Some(r#"{"unexpected":true}"#));
    }

    #[test]
    fn words_are_one_bounded_line() {
        let long = "x".repeat(10_000);
        let line = said(&long).expect("words");
        assert_eq!(line.chars().count(), MAX_WORDS_CHARS);
        assert!(line.ends_with('…'));
        let control = said("a\u{0}b\u{1b}[31mc").expect("words");
        assert!(!control.chars().any(char::is_control), "{control:?}");
    }

    #[test]
    fn an_acknowledgement_is_found_at_the_top_or_inside_an_envelope() {
        let top = serde_json::json!({"ack_status": "ACK", "correlation_id": "c"});
        assert_eq!(acknowledgement(&top), Some((AckStatus::Ack, None)));
        let nested =
            serde_json::json!({"message": {"ack_status": "ERR", "error": {"code": "err.request.bad", "message": "m"}}});
        assert_eq!(acknowledgement(&nested), Some((AckStatus::Err, Some("err.request.bad: m".into()))));
        assert_eq!(acknowledgement(&serde_json::json!({"search_response": []})), None);
    }
}
