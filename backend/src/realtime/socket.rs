//! The loop every WebSocket session runs: inbound messages to a handler, outbound events from the
//! hub, heartbeat and close codes, over any [`Transport`]. One task per socket, no actors.

use std::time::{Duration, Instant};

use super::hub::{Inbox, Outgoing};
use super::transport::{Closed, Inbound, InboundError, Transport};

/// Ping interval.
pub const PING_EVERY: Duration = Duration::from_secs(25);
/// A peer silent this long after a ping is dead.
pub const DEAD_AFTER: Duration = Duration::from_secs(35);

/// A peer that cannot take a frame for this long is dropped (its kernel buffers are full: it has
/// stopped reading), so a stuck client never pins memory or the session task.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Close code for a guest token that is not live (the client should get a new guest).
pub const CLOSE_UNKNOWN_GUEST: u16 = 4401;
/// Close code for a message that is not valid protocol JSON.
pub const CLOSE_MALFORMED: u16 = 4400;
/// Close code for a console socket whose session ended: logout, expiry, or the operator
/// deactivated (the console should sign in again).
pub const CLOSE_SESSION_ENDED: u16 = 4401;
/// Close code for a console socket whose operator lost access to a site it may have been
/// following (the console reconnects and follows only what it still may).
pub const CLOSE_ACCESS_CHANGED: u16 = 4403;

/// What the handler wants after an inbound message.
pub enum Reply {
    /// Nothing to send.
    None,
    /// Send this text frame to this socket.
    Send(String),
    /// Close the socket with this code and reason.
    Close(u16, &'static str),
}

impl From<Option<String>> for Reply {
    /// An optional answer (typically an `error` event) to send back.
    fn from(answer: Option<String>) -> Reply {
        answer.map_or(Reply::None, Reply::Send)
    }
}

/// Handles the inbound text messages of one socket.
pub trait SocketHandler {
    /// One complete text message.
    fn on_text(&mut self, text: &str) -> impl std::future::Future<Output = Reply>;

    /// Called every [`PING_EVERY`], for checks that must hold while the socket is open (the
    /// console's session, for one).
    fn on_tick(&mut self) -> impl std::future::Future<Output = Reply> {
        async { Reply::None }
    }
}

/// Closes a socket at once with a code (before any loop ran).
pub async fn close_now(transport: impl Transport, code: u16, description: &str) {
    transport.close(Some((code, description))).await;
}

/// Runs the socket until either side ends it.
pub async fn run<T: Transport, H: SocketHandler>(
    mut transport: T,
    mut inbox: Inbox,
    handler: &mut H,
) {
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    let mut last_heard = Instant::now();
    let close: Option<(u16, &'static str)> = loop {
        tokio::select! {
            // Outbound first: a burst of inbound requests must not starve this socket's own acks
            // and events (which would fill its queue and get it dropped as "too slow").
            biased;
            outbound = inbox.recv() => match outbound {
                Some(Outgoing::Text(text)) => {
                    if !write(transport.text(&text)).await { return; }
                }
                Some(Outgoing::Close(code, why)) => break Some((code, why)),
                // The hub dropped us: we could not keep up with our events.
                None => break Some((1008, "too slow to keep up")),
            },
            inbound = transport.recv() => {
                last_heard = Instant::now();
                match inbound {
                    // Boxed: the handler's future is large, and held inline it would sit in
                    // every idle socket's task for the socket's whole life.
                    Some(Ok(Inbound::Text(text))) => match Box::pin(handler.on_text(&text)).await {
                        Reply::None => {}
                        Reply::Send(out) => {
                            if !write(transport.text(&out)).await { return; }
                        }
                        Reply::Close(code, why) => break Some((code, why)),
                    },
                    Some(Ok(Inbound::Ping(payload))) => {
                        if !write(transport.pong(&payload)).await { return; }
                    }
                    Some(Ok(Inbound::Pong)) => {}
                    Some(Ok(Inbound::Binary)) => break Some((1003, "binary frames are not accepted")),
                    Some(Ok(Inbound::Close)) | None => break None,
                    Some(Err(InboundError::TooLarge)) => break Some((1009, "message too large")),
                    Some(Err(InboundError::Protocol)) => break Some((1002, "protocol error")),
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > DEAD_AFTER {
                    break None;
                }
                if !write(transport.ping()).await { return; }
                match Box::pin(handler.on_tick()).await {
                    Reply::None => {}
                    Reply::Send(out) => {
                        if !write(transport.text(&out)).await { return; }
                    }
                    Reply::Close(code, why) => break Some((code, why)),
                }
            }
        }
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, transport.close(close)).await;
}

/// Awaits a write with [`WRITE_TIMEOUT`]; false when the socket is closed or stuck.
async fn write(frame: impl std::future::Future<Output = Result<(), Closed>>) -> bool {
    matches!(tokio::time::timeout(WRITE_TIMEOUT, frame).await, Ok(Ok(())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::raw_socket::RawSocket;
    use crate::realtime::Hub;

    struct Quiet;

    impl SocketHandler for Quiet {
        async fn on_text(&mut self, _text: &str) -> Reply {
            Reply::None
        }
    }

    /// The loop's future is what every idle visitor socket holds for its whole life (with the
    /// socket, its queue and its entries in the hub and the live list, within the 8 KB a
    /// connection may cost): it must stay small.
    #[tokio::test]
    async fn an_idle_socket_loop_is_small() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        let _client = client.unwrap();
        let transport = RawSocket::new(server.unwrap().0, Default::default(), 1024);
        let hub = Hub::default();
        let (_, inbox) = hub.join_visitor("v");
        let mut handler = Quiet;
        let session = run(transport, inbox, &mut handler);
        let size = std::mem::size_of_val(&session);
        eprintln!("socket loop future: {size} bytes");
        assert!(
            size <= 1024,
            "the socket loop's future grew to {size} bytes"
        );
    }
}
