//! Headless Chromium driven over WebDriver (chromedriver + `fantoccini`), for tests that must see
//! what a visitor's or an operator's browser sees.
//!
//! Each [`Browser`] is its own chromedriver process on a free port with its own Chromium and a fresh
//! profile directory, so two of them are two independent people (a visitor and an operator: no
//! shared cookies, storage or cache). Dropping a `Browser` kills both processes and removes the
//! profile.
//!
//! At most two browsers run at once per test binary (the CI machine has two cores). A test that
//! needs two should call [`Browser::launch_pair`], which waits for both slots together. Calling
//! [`Browser::launch`] twice also works: a test that already holds a browser never waits for a
//! second one (it would deadlock against another test doing the same), it just runs one over the
//! limit when no slot is free.
//!
//! Binaries: `BECKON_CHROMIUM` (default `/usr/bin/chromium`) and `BECKON_CHROMEDRIVER` (default
//! `/usr/bin/chromedriver`, else `chromedriver` on `PATH`). When they are missing or do not start, the
//! suite is skipped through [`crate::require::skip`] (a failure under `BECKON_TEST_REQUIRE=browser`).
//!
//! Dialogs: every document gets a script, before its own scripts run, that replaces `alert`,
//! `confirm` and `prompt` with recorders pushing onto `window.__alerts`; a dialog that still opens
//! (a document the recorder missed) stays open, because the session's unhandled-prompt behaviour is
//! `ignore`. [`Browser::assert_no_dialogs`] checks both.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::require::{self, Service};

/// How many browsers may run at once in one test process.
const MAX_BROWSERS: u32 = 2;
static SLOTS: Semaphore = Semaphore::const_new(MAX_BROWSERS as usize);
/// Live browsers per test thread (libtest runs each test on its own thread).
static LIVE_PER_THREAD: Mutex<Vec<(ThreadId, usize)>> = Mutex::new(Vec::new());

/// Chromium's command-line switches, besides the per-browser `--user-data-dir`.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// Installed in every document before its scripts: records dialogs instead of showing them.
const DIALOG_RECORDER: &str = r#"(function () {
  if (window.__beckonDialogRecorder) return;
  window.__beckonDialogRecorder = true;
  window.__alerts = window.__alerts || [];
  function recorder(kind, answer) {
    return function (message) {
      window.__alerts.push(kind + ": " + String(message));
      return answer;
    };
  }
  window.alert = recorder("alert", undefined);
  window.confirm = recorder("confirm", false);
  window.prompt = recorder("prompt", null);
})();"#;

/// One headless Chromium with its own chromedriver and profile.
pub struct Browser {
    /// The WebDriver client, for anything the helpers below do not cover.
    pub client: Client,
    driver_url: String,
    session_id: String,
    chromedriver: Child,
    profile: PathBuf,
    work_dir: tempfile::TempDir,
    session_closed: bool,
    /// Dropped after the processes are killed: gives the slot back.
    _lease: Lease,
}

impl Browser {
    /// Starts a browser for `suite` (the test's name, for the skip message), waiting for a free
    /// slot. `None` when Chromium or chromedriver is missing or fails to start (and the browser is
    /// not required).
    pub async fn launch(suite: &str) -> Option<Browser> {
        let binaries = find_binaries(suite)?;
        let lease = Lease::acquire(1).await.pop().expect("one lease");
        match Browser::start(&binaries, lease, &[]).await {
            Ok(browser) => Some(browser),
            Err(reason) => {
                require::skip(Service::Browser, suite, &reason);
                None
            }
        }
    }

    /// Starts two independent browsers (say a visitor and an operator), waiting for both slots
    /// together.
    pub async fn launch_pair(suite: &str) -> Option<(Browser, Browser)> {
        Browser::launch_pair_with(suite, &[]).await
    }

    /// Two browsers as [`Browser::launch_pair`], both with extra Chromium switches (e.g. fake
    /// cameras and microphones for calls).
    pub async fn launch_pair_with(suite: &str, extra: &[&str]) -> Option<(Browser, Browser)> {
        let binaries = find_binaries(suite)?;
        let mut leases = Lease::acquire(2).await;
        let (second, first) = (leases.pop()?, leases.pop()?);
        let (first, second) = tokio::join!(
            Browser::start(&binaries, first, extra),
            Browser::start(&binaries, second, extra)
        );
        match (first, second) {
            (Ok(first), Ok(second)) => Some((first, second)),
            (Err(reason), _) | (_, Err(reason)) => {
                require::skip(Service::Browser, suite, &reason);
                None
            }
        }
    }

    async fn start(binaries: &Binaries, lease: Lease, extra: &[&str]) -> Result<Browser, String> {
        let work_dir = tempfile::Builder::new()
            .prefix("beckon-browser-")
            .tempdir()
            .map_err(|e| format!("cannot create a profile directory: {e}"))?;
        let profile = work_dir.path().join("profile");
        let log_path = work_dir.path().join("chromedriver.log");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;

        // A free port can be taken between our probe and chromedriver's bind; try a few.
        let mut last_error = String::new();
        for _ in 0..3 {
            let (mut chromedriver, driver_url) = spawn_chromedriver(binaries, &log_path)?;
            match wait_until_ready(&http, &mut chromedriver, &driver_url).await {
                Ok(()) => {}
                Err(e) => {
                    kill_process_group(&mut chromedriver);
                    last_error = format!("{e}; chromedriver log: {}", log_tail(&log_path));
                    continue;
                }
            }
            let capabilities = capabilities(&binaries.chromium, &profile, extra);
            let client =
                match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(capabilities)
                    .connect(&driver_url)
                    .await
                {
                    Ok(client) => client,
                    Err(e) => {
                        kill_process_group(&mut chromedriver);
                        return Err(format!(
                            "chromedriver could not start Chromium: {e}; chromedriver log: {}",
                            log_tail(&log_path)
                        ));
                    }
                };
            let session_id = client.session_id().await.ok().flatten().unwrap_or_default();
            let browser = Browser {
                client,
                driver_url,
                session_id,
                chromedriver,
                profile,
                work_dir,
                session_closed: false,
                _lease: lease,
            };
            browser
                .cdp(
                    "Page.addScriptToEvaluateOnNewDocument",
                    json!({ "source": DIALOG_RECORDER }),
                )
                .await
                .map_err(|e| format!("cannot install the dialog recorder: {e}"))?;
            return Ok(browser);
        }
        Err(last_error)
    }

    /// Opens `url` and waits for its `load` event. Panics when navigation fails.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    /// Runs `script` in the current document and returns its result. `script` is the body of a
    /// function (`return document.title;`; WebDriver awaits a returned promise); a script without a
    /// `return` statement is taken as an expression (`document.title`). Panics on a script error.
    pub async fn eval(&self, script: &str) -> Value {
        self.try_eval(script)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// [`Browser::eval`] without the panic.
    pub async fn try_eval(&self, script: &str) -> Result<Value, fantoccini::error::CmdError> {
        self.client
            .execute(&as_function_body(script), Vec::new())
            .await
    }

    /// Polls `condition` (an expression, or a function body with `return`; a promise is awaited)
    /// every 50 ms until it is truthy or `timeout` passes. Script errors (say, mid-navigation)
    /// count as false. Whether it became true.
    pub async fn wait_for(&self, condition: &str, timeout: Duration) -> bool {
        let script = format!(
            "return Promise.resolve((function () {{ {} }})()).then(function (v) {{ return !!v; }});",
            as_function_body(condition)
        );
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Value::Bool(true)) = self.client.execute(&script, Vec::new()).await {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text content of `inner_selector` inside the open shadow root of the first element
    /// matching `host_selector`; `None` when either is missing (or the root is closed).
    pub async fn shadow_query(&self, host_selector: &str, inner_selector: &str) -> Option<String> {
        let script = "const host = document.querySelector(arguments[0]);
            const inner = host && host.shadowRoot && host.shadowRoot.querySelector(arguments[1]);
            return inner ? inner.textContent : null;";
        let value = self
            .client
            .execute(script, vec![json!(host_selector), json!(inner_selector)])
            .await
            .unwrap_or_else(|e| panic!("shadow query {host_selector} >> {inner_selector}: {e}"));
        value.as_str().map(str::to_owned)
    }

    /// Saves a PNG of the viewport to `path`, creating its directory.
    pub async fn screenshot(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let png = self.client.screenshot().await.expect("take a screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }

    /// The text of a dialog (`alert`, `confirm`, `prompt`) open right now, if any.
    pub async fn open_dialog(&self) -> Option<String> {
        match self.client.get_alert_text().await {
            Ok(text) => Some(text),
            Err(e) if e.is_no_such_alert() => None,
            Err(e) => panic!("ask for an open dialog: {e}"),
        }
    }

    /// Every dialog the recorder caught (`"alert: message"`, …) in the current page and its frames,
    /// same-origin or not, walking frames through WebDriver (which it leaves in the top-level
    /// document).
    pub async fn recorded_dialogs(&self) -> Vec<String> {
        let mut found = Vec::new();
        self.enter_top_frame().await;
        self.collect_dialogs(&mut found, 0).await;
        self.enter_top_frame().await;
        found
    }

    async fn collect_dialogs(&self, found: &mut Vec<String>, depth: usize) {
        let script =
            "return { alerts: (window.__alerts || []).map(String), frames: window.frames.length };";
        let Ok(here) = self.client.execute(script, Vec::new()).await else {
            return;
        };
        if let Some(alerts) = here["alerts"].as_array() {
            found.extend(alerts.iter().filter_map(|a| a.as_str().map(str::to_owned)));
        }
        let frames = here["frames"].as_u64().unwrap_or(0).min(16) as u16;
        if depth >= 3 {
            return;
        }
        for index in 0..frames {
            if self.client.enter_frame(index).await.is_ok() {
                Box::pin(self.collect_dialogs(found, depth + 1)).await;
                let _ = self.client.enter_parent_frame().await;
            }
        }
    }

    /// Switches WebDriver back to the top-level document (after `client.enter_frame`).
    pub async fn enter_top_frame(&self) {
        let url = format!("{}/session/{}/frame", self.driver_url, self.session_id);
        let _ = reqwest::Client::new()
            .post(url)
            .json(&json!({ "id": null }))
            .send()
            .await;
    }

    /// Opens `page_url` (a host page with the widget), clicks the launcher once it shows, and
    /// switches into the chat panel.
    pub async fn open_widget_panel(&self, page_url: &str) {
        self.goto(page_url).await;
        assert!(
            self.wait_for("const r = document.getElementById('beckon-root'); return !!(r && r.shadowRoot && r.shadowRoot.querySelector('button.launcher'))", Duration::from_secs(8))
                .await,
            "launcher shown on {page_url}"
        );
        self.eval("document.getElementById('beckon-root').shadowRoot.querySelector('button.launcher').click(); return true;").await;
        self.enter_widget_panel().await;
    }

    /// Makes the widget's chat panel (the iframe inside the launcher's shadow root on a host page)
    /// the current frame, once the panel's script runs there; panics with the page's console log
    /// when it does not within twenty seconds.
    pub async fn enter_widget_panel(&self) {
        // An iframe inside a shadow root is not in `window.frames`: switch by element reference.
        const FIND: &str = "const r = document.getElementById('beckon-root'); \
                            return r && r.shadowRoot ? r.shadowRoot.querySelector('iframe') : null";
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            self.enter_top_frame().await;
            let id = self
                .client
                .execute(FIND, vec![])
                .await
                .ok()
                .and_then(|value| {
                    value
                        .get("element-6066-11e4-a52e-4f735466cecf")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                });
            if let Some(id) = id {
                let frame =
                    fantoccini::elements::Element::from_element_id(self.client.clone(), id.into());
                if frame.enter_frame().await.is_ok()
                    && self.try_eval("return !!window.__beckonPanel").await.ok()
                        == Some(Value::Bool(true))
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.enter_top_frame().await;
        panic!(
            "could not enter the chat panel; console log {:?}",
            self.console_log().await
        );
    }

    /// Panics (naming `context`) if a dialog is open or the recorder caught one in any frame.
    pub async fn assert_no_dialogs(&self, context: &str) {
        if let Some(text) = self.open_dialog().await {
            panic!("{context}: a dialog is open: {text:?}");
        }
        let recorded = self.recorded_dialogs().await;
        assert!(
            recorded.is_empty(),
            "{context}: dialogs were called: {recorded:?}"
        );
    }

    /// The browser console's messages since the last call (`LEVEL message`), all frames.
    pub async fn console_log(&self) -> Vec<String> {
        let url = format!("{}/session/{}/se/log", self.driver_url, self.session_id);
        let Ok(res) = reqwest::Client::new()
            .post(url)
            .json(&json!({ "type": "browser" }))
            .send()
            .await
        else {
            return Vec::new();
        };
        let body: Value = res.json().await.unwrap_or(Value::Null);
        body["value"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {}",
                            e["level"].as_str().unwrap_or(""),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sends a Chrome DevTools Protocol command through chromedriver.
    pub async fn cdp(&self, command: &str, params: Value) -> Result<Value, String> {
        let url = format!(
            "{}/session/{}/goog/cdp/execute",
            self.driver_url, self.session_id
        );
        let res = reqwest::Client::new()
            .post(url)
            .json(&json!({ "cmd": command, "params": params }))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status();
        let body: Value = res.json().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(body["value"].clone())
        } else {
            Err(format!("{command}: {status} {body}"))
        }
    }

    /// The chromedriver log so far (Chromium's stderr included), for failure messages.
    pub fn driver_log(&self) -> String {
        std::fs::read_to_string(self.work_dir.path().join("chromedriver.log")).unwrap_or_default()
    }

    /// Ends the WebDriver session (Chromium quits), then stops chromedriver and removes the profile.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        self.session_closed = true;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session_closed {
            // Let chromedriver quit Chromium properly, so it reaps Chromium's processes itself
            // (killed orphans become zombies where PID 1 does not reap, as in many containers).
            end_session_blocking(&self.driver_url, &self.session_id);
        }
        kill_process_group(&mut self.chromedriver);
        // Chromium may still be flushing its profile for a moment after the kill.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.profile.exists()
            && std::fs::remove_dir_all(&self.profile).is_err()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Where Chromium and chromedriver are.
struct Binaries {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

fn find_binaries(suite: &str) -> Option<Binaries> {
    let chromium = std::env::var_os("BECKON_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let chromedriver = std::env::var_os("BECKON_CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| {
            let default = PathBuf::from("/usr/bin/chromedriver");
            if default.is_file() {
                return Some(default);
            }
            std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|dir| dir.join("chromedriver"))
                .find(|p| p.is_file())
        });
    if !chromium.is_file() {
        require::skip(
            Service::Browser,
            suite,
            &format!(
                "no Chromium at {} (set BECKON_CHROMIUM)",
                chromium.display()
            ),
        );
        return None;
    }
    let Some(chromedriver) = chromedriver.filter(|p| p.is_file()) else {
        require::skip(
            Service::Browser,
            suite,
            "no chromedriver (set BECKON_CHROMEDRIVER or put it on PATH)",
        );
        return None;
    };
    Some(Binaries {
        chromium,
        chromedriver,
    })
}

fn capabilities(chromium: &Path, profile: &Path, extra: &[&str]) -> serde_json::Map<String, Value> {
    let mut args: Vec<String> = CHROMIUM_ARGS
        .iter()
        .chain(extra)
        .map(|a| (*a).to_owned())
        .collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": chromium, "args": args },
        "goog:loggingPrefs": { "browser": "ALL" },
        "unhandledPromptBehavior": "ignore",
        "timeouts": { "pageLoad": 20_000, "script": 15_000, "implicit": 0 },
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("capabilities are an object"),
    }
}

/// Starts chromedriver on a port that was free a moment ago, in a process group of its own so
/// the Chromium it starts can be killed with it.
fn spawn_chromedriver(binaries: &Binaries, log_path: &Path) -> Result<(Child, String), String> {
    use std::os::unix::process::CommandExt as _;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| format!("chromedriver log: {e}"))?;
    let log_err = log.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new(&binaries.chromedriver)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", binaries.chromedriver.display()))?;
    Ok((child, format!("http://127.0.0.1:{port}")))
}

/// Waits until chromedriver's `/status` says it is ready.
async fn wait_until_ready(
    http: &reqwest::Client,
    chromedriver: &mut Child,
    driver_url: &str,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = chromedriver.try_wait() {
            return Err(format!("chromedriver exited: {status}"));
        }
        if let Ok(res) = http.get(format!("{driver_url}/status")).send().await {
            if let Ok(body) = res.json::<Value>().await {
                if body["value"]["ready"] == Value::Bool(true) {
                    return Ok(());
                }
            }
        }
        if Instant::now() >= deadline {
            return Err("chromedriver did not answer /status within 15 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Kills chromedriver's process group (chromedriver, Chromium and Chromium's helpers) and reaps
/// chromedriver.
fn kill_process_group(chromedriver: &mut Child) {
    if let Ok(Some(_)) = chromedriver.try_wait() {
        return;
    }
    let group = format!("-{}", chromedriver.id());
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = chromedriver.kill();
    let _ = chromedriver.wait();
}

/// `DELETE /session/{id}` over a plain blocking socket: `Drop` cannot await, and the test's runtime
/// may be shutting down.
fn end_session_blocking(driver_url: &str, session_id: &str) {
    use std::io::{Read as _, Write as _};

    let Some(Ok(address)) = driver_url
        .strip_prefix("http://")
        .map(str::parse::<std::net::SocketAddr>)
    else {
        return;
    };
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1))
    else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!(
        "DELETE /session/{session_id} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    // Read the whole response (chromedriver answers once Chromium has quit), but not until the
    // connection closes: chromedriver may keep it open.
    let mut response = Vec::new();
    let mut chunk = [0_u8; 4096];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        response.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&response);
        let Some(header_end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length = text[..header_end]
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        if response.len() >= header_end + 4 + length {
            break;
        }
    }
}

fn log_tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().rev().take(8).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// `script` as a function body: as is when it has a `return` statement, else `return (script);`.
fn as_function_body(script: &str) -> String {
    let has_return = script
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .any(|word| word == "return");
    if has_return {
        script.to_owned()
    } else {
        format!("return ({});", script.trim().trim_end_matches(';'))
    }
}

/// A test's claim on one of the [`MAX_BROWSERS`] slots (or, for a test already holding a browser
/// when none is free, a claim over the limit). Dropping it gives the slot back.
struct Lease {
    thread: ThreadId,
    holds_slot: bool,
}

impl Lease {
    /// `wanted` leases: waits for that many free slots when this thread holds no browser yet;
    /// otherwise takes only the slots free right now and never waits (waiting while holding one
    /// could deadlock against another test doing the same).
    async fn acquire(wanted: u32) -> Vec<Lease> {
        let thread = std::thread::current().id();
        let mut slots = 0;
        if live_on(thread) > 0 {
            while slots < wanted && SLOTS.try_acquire().map(|p| p.forget()).is_ok() {
                slots += 1;
            }
        } else {
            SLOTS
                .acquire_many(wanted)
                .await
                .expect("the browser semaphore is never closed")
                .forget();
            slots = wanted;
        }
        adjust_live(thread, wanted as isize);
        (0..wanted)
            .map(|i| Lease {
                thread,
                holds_slot: i < slots,
            })
            .collect()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.holds_slot {
            SLOTS.add_permits(1);
        }
        adjust_live(self.thread, -1);
    }
}

fn live_on(thread: ThreadId) -> usize {
    let live = LIVE_PER_THREAD.lock().unwrap_or_else(|p| p.into_inner());
    live.iter()
        .find(|(t, _)| *t == thread)
        .map_or(0, |(_, n)| *n)
}

fn adjust_live(thread: ThreadId, delta: isize) {
    let mut live = LIVE_PER_THREAD.lock().unwrap_or_else(|p| p.into_inner());
    match live.iter_mut().find(|(t, _)| *t == thread) {
        Some((_, n)) => *n = n.saturating_add_signed(delta),
        None => live.push((thread, delta.max(0) as usize)),
    }
    live.retain(|(_, n)| *n > 0);
}

#[cfg(test)]
mod tests {
    use super::as_function_body;

    #[test]
    fn expressions_become_function_bodies() {
        assert_eq!(
            as_function_body("document.title;"),
            "return (document.title);"
        );
        assert_eq!(as_function_body("return 1"), "return 1");
        assert_eq!(as_function_body("x.returned"), "return (x.returned);");
    }
}
