//! What a socket session needs from a WebSocket connection, so one session loop
//! ([`super::socket::run`]) serves both kinds Beckon has: actix-ws on the HTTP dispatcher (console
//! tabs, and any visitor socket that arrives on a reused keep-alive connection) and the lean
//! [`super::raw_socket::RawSocket`] that visitor presence sockets get on their own connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::{dev, web, FromRequest as _, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _};

/// One complete inbound message (continuation frames already joined).
pub enum Inbound {
    /// A text message.
    Text(String),
    /// A binary message (not part of Beckon's protocol).
    Binary,
    /// A ping with its payload, to be answered with a pong.
    Ping(Vec<u8>),
    /// A pong.
    Pong,
    /// The peer closes.
    Close,
}

/// Why an inbound message could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum InboundError {
    /// A frame or a joined message is larger than the limit.
    TooLarge,
    /// Not valid WebSocket framing (or invalid UTF-8 in a text message).
    Protocol,
}

/// The connection is gone (or could not take a frame).
#[derive(Debug)]
pub struct Closed;

/// The inbound and outbound halves of one WebSocket connection.
pub trait Transport {
    /// The next inbound message; `None` once the connection ended. Cancel-safe: a message half
    /// read when the future is dropped is kept for the next call.
    fn recv(&mut self) -> impl Future<Output = Option<Result<Inbound, InboundError>>>;
    /// Sends a text frame.
    fn text(&mut self, text: &str) -> impl Future<Output = Result<(), Closed>>;
    /// Sends a ping.
    fn ping(&mut self) -> impl Future<Output = Result<(), Closed>>;
    /// Answers a ping.
    fn pong(&mut self, payload: &[u8]) -> impl Future<Output = Result<(), Closed>>;
    /// Sends a close frame (with a code and reason, or none) and ends the connection.
    fn close(self, reason: Option<(u16, &str)>) -> impl Future<Output = ()>;
}

/// actix-ws's session and message stream, with size limits applied.
pub struct ActixWs {
    session: Session,
    stream: AggregatedMessageStream,
    /// Set by [`FrameGuard`] when a frame header declared more than the limit.
    too_large: Arc<AtomicBool>,
}

impl ActixWs {
    /// Answers the upgrade request (`actix_ws::handle`) and wraps the socket; `max_message`
    /// bounds a frame (from its header, before any of its payload is buffered) and a joined
    /// message.
    pub async fn upgrade(
        req: &HttpRequest,
        body: web::Payload,
        max_message: usize,
    ) -> Result<(HttpResponse, ActixWs), actix_web::Error> {
        let too_large = Arc::new(AtomicBool::new(false));
        let guard = FrameGuard {
            inner: body.into_inner(),
            max: max_message as u64,
            head: [0; 14],
            head_len: 0,
            skip: 0,
            too_large: too_large.clone(),
        };
        let mut guarded = dev::Payload::from(Box::pin(guard) as actix_http::BoxedPayloadStream);
        let body = web::Payload::from_request(req, &mut guarded).await?;
        let (response, session, stream) = actix_ws::handle(req, body)?;
        let stream = stream
            .max_frame_size(max_message)
            .aggregate_continuations()
            .max_continuation_size(max_message);
        Ok((
            response,
            ActixWs {
                session,
                stream,
                too_large,
            },
        ))
    }
}

/// Watches the frame headers in an upgraded connection's inbound bytes and ends the stream with
/// an error at the first frame declared larger than `max`. actix-http's parser (which actix-ws
/// uses) checks a frame's length only once the whole frame is buffered, so without this a client
/// declaring a 2^40-byte frame makes the server hold everything it sends.
struct FrameGuard {
    inner: dev::Payload,
    max: u64,
    /// The header of the frame being read, while incomplete (2 to 14 bytes).
    head: [u8; 14],
    head_len: usize,
    /// Payload bytes of the current frame still to come.
    skip: u64,
    too_large: Arc<AtomicBool>,
}

impl FrameGuard {
    /// Follows the frames through `chunk`; false once a frame is declared too large.
    fn follow(&mut self, mut chunk: &[u8]) -> bool {
        while !chunk.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(chunk.len() as u64);
                self.skip -= n;
                chunk = &chunk[n as usize..];
                continue;
            }
            self.head[self.head_len] = chunk[0];
            self.head_len += 1;
            chunk = &chunk[1..];
            let head = &self.head[..self.head_len];
            let Some(length) = super::raw_socket::declared_length(head) else {
                continue;
            };
            let size_bytes = match head[1] & 0x7f {
                126 => 2,
                127 => 8,
                _ => 0,
            };
            let mask_bytes = if head[1] & 0x80 != 0 { 4 } else { 0 };
            if self.head_len < 2 + size_bytes + mask_bytes {
                continue;
            }
            if length > self.max {
                return false;
            }
            self.skip = length;
            self.head_len = 0;
        }
        true
    }
}

impl Stream for FrameGuard {
    type Item = Result<Bytes, actix_web::error::PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.too_large.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if this.follow(&chunk) {
                    Poll::Ready(Some(Ok(chunk)))
                } else {
                    this.too_large.store(true, Ordering::Relaxed);
                    Poll::Ready(Some(Err(actix_web::error::PayloadError::Overflow)))
                }
            }
            other => other,
        }
    }
}

impl Transport for ActixWs {
    async fn recv(&mut self) -> Option<Result<Inbound, InboundError>> {
        Some(match self.stream.next().await? {
            Ok(AggregatedMessage::Text(text)) => Ok(Inbound::Text(text.to_string())),
            Ok(AggregatedMessage::Binary(_)) => Ok(Inbound::Binary),
            Ok(AggregatedMessage::Ping(bytes)) => Ok(Inbound::Ping(bytes.to_vec())),
            Ok(AggregatedMessage::Pong(_)) => Ok(Inbound::Pong),
            Ok(AggregatedMessage::Close(_)) => Ok(Inbound::Close),
            Err(actix_ws::ProtocolError::Overflow) => Err(InboundError::TooLarge),
            Err(_) if self.too_large.load(Ordering::Relaxed) => Err(InboundError::TooLarge),
            Err(_) => Err(InboundError::Protocol),
        })
    }

    async fn text(&mut self, text: &str) -> Result<(), Closed> {
        self.session.text(text).await.map_err(|_| Closed)
    }

    async fn ping(&mut self) -> Result<(), Closed> {
        self.session.ping(b"").await.map_err(|_| Closed)
    }

    async fn pong(&mut self, payload: &[u8]) -> Result<(), Closed> {
        self.session.pong(payload).await.map_err(|_| Closed)
    }

    async fn close(self, reason: Option<(u16, &str)>) {
        let _ = self.session.close(close_reason(reason)).await;
    }
}

/// A close frame's code and reason as both transports' framing takes them.
pub fn close_reason(reason: Option<(u16, &str)>) -> Option<CloseReason> {
    reason.map(|(code, description)| CloseReason {
        code: CloseCode::from(code),
        description: Some(description.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(max: u64) -> FrameGuard {
        FrameGuard {
            inner: dev::Payload::None,
            max,
            head: [0; 14],
            head_len: 0,
            skip: 0,
            too_large: Arc::default(),
        }
    }

    #[test]
    fn frames_within_the_limit_pass_even_split_anywhere() {
        let mut bytes = bytes::BytesMut::new();
        actix_http::ws::Parser::write_message(
            &mut bytes,
            [b'a'; 300],
            actix_http::ws::OpCode::Text,
            true,
            true,
        );
        actix_http::ws::Parser::write_message(
            &mut bytes,
            b"hi",
            actix_http::ws::OpCode::Text,
            true,
            true,
        );
        for split in 0..bytes.len() {
            let mut g = guard(300);
            assert!(
                g.follow(&bytes[..split]) && g.follow(&bytes[split..]),
                "split at {split}"
            );
            assert_eq!((g.head_len, g.skip), (0, 0));
        }
    }

    #[test]
    fn a_frame_declared_too_large_is_caught_at_its_header() {
        let mut g = guard(1000);
        let mut header = vec![0x81u8, 0xff];
        header.extend_from_slice(&(1u64 << 40).to_be_bytes());
        header.extend_from_slice(&[1, 2, 3, 4]);
        assert!(g.follow(&header[..5]), "not yet a whole header");
        assert!(!g.follow(&header[5..]));
        let mut g = guard(1000);
        assert!(
            !g.follow(&[0x81, 0xfe, 0x10, 0x00, 1, 2, 3, 4]),
            "4096 > 1000"
        );
    }
}
