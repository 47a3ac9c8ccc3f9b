//! Client sockets spread over many loopback source addresses (127.0.0.2, 127.0.0.3, …), so one
//! machine can open more connections to one server port than a single address has ephemeral
//! ports, and the server's per-address guest limits see many clients.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{bail, Context as _};
use futures_util::StreamExt as _;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A WebSocket over a plain TCP connection.
pub type Ws = WebSocketStream<TcpStream>;

/// A round-robin set of loopback source addresses.
#[derive(Debug)]
pub struct Sources {
    addrs: Vec<IpAddr>,
    next: AtomicUsize,
}

impl Sources {
    /// `count` addresses starting at 127.0.0.2 + `offset` (127.0.0.0/8 is all loopback on Linux).
    pub fn loopback(offset: u32, count: u32) -> Sources {
        let first = u32::from(Ipv4Addr::new(127, 0, 0, 2)) + offset;
        let addrs = (0..count.max(1))
            .map(|i| IpAddr::V4(Ipv4Addr::from(first + i)))
            .collect();
        Sources {
            addrs,
            next: AtomicUsize::new(0),
        }
    }

    /// The next address in turn.
    pub fn next(&self) -> IpAddr {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.addrs[i % self.addrs.len()]
    }
}

/// Opens a TCP connection to `server` from `source` (any free port), with Nagle off so small
/// frames leave at once.
pub async fn connect_from(source: IpAddr, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = match source {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Opens a WebSocket to `url` (`ws://host:port/path`) from `source`, with `Origin` and an optional
/// `Cookie`.
pub async fn ws_connect(
    source: IpAddr,
    server: SocketAddr,
    url: &str,
    origin: &str,
    cookie: Option<&str>,
) -> anyhow::Result<Ws> {
    let mut request = url.into_client_request().context("websocket URL")?;
    request
        .headers_mut()
        .insert("Origin", HeaderValue::from_str(origin)?);
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("Cookie", HeaderValue::from_str(cookie)?);
    }
    let tcp = connect_from(source, server)
        .await
        .with_context(|| format!("connect from {source}"))?;
    // Write each frame at once: latency is what is being measured.
    let config = WebSocketConfig {
        write_buffer_size: 0,
        ..WebSocketConfig::default()
    };
    match tokio_tungstenite::client_async_with_config(request, tcp, Some(config)).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            bail!("websocket refused with HTTP {}", res.status())
        }
        Err(e) => Err(e).context("websocket handshake"),
    }
}

/// The next JSON text event on `ws` within `timeout` (pings are answered while reading);
/// an error on close, timeout or a malformed frame.
pub async fn next_json(ws: &mut Ws, timeout: Duration) -> anyhow::Result<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let next = tokio::time::timeout_at(deadline, ws.next())
            .await
            .context("timed out waiting for an event")?;
        match next {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text)?),
            Some(Ok(Message::Close(frame))) => bail!("closed by the server: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e).context("websocket read"),
            None => bail!("connection ended"),
        }
    }
}

/// Sends one JSON value as a text frame.
pub async fn send_json(ws: &mut Ws, value: &serde_json::Value) -> anyhow::Result<()> {
    use futures_util::SinkExt as _;
    ws.send(Message::Text(value.to_string()))
        .await
        .context("websocket send")
}
