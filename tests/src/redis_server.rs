//! A private Redis per test: Debian's `redis-server` on a free port of 127.0.0.1, keeping nothing
//! on disk, in a scratch directory of its own. Tests of several Beckon nodes point every node at
//! [`RedisServer::url`], and stop and restart it to see the nodes through an outage of the bus.
//!
//! The shared Redis a machine may run on 6379 is never touched. The binary is `BECKON_REDIS_SERVER`,
//! else `redis-server` on `PATH` (Debian: `apt-get install redis-server`); without it the suite is
//! skipped through [`crate::require::skip`] (a failure under `BECKON_TEST_REQUIRE=redis`).
//!
//! Starting and stopping block the calling thread briefly (until the server answers `PING`, at
//! most [`READY_TIMEOUT`]), so they can be called from synchronous code and from `Drop`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::require::{self, Service};

/// Longest wait for a started server to answer `PING`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` process owned by one test; killed when dropped.
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    /// Its working directory (`--dir`) and log file; removed when dropped.
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers `PING`; `None` (after
    /// [`require::skip`]) when `redis-server` is not installed. Panics when it is installed but
    /// does not come up, with its log.
    pub fn start(suite: &str) -> Option<RedisServer> {
        let Some(binary) = find_program("BECKON_REDIS_SERVER", "redis-server") else {
            require::skip(
                Service::Redis,
                suite,
                "no redis-server (apt-get install redis-server, or set BECKON_REDIS_SERVER)",
            );
            return None;
        };
        // A port free a moment ago may be taken before the server binds it: try a few.
        let mut last_error = String::new();
        for _ in 0..3 {
            let mut server = RedisServer {
                binary: binary.clone(),
                port: crate::smtp_sink::free_port(),
                dir: tempfile::tempdir().expect("temp dir for redis-server"),
                child: None,
            };
            match server.spawn_and_wait() {
                Ok(()) => return Some(server),
                Err(e) => last_error = e,
            }
        }
        panic!("{suite}: redis-server did not start: {last_error}");
    }

    /// `redis://127.0.0.1:PORT`, for `--redis-url`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether it answers `PING` with `+PONG` now (one attempt, a short timeout).
    pub fn ping(&self) -> bool {
        ping(self.address())
    }

    /// Kills the server (SIGKILL: an outage, not a shutdown) and waits until it has exited, so its
    /// port refuses connections when this returns.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (stopping it first if it still runs) and waits until it
    /// answers `PING`. It comes back empty: it keeps nothing on disk. Panics when it does not
    /// come up, with its log.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.spawn_and_wait() {
            panic!("redis-server did not restart on port {}: {e}", self.port);
        }
    }

    fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Runs `redis-server` on `self.port` and waits for `PING`; on failure the process is gone and
    /// the error carries its log.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            // Nothing on disk, nothing outlives the test.
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.log_path())
            .args(["--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.binary.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if self.ping() {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                return Err(format!(
                    "exited ({status}); log: {}",
                    read_log(&self.log_path())
                ));
            }
            if Instant::now() >= deadline {
                self.stop();
                return Err(format!(
                    "no PONG within {READY_TIMEOUT:?}; log: {}",
                    read_log(&self.log_path())
                ));
            }
            std::thread::sleep(crate::poll::INTERVAL);
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One `PING` over a fresh connection (inline command syntax); true on `+PONG`.
fn ping(address: SocketAddr) -> bool {
    let timeout = Duration::from_millis(500);
    let Ok(mut stream) = TcpStream::connect_timeout(&address, timeout) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    let mut read = 0;
    while read < answer.len() {
        match stream.read(&mut answer[read..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    answer[..read].starts_with(b"+PONG")
}

/// The last lines of a log file, for failure messages.
pub(crate) fn read_log(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("(no log: {e})"));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A program named by the environment variable `env`, else `name` on `PATH` or in the sbin
/// directories (Debian installs nginx in /usr/sbin, which is not on every user's `PATH`).
pub(crate) fn find_program(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
