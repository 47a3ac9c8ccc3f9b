//! The socket edge, in one place: the TCP server ([`tcp`]) with its fork in front of the HTTP
//! service, the lean visitor-socket path on a bare stream ([`raw_upgrade`]), and the two socket
//! sessions, [`visitor`] (`/ws/visitor`) and [`console`] (`/ws/console`).
//!
//! A connection whose first bytes are the visitor socket's upgrade request (`GET /ws/visitor?…`)
//! goes to [`raw_upgrade`], which answers the handshake and runs the socket on the bare stream;
//! every other connection goes to the HTTP service unchanged. Browsers open every WebSocket on a
//! connection of its own, so presence sockets (nearly all of a node's connections) never carry the
//! HTTP dispatcher's buffers; one that does arrive on a reused keep-alive connection is still
//! served, by the visitor socket's route.
//!
//! Imports run one way: `tcp` → `raw_upgrade` → `visitor` → `errors`, `timeouts`. The sessions
//! parse [`crate::realtime::protocol`] messages and call [`crate::services`] use cases; they never
//! touch storage themselves.

pub mod console;
mod errors;
pub mod raw_upgrade;
pub mod tcp;
pub mod timeouts;
pub mod visitor;

pub use tcp::{serve, StallGuard};
pub use timeouts::{REQUEST_HEAD_TIMEOUT, WRITE_STALL_TIMEOUT};
