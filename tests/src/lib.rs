//! The shared harness for Beckon's end-to-end and storage tests.
//!
//! - [`require`]: which external services a run must have
//!   (`BECKON_TEST_REQUIRE=pg,browser,redis,nginx,coturn`);
//!   suites whose service is missing and not required are skipped with a clear line on stderr.
//! - [`TestDatabase`]: a fresh SQLite file or a fresh PostgreSQL database per test.
//! - [`TestApp`]: the real `beckon` binary on a free port, with an HTTP client and one helper per
//!   endpoint.
//! - [`ChatFixture`]: a guest's chat accepted by the owner, and its steps ([`SiteFixture::guest`],
//!   [`start_chat`], [`SiteFixture::operator_accepts`]).
//! - [`Browser`]: headless Chromium over WebDriver, one independent browser per visitor or operator.
//! - [`HostSite`]: the example shop on another origin, embedding the widget.
//! - [`eventually`]: poll a condition until a deadline instead of sleeping before an assertion.
//! - [`receiver`]: an HTTP receiver (wiremock) that records what Beckon sends out.
//! - [`RedisServer`]: a private `redis-server` on a free port, to stop and restart.
//! - [`Nginx`]: nginx in front of several nodes, by the rules of `deploy/nginx.conf`.
//! - [`Coturn`]: a private TURN server (coturn) taking credentials minted from a shared secret
//!   ([`coturn::TurnCredentials`]), and [`turn_client`] to allocate relays on it without a browser.
//! - [`loadgen`]: the load generator behind the `beckon-loadgen` binary (docs/benchmarks.md).

mod app;
pub mod browser;
mod chat_fixture;
pub mod coturn;
mod database;
pub mod host_site;
pub mod html;
pub mod loadgen;
pub mod nginx;
pub mod poll;
pub mod receiver;
pub mod redis_server;
pub mod require;
mod site;
pub mod smtp_sink;
pub mod turn_client;
pub mod ws;

pub use app::{beckon_binary, TestApp, TestAppBuilder};
pub use browser::Browser;
pub use chat_fixture::{start_chat, AcceptedChat, ChatFixture};
pub use coturn::Coturn;
pub use database::TestDatabase;
pub use host_site::HostSite;
pub use nginx::Nginx;
pub use poll::{eventually, eventually_async, Poll};
pub use redis_server::RedisServer;
pub use site::SiteFixture;
pub use smtp_sink::SmtpSink;
pub use ws::WsClient;
