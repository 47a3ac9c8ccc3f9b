//! A cluster under load (issue #16): several `beckon` nodes on one PostgreSQL database, with a
//! `redis-server` of their own as the bus between them, started on a free port in a scratch
//! directory and killed at the end (the shared Redis on 6379 is never touched).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::target::{self, SpawnedServer, Target};
use crate::TestDatabase;

/// How long a node or Redis may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A `redis-server` this tool started; killed when dropped.
pub struct RedisServer {
    child: Child,
    /// Its process id (for CPU readings).
    pub pid: u32,
    /// `redis://127.0.0.1:PORT`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port, without persistence, in a scratch directory;
    /// returns once it answers `PING`. Fails if the binary is missing.
    pub async fn start() -> anyhow::Result<RedisServer> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let log = std::fs::File::create(dir.path().join("redis.log"))?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start redis-server (is it installed?)")?;
        let server = RedisServer {
            pid: child.id(),
            child,
            url: format!("redis://127.0.0.1:{port}"),
            _dir: dir,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + READY_TIMEOUT;
        while !answers_ping(addr) {
            if Instant::now() > deadline {
                bail!("redis-server on port {port} did not answer PING");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(server)
    }

    /// Reads how many `PUBLISH` commands it has run so far (`INFO commandstats`): the frames on
    /// the bus.
    pub fn publish_counter(&self) -> impl Fn() -> Option<u64> + Send + Sync + 'static {
        let port: Option<u16> = self.url.rsplit(':').next().and_then(|p| p.parse().ok());
        move || {
            let info = query(
                SocketAddr::from(([127, 0, 0, 1], port?)),
                "INFO commandstats",
            )?;
            Some(
                info.lines()
                    .find_map(|l| l.strip_prefix("cmdstat_publish:calls="))
                    .and_then(|rest| rest.split(',').next())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0),
            )
        }
    }

    /// Whether `redis-server` can be run here.
    pub fn installed() -> bool {
        Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on now (the OS's choice for port 0).
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Sends one inline command and reads its bulk-string answer.
fn query(addr: SocketAddr, command: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(format!("{command}\r\n").as_bytes()).ok()?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        answer.extend_from_slice(&buf[..n]);
        let text = std::str::from_utf8(&answer).ok()?;
        let (head, body) = text.strip_prefix('$')?.split_once("\r\n")?;
        let len: usize = head.parse().ok()?;
        if body.len() >= len {
            return Some(body[..len].to_owned());
        }
    }
}

fn answers_ping(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut answer = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

/// Nodes, their Redis and their database, all started by this tool; dropped in that order.
pub struct SpawnedCluster {
    /// The nodes.
    pub nodes: Vec<SpawnedServer>,
    /// Their bus.
    pub redis: RedisServer,
    _db: TestDatabase,
}

impl SpawnedCluster {
    /// The nodes' process ids.
    pub fn node_pids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.pid).collect()
    }
}

/// Starts a Redis and `nodes` Beckon nodes in cluster mode on the PostgreSQL database `db`, sets
/// the first one up (the others start once the schema exists) and waits until every node's
/// `/readyz` says `ready`; the cluster and one target per node (same site, same operator).
pub async fn spawn(
    db: TestDatabase,
    nodes: usize,
    extra_args: &[String],
) -> anyhow::Result<(SpawnedCluster, Vec<Target>)> {
    if !matches!(db, TestDatabase::Postgres { .. }) {
        bail!("a cluster needs PostgreSQL");
    }
    let redis = RedisServer::start().await?;
    let mut args = vec![format!("--redis-url={}", redis.url)];
    args.extend_from_slice(extra_args);
    let db_url = db.url();
    let (first, setup_link) = target::start(&db_url, &args).await?;
    let setup_link = setup_link.context("the database already has an owner; use a fresh one")?;
    let first_target = target::set_up(&first.address, &setup_link, &db_url).await?;
    let mut spawned = vec![first];
    for _ in 1..nodes.max(1) {
        spawned.push(target::start(&db_url, &args).await?.0);
    }
    let targets = spawned
        .iter()
        .map(|node| first_target.on_node(&node.address))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for t in &targets {
        wait_ready(&t.base).await?;
    }
    let cluster = SpawnedCluster {
        nodes: spawned,
        redis,
        _db: db,
    };
    Ok((cluster, targets))
}

/// Waits until the node at `base` answers `/readyz` with exactly `ready` (its Redis link is up
/// both ways).
pub async fn wait_ready(base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut last = String::new();
    loop {
        if let Ok(res) = client.get(format!("{base}/readyz")).send().await {
            last = res.text().await.unwrap_or_default();
            if last == "ready" {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!(
                "{base}/readyz did not say ready within {READY_TIMEOUT:?} (last answer: {last:?})"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
