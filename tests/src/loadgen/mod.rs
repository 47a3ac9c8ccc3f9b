//! `beckon-loadgen`: reproducible capacity measurements of a Beckon server over loopback, with
//! real HTTP and WebSocket clients (see `docs/benchmarks.md`).
//!
//! - [`net`], [`http`]: client sockets bound to many loopback source addresses, a lean HTTP client;
//! - [`target`]: the server under load (given, or spawned on a fresh database);
//! - [`cluster`]: several nodes sharing one PostgreSQL database, with a Redis of their own;
//! - [`guest`], [`worker`]: guests as the widget makes them, held in worker processes;
//! - [`scenarios`]: `idle`, `beacon`, `chat`, `console`, `storm`, each giving one JSON result with
//!   its figures checked against the targets of issue #6, and `cluster` (issue #16);
//! - [`stats`], [`proc`]: latency percentiles, server memory and CPU from `/proc`.

pub mod cluster;
pub mod guest;
pub mod http;
pub mod net;
pub mod proc;
pub mod scenarios;
pub mod stats;
pub mod target;
pub mod worker;

use std::sync::Arc;

/// What every scenario runs against and with.
#[derive(Debug, Clone)]
pub struct Env {
    /// The server and site.
    pub target: Arc<target::Target>,
    /// The server's process id, for memory and CPU figures (none: those are left out).
    pub server_pid: Option<u32>,
    /// Source addresses per process (the parent and each worker get their own).
    pub sources: u32,
    /// Worker processes for idle guests (`None`: one per 10 000 guests).
    pub processes: Option<usize>,
    /// Guests set up at a time per process.
    pub concurrency: usize,
}

impl Env {
    /// Worker processes for `guests` idle guests.
    pub fn processes_for(&self, guests: usize) -> usize {
        self.processes
            .unwrap_or_else(|| guests.div_ceil(10_000))
            .max(1)
    }

    /// The parent's own source addresses.
    pub fn parent_sources(&self) -> net::Sources {
        net::Sources::loopback(0, self.sources)
    }

    /// Starts worker processes for `guests` idle guests (their source addresses follow the
    /// parent's).
    pub fn spawn_workers(&self, guests: usize) -> anyhow::Result<worker::Workers> {
        self.spawn_workers_on(&self.target, guests, 0)
    }

    /// Starts worker processes for `guests` idle guests of `target`, after `started` workers this
    /// process already has (each worker's source addresses follow those of the ones before).
    pub fn spawn_workers_on(
        &self,
        target: &target::Target,
        guests: usize,
        started: usize,
    ) -> anyhow::Result<worker::Workers> {
        worker::Workers::spawn(
            target,
            self.processes_for(guests),
            self.sources * (1 + started as u32),
            self.sources,
            self.concurrency,
        )
    }
}
