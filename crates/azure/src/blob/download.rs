//! GET a blob, resuming with `Range` after a dropped connection, and checking the final
//! length against `Content-Length` / `Content-Range`.

use super::{BlobClient, blob_error};
use crate::error::{Error, Result, redact_url};
use crate::retry::Failure;
use bytes::Bytes;
use reqwest::Method;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Total size from `Content-Range: bytes a-b/total`.
pub fn content_range_total(v: &str) -> Option<u64> {
    v.rsplit_once('/').and_then(|(_, t)| t.trim().parse().ok())
}

/// Start offset from `Content-Range: bytes a-b/total`.
pub fn content_range_start(v: &str) -> Option<u64> {
    let v = v.trim().strip_prefix("bytes")?.trim();
    v.split_once('-').and_then(|(a, _)| a.trim().parse().ok())
}

/// The end of a blob, as [`BlobClient::download_tail`] read it.
#[derive(Debug, Clone)]
pub struct Tail {
    /// The last bytes of the blob (all of it when it fits).
    pub bytes: Bytes,
    /// How many bytes at the start were left out.
    pub skipped: u64,
}

/// An in-memory sink that keeps the last `max` bytes written (holding at most twice that).
struct Tailing {
    buf: Vec<u8>,
    max: usize,
    /// Bytes dropped from the front.
    dropped: u64,
}

impl Tailing {
    fn trim(&mut self, keep: usize) {
        if self.buf.len() > keep {
            let cut = self.buf.len() - keep;
            self.buf.drain(..cut);
            self.dropped += cut as u64;
        }
    }
}

impl AsyncWrite for Tailing {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.buf.extend_from_slice(data);
        if self.buf.len() > self.max.saturating_mul(2) {
            let max = self.max;
            self.trim(max);
        }
        std::task::Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl BlobClient {
    /// Download a whole blob into memory.
    pub async fn download(&self, container: &str, name: &str) -> Result<Bytes> {
        let mut buf: Vec<u8> = Vec::new();
        self.download_to(container, name, &mut buf).await?;
        Ok(Bytes::from(buf))
    }

    /// Download the last `max` bytes of a blob of `size` bytes (as listed; a blob that grew
    /// since is read to its real end), holding at most twice `max` bytes whatever the server
    /// sends.
    pub async fn download_tail(
        &self,
        container: &str,
        name: &str,
        size: u64,
        max: u64,
    ) -> Result<Tail> {
        let start = size.saturating_sub(max);
        let cap = usize::try_from(max).unwrap_or(usize::MAX);
        let mut out = Tailing {
            buf: Vec::new(),
            max: cap,
            dropped: 0,
        };
        self.download_range_to(container, name, start, &mut out)
            .await?;
        out.trim(cap);
        Ok(Tail {
            bytes: Bytes::from(out.buf),
            skipped: start + out.dropped,
        })
    }

    /// Stream a blob into `out`; returns the number of bytes written.
    pub async fn download_to<W: AsyncWrite + Unpin>(
        &self,
        container: &str,
        name: &str,
        out: &mut W,
    ) -> Result<u64> {
        self.download_range_to(container, name, 0, out).await
    }

    /// Stream a blob from byte `start` on into `out`; returns the blob's end offset.
    pub async fn download_range_to<W: AsyncWrite + Unpin>(
        &self,
        container: &str,
        name: &str,
        start: u64,
        out: &mut W,
    ) -> Result<u64> {
        let url = self.url(container, Some(name))?;
        let shown = redact_url(url.as_str());
        let mut p = Progress {
            got: start,
            total: None,
            etag: None,
        };
        let mut state = self.retry.start();
        loop {
            let mut extra: Vec<(&str, String)> = Vec::new();
            if p.got > 0 {
                extra.push(("range", format!("bytes={}-", p.got)));
                if let Some(e) = &p.etag {
                    extra.push(("if-match", e.clone()));
                }
            }
            let (req, crid) = self.build(&Method::GET, &url, &extra, None).await?;
            let (failure, headers, last) = match self.http.send_headers(req).await {
                Err((failure, message)) => (
                    failure,
                    None,
                    Error::Transport {
                        method: "GET".into(),
                        url: shown.clone(),
                        message,
                    },
                ),
                Ok(resp) if !resp.status().is_success() => {
                    error_answer(resp, &shown, &crid).await?
                }
                Ok(resp) => match read_body(resp, &mut p, out, &shown).await? {
                    Attempt::Done(n) => return Ok(n),
                    Attempt::Failed { error, progressed } => {
                        if progressed {
                            state = self.retry.start();
                        }
                        (Failure::Io, None, error)
                    }
                },
            };
            let wait = {
                let mut rng = rand::rng();
                self.retry.next_wait(
                    &mut state,
                    &Method::GET,
                    failure,
                    headers.as_ref(),
                    &mut rng,
                )
            };
            match wait {
                Some(w) => {
                    self.retry.announce(
                        &state,
                        &format!("Blob download of {shown} ({} bytes in)", p.got),
                        w,
                    );
                    tokio::time::sleep(w).await;
                }
                None => return Err(crate::arm::given_up(&state, &self.endpoint, last)),
            }
        }
    }
}

/// How far a resumable download got: bytes written, the size and ETag the first answer gave.
struct Progress {
    got: u64,
    total: Option<u64>,
    etag: Option<String>,
}

/// What reading one answer's body ended with.
enum Attempt {
    /// The whole blob is written.
    Done(u64),
    /// The body ended early or broke; `progressed` when it still brought bytes.
    Failed { error: Error, progressed: bool },
}

/// An error answer as a failure to retry, or the error itself when retrying cannot help
/// (authentication). An error body is short; at most 64 KiB of it is read.
async fn error_answer(
    mut resp: reqwest::Response,
    shown: &str,
    crid: &str,
) -> Result<(Failure, Option<reqwest::header::HeaderMap>, Error)> {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut body = Vec::new();
    while let Ok(Some(c)) = resp.chunk().await {
        body.extend_from_slice(&c);
        if body.len() > 64 << 10 {
            break;
        }
    }
    let r = crate::transport::Response {
        status,
        headers: headers.clone(),
        body: Bytes::from(body),
        url: shown.to_string(),
    };
    let err = blob_error(&Method::GET, &r, crid);
    if err.is_auth() {
        return Err(err);
    }
    Ok((Failure::Status(status), Some(headers), err))
}

/// Writes the bytes of a 200 or 206 answer the download does not have yet; done when it has
/// them all, `Err` when the answer does not fit what was asked.
async fn read_body<W: AsyncWrite + Unpin>(
    mut resp: reqwest::Response,
    p: &mut Progress,
    out: &mut W,
    shown: &str,
) -> Result<Attempt> {
    let io_err = |e: std::io::Error| Error::Transport {
        method: "GET".into(),
        url: shown.to_string(),
        message: format!("writing download: {e}"),
    };
    let start = take_headers(&resp, p);
    if start > p.got {
        return Err(Error::Incomplete {
            url: shown.to_string(),
            expected: p.total.unwrap_or(0),
            actual: p.got,
        });
    }
    // Skip bytes we already have (server ignored or widened the range).
    let (progressed, broke) = copy_body(&mut resp, p.got - start, p, out)
        .await
        .map_err(io_err)?;
    let got = p.got;
    match (broke, p.total) {
        (None, Some(t)) if got == t => {
            out.flush().await.map_err(io_err)?;
            Ok(Attempt::Done(got))
        }
        (None, None) => {
            out.flush().await.map_err(io_err)?;
            Ok(Attempt::Done(got))
        }
        (None, Some(t)) if got > t => Err(Error::Incomplete {
            url: shown.to_string(),
            expected: t,
            actual: got,
        }),
        (why, t) => Ok(Attempt::Failed {
            error: Error::Incomplete {
                url: format!("{shown} ({})", why.unwrap_or("body ended early")),
                expected: t.unwrap_or(0),
                actual: got,
            },
            progressed,
        }),
    }
}

/// Where the answer's body starts in the blob (a 200 always at 0); the blob's size and ETag
/// are kept from the first answer that gives them.
fn take_headers(resp: &reqwest::Response, p: &mut Progress) -> u64 {
    let status = resp.status().as_u16();
    let h = resp.headers();
    let text = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (start, announced) = if status == 206 {
        let range = text("content-range");
        let range = range.as_deref();
        (
            range.and_then(content_range_start).unwrap_or(p.got),
            range.and_then(content_range_total),
        )
    } else {
        (0, text("content-length").and_then(|v| v.parse().ok()))
    };
    if p.total.is_none() {
        p.total = announced;
    }
    if p.etag.is_none() {
        p.etag = text("etag");
    }
    start
}

/// Copies the body to `out` after skipping `skip` bytes: whether any byte was written, and
/// why the body broke off, if it did.
async fn copy_body<W: AsyncWrite + Unpin>(
    resp: &mut reqwest::Response,
    mut skip: u64,
    p: &mut Progress,
    out: &mut W,
) -> std::io::Result<(bool, Option<&'static str>)> {
    let mut progressed = false;
    loop {
        match resp.chunk().await {
            Ok(Some(mut chunk)) => {
                if skip > 0 {
                    let n = (skip as usize).min(chunk.len());
                    chunk = chunk.slice(n..);
                    skip -= n as u64;
                }
                if !chunk.is_empty() {
                    out.write_all(&chunk).await?;
                    p.got += chunk.len() as u64;
                    progressed = true;
                }
            }
            Ok(None) => return Ok((progressed, None)),
            Err(_) => return Ok((progressed, Some("connection dropped mid-body"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(content_range_total("bytes 0-99/100"), Some(100));
        assert_eq!(content_range_start("bytes 40-99/100"), Some(40));
        assert_eq!(content_range_total("bytes */100"), Some(100));
        assert_eq!(content_range_total("garbage"), None);
    }
}
