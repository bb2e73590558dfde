//! JSON bodies for the answers hyper gives by itself.
//!
//! A request hyper cannot parse never reaches a handler: a request line
//! longer than 64 KiB (414), a head larger than its buffer (431), a
//! malformed request line or header (400). hyper answers those with a
//! status line and `content-length: 0`, then closes the connection. Every
//! other answer of this API is a JSON error with a code; so is this one: the
//! connection's writer recognises such an automatic answer (an error status
//! with an empty body and no content type, written whole before anything else
//! of that answer) and writes the same status with a JSON body instead.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{ErrorBody, ErrorCode, ErrorDetail};

/// A connection whose automatic error answers get JSON bodies.
pub(crate) struct JsonParseErrors<S> {
    inner: S,
    /// A rewritten answer still to be written, and how much of it is.
    pending: Option<(Vec<u8>, usize)>,
}

impl<S> JsonParseErrors<S> {
    pub(crate) fn new(inner: S) -> Self {
        JsonParseErrors { inner, pending: None }
    }
}

/// The JSON answer replacing hyper's automatic answer `head`, if `head` is one.
fn rewritten(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let lower = text.to_ascii_lowercase();
    if !lower.ends_with("\r\n\r\n") || !lower.contains("\r\ncontent-length: 0\r\n") || lower.contains("content-type") {
        return None;
    }
    let (status, code, message) = match text.get(..13)? {
        "HTTP/1.1 414 " | "HTTP/1.0 414 " => (
            "414 URI Too Long",
            ErrorCode::UriTooLong,
            "the request's path and query are longer than 65,534 bytes: send the data in the body",
        ),
        "HTTP/1.1 431 " | "HTTP/1.0 431 " => (
            "431 Request Header Fields Too Large",
            ErrorCode::HeadersTooLarge,
            "the request's head is larger than the server reads (twice max_header_bytes)",
        ),
        "HTTP/1.1 400 " | "HTTP/1.0 400 " => {
            ("400 Bad Request", ErrorCode::InvalidRequest, "the request line or a header cannot be read as HTTP/1.1")
        }
        _ => return None,
    };
    let body = ErrorBody { error: ErrorDetail { code, message: message.to_owned(), details: None } };
    let json = serde_json::to_vec(&body).ok()?;
    let mut answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        json.len()
    )
    .into_bytes();
    answer.extend_from_slice(&json);
    Some(answer)
}

impl<S: AsyncWrite + Unpin> JsonParseErrors<S> {
    /// Writes what is pending; ready once nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = self.pending.as_mut() {
            if *written == bytes.len() {
                self.pending = None;
                break;
            }
            match Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonParseErrors<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonParseErrors<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        if buf.starts_with(b"HTTP/1.")
            && buf.len() < 512
            && let Some(answer) = rewritten(buf)
        {
            self.pending = Some((answer, 0));
            // The bytes given are taken: what stands for them is written now or at the next flush.
            let _ = self.drain(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.drain(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_empty_automatic_error_answers_are_rewritten() {
        let automatic =
            b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Sun, 06 Dec 2026 00:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(rewritten(automatic).expect("rewritten")).expect("text");
        assert!(answer.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{answer}");
        assert!(answer.contains("\"code\":\"uri_too_long\""), "{answer}");
        // An answer of the API itself (a JSON body follows its head) is left alone.
        let own = b"HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\ncontent-length: 90\r\n\r\n";
        assert_eq!(rewritten(own), None);
        assert_eq!(rewritten(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"), None);
    }
}
