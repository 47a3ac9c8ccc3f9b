//! The real `beckon` binary, started on a free port for one test.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::database::TestDatabase;

/// Path of the `beckon` executable, built once per test process with the same profile as the tests
/// (or `BECKON_BIN` when set).
pub fn beckon_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(bin) = std::env::var("BECKON_BIN") {
            return PathBuf::from(bin);
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&workspace).args([
            "build",
            "--quiet",
            "-p",
            "beckon",
            "--bin",
            "beckon",
            "--message-format=json",
        ]);
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let out = cmd
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build for beckon");
        assert!(out.status.success(), "building the beckon binary failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["target"]["name"] == "beckon")
            .find_map(|v| v["executable"].as_str().map(PathBuf::from))
            .expect("cargo reported no beckon executable")
    })
    .clone()
}

/// Options for starting Beckon.
pub struct TestAppBuilder<'a> {
    db: &'a TestDatabase,
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl TestAppBuilder<'_> {
    /// Adds command-line arguments (settings flags).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the server.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Starts the server and waits until it listens.
    pub async fn spawn(self) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let db_url = self.db.url();
        let args = self.args;
        let envs = self.envs;
        tokio::task::spawn_blocking(move || TestApp::start(data_dir, db_url, args, envs))
            .await
            .expect("start beckon")
    }
}

/// A running Beckon server and a cookie-keeping HTTP client for it.
pub struct TestApp {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// The setup link the server printed, if any.
    pub setup_link: Option<String>,
    /// A client that keeps cookies and does not follow redirects.
    pub client: reqwest::Client,
    /// The server's data directory.
    pub data_dir: tempfile::TempDir,
    stderr_path: PathBuf,
    db_url: String,
}

impl TestApp {
    /// Prepares to start Beckon on `db`.
    pub fn builder(db: &TestDatabase) -> TestAppBuilder<'_> {
        TestAppBuilder {
            db,
            args: Vec::new(),
            envs: Vec::new(),
        }
    }

    /// Starts Beckon on `db` with default settings.
    pub async fn spawn(db: &TestDatabase) -> TestApp {
        TestApp::builder(db).spawn().await
    }

    fn start(
        data_dir: tempfile::TempDir,
        db_url: String,
        args: Vec<String>,
        envs: Vec<(String, String)>,
    ) -> TestApp {
        let stderr_path = data_dir.path().join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr log");
        let mut cmd = Command::new(beckon_binary());
        cmd.arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir.path())
            .arg("--database-url")
            .arg(&db_url)
            .arg("--log")
            .arg("info,actix_server=warn")
            .args(&args)
            .env_remove("DATABASE_URL")
            .envs(envs)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = cmd.spawn().expect("spawn beckon");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut setup_link = None;
        let address = loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    let line = line.trim().to_owned();
                    if line.contains("/setup?token=") {
                        setup_link = Some(line);
                    } else if let Some(addr) = line.strip_prefix("Beckon is listening on ") {
                        break addr.to_owned();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    panic!("beckon did not start; stderr:\n{log}");
                }
            }
        };
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        TestApp {
            child: Some(child),
            address,
            setup_link,
            client,
            data_dir,
            stderr_path,
            db_url,
        }
    }

    /// The server's process id (while it runs), for reading its `/proc` entries.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The server's database URL.
    pub fn database_url(&self) -> &str {
        &self.db_url
    }

    /// `address` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// GET `path` with the app's client.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// POST a form to `path` with the app's client.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("POST")
    }

    /// GET a page and return the value of its `csrf` input.
    pub async fn csrf_of(&self, path: &str) -> String {
        let body = self.get(path).await.text().await.expect("body");
        crate::html::input_value(&body, "csrf").unwrap_or_else(|| panic!("no csrf field on {path}"))
    }

    /// Walks the setup link: creates owner `owner@example.com` / `correct horse battery` and a site
    /// named "Demo Shop" (slug `demo-shop`). Returns the final response (a redirect to /console).
    pub async fn complete_setup(&self) -> reqwest::Response {
        self.complete_setup_with_origins("http://127.0.0.1:9").await
    }

    /// [`TestApp::complete_setup`] with the site's allowed origins.
    pub async fn complete_setup_with_origins(&self, allowed_origins: &str) -> reqwest::Response {
        let link = self
            .setup_link
            .clone()
            .expect("server printed a setup link");
        let path = link
            .strip_prefix(&self.address)
            .expect("link on this server")
            .to_owned();
        let page = self.get(&path).await;
        assert_eq!(page.status(), 200, "setup page");
        let body = page.text().await.expect("body");
        let csrf = crate::html::input_value(&body, "csrf").expect("csrf");
        let token = crate::html::input_value(&body, "token").expect("token");
        self.post_form(
            "/setup",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("display_name", "Olive Owner"),
                ("email", "owner@example.com"),
                ("handle", "olive"),
                ("password", "correct horse battery"),
                ("site_name", "Demo Shop"),
                ("site_slug", ""),
                ("allowed_origins", allowed_origins),
            ],
        )
        .await
    }

    /// Logs in through the form with the app's client.
    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        let csrf = self.csrf_of("/login").await;
        self.post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("email", email),
                ("password", password),
                ("next", "/console"),
            ],
        )
        .await
    }

    /// A cookie-keeping client of its own (not `client`), logged in as `email` through the form.
    pub async fn signed_in_client(&self, email: &str, password: &str) -> reqwest::Client {
        self.sign_in(email, password).await.0
    }

    /// Signs `email` in through the form with a cookie-keeping client of its own; the client and
    /// the login's answer (whose `Set-Cookie` holds the session).
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
    ) -> (reqwest::Client, reqwest::Response) {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        let page = client
            .get(self.url("/login"))
            .send()
            .await
            .expect("GET /login")
            .text()
            .await
            .expect("login page");
        let csrf = crate::html::input_value(&page, "csrf").expect("csrf");
        let res = client
            .post(self.url("/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", email),
                ("password", password),
                ("next", "/console"),
            ])
            .send()
            .await
            .expect("POST /login");
        assert_eq!(res.status(), 303, "login of {email}");
        (client, res)
    }

    /// What the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Kills the process with SIGKILL (no chance to flush or say goodbye) and waits for it.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM and waits up to `limit` for the process to exit; its exit status.
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
