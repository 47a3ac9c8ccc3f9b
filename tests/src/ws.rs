//! A WebSocket client for protocol tests: send JSON, wait for the next event with a timeout, expect a
//! close code, or expect silence.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

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
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => Ok(WsClient { stream }),
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(Refused {
                status: res.status().as_u16(),
            }),
            Err(e) => panic!("websocket connect failed: {e}"),
        }
    }

    /// Sends a JSON value as a text frame.
    pub async fn send(&mut self, value: serde_json::Value) {
        self.stream
            .send(Message::Text(value.to_string()))
            .await
            .expect("send");
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

    /// Asserts that no text event arrives within `window`.
    pub async fn expect_silence(&mut self, window: Duration) {
        if let Some(event) = self.next_event(window).await {
            panic!("expected silence, got {event}");
        }
    }

    /// Closes the socket from the client side.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}
