//! Defender-shaped bodies for the refusals hyper makes before any request reaches the router.
//!
//! A request line longer than hyper accepts (414), too many or too large headers (431), or a
//! header hyper cannot parse — a bad `Content-Length`, a malformed line — (400) never becomes a
//! request: hyper answers it itself, with an empty body, and closes the connection (issue 13,
//! F8). hyper offers no hook for that answer, so this wrapper around the socket recognises it on
//! the way out — a 400, 414 or 431 head with `content-length: 0` and nothing after it, a shape
//! kbgap's own responses never have, since every error kbgap renders carries a JSON body — and
//! writes in its place the same status with `{"error":{…}}`, a fresh request id in `target` and
//! the `request-id` header, and logs the refusal with that id.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{ErrorCode, JSON_CONTENT_TYPE, render_body};
use crate::request_id::{REQUEST_ID_HEADER, RequestId};

/// A socket whose bare protocol refusals are rewritten in Defender's shape.
#[derive(Debug)]
pub struct ShapedRefusals<T> {
    inner: T,
    /// A rewritten refusal being written, with how much of it is out and how many bytes of
    /// hyper's original to report once it all is.
    pending: Option<Pending>,
}

#[derive(Debug)]
struct Pending {
    bytes: Vec<u8>,
    written: usize,
    replaces: usize,
}

impl<T> ShapedRefusals<T> {
    /// Wraps a connection.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: None,
        }
    }
}

/// The status of a bare refusal written by hyper, if `buf` is exactly one.
fn bare_refusal(buf: &[u8]) -> Option<u16> {
    let rest = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| buf.strip_prefix(b"HTTP/1.0 "))?;
    let status = match rest.get(..4)? {
        b"400 " => 400,
        b"414 " => 414,
        b"431 " => 431,
        _ => return None,
    };
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    if head_end != buf.len() {
        return None; // a body follows: one of kbgap's own responses
    }
    let head = String::from_utf8_lossy(buf).to_ascii_lowercase();
    head.contains("\r\ncontent-length: 0\r\n").then_some(status)
}

/// The message and code for a refusal's status.
fn explain(status: u16) -> (ErrorCode, &'static str) {
    match status {
        414 => (
            ErrorCode::BadRequest,
            "The request URI is too long (at most 65,534 bytes).",
        ),
        431 => (
            ErrorCode::BadRequest,
            "The request headers are too large or too many (at most 100 headers).",
        ),
        _ => (
            ErrorCode::BadRequest,
            "The request is not valid HTTP/1.1 (request line, a header, or the body's framing).",
        ),
    }
}

/// The full response replacing hyper's bare refusal `original`.
fn shaped(original: &[u8], status: u16) -> Vec<u8> {
    let id = RequestId::generate();
    let (code, message) = explain(status);
    tracing::info!(
        request_id = %id,
        status,
        code = code.as_str(),
        reason = ?message,
        "request refused before routing"
    );
    let body = render_body(code, message, id.as_str());
    let text = String::from_utf8_lossy(original);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("HTTP/1.1 400 Bad Request");
    let date = lines.find(|l| l.to_ascii_lowercase().starts_with("date:"));
    let mut out = format!(
        "{status_line}\r\ncontent-type: {JSON_CONTENT_TYPE}\r\ncontent-length: {}\r\n{REQUEST_ID_HEADER}: {id}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(d) = date {
        out.push_str(d);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

impl<T: AsyncRead + Unpin> AsyncRead for ShapedRefusals<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ShapedRefusals<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.is_none() {
            match bare_refusal(buf) {
                Some(status) => {
                    this.pending = Some(Pending {
                        bytes: shaped(buf, status),
                        written: 0,
                        replaces: buf.len(),
                    });
                }
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        let Some(p) = this.pending.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        while p.written < p.bytes.len() {
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &p.bytes[p.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            p.written += n;
        }
        let replaced = p.replaces;
        this.pending = None;
        Poll::Ready(Ok(replaced))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_bare_refusals() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 21:00:00 GMT\r\n\r\n";
        assert_eq!(bare_refusal(bare), Some(431));
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(bare_refusal(with_body), None);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(bare_refusal(ok), None);
        let not_empty = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 10\r\n\r\n";
        assert_eq!(bare_refusal(not_empty), None);
    }

    #[test]
    fn the_replacement_is_a_defender_error_with_a_request_id() {
        let bare = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Wed, 02 Dec 2026 21:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(shaped(bare, 414)).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("date: Wed, 02 Dec 2026"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        let id = v["error"]["target"].as_str().unwrap();
        assert_eq!(id.len(), 36);
        assert!(head.contains(&format!("request-id: {id}")));
        assert_eq!(v["error"]["code"], "BadRequest");
    }
}
