//! The shared harness for Beckon's end-to-end and storage tests.
//!
//! - [`require`]: which external services a run must have (`BECKON_TEST_REQUIRE=pg,redis,browser`);
//!   suites whose service is missing and not required are skipped with a clear line on stderr.
//! - [`TestDatabase`]: a fresh SQLite file or a fresh PostgreSQL database per test.
//! - [`TestApp`]: the real `beckon` binary on a free port, with an HTTP client and one helper per
//!   endpoint.

mod app;
mod database;
pub mod html;
pub mod require;

pub use app::{beckon_binary, TestApp, TestAppBuilder};
pub use database::TestDatabase;
