//! Realtime: who is on each site right now ([`live`]), the socket registry that routes events to
//! visitor tabs and console tabs ([`hub`]), and the socket sessions themselves.

pub mod bus;
pub mod caps;
pub mod cluster;
pub mod hub;
pub mod live;
pub mod protocol;
pub mod raw_socket;
pub mod socket;
pub mod transport;
pub mod user_agent;

pub use bus::{Bus, StatusTopic};
pub use hub::{EventBus, Hub, Outgoing};
pub use live::{LiveVisitors, VisitorFilter};
pub use protocol::ServerEvent;
