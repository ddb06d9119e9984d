//! HTTP/1.1 by hand over a tokio `TcpStream`, for the uploads an HTTP client will not
//! send: a chunked body without `Content-Length` that the test paces itself, a body that
//! stops half-way.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// The most of a response read back: enough for any error body.
const MAX_RESPONSE: usize = 64 * 1024;

/// An upload in progress on its own connection.
pub struct RawUpload {
    pub sender: RawSender,
    pub reader: RawReader,
}

/// What came back: the status and the body as text.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl RawUpload {
    /// Connects to `base` (`http://host:port`) and sends the head of `POST path`: a chunked
    /// body when `length` is `None`, else a declared `Content-Length`.
    pub async fn start(
        base: &str,
        path: &str,
        content_type: &str,
        length: Option<usize>,
    ) -> std::io::Result<RawUpload> {
        let authority = base.trim_start_matches("http://");
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        let (reader, mut writer) = stream.into_split();
        let framing = match length {
            Some(length) => format!("content-length: {length}"),
            None => "transfer-encoding: chunked".to_string(),
        };
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: {content_type}\r\n{framing}\r\n\r\n"
        );
        writer.write_all(head.as_bytes()).await?;
        Ok(RawUpload {
            sender: RawSender {
                writer,
                chunked: length.is_none(),
            },
            reader: RawReader { reader },
        })
    }
}

/// The sending half of a [`RawUpload`].
pub struct RawSender {
    writer: OwnedWriteHalf,
    chunked: bool,
}

impl RawSender {
    /// Sends part of the body (one chunk, when chunked).
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        if self.chunked {
            let mut framed = format!("{:x}\r\n", bytes.len()).into_bytes();
            framed.extend_from_slice(bytes);
            framed.extend_from_slice(b"\r\n");
            self.writer.write_all(&framed).await?;
        } else {
            self.writer.write_all(bytes).await?;
        }
        self.writer.flush().await
    }

    /// Ends a chunked body.
    pub async fn finish(&mut self) -> std::io::Result<()> {
        if self.chunked {
            self.writer.write_all(b"0\r\n\r\n").await?;
        }
        self.writer.flush().await
    }

    /// Sends `chunk` every `interval`, `count` times, stopping at the first error (the
    /// server closed the connection).
    pub async fn trickle(mut self, chunk: &[u8], interval: Duration, count: usize) {
        for _ in 0..count {
            if self.send(chunk).await.is_err() {
                return;
            }
            tokio::time::sleep(interval).await;
        }
    }
}

/// The reading half of a [`RawUpload`].
pub struct RawReader {
    reader: OwnedReadHalf,
}

impl RawReader {
    /// Reads the response: its head, then the body its `Content-Length` announces (or up
    /// to the connection's end). `None` if the connection closed before a status line.
    pub async fn response(mut self) -> Option<RawResponse> {
        let mut received = Vec::new();
        let mut buffer = [0u8; 8192];
        let head_end = loop {
            if let Some(at) = find(&received, b"\r\n\r\n") {
                break at + 4;
            }
            match self.reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
            if received.len() > MAX_RESPONSE {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&received[..head_end]).to_string();
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        let length = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(MAX_RESPONSE)
            .min(MAX_RESPONSE);
        let mut body = received[head_end..].to_vec();
        while body.len() < length {
            match self.reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => body.extend_from_slice(&buffer[..n]),
            }
        }
        Some(RawResponse {
            status,
            head,
            body: String::from_utf8_lossy(&body).to_string(),
        })
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
