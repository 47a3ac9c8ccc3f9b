//! A WebSocket client for protocol tests: send JSON, wait for the next event with a timeout, expect a
//! close code, or expect silence.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The client for a completed handshake, or the status the server answered instead.
fn opened<R>(
    handshake: Result<(Stream, R), tokio_tungstenite::tungstenite::Error>,
) -> Result<WsClient, Refused> {
    match handshake {
        Ok((stream, _)) => Ok(WsClient { stream }),
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(Refused {
            status: res.status().as_u16(),
        }),
        Err(e) => panic!("websocket handshake failed: {e}"),
    }
}

/// A connected socket.
pub struct WsClient {
    stream: Stream,
}

/// Why a connection attempt did not open a socket.
#[derive(Debug)]
pub struct Refused {
    /// The HTTP status the server answered instead of upgrading.
    pub status: u16,
}

impl WsClient {
    /// Connects to `url` (`ws://…`) sending `Origin` and, if given, a `Cookie` header.
    pub async fn connect(
        url: &str,
        origin: Option<&str>,
        cookie: Option<&str>,
    ) -> Result<WsClient, Refused> {
        let mut request = url.into_client_request().expect("websocket URL");
        if let Some(origin) = origin {
            request.headers_mut().insert(
                "Origin",
                HeaderValue::from_str(origin).expect("origin header"),
            );
        }
        if let Some(cookie) = cookie {
            request.headers_mut().insert(
                "Cookie",
                HeaderValue::from_str(cookie).expect("cookie header"),
            );
        }
        opened(tokio_tungstenite::connect_async(request).await)
    }

    /// Opens the socket from `origin` with extra header lines, each appended (so a name given twice
    /// is sent as two lines, as a proxy that adds its own line does).
    pub async fn connect_with_header_lines(
        url: &str,
        origin: &str,
        lines: &[(&'static str, &str)],
    ) -> Result<WsClient, Refused> {
        let mut request = url.into_client_request().expect("websocket URL");
        let headers = request.headers_mut();
        headers.insert(
            "Origin",
            HeaderValue::from_str(origin).expect("origin header"),
        );
        for (name, value) in lines {
            headers.append(*name, HeaderValue::from_str(value).expect("header value"));
        }
        opened(tokio_tungstenite::connect_async(request).await)
    }

    /// Opens the socket on a connection that has just served a plain HTTP request (`GET /healthz`,
    /// keep-alive), as a client that reuses a pooled connection for the upgrade would.
    pub async fn connect_after_request(url: &str, origin: &str) -> Result<WsClient, Refused> {
        let mut request = url.into_client_request().expect("websocket URL");
        request.headers_mut().insert(
            "Origin",
            HeaderValue::from_str(origin).expect("origin header"),
        );
        let authority = request.uri().authority().expect("host").to_string();
        let mut tcp = tokio::net::TcpStream::connect(&authority)
            .await
            .expect("connect");
        serve_one_plain_request(&mut tcp, &authority).await;
        opened(
            tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(tcp))
                .await,
        )
    }

    /// Connects with a deliberately small TCP receive buffer and `Origin`, for a client that stops
    /// reading.
    pub async fn connect_with_receive_buffer(url: &str, origin: &str, bytes: u32) -> WsClient {
        let mut request = url.into_client_request().expect("websocket URL");
        request.headers_mut().insert(
            "Origin",
            HeaderValue::from_str(origin).expect("origin header"),
        );
        let host = request.uri().host().expect("host").to_owned();
        let port = request.uri().port_u16().expect("port");
        let addr: std::net::SocketAddr = format!("{host}:{port}").parse().expect("socket address");
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(bytes).expect("receive buffer");
        let tcp = socket.connect(addr).await.expect("connect");
        let (stream, _) =
            tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(tcp))
                .await
                .expect("websocket handshake");
        WsClient { stream }
    }

    /// Whether the server ends the connection within `timeout` (a close frame, an error or EOF),
    /// reading and discarding whatever was buffered before it.
    pub async fn ends_within(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) => return false,
                Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// Sends a JSON value as a text frame.
    pub async fn send(&mut self, value: serde_json::Value) {
        self.stream
            .send(Message::Text(value.to_string()))
            .await
            .expect("send");
    }

    /// Sends a binary frame.
    pub async fn send_binary(&mut self, bytes: &[u8]) {
        self.stream
            .send(Message::Binary(bytes.to_vec()))
            .await
            .expect("send");
    }

    /// Sends a ping and waits for its pong within `timeout` (events before it are skipped).
    pub async fn ping_answered(&mut self, timeout: Duration) -> bool {
        if self
            .stream
            .send(Message::Ping(b"are you there".to_vec()))
            .await
            .is_err()
        {
            return false;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(Some(Ok(Message::Pong(payload)))) => return payload == b"are you there",
                Ok(Some(Ok(_))) => continue,
                _ => return false,
            }
        }
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::Text(text.to_owned()))
            .await
            .expect("send");
    }

    /// The next JSON event within `timeout`, skipping pings; `None` on timeout or close.
    pub async fn next_event(&mut self, timeout: Duration) -> Option<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??;
            match next {
                Ok(Message::Text(t)) => return serde_json::from_str(&t).ok(),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// The next event of type `kind` within `timeout`, skipping others.
    pub async fn next_of_type(
        &mut self,
        kind: &str,
        timeout: Duration,
    ) -> Option<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next_event(left).await?;
            if event["type"] == kind {
                return Some(event);
            }
        }
    }

    /// The close code the server closes with within `timeout` (events before it are skipped).
    pub async fn close_code(&mut self, timeout: Duration) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .ok()??;
            match next {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Asserts that no text event arrives within `window`. Absence cannot be polled for: the
    /// whole window is waited out, so keep it short and just longer than the event would take.
    pub async fn expect_silence(&mut self, window: Duration) {
        if let Some(event) = self.next_event(window).await {
            panic!("expected silence, got {event}");
        }
    }

    /// Asserts that no event of type `kind` arrives within `window` (others are skipped: the
    /// visitor list's periodic deltas, for one).
    pub async fn expect_none_of_type(&mut self, kind: &str, window: Duration) {
        if let Some(event) = self.next_of_type(kind, window).await {
            panic!("expected no {kind} event, got {event}");
        }
    }

    /// Closes the socket from the client side.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}

/// Sends `GET /healthz` (keep-alive) on `tcp` and reads exactly its answer (head, then
/// Content-Length bytes), so the connection is a reused one and nothing after that answer is
/// consumed.
pub async fn serve_one_plain_request(tcp: &mut tokio::net::TcpStream, authority: &str) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let get = format!("GET /healthz HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    tcp.write_all(get.as_bytes()).await.expect("request");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        tcp.read_exact(&mut byte).await.expect("response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("response head text");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse().ok())
        .expect("content-length");
    let mut body = vec![0u8; length];
    tcp.read_exact(&mut body).await.expect("response body");
}
