//! nginx in front of local upstreams, configured by the rules of `deploy/nginx.conf`, so tests of
//! several Beckon nodes go through the same kind of proxy as a deployment: round-robin without
//! sticky sessions, WebSocket upgrades on `/ws/` over an upstream without a keep-alive pool,
//! ordinary HTTP over one with a pool, `X-Forwarded-For` overwritten with the peer address.
//!
//! Unlike the deployment, a node that refuses a connection is left out for only 2 s
//! (`max_fails=1 fail_timeout=2s`) and the request goes on to the next node
//! (`proxy_next_upstream error timeout`), so a test that kills a node sees it skipped at once.
//!
//! Each [`Nginx`] is its own master process (`daemon off`, one worker) listening on a free port of
//! 127.0.0.1, with its configuration, pid file, logs and every temporary path in a directory of its
//! own; dropping it kills the process group and removes the directory. The binary is
//! `BECKON_NGINX`, else `nginx` on `PATH` or in /usr/sbin (Debian: `apt-get install nginx`);
//! without it the suite is skipped through [`crate::require::skip`] (a failure under
//! `BECKON_TEST_REQUIRE=nginx`).

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::redis_server::{find_program, read_log};
use crate::require::{self, Service};

/// Longest wait for a started nginx to accept connections.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// An nginx process owned by one test; killed (with its workers) when dropped.
pub struct Nginx {
    port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Nginx {
    /// Starts nginx on a free port of 127.0.0.1, proxying round-robin to `127.0.0.1:PORT` for
    /// each of `upstream_ports` (which need not listen yet), and waits until it accepts
    /// connections; `None` (after [`require::skip`]) when nginx is not installed. Panics when it
    /// is installed but does not come up, with its error log.
    pub fn start(suite: &str, upstream_ports: &[u16]) -> Option<Nginx> {
        assert!(!upstream_ports.is_empty(), "nginx needs an upstream");
        let Some(binary) = find_program("BECKON_NGINX", "nginx") else {
            require::skip(
                Service::Nginx,
                suite,
                "no nginx (apt-get install nginx, or set BECKON_NGINX)",
            );
            return None;
        };
        // A port free a moment ago may be taken before nginx binds it: try a few.
        let mut last_error = String::new();
        for _ in 0..3 {
            match spawn(&binary, crate::smtp_sink::free_port(), upstream_ports) {
                Ok(nginx) => return Some(nginx),
                Err(e) => last_error = e,
            }
        }
        panic!("{suite}: nginx did not start: {last_error}");
    }

    /// Where nginx listens.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `http://127.0.0.1:PORT` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address())
    }

    /// `ws://127.0.0.1:PORT` followed by `path`, for sockets through nginx.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.address())
    }

    /// The last lines of nginx's error log (upstreams it found dead, refused upgrades), for
    /// failure messages.
    pub fn error_log(&self) -> String {
        read_log(&self.dir.path().join("error.log"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// Writes the configuration for `port` into a new directory, runs nginx on it and waits until the
/// port accepts connections; on failure nothing is left running.
fn spawn(binary: &Path, port: u16, upstream_ports: &[u16]) -> Result<Nginx, String> {
    use std::os::unix::process::CommandExt as _;

    let dir = tempfile::tempdir().map_err(|e| format!("temp dir for nginx: {e}"))?;
    // The directory belongs to whoever runs the tests. Started as root, nginx would run its
    // workers as `nobody`, who cannot read it; so as root it is told to stay root.
    let as_root = std::fs::metadata(dir.path())
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, config(dir.path(), port, upstream_ports, as_root))
        .map_err(|e| format!("write {}: {e}", conf.display()))?;
    let error_log = dir.path().join("error.log");
    let mut child = Command::new(binary)
        .arg("-p")
        .arg(dir.path())
        // The log for the messages before the configuration is read (else the compiled-in
        // /var/log/nginx/error.log, which a user may not write).
        .arg("-e")
        .arg(&error_log)
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group, so the workers die with the master.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok() {
            return Ok(Nginx { port, dir, child });
        }
        if let Ok(Some(status)) = child.try_wait() {
            kill_group(&mut child);
            return Err(format!(
                "exited ({status}); error log: {}",
                read_log(&error_log)
            ));
        }
        if Instant::now() >= deadline {
            kill_group(&mut child);
            return Err(format!(
                "not accepting on {address} within {READY_TIMEOUT:?}; error log: {}",
                read_log(&error_log)
            ));
        }
        std::thread::sleep(crate::poll::INTERVAL);
    }
}

/// The configuration: `deploy/nginx.conf`'s rules with local upstreams, quick failover, and every
/// file nginx writes inside `dir`.
fn config(dir: &Path, port: u16, upstream_ports: &[u16], as_root: bool) -> String {
    let d = dir.display();
    let servers = |out: &mut String| {
        for upstream in upstream_ports {
            let _ = writeln!(
                out,
                "        server 127.0.0.1:{upstream} max_fails=1 fail_timeout=2s;"
            );
        }
    };
    let mut c = String::new();
    if as_root {
        c.push_str("user root;\n");
    }
    let _ = write!(
        c,
        "daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}

    upstream beckon {{
"
    );
    servers(&mut c);
    c.push_str(
        "        keepalive 8;
    }

    upstream beckon_ws {
",
    );
    servers(&mut c);
    let _ = write!(
        c,
        "    }}

    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 11m;

        location /ws/ {{
            proxy_pass http://beckon_ws;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_buffering off;
            proxy_next_upstream error timeout;
        }}

        location / {{
            proxy_pass http://beckon;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header Connection \"\";
            proxy_next_upstream error timeout;
        }}
    }}
}}
"
    );
    c
}

/// Kills the process group led by `child` (master and workers) and reaps the master.
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}
