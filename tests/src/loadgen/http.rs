//! A minimal HTTP/1.1 keep-alive client for the guest API. A load generator spends most of its CPU
//! in its client; this one writes a request and parses a `Content-Length` answer and nothing more,
//! so the server, not the generator, is what runs out of cores first.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use anyhow::{bail, Context as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::net::{connect_from, Sources};

/// One kept-alive connection from a fixed source address.
pub struct HttpConn {
    source: IpAddr,
    server: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

/// A response: status and body.
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).context("response body is not JSON")
    }
}

impl HttpConn {
    /// A connection to `server` from `source`; it connects on first use.
    pub fn new(source: IpAddr, server: SocketAddr) -> HttpConn {
        HttpConn {
            source,
            server,
            stream: None,
            buf: Vec::with_capacity(1024),
        }
    }

    /// The source address requests leave from.
    pub fn source(&self) -> IpAddr {
        self.source
    }

    /// POSTs `body` as `text/plain` (as `navigator.sendBeacon` does) with `Origin`. A kept-alive
    /// connection the server closed meanwhile is reopened and the request sent once more.
    pub async fn post(&mut self, path: &str, origin: &str, body: &str) -> anyhow::Result<Response> {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\nUser-Agent: beckon-loadgen\r\n\
             Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
            self.server,
            body.len()
        );
        let reused = self.stream.is_some();
        match self.exchange(request.as_bytes()).await {
            Ok(res) => Ok(res),
            Err(_) if reused => {
                self.stream = None;
                self.exchange(request.as_bytes()).await
            }
            Err(e) => Err(e),
        }
    }

    async fn exchange(&mut self, request: &[u8]) -> anyhow::Result<Response> {
        if self.stream.is_none() {
            self.stream = Some(connect_from(self.source, self.server).await?);
        }
        let result = self.exchange_on_open(request).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    async fn exchange_on_open(&mut self, request: &[u8]) -> anyhow::Result<Response> {
        let stream = self.stream.as_mut().context("not connected")?;
        stream.write_all(request).await?;
        self.buf.clear();
        let header_end = loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                break end + 4;
            }
            if self.buf.len() > 64 * 1024 {
                bail!("response header too large");
            }
            if stream.read_buf(&mut self.buf).await? == 0 {
                bail!("connection closed before a response");
            }
        };
        let head = std::str::from_utf8(&self.buf[..header_end]).context("header not UTF-8")?;
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse::<u16>().ok())
            .context("malformed status line")?;
        let mut length = 0usize;
        let mut close = false;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().context("bad content-length")?;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                bail!("chunked responses are not supported by this client");
            } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close")
            {
                close = true;
            }
        }
        while self.buf.len() < header_end + length {
            if stream.read_buf(&mut self.buf).await? == 0 {
                bail!("connection closed inside a body");
            }
        }
        let body = self.buf[header_end..header_end + length].to_vec();
        if close {
            self.stream = None;
        }
        Ok(Response { status, body })
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Idle connections handed out to short tasks and taken back, spread over the source addresses.
pub struct HttpPool {
    server: SocketAddr,
    sources: Sources,
    idle: Mutex<Vec<HttpConn>>,
}

impl HttpPool {
    /// An empty pool for `server`.
    pub fn new(server: SocketAddr, sources: Sources) -> HttpPool {
        HttpPool {
            server,
            sources,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle connection, or a new one from the next source address.
    pub fn take(&self) -> HttpConn {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        idle.unwrap_or_else(|| HttpConn::new(self.sources.next(), self.server))
    }

    /// Returns a connection for reuse.
    pub fn give_back(&self, conn: HttpConn) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
    }
}
