//! What a socket session needs from a WebSocket connection, so one session loop
//! ([`super::socket::run`]) serves both kinds Beckon has: actix-ws on the HTTP dispatcher (console
//! tabs, and any visitor socket that arrives on a reused keep-alive connection) and the lean
//! [`super::raw_socket::RawSocket`] that visitor presence sockets get on their own connection.

use std::future::Future;

use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use futures_util::StreamExt as _;

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
}

impl ActixWs {
    /// Wraps what `actix_ws::handle` returned; `max_message` bounds a frame and a joined message.
    pub fn new(session: Session, stream: actix_ws::MessageStream, max_message: usize) -> ActixWs {
        let stream = stream
            .max_frame_size(max_message)
            .aggregate_continuations()
            .max_continuation_size(max_message);
        ActixWs { session, stream }
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
