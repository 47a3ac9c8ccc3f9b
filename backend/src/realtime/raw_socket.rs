//! A WebSocket spoken directly on a TCP stream, with no buffer kept while the socket is idle.
//!
//! Presence sockets are almost always idle (a ping every 25 s, an event now and then), and there is
//! one per open tab of every visitor: their memory is what a node's capacity comes down to. On the
//! HTTP dispatcher every upgraded connection keeps an 8 KiB read and an 8 KiB write buffer for its
//! whole life; here a frame is read into a stack buffer only when the kernel has bytes, anything
//! left of a partial frame is the only thing kept, and each outbound frame is encoded, written
//! and dropped. Framing (parsing, unmasking, encoding) is actix-http's WebSocket parser.

use std::io;

use actix_http::ws::{OpCode, Parser, ProtocolError};
use bytes::BytesMut;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use super::transport::{close_reason, Closed, Inbound, InboundError, Transport};

/// Bytes read from the kernel at a time (on the stack, only while reading).
const READ_CHUNK: usize = 4096;

/// A server-side WebSocket on its own TCP connection, after the handshake.
pub struct RawSocket {
    io: TcpStream,
    /// Received bytes not yet parsed into a frame; empty (and unallocated) between messages.
    inbound: BytesMut,
    /// A fragmented text message being joined.
    fragments: Option<Vec<u8>>,
    /// Largest frame, and largest joined message, accepted.
    max_message: usize,
}

impl RawSocket {
    /// Speaks WebSocket on `io`; `already_read` are bytes that arrived right after the handshake.
    pub fn new(io: TcpStream, already_read: BytesMut, max_message: usize) -> RawSocket {
        // Every frame goes out in one write, so Nagle's algorithm has nothing to gather; left on,
        // it holds back a frame that follows another (an event after an ack) until the peer's
        // delayed ACK, up to 40 ms later.
        if let Err(e) = io.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on a visitor socket");
        }
        RawSocket {
            io,
            inbound: already_read,
            fragments: None,
            max_message,
        }
    }

    /// Parses one frame from what was received; `Ok(None)` when more bytes are needed.
    fn next_message(&mut self) -> Result<Option<Inbound>, InboundError> {
        loop {
            // actix-http's parser checks a frame's length only once all of it is buffered; a
            // frame declared larger than the limit is refused here, from its header alone.
            if declared_length(&self.inbound).is_some_and(|len| len > self.max_message as u64) {
                return Err(InboundError::TooLarge);
            }
            let (fin, opcode, payload) =
                match Parser::parse(&mut self.inbound, true, self.max_message) {
                    Ok(Some(frame)) => frame,
                    Ok(None) => return Ok(None),
                    Err(ProtocolError::Overflow) => return Err(InboundError::TooLarge),
                    Err(_) => return Err(InboundError::Protocol),
                };
            let payload: Vec<u8> = payload.map(Vec::from).unwrap_or_default();
            let message = match (opcode, &mut self.fragments) {
                (OpCode::Text, None) if fin => Inbound::Text(utf8(payload)?),
                (OpCode::Text, None) => {
                    self.fragments = Some(payload);
                    continue;
                }
                (OpCode::Binary, None) => Inbound::Binary,
                (OpCode::Continue, Some(joined)) => {
                    if joined.len() + payload.len() > self.max_message {
                        return Err(InboundError::TooLarge);
                    }
                    joined.extend_from_slice(&payload);
                    if !fin {
                        continue;
                    }
                    let joined = self.fragments.take().unwrap_or_default();
                    Inbound::Text(utf8(joined)?)
                }
                (OpCode::Ping, _) => Inbound::Ping(payload),
                (OpCode::Pong, _) => Inbound::Pong,
                (OpCode::Close, _) => Inbound::Close,
                // A new data frame inside a fragmented message, a continuation of nothing, or a
                // reserved opcode.
                _ => return Err(InboundError::Protocol),
            };
            return Ok(Some(message));
        }
    }

    /// Writes one frame.
    async fn write_frame(&mut self, payload: &[u8], opcode: OpCode) -> Result<(), Closed> {
        let mut frame = BytesMut::with_capacity(payload.len() + 10);
        Parser::write_message(&mut frame, payload, opcode, true, false);
        self.io.write_all(&frame).await.map_err(|_| Closed)
    }
}

/// The payload length a frame's header declares, once enough of the header has arrived.
pub fn declared_length(header: &[u8]) -> Option<u64> {
    let first = *header.get(1)? & 0x7f;
    match first {
        126 => Some(u64::from(u16::from_be_bytes([
            *header.get(2)?,
            *header.get(3)?,
        ]))),
        127 => {
            let bytes: [u8; 8] = header.get(2..10)?.try_into().ok()?;
            Some(u64::from_be_bytes(bytes))
        }
        n => Some(u64::from(n)),
    }
}

fn utf8(bytes: Vec<u8>) -> Result<String, InboundError> {
    String::from_utf8(bytes).map_err(|_| InboundError::Protocol)
}

/// Moves what the kernel has for `io` into `into`; `Ok(0)` at end of stream.
fn read_available(io: &TcpStream, into: &mut BytesMut) -> io::Result<usize> {
    let mut chunk = [0u8; READ_CHUNK];
    let n = io.try_read(&mut chunk)?;
    into.extend_from_slice(&chunk[..n]);
    Ok(n)
}

impl Transport for RawSocket {
    async fn recv(&mut self) -> Option<Result<Inbound, InboundError>> {
        loop {
            match self.next_message() {
                Ok(Some(message)) => return Some(Ok(message)),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
            if self.inbound.is_empty() && self.inbound.capacity() > 0 {
                // Give the buffer back while the socket idles.
                self.inbound = BytesMut::new();
            }
            if self.io.readable().await.is_err() {
                return None;
            }
            match read_available(&self.io, &mut self.inbound) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return None,
            }
        }
    }

    async fn text(&mut self, text: &str) -> Result<(), Closed> {
        self.write_frame(text.as_bytes(), OpCode::Text).await
    }

    async fn ping(&mut self) -> Result<(), Closed> {
        self.write_frame(b"", OpCode::Ping).await
    }

    async fn pong(&mut self, payload: &[u8]) -> Result<(), Closed> {
        self.write_frame(payload, OpCode::Pong).await
    }

    async fn close(mut self, reason: Option<(u16, &str)>) {
        let mut frame = BytesMut::new();
        Parser::write_close(&mut frame, close_reason(reason), false);
        if self.io.write_all(&frame).await.is_ok() {
            let _ = self.io.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client frame (clients mask theirs).
    fn client_frame(opcode: OpCode, fin: bool, payload: &[u8]) -> BytesMut {
        let mut frame = BytesMut::new();
        Parser::write_message(&mut frame, payload, opcode, fin, true);
        frame
    }

    /// A socket that has already received `inbound`, and its client end (which must stay open,
    /// or reads would see the end of the stream).
    async fn socket_with(inbound: BytesMut, max_message: usize) -> (RawSocket, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let socket = RawSocket::new(server.unwrap().0, inbound, max_message);
        (socket, client.unwrap())
    }

    #[tokio::test]
    async fn frames_are_not_held_back_by_nagle() {
        let (socket, _client) = socket_with(BytesMut::new(), 100).await;
        assert!(socket.io.nodelay().unwrap());
    }

    #[tokio::test]
    async fn fragmented_text_is_joined_and_the_buffer_released() {
        let mut bytes = client_frame(OpCode::Text, false, b"hel");
        bytes.extend_from_slice(&client_frame(OpCode::Ping, true, b"p"));
        bytes.extend_from_slice(&client_frame(OpCode::Continue, true, b"lo"));
        let (mut socket, _client) = socket_with(bytes, 100).await;
        assert!(matches!(socket.recv().await, Some(Ok(Inbound::Ping(p))) if p == b"p"));
        assert!(matches!(socket.recv().await, Some(Ok(Inbound::Text(t))) if t == "hello"));
        assert!(socket.inbound.is_empty());
        assert!(socket.fragments.is_none());
    }

    #[tokio::test]
    async fn oversized_frames_and_joined_messages_are_refused() {
        let (mut socket, _client) =
            socket_with(client_frame(OpCode::Text, true, &[b'a'; 101]), 100).await;
        assert_eq!(socket.next_message().err(), Some(InboundError::TooLarge));

        let mut bytes = client_frame(OpCode::Text, false, &[b'a'; 60]);
        bytes.extend_from_slice(&client_frame(OpCode::Continue, true, &[b'a'; 60]));
        let (mut socket, _client) = socket_with(bytes, 100).await;
        assert_eq!(socket.next_message().err(), Some(InboundError::TooLarge));
    }

    #[tokio::test]
    async fn a_huge_declared_frame_is_refused_from_its_header() {
        // A masked text frame header declaring 2^40 bytes, and only a little of its payload.
        let mut bytes = BytesMut::from(&[0x81u8, 0xff][..]);
        bytes.extend_from_slice(&(1u64 << 40).to_be_bytes());
        bytes.extend_from_slice(&[1, 2, 3, 4, b'a', b'b']);
        let (mut socket, _client) = socket_with(bytes, 100).await;
        assert_eq!(socket.next_message().err(), Some(InboundError::TooLarge));
        assert_eq!(
            declared_length(&[0x81, 0xfe, 0x01]),
            None,
            "header incomplete"
        );
        assert_eq!(declared_length(&[0x81, 0xfe, 0x01, 0x00]), Some(256));
    }

    #[tokio::test]
    async fn bad_framing_is_a_protocol_error() {
        // A continuation with nothing to continue.
        let (mut socket, _client) =
            socket_with(client_frame(OpCode::Continue, true, b"x"), 100).await;
        assert_eq!(socket.next_message().err(), Some(InboundError::Protocol));
        // Text that is not UTF-8.
        let (mut socket, _client) =
            socket_with(client_frame(OpCode::Text, true, &[0xff, 0xfe]), 100).await;
        assert_eq!(socket.next_message().err(), Some(InboundError::Protocol));
        // An unmasked client frame.
        let mut unmasked = BytesMut::new();
        Parser::write_message(&mut unmasked, b"x", OpCode::Text, true, false);
        let (mut socket, _client) = socket_with(unmasked, 100).await;
        assert_eq!(socket.next_message().err(), Some(InboundError::Protocol));
    }

    #[tokio::test]
    async fn a_partial_frame_waits_for_its_remaining_bytes() {
        let whole = client_frame(OpCode::Text, true, b"hello");
        let (mut socket, _client) = socket_with(BytesMut::from(&whole[..4]), 100).await;
        assert!(matches!(socket.next_message(), Ok(None)));
        socket.inbound.extend_from_slice(&whole[4..]);
        assert!(matches!(socket.next_message(), Ok(Some(Inbound::Text(t))) if t == "hello"));
    }
}
