//! The server under load: an already running Beckon given by URL, or one this tool starts itself
//! (`--spawn`) on a fresh database, set up with an owner and a site the same way the tests do it.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};

use crate::{beckon_binary, TestDatabase};

/// Owner created on a spawned server.
pub const OWNER_EMAIL: &str = "owner@example.com";
/// Its password.
pub const OWNER_PASSWORD: &str = "correct horse battery";
/// The origin the spawned site allows the widget on (nothing listens there; only the header counts).
pub const SHOP_ORIGIN: &str = "http://127.0.0.1:9";

/// Everything a client needs to reach a site on the server; passed to worker processes as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    /// `http://HOST:PORT`.
    pub base: String,
    /// The server's socket address.
    pub server: SocketAddr,
    /// The site's public key.
    pub site_key: String,
    /// The site's id (for console `watch` and `conversations`).
    pub site_id: String,
    /// An allowed widget origin of the site.
    pub origin: String,
    /// An operator's session cookie (`beckon_session=…`), for console sockets.
    pub cookie: Option<String>,
}

impl Target {
    /// A target from its parts; the server address is resolved from `base`.
    pub fn new(
        base: &str,
        site_key: &str,
        site_id: &str,
        origin: &str,
        cookie: Option<String>,
    ) -> anyhow::Result<Target> {
        let url = url::Url::parse(base).context("--url is not a URL")?;
        let server = url
            .socket_addrs(|| Some(80))
            .context("cannot resolve the server address")?
            .into_iter()
            .next()
            .context("the server address resolves to nothing")?;
        Ok(Target {
            base: base.trim_end_matches('/').to_owned(),
            server,
            site_key: site_key.to_owned(),
            site_id: site_id.to_owned(),
            origin: origin.to_owned(),
            cookie,
        })
    }

    /// The same site and operator on another node of a cluster, at `base`.
    pub fn on_node(&self, base: &str) -> anyhow::Result<Target> {
        Target::new(
            base,
            &self.site_key,
            &self.site_id,
            &self.origin,
            self.cookie.clone(),
        )
    }

    /// `ws://HOST:PORT` + `path`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws{}{path}", self.base.trim_start_matches("http"))
    }

    /// The presence socket URL of a guest token.
    pub fn visitor_socket_url(&self, token: &str) -> String {
        self.ws_url(&format!("/ws/visitor?k={}&t={token}", self.site_key))
    }

    /// The console's own origin (console sockets must come from it).
    pub fn console_origin(&self) -> &str {
        &self.base
    }
}

/// Logs an operator in through the login form; the session cookie.
pub async fn login(base: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let client = form_client()?;
    let page = client
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let csrf = crate::html::input_value(&page, "csrf").context("no csrf field on /login")?;
    let res = client
        .post(format!("{base}/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
            ("next", "/console"),
        ])
        .send()
        .await?;
    session_cookie_of(&res).context("login failed (no session cookie)")
}

fn form_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?)
}

fn session_cookie_of(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("beckon_session="))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

/// A Beckon this tool started; killed when dropped.
pub struct SpawnedServer {
    child: Child,
    /// Its process id (for memory and CPU readings).
    pub pid: u32,
    /// Where it listens (`http://127.0.0.1:PORT`).
    pub address: String,
    stderr_path: PathBuf,
    _data_dir: tempfile::TempDir,
    /// The database it was started on, when it alone owns it (dropped after the server is killed).
    _db: Option<TestDatabase>,
}

impl SpawnedServer {
    /// What the server wrote to stderr.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the `beckon` binary on `db` with guest limits lifted (a load generator is thousands of
/// guests on a few addresses) plus `extra_args`, sets it up, and returns it with its target.
pub async fn spawn(
    db: TestDatabase,
    extra_args: Vec<String>,
) -> anyhow::Result<(SpawnedServer, Target)> {
    let (mut server, setup_link) = start(&db.url(), &extra_args).await?;
    let setup_link = setup_link.context("the database already has an owner; use a fresh one")?;
    let target = set_up(&server.address, &setup_link, &db.url()).await?;
    server._db = Some(db);
    Ok((server, target))
}

/// Starts the `beckon` binary on the database at `db_url` (which the caller keeps alive) with
/// guest limits lifted plus `extra_args`; the server, and its setup link if the database has no
/// owner yet.
pub async fn start(
    db_url: &str,
    extra_args: &[String],
) -> anyhow::Result<(SpawnedServer, Option<String>)> {
    let data_dir = tempfile::tempdir()?;
    let stderr_path = data_dir.path().join("stderr.log");
    let mut cmd = Command::new(beckon_binary());
    cmd.arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data_dir.path())
        .arg("--database-url")
        .arg(db_url)
        .args(["--log", "warn"])
        .args(["--max-guests-per-ip", "10000000"])
        .args(["--guests-per-minute", "10000000"])
        // Thousands of presence sockets share a few source addresses.
        .args(["--max-sockets-per-ip", "10000000"])
        // Load, not a flood: chat messages are measured, not rate limited.
        .args(["--guest-message-burst", "1000000"])
        .args(["--guest-messages-per-minute", "1000000"])
        .args(["--operator-message-burst", "1000000"])
        .args(["--operator-messages-per-minute", "1000000"])
        .args(extra_args)
        .env_remove("DATABASE_URL")
        .env_remove("BECKON_REDIS_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path)?);
    let mut child = cmd.spawn().context("spawn beckon")?;
    let stdout = child.stdout.take().context("server stdout")?;
    let (address, setup_link) =
        match tokio::task::spawn_blocking(move || read_start_lines(stdout)).await? {
            Ok(started) => started,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(e.context(format!("beckon: {}", log.trim())));
            }
        };
    let pid = child.id();
    let server = SpawnedServer {
        child,
        pid,
        address,
        stderr_path,
        _data_dir: data_dir,
        _db: None,
    };
    Ok((server, setup_link))
}

/// Walks the setup link of a fresh server at `address` (see [`complete_setup`]) and looks the
/// site up in its database at `db_url`; the target, logged in as the owner.
pub async fn set_up(address: &str, setup_link: &str, db_url: &str) -> anyhow::Result<Target> {
    let cookie = complete_setup(address, setup_link).await?;
    let url = db_url.to_owned();
    let site = tokio::task::spawn_blocking(move || {
        let db = beckon::db::Db::connect(&url, 1)?;
        let mut conn = db.conn()?;
        beckon::db::models::Site::find_by_slug(&mut conn, "demo-shop")?
            .context("the set-up site is missing")
    })
    .await??;
    Target::new(
        address,
        &site.public_key,
        &site.id,
        SHOP_ORIGIN,
        Some(cookie),
    )
}

/// Reads the server's stdout until it says where it listens; the address and the setup link.
fn read_start_lines(stdout: std::process::ChildStdout) -> anyhow::Result<(String, Option<String>)> {
    let mut lines = BufReader::new(stdout).lines();
    let mut setup_link = None;
    for line in lines.by_ref() {
        let line = line?;
        let line = line.trim();
        if line.contains("/setup?token=") {
            setup_link = Some(line.to_owned());
        } else if let Some(addr) = line.strip_prefix("Beckon is listening on ") {
            let address = addr.to_owned();
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((address, setup_link));
        }
    }
    bail!("beckon exited before listening")
}

/// Walks the setup link: owner, and a site "Demo Shop" allowing the widget on [`SHOP_ORIGIN`].
async fn complete_setup(address: &str, link: &str) -> anyhow::Result<String> {
    let client = form_client()?;
    let page = client.get(link).send().await?.text().await?;
    let csrf = crate::html::input_value(&page, "csrf").context("setup page: no csrf")?;
    let token = crate::html::input_value(&page, "token").context("setup page: no token")?;
    let res = client
        .post(format!("{address}/setup"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", token.as_str()),
            ("display_name", "Olive Owner"),
            ("email", OWNER_EMAIL),
            ("handle", "olive"),
            ("password", OWNER_PASSWORD),
            ("site_name", "Demo Shop"),
            ("site_slug", ""),
            ("allowed_origins", SHOP_ORIGIN),
        ])
        .send()
        .await?;
    session_cookie_of(&res).with_context(|| format!("setup answered {}", res.status()))
}
