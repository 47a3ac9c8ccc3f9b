//! The five scenarios. Each returns one JSON object: its parameters, its figures, and `targets`
//! (each figure against the issue #6 target) with an overall `pass`.

pub mod beacon;
pub mod chat;
pub mod console;
pub mod idle;
pub mod storm;

use std::time::Duration;

/// Lets the server finish what the last burst started before a reading is taken.
pub(crate) async fn settle(d: Duration) {
    tokio::time::sleep(d).await;
}
