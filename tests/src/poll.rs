//! Waiting for something to become true without guessing how long it takes: poll a probe every
//! [`INTERVAL`] until it answers, and fail with what was awaited and what was last seen.
//!
//! A fixed sleep before an assertion is either too short on a slow machine (a flaky test) or too
//! long everywhere else (a slow suite); polling against a generous deadline is neither.
//!
//! - [`eventually`]: a synchronous probe (a lock, a counter, a file).
//! - [`eventually_async`]: an asynchronous probe (an HTTP request, a database query on the
//!   blocking pool) that borrows nothing mutably.
//! - [`Poll`]: the same deadline as a loop, for probes that need `&mut` (a socket to send on).

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

/// How often a probe is asked again.
pub const INTERVAL: Duration = Duration::from_millis(25);

/// What a probe answers: done with a value, or not yet with what it observed.
pub trait Probe {
    /// The value handed back once the probe is satisfied.
    type Value;
    /// `Ok(value)` when satisfied, else `Err(what was observed)` for the failure message.
    fn settle(self) -> Result<Self::Value, String>;
}

impl<T> Probe for Option<T> {
    type Value = T;
    fn settle(self) -> Result<T, String> {
        self.ok_or_else(|| "None".to_owned())
    }
}

impl<T, E: Debug> Probe for Result<T, E> {
    type Value = T;
    fn settle(self) -> Result<T, String> {
        self.map_err(|e| format!("{e:?}"))
    }
}

impl Probe for bool {
    type Value = ();
    fn settle(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("false".to_owned())
        }
    }
}

/// Asks `probe` every [`INTERVAL`] until it answers `Some`/`Ok`/`true` and returns that value;
/// panics after `timeout` naming `what` was awaited and the last value observed.
pub async fn eventually<P: Probe>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> P,
) -> P::Value {
    let mut poll = Poll::new(timeout, what);
    loop {
        match probe().settle() {
            Ok(value) => return value,
            Err(seen) => poll.wait(Observed(seen)).await,
        }
    }
}

/// [`eventually`] for a probe that is a future.
pub async fn eventually_async<P: Probe, F: Future<Output = P>>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> F,
) -> P::Value {
    let mut poll = Poll::new(timeout, what);
    loop {
        match probe().await.settle() {
            Ok(value) => return value,
            Err(seen) => poll.wait(Observed(seen)).await,
        }
    }
}

/// A deadline for a hand-written polling loop: call [`Poll::wait`] with what was observed each
/// time the condition is not met yet.
pub struct Poll {
    deadline: tokio::time::Instant,
    timeout: Duration,
    what: String,
}

impl Poll {
    /// Starts the clock: the condition described by `what` has `timeout` to hold.
    pub fn new(timeout: Duration, what: &str) -> Poll {
        Poll {
            deadline: tokio::time::Instant::now() + timeout,
            timeout,
            what: what.to_owned(),
        }
    }

    /// Sleeps one [`INTERVAL`]; panics instead if the deadline has passed, with `seen` (the last
    /// observed value) in the message.
    pub async fn wait(&mut self, seen: impl Debug) {
        if tokio::time::Instant::now() >= self.deadline {
            panic!(
                "timed out after {:?} waiting for {}; last observed: {seen:?}",
                self.timeout, self.what
            );
        }
        tokio::time::sleep(INTERVAL).await;
    }
}

/// A probe's observation, printed as it is (not quoted again) in the failure message.
struct Observed(String);

impl Debug for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
