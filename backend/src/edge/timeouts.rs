//! Timeouts both paths of a connection share (the lean visitor-socket path and the HTTP service).

use std::time::Duration;

/// How long a client may take to send its request head, on either path.
pub const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a connection on the HTTP service may make no progress writing before it is dropped.
/// The dispatcher itself waits for ever on a peer that stopped reading; a WebSocket on it (the
/// console's, or a visitor socket on a reused connection) would then hold the connection and
/// everything queued for it, however the socket session ended.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(20);
