//! The scenarios. Each returns one JSON object: its parameters, its figures, and `targets`
//! (each figure against its target from issue #6, or #16 for `cluster`) with an overall `pass`.

pub mod beacon;
pub mod chat;
pub mod cluster;
pub mod console;
pub mod idle;
pub mod storm;

use std::time::Duration;

/// Lets the server finish what the last burst started before a reading is taken.
pub(crate) async fn settle(d: Duration) {
    tokio::time::sleep(d).await;
}
